"""CMIR (seed 001): Inv-ResNet per phase, cross-modal attention, SA localisation, clinical fusion.

CMIR predicts MVI from the arterial (AP) and portal-venous (PV) phases of a
contrast MRI and clinical data.  The seed is a slide deck, so several choices are
ours; each is written here and in the user guide (``docs/guide/cmir.rst``).

* **Input** (Fig. 9, "combination of three-channel images"): per phase the three
  contiguous slices of largest tumour area, cut to a square box around the whole
  tumour, as the three input channels of a 2D network (the ``"slices"`` input
  kind).  The 3D option (every variant, the names ending in ``"_cube"``) reads the
  tumour cube of each phase as one input channel of a 3D network (the ``"cube"``
  input kind): 3D ResNet18, 3D involution (K = 3), CMAM over the voxels of
  ``layer3``, SA localisation with a 3x3x3 attention convolution.
* **Inv-ResNet** (Fig. 5): one encoder per phase, MONAI's ResNet18 in
  torchvision's layout (``conv1_t_stride=2``, no shortcut bias).  "In the
  convolution operation block, some convolution operations are replaced by
  involution operations": we read the two block types of the figure as the
  *identity* block and the *convolution* block (the block whose shortcut is a
  1x1 projection convolution, Keras' naming), and replace the second 3x3
  convolution of every convolution block (``layer2.0``, ``layer3.0``,
  ``layer4.0``) by an involution (`mvikit.deep.layers.Involution`, K = 7 in 2D,
  3 in 3D; r = 4; 16 channels per group), i.e. those blocks are
  `mvikit.deep.layers.InvResNetBlock`.  ``inv_blocks="all"`` replaces it in
  every block instead.
* **CMAM** (Fig. 6): cross-modal attention between the AP and PV feature maps in
  both directions, placed after ``layer3`` (stride 16: a 14x14 grid at 224
  pixels, 4x4 at 64, where positions still map to parts of the tumour and its
  margin), so ``layer4`` continues from the refined maps.  It is
  `mvikit.deep.layers.SymmetricAttention` (MD-Net's eqs. 2-3 with softmax
  attention and a residual): every AP position attends over the AP and PV
  positions and vice versa, with query/key/value maps shared by the phases, so
  swapping the phases swaps the outputs.
* **SA localisation** (Fig. 7): `mvikit.deep.layers.SpatialAttentionLocalisation`
  over the multi-level features ``layer2``, ``layer3``, ``layer4`` of each
  phase (CBAM's spatial attention; the map weights the pooling).  Without it
  each phase is pooled by global average pooling of ``layer4``.
* **Clinical fusion**: the phases' pooled vectors are concatenated; the
  preprocessed clinical vector, through one fully connected layer + ReLU, is
  concatenated to them before the linear classifier (late fusion, as the other
  registered networks; ``use_clinical=True``).

Variants (Table 2), registered names (`CMIR_ARCHITECTURES`): ``"cmir_m1"`` (plain
ResNet18 per phase: S1 on one volume column, M1 on two), ``"cmir_m2"`` (+ Inv
blocks), ``"cmir_m3"`` (+ CMAM), ``"cmir"`` ("Ours": + SA localisation); in 3D
on the tumour cubes ``"cmir_m1_cube"``, ``"cmir_m2_cube"``, ``"cmir_m3_cube"`` and
``"cmir_cube"``.  The input kind is a fact of a registered name (the estimators
take ``architecture=`` as a name), hence one name per variant and input.

Presets (the slides give no training settings; these are our choices): ``"cpu"``
width 0.25 on 64x64 slabs (width 0.125 on the estimators' 16x32x32 cube crops);
``"paper"`` written out in full (`CMIR_PRESETS`): ResNet18's full width, slabs
at 224x224 (ResNet18's ImageNet size) or MD-Net's 20x80x80 cube at full
resolution with 16x64x64 training crops, MD-Net's optimisation (80 epochs,
batch 16, Adam 3e-4, x0.9 every 2 epochs).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from monai.networks.nets import ResNet
from torch import nn

from ..layers.attention import SymmetricAttention
from ..layers.involution import Involution, involution_groups
from ..layers.localisation import SpatialAttentionLocalisation
from ._registry import register_architecture
from .baselines import _LateFusionHead

__all__ = ["CMIRNet", "CMIR_ARCHITECTURES", "CMIR_PRESETS", "CMIR_VARIANTS", "build_cmir"]

#: Table 2's rows as module switches: (involution, cmam, localisation).
CMIR_VARIANTS = {
    "M1": (False, False, False),
    "M2": (True, False, False),
    "M3": (True, True, False),
    "Ours": (True, True, True),
}
_STAGES = (64, 128, 256, 512)  # ResNet18's stage widths at width=1
_PHASES = "the arterial (AP) and portal-venous (PV) phases, volumes=['AP', 'PV']"


def _check_groups(width: float, inv_blocks: str, group_channels: int, variant: str) -> None:
    """Raise, naming the layer and the widths that work, when an involution's channels
    cannot be split into groups (MONAI rounds ``planes * width`` down)."""
    stages = range(1, 5) if inv_blocks == "all" else range(2, 5)
    for stage in stages:
        planes = int(_STAGES[stage - 1] * width)
        layer = f"encoders.<phase>.layer{stage}.0.conv2 (Involution of an InvResNetBlock)"
        try:
            involution_groups(planes, group_channels, layer=layer)
        except ValueError as error:
            raise ValueError(
                f"CMIR variant {variant!r} at width={width}: {error} The stage widths are "
                f"{[int(s * width) for s in _STAGES]} (64, 128, 256, 512 x width, rounded "
                f"down): choose a width giving channels below {group_channels} or multiples "
                f"of it (e.g. width=0.125, 0.25, 0.5 or 1), or the variant without "
                "involution ('cmir_m1')."
            ) from None


def _encoder(in_channels: int, width: float, spatial_dims: int, involution: bool,
             inv_blocks: str, kernel_size: int | None, group_channels: int) -> ResNet:
    """MONAI's ResNet18 (torchvision layout) with the chosen blocks' conv2 involved."""
    net = ResNet("basic", [2, 2, 2, 2], list(_STAGES), spatial_dims=spatial_dims,
                 n_input_channels=in_channels, conv1_t_stride=2, bias_downsample=False,
                 shortcut_type="B", widen_factor=width, feed_forward=False)
    if involution:
        for stage in range(1, 5):
            for block in getattr(net, f"layer{stage}"):
                convolution_block = block.downsample is not None
                if inv_blocks == "all" or convolution_block:
                    # the same replacement InvResNetBlock makes in its constructor
                    block.conv2 = Involution(block.conv2.out_channels, spatial_dims=spatial_dims,
                                             kernel_size=kernel_size,
                                             group_channels=group_channels)
    return net


class CMIRNet(nn.Module):
    """CMIR: one (Inv-)ResNet18 per phase, CMAM, SA localisation, clinical late fusion.

    Parameters
    ----------
    n_sequences : int
        Phases (volume columns): 1 only for ``variant="M1"`` (Table 2's S1), else 2.
    n_outputs : int
    n_clinical : int, default=0
        Clinical inputs for late fusion (0: images only).
    variant : {"M1", "M2", "M3", "Ours"}, default="Ours"
        Table 2's row: M1 plain ResNet18s; M2 + involution blocks; M3 + CMAM;
        Ours + SA localisation.
    n_slices : int, default=3
        Input channels of each phase's 2D encoder (the three-channel combination).
    width : float, default=1.0
        MONAI's ``widen_factor``: stage widths ``(64, 128, 256, 512) x width``.
    spatial_dims : {2, 3}, default=2
        2: slabs ``(B, S, n_slices, H, W)``; 3: cubes ``(B, S, D, H, W)``, one
        input channel per phase.
    inv_blocks : {"projection", "all"}, default="projection"
        Blocks whose second convolution is an involution: those with a projection
        shortcut (the "convolution blocks": ``layer2.0``-``layer4.0``) or all.
    inv_kernel_size : int, default=None
        The involution's ``K`` (None: 7 in 2D, 3 in 3D).
    group_channels : int, default=16
        Channels per involution group.

    Attributes
    ----------
    encoders : ModuleList of monai.networks.nets.ResNet
        One per phase (``layer4`` is the Grad-CAM layer).
    cmam : SymmetricAttention or None
        The cross-modal attention after ``layer3``.
    localisation : ModuleList of SpatialAttentionLocalisation or None
        One per phase.
    head : module
        Clinical late fusion and the linear classifier.

    Raises
    ------
    ValueError
        A multi-phase variant with one phase (naming the variant and the phases
        it needs), or a width whose channels an involution cannot split into
        groups (naming the layer and the widths that work).

    Notes
    -----
    Shapes: ``batch["volumes"] (B, S, n_slices, H, W)`` (2D) or ``(B, S, D, H, W)``
    (3D) [, ``batch["clinical"] (B, n_clinical)``] -> dict with ``logits (B,
    n_outputs)`` and ``embedding (B, S * F [+ clinical hidden])``, ``F = 512 x
    width`` (global pooling of ``layer4``) or ``(128 + 256 + 512) x width``
    (SA localisation).

    Examples
    --------
    >>> import torch
    >>> from mvikit.deep.nets import CMIRNet
    >>> net = CMIRNet(2, 2, n_clinical=4, width=0.125)
    >>> out = net({"volumes": torch.randn(3, 2, 3, 32, 32), "clinical": torch.randn(3, 4)})
    >>> out["logits"].shape, out["embedding"].shape
    (torch.Size([3, 2]), torch.Size([3, 232]))
    """

    def __init__(self, n_sequences: int, n_outputs: int, n_clinical: int = 0, *,
                 variant: str = "Ours", n_slices: int = 3, width: float = 1.0,
                 spatial_dims: int = 2, inv_blocks: str = "projection",
                 inv_kernel_size: int | None = None, group_channels: int = 16) -> None:
        super().__init__()
        if variant not in CMIR_VARIANTS:
            raise ValueError(f"CMIR variant {variant!r} unknown; choose one of "
                             f"{list(CMIR_VARIANTS)}.")
        if inv_blocks not in ("projection", "all"):
            raise ValueError(f"inv_blocks={inv_blocks!r}: choose 'projection' or 'all'.")
        involution, cmam, localisation = CMIR_VARIANTS[variant]
        if n_sequences != 2 and (variant != "M1" or n_sequences != 1):
            needs = "1 or 2 phases" if variant == "M1" else "2 phases"
            raise ValueError(
                f"CMIR variant {variant!r} takes {needs}: {_PHASES}; got {n_sequences} volume "
                "column(s). The single-phase S1 of Table 2 is variant 'M1' ('cmir_m1') on one "
                "phase.")
        if involution:
            _check_groups(width, inv_blocks, group_channels, variant)
        self.variant = variant
        self.spatial_dims = spatial_dims
        in_channels = n_slices if spatial_dims == 2 else 1
        self.encoders = nn.ModuleList(
            _encoder(in_channels, width, spatial_dims, involution, inv_blocks, inv_kernel_size,
                     group_channels) for _ in range(n_sequences))
        stage = [int(s * width) for s in _STAGES]
        self.cmam = SymmetricAttention(stage[2]) if cmam and n_sequences == 2 else None
        self.localisation = None
        features = stage[3]
        if localisation:
            self.localisation = nn.ModuleList(
                SpatialAttentionLocalisation(stage[1:], spatial_dims=spatial_dims)
                for _ in range(n_sequences))
            features = sum(stage[1:])
        self.head = _LateFusionHead(n_sequences * features, n_clinical, n_outputs, width)

    def _phase_input(self, volumes: torch.Tensor, index: int) -> torch.Tensor:
        # 2D: the phase's slices are the channels; 3D: the phase is one channel
        return volumes[:, index] if self.spatial_dims == 2 else volumes[:, index:index + 1]

    def levels(self, batch: Mapping[str, torch.Tensor]) -> list[list[torch.Tensor]]:
        """Per phase the outputs of ``layer2``, ``layer3`` (after CMAM) and ``layer4``."""
        volumes = batch["volumes"]
        stems, thirds = [], []
        for i, enc in enumerate(self.encoders):
            x = enc.act(enc.bn1(enc.conv1(self._phase_input(volumes, i))))
            second = enc.layer2(enc.layer1(enc.maxpool(x)))
            stems.append(second)
            thirds.append(enc.layer3(second))
        if self.cmam is not None:  # AP <-> PV, both directions (one symmetric module)
            thirds = list(self.cmam(thirds[0], thirds[1]))
        return [[second, third, enc.layer4(third)]
                for enc, second, third in zip(self.encoders, stems, thirds)]

    def phase_features(self, batch: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        """Per phase the pooled feature vector ``(B, F)`` the head concatenates."""
        out = []
        for i, levels in enumerate(self.levels(batch)):
            if self.localisation is not None:
                out.append(self.localisation[i](levels))
            else:
                out.append(levels[-1].flatten(2).mean(dim=2))
        return out

    def localisation_maps(self, batch: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        """Per phase the SA localisation map ``(B, 1, *grid of layer2)`` (variant "Ours")."""
        if self.localisation is None:
            raise ValueError(f"CMIR variant {self.variant!r} has no SA localisation module; "
                             "use variant 'Ours' ('cmir' or 'cmir_cube').")
        return [sa.attention(levels) for sa, levels in zip(self.localisation,
                                                           self.levels(batch))]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.head(torch.cat(self.phase_features(batch), dim=1), batch.get("clinical"))


def _layer4(module: nn.Module, sequences: list[str]) -> dict[str, str]:
    return {s: f"encoders.{i}.layer4" for i, s in enumerate(sequences)}


def build_cmir(*, n_sequences: int, n_outputs: int, n_clinical: int = 0, width: float = 1.0,
               variant: str = "Ours", n_slices: int = 3, spatial_dims: int = 2,
               inv_blocks: str = "projection", inv_kernel_size: int | None = None,
               group_channels: int = 16) -> CMIRNet:
    """Build `CMIRNet` (the register's keyword signature)."""
    return CMIRNet(n_sequences, n_outputs, n_clinical, variant=variant, n_slices=n_slices,
                   width=width, spatial_dims=spatial_dims, inv_blocks=inv_blocks,
                   inv_kernel_size=inv_kernel_size, group_channels=group_channels)


#: Registered name of each Table 2 variant per input: 2 (the three-slice slabs of each
#: phase, a 2D network) or 3 (the tumour cube of each phase, a 3D network).
CMIR_ARCHITECTURES: dict[str, dict[int, str]] = {
    "M1": {2: "cmir_m1", 3: "cmir_m1_cube"},
    "M2": {2: "cmir_m2", 3: "cmir_m2_cube"},
    "M3": {2: "cmir_m3", 3: "cmir_m3_cube"},
    "Ours": {2: "cmir", 3: "cmir_cube"},
}

#: The architecture presets per input (``spatial_dims``); they override the estimators'
#: `PRESETS`.  The slides state no training setting, so every value is our choice:
#: "cpu": ResNet18 at a quarter width (16-128 channels, as "resnet18_slices") on 64x64
#: slabs; in 3D width 0.125 (8-64 channels) on the estimators' cpu cube (20x80x80
#: downsampled in-plane by 2, 16x32x32 crops).  "paper": written out in full so that
#: it does not follow other seeds' presets: ResNet18 at full width (64-512 channels);
#: 2D slabs at 224x224, ResNet18's ImageNet input size (the slides show 2D slabs with
#: no size); 3D MD-Net's 20x80x80 cube at full resolution with 16x64x64 training crops
#: (centre crop at inference); MD-Net's optimisation (80 epochs, batch 16, Adam 3e-4;
#: the estimators' ``lr_step=2, lr_gamma=0.9`` step schedule).  Needs a GPU.
_PAPER_TRAINING = {"width": 1.0, "max_epochs": 80, "batch_size": 16, "lr": 3e-4}
CMIR_PRESETS: dict[int, dict[str, dict]] = {
    2: {"cpu": {"width": 0.25}, "demo": {"width": 0.125},
        "paper": {**_PAPER_TRAINING, "n_slices": 3, "slice_size": 224}},
    3: {"cpu": {"width": 0.125}, "demo": {"width": 0.125},
        "paper": {**_PAPER_TRAINING, "cube": (20, 80, 80), "downsample": (1, 1, 1),
                  "crop_size": (16, 64, 64)}},
}
_DESCRIPTIONS = {
    "M1": "CMIR M1/S1: MONAI ResNet18 per phase{input} (one phase: S1)",
    "M2": "CMIR M2: Inv-ResNet18 per phase{input}",
    "M3": "CMIR M3: Inv-ResNet18 per phase{input} + CMAM cross-modal attention",
    "Ours": "CMIR: Inv-ResNet18 per phase{input} + CMAM + SA localisation",
}
_INPUTS = {2: " on its 3 largest-tumour slices", 3: " in 3D on its tumour cube"}


def _register(name: str, variant: str, spatial_dims: int) -> None:
    needs = "" if variant == "M1" else f"; needs {_PHASES}"
    register_architecture(
        name, build_cmir, clinical="late",
        input_kind="slices" if spatial_dims == 2 else "cube", spatial_dims=spatial_dims,
        gradcam_layers=_layer4, sequences=(1, 2) if variant == "M1" else (2, 2),
        options={"variant": variant, "n_slices": 3, "spatial_dims": spatial_dims,
                 "inv_blocks": "projection", "inv_kernel_size": None, "group_channels": 16},
        presets=CMIR_PRESETS[spatial_dims],
        description=_DESCRIPTIONS[variant].format(input=_INPUTS[spatial_dims]) + needs)


for _variant, _names in CMIR_ARCHITECTURES.items():
    for _dims, _name in _names.items():
        _register(_name, _variant, _dims)
