"""DMMGNet (seed 002): liver and tumour branches for two MRI sequences with graph fusion.

Four parallel CNN branches read the liver slab and the tumour slab of each of two
sequences (T2 and portal-venous, PV, in the paper; the ``"liver_tumor"`` input kind
of `mvikit.deep.CohortTensorizer`: ``n_slices`` contiguous slices of each, resized
to a square).  After the convolutions of every stage ``i = 1..4`` (Sec. 3.1,
eqs. 1-4)::

    FT_i, FL_i = conv_i(FT_{i-1}), conv_i(FL_{i-1})          per sequence    (1)
    FT_i, FL_i = SGCM(FT_i), SGCM(FL_i)                      per sequence    (2)
    FT_i, FL_i = MMDFM(FT_i, FL_i)                           per sequence    (3)
    FTPV_i, FTT2_i = CMTFM(FTPV_i, FTT2_i, MTPV_i)                           (4)

with the graph modules of `mvikit.deep.layers.graph` (`SGCM`, `MMDFM`, `CMTFM`)
and ``MTPV_i`` the tumour mask max-pooled to stage ``i``'s grid (the same pooling
as the features, so a voxel of the pooled mask is tumour when any voxel under it
is).  The four branch outputs are average-pooled and read, in the order liver T2,
tumour T2, liver PV, tumour PV, by an LSTM whose last hidden state feeds the head
(Table 1's baseline: "the outputs of these branches are equally pooled and fed
into an LSTM"; the modules are "appended to the Baseline architecture").

Readings of the paper (it gives no layer sizes):

* ``conv_i`` is two 3x3x3 convolutions (BatchNorm, ReLU) and an in-plane 2x2 max
  pool: the depth (the slices) is kept at every stage, since SGCM selects nodes
  per slice (eq. 5); channels ``(32, 64, 128, 256) * width``.
* SGCM follows every branch's convolutions ("the convolutional layer in each
  branch is followed by SGCN"; eq. 2 writes it for the tumour only).
* CMTFM fuses the two tumour branches on the mask of the second sequence (PV
  with ``volumes=["T2", "PV"]``), as eq. 4 and Fig. 4 do; the liver branches are
  not fused across sequences (their masks span most of the slab, so the
  neighbourhoods of the centre patch would be arbitrary liver).
* The module switches ``sgcm``, ``mmdfm`` and ``cmtfm`` give the eight rows of
  Table 1; each row is registered under its own name so that the estimators
  (which take an architecture name) can train it: ``"dmmgnet"`` (all three,
  row 8), ``"dmmgnet_baseline"`` (row 1), ``"dmmgnet_sgcm"``,
  ``"dmmgnet_mmdfm"``, ``"dmmgnet_cmtfm"`` (rows 2-4),
  ``"dmmgnet_sgcm_mmdfm"``, ``"dmmgnet_sgcm_cmtfm"``, ``"dmmgnet_mmdfm_cmtfm"``
  (rows 5-7).

Registered with clinical input ``"late"`` (the paper uses images only; with
``use_clinical=True`` the clinical vector is concatenated to the LSTM state),
``input_kind="liver_tumor"``, two sequences, and presets of 10 slices at 56x56
(``"cpu"``) or 112x112 (``"paper"``: Adam 5e-3, batch 16, learning rate x0.8 when
the epoch's training loss does not decrease; see `DMMGNET_PRESETS`).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import scaled_channels
from ..layers.graph import CMTFM, MMDFM, SGCM
from ._registry import register_architecture
from .baselines import _LateFusionHead

__all__ = ["DMMGNet", "DMMGNET_CHANNELS", "DMMGNET_PRESETS", "DMMGNET_VARIANTS",
           "build_dmmgnet"]

#: Channels of the four stages at ``width=1`` (the paper gives none).
DMMGNET_CHANNELS: tuple[int, ...] = (32, 64, 128, 256)

#: The paper's learning-rate schedule (Sec. 4.1): "decayed by a factor of 0.8 in case
#: the loss did not decrease during training".  There is no validation split in the
#: estimators' training, so the monitored loss is the epoch's mean training loss;
#: ``patience=0``: one epoch without a new best loss lowers the rate.
PLATEAU_SCHEDULE: dict = {"policy": "plateau", "factor": 0.8, "patience": 0,
                          "monitor": "train_loss"}

#: Settings per estimator preset (`Architecture.presets`): the paper's input (10
#: slices of 112x112 per branch, Sec. 4.1) and optimiser (Adam 5e-3, batch 16, the
#: plateau schedule, 80 epochs as the estimators' "paper" preset); on the CPU, the
#: same 10 slices at half the in-plane size and a narrow net.
DMMGNET_PRESETS: dict[str, dict] = {
    "paper": {"n_slices": 10, "slice_size": 112, "width": 1.0, "lr": 5e-3, "batch_size": 16,
              "lr_schedule": PLATEAU_SCHEDULE},
    "cpu": {"n_slices": 10, "slice_size": 56, "width": 0.125, "lr": 5e-3, "batch_size": 16,
            "max_epochs": 8, "lr_schedule": PLATEAU_SCHEDULE},
    "demo": {"n_slices": 10, "slice_size": 40, "width": 0.125, "lr": 5e-3, "batch_size": 16,
             "max_epochs": 3, "lr_schedule": PLATEAU_SCHEDULE},
}

#: Table 1's rows: registered name -> (SGCM, MMDFM, CMTFM).
DMMGNET_VARIANTS: dict[str, tuple[bool, bool, bool]] = {
    "dmmgnet_baseline": (False, False, False),
    "dmmgnet_sgcm": (True, False, False),
    "dmmgnet_mmdfm": (False, True, False),
    "dmmgnet_cmtfm": (False, False, True),
    "dmmgnet_sgcm_mmdfm": (True, True, False),
    "dmmgnet_sgcm_cmtfm": (True, False, True),
    "dmmgnet_mmdfm_cmtfm": (False, True, True),
    "dmmgnet": (True, True, True),
}

Batch = Mapping[str, torch.Tensor]
#: In-plane pooling of every stage; the tumour mask is pooled the same way.
_POOL = dict(kernel_size=(1, 2, 2), ceil_mode=True)


class _Stage(nn.Module):
    """``conv_i``: two 3x3x3 convolutions (BatchNorm, ReLU), then an in-plane 2x2 max pool.

    ``convs`` (the ReLU output before the pool) is the Grad-CAM layer of the last stage.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(out_channels), nn.ReLU(inplace=True),
            nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(out_channels), nn.ReLU(inplace=True))
        self.pool = nn.MaxPool3d(**_POOL)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.convs(x))


def _branch(channels: tuple[int, ...]) -> nn.ModuleList:
    ins = (1,) + channels[:-1]
    return nn.ModuleList(_Stage(i, o) for i, o in zip(ins, channels))


class DMMGNet(nn.Module):
    """DMMGNet: four CNN branches (liver/tumour x two sequences), graph fusion, an LSTM.

    Parameters
    ----------
    n_outputs : int
        Logits (2 for 1-year progression, 1 for a Cox risk).
    n_clinical : int, default=0
        Clinical inputs for late fusion (0: images only, as the paper).
    width : float, default=1.0
        Channel multiplier of `DMMGNET_CHANNELS`.
    sgcm, mmdfm, cmtfm : bool, default=True
        Switch each graph module on (Table 1); all off is the baseline.
    nodes_per_slice : int, default=16
        Nodes selected per slice by SGCM and MMDFM (eq. 5's ``k``).
    k : int, default=9
        Graph neighbours per node.
    dilation : int, default=2
        Dilation of SGCM's kNN graphs (MMDFM and CMTFM use 1: their cross graphs
        join two different node sets).
    conv : {"mr", "edge"}, default="mr"
        The graph convolution (max-relative or EdgeConv).

    Notes
    -----
    Shapes: ``batch["volumes"]``, ``batch["masks"]``, ``batch["liver_volumes"]``
    ``(B, 2, D, H, W)`` -> dict with ``logits (B, n_outputs)`` and ``embedding
    (B, E)`` (the LSTM's last hidden state, plus the clinical features with
    ``n_clinical > 0``).  Sequence 0 is T2, sequence 1 PV in the paper's order;
    the tumour mask of sequence 1 places CMTFM's patches.

    Examples
    --------
    >>> import torch
    >>> net = DMMGNet(1, width=0.125).eval()
    >>> batch = {"volumes": torch.randn(2, 2, 4, 32, 32),
    ...          "masks": torch.ones(2, 2, 4, 32, 32),
    ...          "liver_volumes": torch.randn(2, 2, 4, 32, 32)}
    >>> out = net(batch)
    >>> out["logits"].shape, out["embedding"].shape
    (torch.Size([2, 1]), torch.Size([2, 32]))
    >>> [tuple(f.shape) for f in net.features(batch)["tumour"]]  # T2, PV after stage 4
    [(2, 32, 4, 2, 2), (2, 32, 4, 2, 2)]
    """

    def __init__(self, n_outputs: int, n_clinical: int = 0, width: float = 1.0, *,
                 sgcm: bool = True, mmdfm: bool = True, cmtfm: bool = True,
                 nodes_per_slice: int = 16, k: int = 9, dilation: int = 2,
                 conv: str = "mr") -> None:
        super().__init__()
        channels = scaled_channels(DMMGNET_CHANNELS, width)
        self.channels = channels
        self.tumour = nn.ModuleList(_branch(channels) for _ in range(2))
        self.liver = nn.ModuleList(_branch(channels) for _ in range(2))
        graph = dict(k=k, conv=conv)
        # one module per stage (and per branch or sequence), none when switched off
        self.sgcm = nn.ModuleList(
            nn.ModuleDict({name: SGCM(c, nodes_per_slice, dilation=dilation, **graph)
                           for name in ("tumour0", "tumour1", "liver0", "liver1")})
            for c in channels) if sgcm else None
        self.mmdfm = nn.ModuleList(
            nn.ModuleList(MMDFM(c, nodes_per_slice, **graph) for _ in range(2))
            for c in channels) if mmdfm else None
        self.cmtfm = nn.ModuleList(CMTFM(c, **graph) for c in channels) if cmtfm else None
        self.lstm = nn.LSTM(channels[-1], channels[-1], batch_first=True)
        self.head = _LateFusionHead(channels[-1], n_clinical, n_outputs, width)

    def _stage(self, i: int, tumour: list, liver: list,
               mask: torch.Tensor) -> tuple[list, list, torch.Tensor]:
        tumour = [branch[i](x) for branch, x in zip(self.tumour, tumour)]  # eq. (1)
        liver = [branch[i](x) for branch, x in zip(self.liver, liver)]
        mask = F.max_pool3d(mask, **_POOL)  # the tumour mask on this stage's grid
        if self.sgcm is not None:  # eq. (2)
            sgcm = self.sgcm[i]
            tumour = [sgcm[f"tumour{s}"](x) for s, x in enumerate(tumour)]
            liver = [sgcm[f"liver{s}"](x) for s, x in enumerate(liver)]
        if self.mmdfm is not None:  # eq. (3)
            pairs = [fuse(t, li) for fuse, t, li in zip(self.mmdfm[i], tumour, liver)]
            tumour, liver = [p[0] for p in pairs], [p[1] for p in pairs]
        if self.cmtfm is not None:  # eq. (4): FTPV, FTT2 = CMTFM(FTPV, FTT2, MTPV)
            pv, t2 = self.cmtfm[i](tumour[1], tumour[0], mask)
            tumour = [t2, pv]
        return tumour, liver, mask

    def features(self, batch: Batch) -> dict[str, list[torch.Tensor]]:
        """The last stage's feature maps: ``{"tumour": [T2, PV], "liver": [T2, PV]}``,
        each ``(B, C, D, H/16, W/16)`` (in-plane sizes rounded up)."""
        volumes, liver_volumes = batch["volumes"], batch["liver_volumes"]
        if volumes.shape[1] != 2 or liver_volumes.shape[1] != 2:
            raise ValueError(f"DMMGNet reads two sequences (T2 and PV); got tumour slabs "
                             f"{tuple(volumes.shape)} and liver slabs "
                             f"{tuple(liver_volumes.shape)}. Pass volumes=['T2', 'PV'].")
        tumour = [volumes[:, s:s + 1] for s in range(2)]
        liver = [liver_volumes[:, s:s + 1] for s in range(2)]
        mask = (batch["masks"][:, 1:2] > 0.5).to(volumes.dtype)
        for i in range(len(self.channels)):
            tumour, liver, mask = self._stage(i, tumour, liver, mask)
        return {"tumour": tumour, "liver": liver}

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        maps = self.features(batch)
        # equal pooling of the four branches, read in order by the LSTM (Table 1, row 1)
        order = (maps["liver"][0], maps["tumour"][0], maps["liver"][1], maps["tumour"][1])
        tokens = torch.stack([x.mean(dim=(2, 3, 4)) for x in order], dim=1)  # (B, 4, C)
        _, (last_hidden, _) = self.lstm(tokens)
        return self.head(last_hidden[-1], batch.get("clinical"))


def build_dmmgnet(*, n_sequences: int, n_outputs: int, n_clinical: int = 0, width: float = 1.0,
                  sgcm: bool = True, mmdfm: bool = True, cmtfm: bool = True,
                  nodes_per_slice: int = 16, k: int = 9, dilation: int = 2,
                  conv: str = "mr") -> DMMGNet:
    """Build `DMMGNet` (the register's keyword signature; ``n_sequences`` must be 2)."""
    return DMMGNet(n_outputs, n_clinical, width, sgcm=sgcm, mmdfm=mmdfm, cmtfm=cmtfm,
                   nodes_per_slice=nodes_per_slice, k=k, dilation=dilation, conv=conv)


def _gradcam_layers(module: nn.Module, sequences: list[str]) -> dict[str, str]:
    # the tumour branch's last convolutions of each sequence (the slab Grad-CAM maps back)
    last = len(module.tumour[0]) - 1
    return {s: f"tumour.{i}.{last}.convs" for i, s in enumerate(sequences)}


def _variant_builder(flags: tuple[bool, bool, bool]):
    sgcm, mmdfm, cmtfm = flags

    def build(**kwargs) -> DMMGNet:
        return build_dmmgnet(**kwargs, sgcm=sgcm, mmdfm=mmdfm, cmtfm=cmtfm)
    return build


def _row_text(flags: tuple[bool, bool, bool]) -> str:
    modules = [m for m, on in zip(("SGCM", "MMDFM", "CMTFM"), flags) if on]
    if not modules:
        return "DMMGNet baseline (Table 1 row 1): 4 liver/tumour CNN branches + LSTM"
    if len(modules) == 3:
        return "DMMGNet (seed 002): liver/tumour T2+PV branches, SGCM, MMDFM, CMTFM, LSTM"
    return f"DMMGNet baseline + {' + '.join(modules)} (Table 1 ablation)"


_OPTIONS = {"nodes_per_slice": 16, "k": 9, "dilation": 2, "conv": "mr"}

for _name, _flags in DMMGNET_VARIANTS.items():
    register_architecture(
        _name, _variant_builder(_flags), clinical="late", input_kind="liver_tumor",
        spatial_dims=3, gradcam_layers=_gradcam_layers, sequences=(2, 2),
        options=_OPTIONS, presets=DMMGNET_PRESETS, description=_row_text(_flags))
