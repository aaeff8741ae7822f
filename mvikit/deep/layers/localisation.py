"""Spatial-attention localisation over multi-level features (CMIR's "SA Localization Module").

CMIR (seed 001, Fig. 7) names an "SA localization module" that reads features of
several depths of the network ("multi-feature location module" in its Table 2).
The slide shows a figure only, so the reading here is ours, written down:

1. *Multi-level features*: the outputs of the last three stages of the
   ResNet (``layer2``, ``layer3``, ``layer4``: strides 8, 16 and 32) -- the
   shallow ones keep where the tumour margin and its surroundings are, the deep
   ones what they look like.  The deeper maps are resized (bilinear in 2D,
   trilinear in 3D) to the grid of the shallowest and concatenated along the
   channels: ``F`` with ``C2 + C3 + C4`` channels.
2. *SA*: the spatial attention of CBAM (Woo et al., ECCV 2018, eq. 3),
   ``A = sigmoid(conv_k([mean_c F; max_c F]))``, one weight in ``(0, 1)`` per
   position, from the channel mean and channel maximum of ``F`` (kernel ``k = 7``
   in 2D as CBAM, 3 in 3D).
3. *Localisation*: ``A`` weights the positions when ``F`` is pooled,
   ``f = sum_p A_p F_p / sum_p A_p`` (an attention-weighted average instead of
   the global average pooling of the plain ResNet), so the classifier reads the
   positions the map selects; ``A`` itself is the localisation map that
   `SpatialAttentionLocalisation.attention` returns for display.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["SpatialAttentionLocalisation"]

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_MODE = {2: "bilinear", 3: "trilinear"}


class SpatialAttentionLocalisation(nn.Module):
    """Pool multi-level feature maps with one learnt spatial attention map.

    Parameters
    ----------
    channels : sequence of int
        Channels of each level, shallowest first (their sum is the output size).
    spatial_dims : {2, 3}, default=2
    kernel_size : int, default=None
        Kernel of the attention convolution; None: 7 in 2D (CBAM), 3 in 3D.

    Attributes
    ----------
    out_features : int
        ``sum(channels)``.
    conv : Conv2d or Conv3d
        ``2 -> 1`` channels: the map's logits from the channel mean and maximum.

    Notes
    -----
    Shapes: levels ``(B, C_l, *S_l)`` with ``S_0`` the largest -> ``(B, sum C_l)``.

    Examples
    --------
    >>> import torch
    >>> from mvikit.deep.layers import SpatialAttentionLocalisation
    >>> sa = SpatialAttentionLocalisation([8, 16, 32])
    >>> levels = [torch.randn(2, 8, 8, 8), torch.randn(2, 16, 4, 4), torch.randn(2, 32, 2, 2)]
    >>> sa(levels).shape, sa.attention(levels).shape
    (torch.Size([2, 56]), torch.Size([2, 1, 8, 8]))
    """

    def __init__(self, channels: Sequence[int], *, spatial_dims: int = 2,
                 kernel_size: int | None = None) -> None:
        super().__init__()
        if spatial_dims not in _CONV:
            raise ValueError(f"SpatialAttentionLocalisation: spatial_dims must be 2 or 3, got "
                             f"{spatial_dims!r}.")
        kernel_size = (7 if spatial_dims == 2 else 3) if kernel_size is None else kernel_size
        self.spatial_dims = spatial_dims
        self.out_features = int(sum(channels))
        self.conv = _CONV[spatial_dims](2, 1, kernel_size, padding=kernel_size // 2)

    def features(self, levels: Sequence[torch.Tensor]) -> torch.Tensor:
        """The levels resized to the first one's grid and concatenated: ``(B, sum C, *S_0)``."""
        grid = levels[0].shape[2:]
        resized = [levels[0]] + [
            level if level.shape[2:] == grid else
            F.interpolate(level, size=grid, mode=_MODE[self.spatial_dims], align_corners=False)
            for level in levels[1:]]
        return torch.cat(resized, dim=1)

    def _attention(self, features: torch.Tensor) -> torch.Tensor:
        summary = torch.cat([features.mean(dim=1, keepdim=True),
                             features.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(summary))

    def attention(self, levels: Sequence[torch.Tensor]) -> torch.Tensor:
        """The localisation map ``A``: ``(B, 1, *S_0)``, values in ``(0, 1)``."""
        return self._attention(self.features(levels))

    def forward(self, levels: Sequence[torch.Tensor]) -> torch.Tensor:
        features = self.features(levels)
        weights = self._attention(features)
        dims = tuple(range(2, features.ndim))
        # attention-weighted average: sum A F / sum A (A > 0, so never a division by 0)
        return (weights * features).sum(dim=dims) / weights.sum(dim=dims)
