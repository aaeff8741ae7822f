"""Convolutional building blocks shared by the 3D networks.

Shapes follow PyTorch: volumes are ``(B, C, D, H, W)``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["scaled_channels", "ConvBlock3d", "ConvTrunk3d", "global_avg_max_pool",
           "trunk_gradcam_layers"]

#: Channels of the four convolutional blocks of MD-Net at ``width=1``
#: (Sec. III-A of the MD-Net paper: 64, 128, 256, 256).
MDNET_CHANNELS: tuple[int, ...] = (64, 128, 256, 256)


def scaled_channels(channels: tuple[int, ...] | list[int], width: float) -> tuple[int, ...]:
    """Multiply channel counts by ``width`` (rounded, at least 1).

    Examples
    --------
    >>> scaled_channels((64, 128, 256, 256), 0.125)
    (8, 16, 32, 32)
    """
    return tuple(max(1, int(round(c * width))) for c in channels)


class ConvBlock3d(nn.Module):
    """Two 3x3x3 convolutions, each followed by BatchNorm and ReLU, then a 2x max-pool.

    The block of MD-Net's MRI modules (Fig. 3).  The pool uses ``ceil_mode=True`` so
    an axis of odd length (or of length 1, e.g. the depth of a thin crop after
    three blocks) is halved rounding up instead of vanishing.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.

    Notes
    -----
    Shapes: ``(B, in_channels, D, H, W) -> (B, out_channels, ceil(D/2), ceil(H/2), ceil(W/2))``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.MaxPool3d(2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.convs(x))


class ConvTrunk3d(nn.Module):
    """A stack of `ConvBlock3d` with channels ``MDNET_CHANNELS * width``.

    Parameters
    ----------
    in_channels : int, default=1
        Input channels (1 for one sequence; ``S`` when sequences are stacked as
        channels, the "3DCNN" baseline).
    width : float, default=1.0
        Channel multiplier.
    channels : tuple of int, default=(64, 128, 256, 256)
        Channels at ``width=1``.

    Notes
    -----
    Shapes: ``(B, in_channels, D, H, W) -> (B, C_last, D/16, H/16, W/16)`` (rounded up).
    """

    def __init__(self, in_channels: int = 1, width: float = 1.0,
                 channels: tuple[int, ...] = MDNET_CHANNELS) -> None:
        super().__init__()
        self.channels = scaled_channels(channels, width)
        ins = (in_channels,) + self.channels[:-1]
        self.blocks = nn.ModuleList(ConvBlock3d(i, o) for i, o in zip(ins, self.channels))

    @property
    def out_channels(self) -> int:
        return self.channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def global_avg_max_pool(x: torch.Tensor) -> torch.Tensor:
    """Global average and max pooling, concatenated: ``(B, C, D, H, W) -> (B, 2C)``.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> global_avg_max_pool(x)
    tensor([[3.5000, 7.0000]])
    """
    flat = x.flatten(2)
    return torch.cat([flat.mean(dim=2), flat.amax(dim=2)], dim=1)


def trunk_gradcam_layers(module: nn.Module, sequences: list[str]) -> dict[str, str]:
    """Grad-CAM layers of a network built from `ConvTrunk3d` branches.

    The last convolution block of each sequence's trunk (its ReLU output, before
    the block's max-pool): Grad-CAM's "last convolutional layer", at twice the
    resolution of the pooled map.  One trunk (sequences stacked as channels)
    serves every sequence; otherwise trunks and sequences pair in order.
    """
    trunks = [name for name, sub in module.named_modules() if isinstance(sub, ConvTrunk3d)]
    if not trunks:
        raise ValueError(f"{type(module).__name__} has no ConvTrunk3d; name the layer to "
                         "explain with layer='<module name>'.")
    last = {t: f"{t}.blocks.{len(module.get_submodule(t).blocks) - 1}.convs" for t in trunks}
    if len(trunks) == 1:
        return {s: last[trunks[0]] for s in sequences}
    if len(trunks) != len(sequences):
        raise ValueError(f"{type(module).__name__} has {len(trunks)} convolutional trunks for "
                         f"{len(sequences)} sequences; pass layer={{sequence: name}}.")
    return {s: last[t] for s, t in zip(sequences, trunks)}
