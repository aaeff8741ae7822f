"""A 3D UNet that segments the tumour and classifies the patient (multi-task baseline).

MONAI's `BasicUNet` reads the sequences as input channels and predicts two-class
(background / tumour) segmentation logits; the classification reads the
bottleneck features (global average pooling) and the last decoder features
pooled with the predicted tumour probability as weights, so the decoder feeds the
classification back through where it thinks the tumour is (the pooling MTnet,
seed 004, suggests).  The multi-task training scheme adds the Dice +
cross-entropy loss of ``"segmentation"`` against the tumour mask.

Registered as ``"unet_multitask"`` (clinical input: ``"late"``; auxiliary output
``"segmentation"`` with loss ``"dice_ce"``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from monai.networks.nets import BasicUNet
from torch import nn

from ..layers import scaled_channels
from ._registry import register_architecture
from .baselines import _LateFusionHead

__all__ = ["SegmentationClassifierNet"]

#: BasicUNet's default features (encoder 32-256, last decoder 32) at ``width=1``.
UNET_FEATURES = (32, 32, 64, 128, 256, 32)


class SegmentationClassifierNet(nn.Module):
    """UNet segmentation + classification from encoder and probability-weighted decoder.

    Parameters
    ----------
    n_sequences : int
    n_outputs : int
    n_clinical : int, default=0
    width : float, default=1.0
        Multiplier of BasicUNet's features (at least 2 channels each).

    Notes
    -----
    Shapes: ``batch["volumes"] (B, S, D, H, W)`` -> dict with ``logits (B, n_outputs)``,
    ``embedding (B, E)`` and ``segmentation (B, 2, D, H, W)`` (logits of background and
    tumour).  ``D, H, W`` divisible by 16 keep every pooling exact.

    Examples
    --------
    >>> import torch
    >>> net = SegmentationClassifierNet(2, 3, width=0.25)
    >>> out = net({"volumes": torch.randn(2, 2, 16, 32, 32)})
    >>> out["logits"].shape, out["segmentation"].shape
    (torch.Size([2, 3]), torch.Size([2, 2, 16, 32, 32]))
    """

    def __init__(self, n_sequences: int, n_outputs: int, n_clinical: int = 0,
                 width: float = 1.0) -> None:
        super().__init__()
        features = tuple(max(2, c) for c in scaled_channels(UNET_FEATURES, width))
        self.unet = BasicUNet(spatial_dims=3, in_channels=n_sequences, out_channels=2,
                              features=features)
        self.head = _LateFusionHead(features[4] + features[5], n_clinical, n_outputs, width)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        unet = self.unet
        x0 = unet.conv_0(batch["volumes"])
        x1 = unet.down_1(x0)
        x2 = unet.down_2(x1)
        x3 = unet.down_3(x2)
        x4 = unet.down_4(x3)
        u1 = unet.upcat_1(unet.upcat_2(unet.upcat_3(unet.upcat_4(x4, x3), x2), x1), x0)
        segmentation = unet.final_conv(u1)
        tumour = torch.softmax(segmentation, dim=1)[:, 1:2]
        weighted = (u1 * tumour).sum(dim=(2, 3, 4)) / tumour.sum(dim=(2, 3, 4)).clamp_min(1e-6)
        image = torch.cat([x4.mean(dim=(2, 3, 4)), weighted], dim=1)
        return {**self.head(image, batch.get("clinical")), "segmentation": segmentation}


def build_segmentation_classifier(*, n_sequences: int, n_outputs: int, n_clinical: int = 0,
                                  width: float = 1.0) -> SegmentationClassifierNet:
    """Build `SegmentationClassifierNet` (the register's keyword signature)."""
    return SegmentationClassifierNet(n_sequences, n_outputs, n_clinical, width)


register_architecture(
    "unet_multitask", build_segmentation_classifier, clinical="late", input_kind="cube",
    spatial_dims=3, gradcam_layers=lambda module, sequences: dict.fromkeys(sequences,
                                                                          "unet.upcat_1"),
    auxiliary={"segmentation": "dice_ce"}, presets={"cpu": {"width": 0.25}},
    description="3D UNet (MONAI) segmenting the tumour + classification head (multi-task)")
