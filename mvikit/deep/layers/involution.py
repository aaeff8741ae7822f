"""The involution operator (Li et al., CVPR 2021) and an Inv-ResNet basic block.

CMIR (seed 001, Fig. 5) builds its Inv-ResNet from residual blocks in which
"some convolution operations are replaced by involution operations".  An
involution inverts the two properties of a convolution: its kernel is
*position-specific* (generated at each voxel from that voxel's features) and
*channel-shared* (one kernel per group of channels).  With ``G`` groups and a
``K x K`` neighbourhood (slide formula, 2D)::

    Y[i, j, k] = sum_{(u, v) in Delta_K} H[i, j, u + K//2, v + K//2, k*G//C] * X[i+u, j+v, k]
    H[i, j]    = phi(X[i, j]) = W1 sigma(W0 X[i, j])

``W0`` (1x1 convolution, ``C -> C/r``, no bias), ``sigma`` (BatchNorm + ReLU)
and ``W1`` (1x1 convolution, ``C/r -> K^d G``, with bias) form the kernel
generator; ``d`` is the number of spatial axes.

Shapes follow PyTorch: ``(B, C, H, W)`` in 2D, ``(B, C, D, H, W)`` in 3D.
"""

from __future__ import annotations

import itertools

import torch
from monai.networks.nets.resnet import ResNetBlock
from torch import nn
from torch.nn import functional as F

__all__ = ["InvResNetBlock", "Involution", "involution_groups"]

#: Kernel size of the involution paper (RedNet) in 2D; 3 keeps 3D at 27 taps.
_DEFAULT_KERNEL = {2: 7, 3: 3}
_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_BATCH_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_AVG_POOL = {2: F.avg_pool2d, 3: F.avg_pool3d}


def involution_groups(channels: int, group_channels: int = 16, *, layer: str = "Involution"
                      ) -> int:
    """The number of kernel groups ``G = max(1, C // group_channels)``.

    Parameters
    ----------
    channels : int
        Channels ``C`` of the input.
    group_channels : int, default=16
        Channels that share one generated kernel.
    layer : str, default="Involution"
        Name of the layer, used in the error message.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        When ``channels`` is at least ``group_channels`` but not a multiple of it,
        so the channels cannot be split into equal groups.

    Examples
    --------
    >>> involution_groups(64), involution_groups(8)
    (4, 1)
    """
    if channels < 1 or group_channels < 1:
        raise ValueError(f"{layer}: channels ({channels}) and group_channels "
                         f"({group_channels}) must be positive.")
    if channels >= group_channels and channels % group_channels:
        lower = channels // group_channels * group_channels
        raise ValueError(
            f"{layer}: {channels} channels cannot be split into groups of "
            f"group_channels={group_channels} (G = max(1, C // {group_channels}) needs C < "
            f"{group_channels} or a multiple of it). Use {lower} or {lower + group_channels} "
            f"channels, or a group_channels that divides {channels}."
        )
    return max(1, channels // group_channels)


def _mean_pool(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Means over ``stride``-sized windows, a window cut by the border averaged
    over its own voxels: ``(B, C, *S) -> (B, C, *ceil(S / stride))``.

    Written with explicit padding and a count because ``AvgPool(ceil_mode=True)``
    refuses an axis shorter than the window (a one-slice volume at stride 2).
    """
    pad = []
    for n in reversed(x.shape[2:]):
        pad += [0, -n % stride]
    pool = _AVG_POOL[x.ndim - 2]
    ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    return pool(F.pad(x, pad), stride) / pool(F.pad(ones, pad), stride)


def _windows(padded: torch.Tensor, kernel_size: int, stride: int, out_shape: tuple):
    """``(tap, view)`` for each offset of the neighbourhood, row-major as ``unfold``:
    the view of ``padded`` (``(B, G, C/G, *S_padded)``) shifted by the offset and strided."""
    offsets = itertools.product(range(kernel_size), repeat=len(out_shape))
    for tap, offset in enumerate(offsets):
        yield tap, padded[(slice(None), slice(None), slice(None),
                           *(slice(o, o + stride * (n - 1) + 1, stride)
                             for o, n in zip(offset, out_shape)))]


def _grouped_padded(x: torch.Tensor, groups: int, pad: int) -> torch.Tensor:
    padded = F.pad(x, [pad] * (2 * (x.ndim - 2)))
    # reshape, not view: a channels-last input pads to a channels-last tensor
    return padded.reshape(x.shape[0], groups, x.shape[1] // groups, *padded.shape[2:])


class _Involve(torch.autograd.Function):
    """Apply position-specific, group-shared kernels by shift-and-accumulate.

    ``x`` is ``(B, C, *S)``, ``kernel`` is ``(B, G, K^d, *S_out)``.  Each tap adds
    ``kernel[:, g, tap] * x`` shifted by the tap's offset and strided, so memory
    stays O(C * S) instead of the O(K^d * C * S) of an unfold.  The backward pass
    is written out (the same loop over taps, accumulating into one gradient
    buffer) because autograd's own would allocate a zero tensor of the whole
    padded input per tap: 15x the forward time instead of about 4x (measured).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: torch.Tensor, kernel_size: int,
                stride: int) -> torch.Tensor:
        ctx.save_for_backward(x, kernel)
        ctx.kernel_size, ctx.stride = kernel_size, stride
        groups, out_shape = kernel.shape[1], kernel.shape[3:]
        padded = _grouped_padded(x, groups, kernel_size // 2)
        out = torch.zeros((x.shape[0], groups, x.shape[1] // groups, *out_shape),
                          dtype=x.dtype, device=x.device)
        for tap, window in _windows(padded, kernel_size, stride, out_shape):
            out.addcmul_(kernel[:, :, tap].unsqueeze(2), window)
        return out.view(x.shape[0], x.shape[1], *out_shape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, kernel = ctx.saved_tensors
        k, stride = ctx.kernel_size, ctx.stride
        groups, out_shape = kernel.shape[1], kernel.shape[3:]
        grad = grad.reshape(x.shape[0], groups, x.shape[1] // groups, *out_shape)
        grad_x = grad_kernel = None
        if ctx.needs_input_grad[0]:
            grad_padded = _grouped_padded(
                torch.zeros_like(x, memory_format=torch.contiguous_format), groups, k // 2)
            for tap, window in _windows(grad_padded, k, stride, out_shape):
                window.addcmul_(kernel[:, :, tap].unsqueeze(2), grad)
            pad = k // 2
            grad_x = grad_padded[(..., *(slice(pad, pad + n) for n in x.shape[2:]))]
            grad_x = grad_x.reshape(x.shape)
        if ctx.needs_input_grad[1]:
            padded = _grouped_padded(x, groups, k // 2)
            grad_kernel = torch.empty_like(kernel)
            for tap, window in _windows(padded, k, stride, out_shape):
                grad_kernel[:, :, tap] = (grad * window).sum(dim=2)
        return grad_x, grad_kernel, None, None


class Involution(nn.Module):
    """Involution: a kernel generated at each position, shared within channel groups.

    The kernel generator ``H = W1 sigma(W0 x)`` (``sigma`` = BatchNorm + ReLU)
    reads the features of each output position and emits ``G`` kernels of
    ``K^d`` taps, where ``G = max(1, C // group_channels)``; the ``C / G``
    channels of a group share their kernel, applied over the ``K x K`` (2D) or
    ``K x K x K`` (3D) neighbourhood of that position (zero padding ``K // 2``).
    Channels in = channels out: an involution aggregates space, it does not mix
    channels.

    Parameters
    ----------
    channels : int
        Channels ``C`` in and out.
    spatial_dims : {2, 3}, default=2
        2D images ``(B, C, H, W)`` or 3D volumes ``(B, C, D, H, W)``.
    kernel_size : int, default=None
        Odd neighbourhood size ``K``; None: 7 in 2D (the involution paper), 3 in 3D.
    stride : int, default=1
        Output stride: the kernel generator reads the input average-pooled by
        ``stride`` (windows cut by the border are averaged over their voxels),
        and the neighbourhood is sampled every ``stride`` voxels.  Any input
        size works: each axis of length ``n`` gives ``ceil(n / stride)``, as a
        convolution with padding ``K // 2``.
    reduction_ratio : int, default=4
        ``r``: the generator's hidden width is ``max(1, C // r)``.
    group_channels : int, default=16
        Channels per group; ``C`` must be below it or a multiple of it.

    Attributes
    ----------
    groups : int
        ``G``.
    reduce : Conv2d or Conv3d
        ``W0``, 1x1, ``C -> C // r``, no bias (BatchNorm follows).
    norm : BatchNorm2d or BatchNorm3d
        The BatchNorm of ``sigma``.
    span : Conv2d or Conv3d
        ``W1``, 1x1, ``C // r -> K^d G``, with bias.

    Raises
    ------
    ValueError
        When ``channels`` is not splittable into groups of ``group_channels``
        (the message names the layer and the channel counts that work), or
        ``kernel_size`` is even.

    See Also
    --------
    InvResNetBlock : MONAI's ResNet basic block with its second convolution
        replaced by an involution.

    Notes
    -----
    Shapes: ``(B, C, *S) -> (B, C, *ceil(S / stride))``.

    Parameters (BatchNorm's affine weight and bias counted, its running
    statistics not; ``C // r = C / r`` when ``r`` divides ``C``):
    ``C^2/r + 2C/r + (C/r) K^d G + K^d G``: ``W0`` has no bias, ``W1`` has one.
    This is the closed form of CMIR's issue with ``K^2`` in 2D, and the
    official implementation's layout (``ConvModule`` with BatchNorm, then a
    biased 1x1 convolution).

    The aggregation is computed by shift-and-accumulate over the ``K^d``
    offsets, never by unfolding the input into ``K^d`` copies: in 3D at
    ``K = 3`` an unfold would hold 27 copies of the volume.

    Li D, et al. "Involution: Inverting the Inherence of Convolution for Visual
    Recognition." CVPR 2021.

    Examples
    --------
    >>> import torch
    >>> from mvikit.deep.layers.involution import Involution
    >>> layer = Involution(32, spatial_dims=3, stride=2)
    >>> layer.groups, layer(torch.randn(2, 32, 5, 9, 9)).shape
    (2, torch.Size([2, 32, 3, 5, 5]))
    >>> sum(p.numel() for p in Involution(64, kernel_size=7).parameters())
    4388
    """

    def __init__(self, channels: int, *, spatial_dims: int = 2, kernel_size: int | None = None,
                 stride: int = 1, reduction_ratio: int = 4, group_channels: int = 16) -> None:
        super().__init__()
        if spatial_dims not in _CONV:
            raise ValueError(f"Involution: spatial_dims must be 2 or 3, got {spatial_dims!r}.")
        kernel_size = _DEFAULT_KERNEL[spatial_dims] if kernel_size is None else kernel_size
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"Involution: kernel_size must be a positive odd integer (the "
                             f"neighbourhood is centred on each voxel), got {kernel_size}.")
        if stride < 1 or reduction_ratio < 1:
            raise ValueError(f"Involution: stride ({stride}) and reduction_ratio "
                             f"({reduction_ratio}) must be positive.")
        self.groups = involution_groups(channels, group_channels)
        self.channels = channels
        self.spatial_dims = spatial_dims
        self.kernel_size = kernel_size
        self.stride = stride
        hidden = max(1, channels // reduction_ratio)
        self.reduce = _CONV[spatial_dims](channels, hidden, 1, bias=False)
        self.norm = _BATCH_NORM[spatial_dims](hidden)
        self.span = _CONV[spatial_dims](hidden, kernel_size ** spatial_dims * self.groups, 1)

    def generate_kernel(self, x: torch.Tensor) -> torch.Tensor:
        """The generated kernels ``H = W1 sigma(W0 x)`` at the output positions.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, *S)``.

        Returns
        -------
        torch.Tensor
            ``(B, G, K^d, *S_out)``, taps in row-major order of the offsets
            ``(u, v[, w])`` from ``-K//2`` to ``K//2``.
        """
        # The generator's grid matches the strided neighbourhood's ceil(n / stride)
        # positions on odd sizes too.
        pooled = _mean_pool(x, self.stride) if self.stride > 1 else x
        hidden = F.relu(self.norm(self.reduce(pooled)))
        kernel = self.span(hidden)
        return kernel.reshape(kernel.shape[0], self.groups, -1, *kernel.shape[2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Involve ``x`` (``(B, C, *S)``) with its generated kernels."""
        if x.ndim != self.spatial_dims + 2 or x.shape[1] != self.channels:
            raise ValueError(
                f"Involution({self.channels}, spatial_dims={self.spatial_dims}) expects input "
                f"(B, {self.channels}, {', '.join('DHW'[-self.spatial_dims:])}); got "
                f"{tuple(x.shape)}."
            )
        return _Involve.apply(x, self.generate_kernel(x), self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return (f"{self.channels}, spatial_dims={self.spatial_dims}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, groups={self.groups}")


class InvResNetBlock(ResNetBlock):
    """MONAI's ResNet basic block with its second 3x3 convolution replaced by an involution.

    The layout is MONAI's `ResNetBlock` (conv3x3 - BN - ReLU - conv3x3 - BN, plus
    the identity or projection shortcut, then ReLU); the block is a drop-in
    ``block=`` for `monai.networks.nets.ResNet`, so an Inv-ResNet18 is
    ``ResNet(InvResNetBlock, [2, 2, 2, 2], [64, 128, 256, 512], ...)``.

    Which convolution is replaced, and why: CMIR's slide says only that "some
    convolution operations are replaced".  An involution keeps the channel count
    and mixes no channels, so it can stand for the ``planes -> planes``
    convolution (``conv2``) as is.  The first convolution stays a convolution:
    it changes ``in_planes`` to ``planes`` and carries the block's stride, and
    it is then the block's only channel mixing (RedNet likewise keeps its 1x1
    convolutions around each involution).  Every block of the network thus
    aggregates space once with a fixed kernel and once with a generated one.

    Parameters
    ----------
    in_planes, planes : int
        Channels in and out; ``planes`` must be below ``group_channels`` or a
        multiple of it.
    spatial_dims : {2, 3}, default=3
        As MONAI.
    stride : int, default=1
        Stride of the first convolution (the shortcut must match it).
    downsample : nn.Module or callable, default=None
        The shortcut projection (MONAI builds it: 1x1 convolution + BN).
    act, norm : str or tuple
        As MONAI's `ResNetBlock` (the block's own norms; the involution's kernel
        generator keeps its BatchNorm, the slide's ``sigma``).
    kernel_size : int, default=None
        The involution's ``K`` (None: 7 in 2D, 3 in 3D).
    reduction_ratio, group_channels : int, default=4, 16
        As `Involution`.

    Notes
    -----
    Shapes: ``(B, in_planes, *S) -> (B, planes, *ceil(S / stride))``.

    Examples
    --------
    >>> import torch
    >>> from monai.networks.nets import ResNet
    >>> from mvikit.deep.layers.involution import InvResNetBlock
    >>> net = ResNet(InvResNetBlock, [1, 1, 1, 1], [16, 32, 32, 64], spatial_dims=2,
    ...              n_input_channels=3, num_classes=2)
    >>> net(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 2])
    """

    def __init__(self, in_planes: int, planes: int, spatial_dims: int = 3, stride: int = 1,
                 downsample: nn.Module | None = None,
                 act: str | tuple = ("relu", {"inplace": True}), norm: str | tuple = "batch",
                 *, kernel_size: int | None = None, reduction_ratio: int = 4,
                 group_channels: int = 16) -> None:
        involution_groups(planes, group_channels, layer=f"InvResNetBlock({in_planes}, {planes})")
        super().__init__(in_planes, planes, spatial_dims=spatial_dims, stride=stride,
                         downsample=downsample, act=act, norm=norm)
        self.conv2 = Involution(planes, spatial_dims=spatial_dims, kernel_size=kernel_size,
                                reduction_ratio=reduction_ratio, group_channels=group_channels)
