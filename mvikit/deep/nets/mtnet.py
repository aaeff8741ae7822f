"""MTnet (seed 004): a multi-task 3D UNet for future macrovascular invasion.

Fu et al.'s MTnet (seed 004, Sec. 2.7 and Fig. 2) has three blocks:

* **A/B, the image block**: a UNet encoder (A) over the portal-venous CT and a
  decoder (B) segmenting the tumour.  Here the encoder and decoder are MONAI's
  `BasicUNet` blocks (``TwoConv``, ``Down``, ``UpCat``; features
  32-32-64-128-256-32 at ``width=1``), one input channel per volume column
  (``CT_PV`` in the paper; any sequence works).
* **C, the clinical/radiological block**: two fully connected layers (+ ReLU)
  over the preprocessed clinical and radiological items.
* **D, the fusion block**: the image features and the clinical features
  concatenated, one hidden FC layer (+ ReLU) and the output layer: the risk.

How the decoder feeds back ("the decoder was used as a positive feedback to the
encoder for extraction of rich image information", Fig. 2): (1) the encoder is
shared by both tasks, so the Dice + cross-entropy gradient of the segmentation
trains the same encoder weights the classification reads (multi-task learning);
(2) the classification reads two encoder outputs, the globally averaged
bottleneck (``down_4``) and the level-2 encoder features (``down_2``, a quarter
of the input resolution) averaged with the *predicted tumour probability* as
weights (the probability average-pooled to that grid), so the decoder's
prediction decides where the encoder features are read.  The supplement with
the exact layers (Texts S1-S4) is not public; this is our reading.

Without the segmentation subnet (Model NoSeg-CR-DR, ``segmentation=False``)
there is no decoder at all (no decoder parameters, no segmentation output, no
segmentation loss) and the level-2 features are averaged uniformly, so the
embedding has the same size and only the feedback differs.

Registered as ``"mtnet"`` (clinical input ``"late"``: none for Model DR;
auxiliary ``"segmentation"`` with ``"dice_ce"``) and ``"mtnet_noseg"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from monai.networks.nets.basic_unet import Down, TwoConv, UpCat
from torch import nn

from ..layers import scaled_channels
from ._registry import register_architecture

__all__ = ["ClinicalBlock", "MTNet", "MTNET_FEATURES"]

#: BasicUNet's features (encoder 32-256, last decoder 32) at ``width=1``.
MTNET_FEATURES = (32, 32, 64, 128, 256, 32)
#: BasicUNet's defaults: LeakyReLU and affine instance norm.
_ACT = ("LeakyReLU", {"negative_slope": 0.1, "inplace": True})
_NORM = ("instance", {"affine": True})


class ClinicalBlock(nn.Module):
    """Block C of MTnet: two fully connected layers with ReLU over the clinical vector.

    Parameters
    ----------
    n_clinical : int
    hidden : int, default=32

    Examples
    --------
    >>> import torch
    >>> ClinicalBlock(7, 16)(torch.randn(4, 7)).shape
    torch.Size([4, 16])
    """

    def __init__(self, n_clinical: int, hidden: int = 32) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_clinical, hidden), nn.ReLU(inplace=True),
                                    nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.out_features = hidden

    def forward(self, clinical: torch.Tensor) -> torch.Tensor:
        return self.layers(clinical)


class FusionBlock(nn.Module):
    """Block D of MTnet: concatenated features -> FC + ReLU -> the output logits."""

    def __init__(self, n_in: int, n_outputs: int, hidden: int = 32) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(inplace=True),
                                    nn.Linear(hidden, n_outputs))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


class MTNet(nn.Module):
    """MTnet: UNet encoder (+ decoder), clinical block and fusion block.

    Parameters
    ----------
    n_sequences : int
        Volume columns, the UNet's input channels (1: ``CT_PV``).
    n_outputs : int
        Output logits (2 for a binary outcome, 1 for a Cox log-hazard).
    n_clinical : int, default=0
        Length of the clinical vector; 0 builds no clinical block (Model DR).
    width : float, default=1.0
        Multiplier of BasicUNet's features (at least 2 channels each).
    segmentation : bool, default=True
        Build the decoder and return ``"segmentation"``; False is the paper's
        NoSeg ablation (no decoder parameters).
    clinical_hidden : int, default=32
        Units of the two clinical layers and of the fusion layer.

    Notes
    -----
    Shapes: ``batch["volumes"] (B, S, D, H, W)`` and ``batch["clinical"] (B, C)`` ->
    ``logits (B, n_outputs)``, ``embedding (B, E)`` (image features, then clinical
    features) and, with ``segmentation``, ``segmentation (B, 2, D, H, W)`` (logits of
    background and tumour).  ``D, H, W`` divisible by 16 keep every pooling exact.

    Examples
    --------
    >>> import torch
    >>> net = MTNet(1, 2, n_clinical=5, width=0.125)
    >>> out = net({"volumes": torch.randn(2, 1, 16, 32, 32), "clinical": torch.randn(2, 5)})
    >>> out["logits"].shape, out["segmentation"].shape
    (torch.Size([2, 2]), torch.Size([2, 2, 16, 32, 32]))
    >>> noseg = MTNet(1, 2, n_clinical=5, width=0.125, segmentation=False)
    >>> any(name.startswith(("upcat", "final_conv")) for name, _ in noseg.named_parameters())
    False
    """

    def __init__(self, n_sequences: int, n_outputs: int, n_clinical: int = 0,
                 width: float = 1.0, segmentation: bool = True,
                 clinical_hidden: int = 32) -> None:
        super().__init__()
        f = tuple(max(2, c) for c in scaled_channels(MTNET_FEATURES, width))
        self.segmentation = bool(segmentation)
        # block A: the encoder (BasicUNet's)
        self.conv_0 = TwoConv(3, n_sequences, f[0], _ACT, _NORM, True, 0.0)
        self.down_1 = Down(3, f[0], f[1], _ACT, _NORM, True, 0.0)
        self.down_2 = Down(3, f[1], f[2], _ACT, _NORM, True, 0.0)
        self.down_3 = Down(3, f[2], f[3], _ACT, _NORM, True, 0.0)
        self.down_4 = Down(3, f[3], f[4], _ACT, _NORM, True, 0.0)
        if self.segmentation:
            # block B: the decoder (BasicUNet's), two-class logits
            self.upcat_4 = UpCat(3, f[4], f[3], f[3], _ACT, _NORM, True, 0.0, "deconv")
            self.upcat_3 = UpCat(3, f[3], f[2], f[2], _ACT, _NORM, True, 0.0, "deconv")
            self.upcat_2 = UpCat(3, f[2], f[1], f[1], _ACT, _NORM, True, 0.0, "deconv")
            self.upcat_1 = UpCat(3, f[1], f[0], f[5], _ACT, _NORM, True, 0.0, "deconv",
                                 halves=False)
            self.final_conv = nn.Conv3d(f[5], 2, kernel_size=1)
        # block C and D
        self.clinical_block = ClinicalBlock(n_clinical, clinical_hidden) if n_clinical else None
        n_image = f[4] + f[2]
        n_fused = n_image + (clinical_hidden if n_clinical else 0)
        self.fusion = FusionBlock(n_fused, n_outputs, clinical_hidden)

    def _image_features(self, volumes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x0 = self.conv_0(volumes)
        x1 = self.down_1(x0)
        x2 = self.down_2(x1)
        x3 = self.down_3(x2)
        x4 = self.down_4(x3)
        bottleneck = x4.mean(dim=(2, 3, 4))
        if not self.segmentation:
            return torch.cat([bottleneck, x2.mean(dim=(2, 3, 4))], dim=1), None
        u = self.upcat_1(self.upcat_2(self.upcat_3(self.upcat_4(x4, x3), x2), x1), x0)
        segmentation = self.final_conv(u)
        # the decoder's feedback: the tumour probability on x2's grid weighs its features
        tumour = torch.softmax(segmentation, dim=1)[:, 1:2]
        weight = F.adaptive_avg_pool3d(tumour, x2.shape[2:])
        pooled = (x2 * weight).sum(dim=(2, 3, 4)) / weight.sum(dim=(2, 3, 4)).clamp_min(1e-6)
        return torch.cat([bottleneck, pooled], dim=1), segmentation

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        image, segmentation = self._image_features(batch["volumes"])
        features = image
        if self.clinical_block is not None:
            clinical = batch.get("clinical")
            if clinical is None or clinical.shape[1] == 0:
                raise ValueError("This MTnet was built with a clinical block and needs the "
                                 "clinical vector (batch['clinical']).")
            features = torch.cat([image, self.clinical_block(clinical.to(image.dtype))], dim=1)
        out = {"logits": self.fusion(features), "embedding": features}
        if segmentation is not None:
            out["segmentation"] = segmentation
        return out


def build_mtnet(*, n_sequences: int, n_outputs: int, n_clinical: int = 0, width: float = 1.0,
                clinical_hidden: int = 32) -> MTNet:
    """Build `MTNet` with its segmentation decoder (the register's keyword signature)."""
    return MTNet(n_sequences, n_outputs, n_clinical, width, True, clinical_hidden)


def build_mtnet_noseg(*, n_sequences: int, n_outputs: int, n_clinical: int = 0,
                      width: float = 1.0, clinical_hidden: int = 32) -> MTNet:
    """Build `MTNet` without decoder (NoSeg; the register's keyword signature)."""
    return MTNet(n_sequences, n_outputs, n_clinical, width, False, clinical_hidden)


def _encoder_layer(module: nn.Module, sequences: list[str]) -> dict[str, str]:
    # the sequences share the encoder: one map, the level-2 features the head reads
    return dict.fromkeys(sequences, "down_2")


_PRESETS = {"cpu": {"width": 0.25}, "demo": {"width": 0.125}}

register_architecture(
    "mtnet", build_mtnet, clinical="late", input_kind="cube", spatial_dims=3,
    gradcam_layers=_encoder_layer, auxiliary={"segmentation": "dice_ce"},
    options={"clinical_hidden": 32}, presets=_PRESETS,
    description="MTnet (seed 004): 3D UNet segmenting the tumour + clinical block + fusion")
register_architecture(
    "mtnet_noseg", build_mtnet_noseg, clinical="late", input_kind="cube", spatial_dims=3,
    gradcam_layers=_encoder_layer, options={"clinical_hidden": 32}, presets=_PRESETS,
    description="MTnet without the segmentation decoder (the NoSeg ablation of seed 004)")
