"""A 2D ResNet18 per sequence over stacks of axial slices (the slice-input baseline).

Each sequence's ``n_slices`` contiguous largest-tumour slices (the
``"slices"`` input kind of `mvikit.deep.CohortTensorizer`) enter one MONAI
2D ResNet18 as its input channels, the "three-channel combination" of CDLM
(seed 003) and CMIR (seed 001).  The pooled features of the sequences are
concatenated and classified, with optional late fusion of the clinical vector
(one FC layer + ReLU concatenated before the classifier, as the 3D baselines).

At ``width=1`` with 3 slices the trunk is torchvision's ResNet18 layout without
its classification layer (MONAI with ``conv1_t_stride=2, bias_downsample=False``:
11,176,512 parameters), so ImageNet weights saved as a local state dict load
into ``encoders[i]``.

Registered as ``"resnet18_slices"`` (clinical input: ``"late"``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from monai.networks.nets import ResNet
from torch import nn

from ._registry import register_architecture
from .baselines import _LateFusionHead

__all__ = ["SliceResNet", "resnet18_trunk"]


def resnet18_trunk(in_channels: int = 3, width: float = 1.0) -> ResNet:
    """MONAI's 2D ResNet18 without classification layer: ``(B, C, H, W) -> (B, 512 * width)``.

    Examples
    --------
    >>> trunk = resnet18_trunk(3)
    >>> sum(p.numel() for p in trunk.parameters())
    11176512
    """
    return ResNet("basic", [2, 2, 2, 2], [64, 128, 256, 512], spatial_dims=2,
                  n_input_channels=in_channels, conv1_t_stride=2, bias_downsample=False,
                  shortcut_type="B", widen_factor=width, feed_forward=False)


class SliceResNet(nn.Module):
    """One 2D ResNet18 per sequence over its slice stack, features concatenated.

    Parameters
    ----------
    n_sequences : int
    n_outputs : int
    n_clinical : int, default=0
        Clinical inputs for late fusion (0: images only).
    n_slices : int, default=3
        Slices per sequence, the ResNet's input channels.
    width : float, default=1.0
        MONAI's ``widen_factor`` (1: ResNet18's 64-512 channels).

    Notes
    -----
    Shapes: ``batch["volumes"] (B, S, n_slices, H, W)`` -> dict with
    ``logits (B, n_outputs)`` and ``embedding (B, S * F)``.

    Examples
    --------
    >>> import torch
    >>> net = SliceResNet(2, 3, width=0.125)
    >>> net({"volumes": torch.randn(4, 2, 3, 32, 32)})["logits"].shape
    torch.Size([4, 3])
    """

    def __init__(self, n_sequences: int, n_outputs: int, n_clinical: int = 0,
                 n_slices: int = 3, width: float = 1.0) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(resnet18_trunk(n_slices, width)
                                      for _ in range(n_sequences))
        features = self.encoders[0].layer4[-1].bn2.num_features
        self.head = _LateFusionHead(n_sequences * features, n_clinical, n_outputs, width)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        slices = batch["volumes"]
        features = [enc(slices[:, i]) for i, enc in enumerate(self.encoders)]
        return self.head(torch.cat(features, dim=1), batch.get("clinical"))


def _layer4(module: nn.Module, sequences: list[str]) -> dict[str, str]:
    return {s: f"encoders.{i}.layer4" for i, s in enumerate(sequences)}


def build_slice_resnet(*, n_sequences: int, n_outputs: int, n_clinical: int = 0,
                       width: float = 1.0, n_slices: int = 3) -> SliceResNet:
    """Build `SliceResNet` (the register's keyword signature)."""
    return SliceResNet(n_sequences, n_outputs, n_clinical, n_slices, width)


register_architecture(
    "resnet18_slices", build_slice_resnet, clinical="late", input_kind="slices",
    spatial_dims=2, gradcam_layers=_layer4, options={"n_slices": 3},
    presets={"cpu": {"width": 0.25}, "demo": {"width": 0.125}},
    description="2D ResNet18 (MONAI) per sequence on its 3 largest-tumour slices")
