"""Tests of the involution layer and the Inv-ResNet block (CMIR, seed 001)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.networks.nets import ResNet
from torch import nn

from mvikit.deep.layers.involution import Involution, InvResNetBlock, involution_groups


@pytest.fixture(autouse=True)
def _torch_seed():
    torch.manual_seed(0)


def _randomise_norm(layer: Involution) -> None:
    """Give the BatchNorm non-trivial running statistics and affine parameters."""
    with torch.no_grad():
        n = layer.norm.num_features
        layer.norm.running_mean.copy_(torch.randn(n))
        layer.norm.running_var.copy_(torch.rand(n) + 0.5)
        layer.norm.weight.copy_(torch.randn(n))
        layer.norm.bias.copy_(torch.randn(n))


@pytest.mark.parametrize("channels, dims, kernel, stride, shape, groups, expected", [
    (16, 2, None, 1, (2, 16, 12, 12), 1, (2, 16, 12, 12)),
    (64, 2, 7, 2, (2, 64, 11, 9), 4, (2, 64, 6, 5)),
    (8, 2, 3, 1, (1, 8, 5, 6), 1, (1, 8, 5, 6)),  # C < 16: one group of all channels
    (32, 3, None, 1, (2, 32, 4, 6, 6), 2, (2, 32, 4, 6, 6)),
    (48, 3, 3, 2, (2, 48, 5, 7, 1), 3, (2, 48, 3, 4, 1)),
    (32, 3, 5, 3, (1, 32, 7, 7, 8), 2, (1, 32, 3, 3, 3)),
])
def test_output_shapes_and_groups(channels, dims, kernel, stride, shape, groups, expected):
    layer = Involution(channels, spatial_dims=dims, kernel_size=kernel, stride=stride)
    assert layer.groups == groups
    assert layer.kernel_size == (kernel or {2: 7, 3: 3}[dims])
    assert tuple(layer(torch.randn(*shape)).shape) == expected


def _depthwise_reference(layer: Involution, x: torch.Tensor) -> torch.Tensor:
    """A depthwise convolution whose weights repeat within each channel group."""
    k, d, c = layer.kernel_size, layer.spatial_dims, layer.channels
    taps = layer.span.bias.detach().view(layer.groups, k ** d)
    weight = taps.repeat_interleave(c // layer.groups, dim=0).view(c, 1, *([k] * d))
    conv = F.conv2d if d == 2 else F.conv3d
    return conv(x, weight, stride=layer.stride, padding=k // 2, groups=c)


@pytest.mark.parametrize("channels, dims, kernel, stride, shape", [
    (32, 2, 7, 1, (2, 32, 10, 9)),
    (32, 2, 5, 2, (2, 32, 11, 8)),  # odd size, stride 2
    (12, 2, 3, 3, (1, 12, 7, 10)),
    (32, 3, 3, 1, (2, 32, 4, 5, 6)),
    (48, 3, 3, 2, (2, 48, 5, 7, 4)),  # odd sizes, stride 2
    (16, 3, 5, 2, (1, 16, 3, 6, 9)),
])
def test_constant_kernel_equals_grouped_depthwise_convolution(channels, dims, kernel, stride,
                                                              shape):
    # W1 = 0 makes the generated kernel its bias: the same at every position.
    layer = Involution(channels, spatial_dims=dims, kernel_size=kernel, stride=stride)
    with torch.no_grad():
        layer.span.weight.zero_()
        layer.span.bias.normal_()
    x = torch.randn(*shape)
    torch.testing.assert_close(layer(x), _depthwise_reference(layer, x), rtol=1e-5, atol=1e-5)


def _naive_involution_3d(layer: Involution, x: np.ndarray) -> np.ndarray:
    """Eval-mode involution by explicit loops over positions and taps (eq. of the slide)."""
    k, s, g = layer.kernel_size, layer.stride, layer.groups
    w0 = layer.reduce.weight.detach().double().numpy()[:, :, 0, 0, 0]
    w1 = layer.span.weight.detach().double().numpy()[:, :, 0, 0, 0]
    b1 = layer.span.bias.detach().double().numpy()
    bn = layer.norm
    mean, var = bn.running_mean.double().numpy(), bn.running_var.double().numpy()
    gamma, beta = bn.weight.detach().double().numpy(), bn.bias.detach().double().numpy()
    batch, channels, *size = x.shape
    out_size = [math.ceil(n / s) for n in size]
    pad = k // 2
    padded = np.pad(x, [(0, 0), (0, 0)] + [(pad, pad)] * 3)
    out = np.zeros((batch, channels, *out_size))
    offsets = list(itertools.product(range(k), repeat=3))
    for b, i, j, m in itertools.product(range(batch), *map(range, out_size)):
        # the generator reads the stride x stride x stride window, cut at the border
        pooled = x[b, :, i * s:i * s + s, j * s:j * s + s, m * s:m * s + s].mean(axis=(1, 2, 3))
        hidden = np.maximum((w0 @ pooled - mean) / np.sqrt(var + bn.eps) * gamma + beta, 0)
        kernel = (w1 @ hidden + b1).reshape(g, k ** 3)
        for c in range(channels):
            group = c * g // channels  # [kG/C] of the slide formula
            for tap, (u, v, w) in enumerate(offsets):
                out[b, c, i, j, m] += (kernel[group, tap]
                                       * padded[b, c, i * s + u, j * s + v, m * s + w])
    return out


@pytest.mark.parametrize("stride, shape", [(1, (2, 32, 3, 4, 5)), (2, (2, 32, 5, 4, 3))])
def test_3d_path_equals_naive_loop(stride, shape):
    layer = Involution(32, spatial_dims=3, kernel_size=3, stride=stride).double()
    _randomise_norm(layer)
    layer.eval()
    x = torch.randn(*shape, dtype=torch.float64)
    expected = _naive_involution_3d(layer, x.numpy())
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-10, atol=1e-10)


def _unfold_involution(layer: Involution, x: torch.Tensor) -> torch.Tensor:
    """The official implementation's aggregation, unfolding every neighbourhood
    (``Tensor.unfold`` on each spatial axis), differentiated by autograd."""
    kernel = layer.generate_kernel(x)  # (B, G, K^d, *S_out)
    k, s, pad = layer.kernel_size, layer.stride, layer.kernel_size // 2
    patches = F.pad(x, [pad] * (2 * layer.spatial_dims))
    for axis in range(2, 2 + layer.spatial_dims):
        patches = patches.unfold(axis, k, s)
    b, c = x.shape[:2]
    out_shape = kernel.shape[3:]
    patches = patches.reshape(b, layer.groups, c // layer.groups, *out_shape, -1).movedim(-1, 3)
    return (kernel.unsqueeze(2) * patches).sum(dim=3).reshape(b, c, *out_shape)


@pytest.mark.parametrize("dims, kernel, stride, shape", [
    (2, 7, 1, (2, 32, 9, 10)), (2, 7, 2, (2, 32, 13, 10)),
    (3, 3, 1, (2, 32, 4, 5, 6)), (3, 5, 2, (2, 16, 5, 7, 6)),
])
def test_output_and_gradients_equal_unfold_reference(dims, kernel, stride, shape):
    layer = Involution(shape[1], spatial_dims=dims, kernel_size=kernel, stride=stride)
    x = torch.randn(*shape, requires_grad=True)
    weights = torch.randn(layer(x).shape)
    grads = torch.autograd.grad((layer(x) * weights).sum(), [x, *layer.parameters()])
    expected = _unfold_involution(layer, x)
    expected_grads = torch.autograd.grad((expected * weights).sum(), [x, *layer.parameters()])
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("channels, dims, kernel, ratio", [
    (16, 2, 7, 4), (64, 2, 7, 4), (64, 2, 3, 2), (128, 2, 5, 8),
    (32, 3, 3, 4), (64, 3, 3, 4), (48, 3, 5, 2),
])
def test_parameter_count_closed_form(channels, dims, kernel, ratio):
    # C^2/r + 2C/r + (C/r) K^d G + K^d G: W0 without bias, BN's gamma and beta
    # (running statistics are buffers), W1 with bias.
    c, r, taps = channels, ratio, kernel ** dims
    g = max(1, c // 16)
    expected = c * c // r + 2 * c // r + (c // r) * taps * g + taps * g
    layer = Involution(c, spatial_dims=dims, kernel_size=kernel, reduction_ratio=r)
    assert sum(p.numel() for p in layer.parameters()) == expected
    assert not any(name.endswith("running_mean") for name, _ in layer.named_parameters())


def test_channels_not_divisible_by_group_size():
    with pytest.raises(ValueError, match=r"Involution: 40 channels .* Use 32 or 48 channels"):
        Involution(40)
    with pytest.raises(ValueError, match=r"InvResNetBlock\(32, 40\): 40 channels"):
        InvResNetBlock(32, 40, spatial_dims=2)
    assert involution_groups(40, 8) == 5  # the suggested fix: a dividing group size
    assert Involution(40, group_channels=8).groups == 5


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel_size": 4}, "odd"),
    ({"spatial_dims": 1}, "spatial_dims must be 2 or 3"),
    ({"stride": 0}, "must be positive"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Involution(16, **kwargs)


def test_wrong_input_shape_is_named():
    with pytest.raises(ValueError,
                       match=r"expects input \(B, 16, D, H, W\); got \(2, 8, 4, 4, 4\)"):
        Involution(16, spatial_dims=3)(torch.randn(2, 8, 4, 4, 4))


@pytest.mark.parametrize("dims, shape, stride", [(2, (1, 2, 5, 4), 2), (3, (1, 2, 3, 3, 2), 1)])
def test_gradients_match_finite_differences(dims, shape, stride):
    layer = Involution(2, spatial_dims=dims, kernel_size=3, stride=stride).double()
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    layer(x).square().sum().backward()
    for name, parameter in layer.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_channels_last_input_gives_the_same_result():
    layer = Involution(32, spatial_dims=3, stride=2)
    x = torch.randn(2, 32, 5, 6, 7, requires_grad=True)
    grad_out = torch.randn(2, 32, 3, 3, 4)
    expected = layer(x)
    (expected_grad,) = torch.autograd.grad(expected, x, grad_out)
    last = x.detach().to(memory_format=torch.channels_last_3d).requires_grad_()
    out = layer(last)
    (grad,) = torch.autograd.grad(out, last, grad_out)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(grad, expected_grad)


def test_eval_mode_is_deterministic_and_per_sample():
    layer = Involution(32, spatial_dims=3, stride=2)
    layer(torch.randn(4, 32, 6, 6, 6))  # update the running statistics
    layer.eval()
    x = torch.randn(3, 32, 5, 6, 7)
    first = layer(x)
    torch.testing.assert_close(layer(x), first, rtol=0, atol=0)
    torch.testing.assert_close(layer(x[1:2]), first[1:2], rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ Inv-ResNet block
@pytest.mark.parametrize("dims, shape", [(2, (2, 32, 9, 11)), (3, (2, 32, 5, 9, 8))])
def test_block_stride_two_with_projection_shortcut(dims, shape):
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    shortcut = nn.Sequential(conv(32, 64, 1, stride=2, bias=False), norm(64))
    block = InvResNetBlock(32, 64, spatial_dims=dims, stride=2, downsample=shortcut).eval()
    assert isinstance(block.conv1, conv) and block.conv1.stride == (2,) * dims
    assert isinstance(block.conv2, Involution) and block.conv2.stride == 1
    assert block.conv2.kernel_size == {2: 7, 3: 3}[dims]
    x = torch.randn(*shape)
    out = block(x)
    assert tuple(out.shape) == (2, 64, *(math.ceil(n / 2) for n in shape[2:]))
    # the layout: ReLU(BN(inv(ReLU(BN(conv(x))))) + projection(x))
    inner = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(out, torch.relu(inner + shortcut(x)))


@pytest.mark.parametrize("dims, shape, shortcut", [
    (2, (2, 3, 64, 48), "B"), (3, (2, 1, 16, 32, 32), "B"), (2, (1, 3, 33, 35), "A"),
])
def test_block_drops_into_monai_resnet18_layout(dims, shape, shortcut):
    net = ResNet(InvResNetBlock, [2, 2, 2, 2], [16, 32, 64, 64], spatial_dims=dims,
                 n_input_channels=shape[1], num_classes=3, shortcut_type=shortcut)
    involutions = [m for m in net.modules() if isinstance(m, Involution)]
    assert len(involutions) == 8  # one per basic block
    out = net(torch.randn(*shape))
    assert tuple(out.shape) == (shape[0], 3)
    out.sum().backward()
    assert all(m.span.weight.grad.abs().sum() > 0 for m in involutions)
