"""Involution against a convolution of the same input and output shape (CMIR, issue 17).

For 2D (``K = 7``, the involution paper) and 3D (``K = 3``) layers it prints,
per configuration:

* forward + backward time of `Involution` over that of an ``nn.Conv`` with the
  same ``(B, C, *S) -> (B, C, *S_out)`` shape: the 3x3(x3) convolution it
  replaces in a ResNet basic block, and a ``K x K (x K)`` convolution;
* peak memory of one forward + backward above the memory held before it
  (inputs, parameters), for the same layers and for an ``unfold``-based
  involution (the official 2D implementation's aggregation, extended to 3D with
  ``Tensor.unfold`` on each axis), which holds ``K^d`` copies of the input.

Memory is measured in a child process: the peak resident size during the step (``VmHWM``, reset
through ``/proc/self/clear_refs``) minus the resident size before it: large tensors
are mmapped (glibc's threshold fixed at 64 KiB) and unmapped when freed, so resident memory
follows the tensors (Linux only).  Times are CPU seconds
(``time.process_time``, median of repeats) with one torch thread, in this
process, so ratios are against a baseline measured in the same run.

Run: ``python benchmarks/bench_involution.py [--quick]``
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing as mp
import time

import torch
import torch.nn.functional as F
from torch import nn

from mvikit.deep.layers.involution import Involution

# (name, spatial dims, batch, channels, spatial size, kernel, stride)
CONFIGS = [
    ("2D ResNet stage-1", 2, 8, 64, (56, 56), 7, 1),
    ("2D stride 2", 2, 8, 64, (56, 56), 7, 2),
    ("3D 16x32x32", 3, 2, 32, (16, 32, 32), 3, 1),
    ("3D 16x64x64 (paper crop)", 3, 2, 64, (16, 64, 64), 3, 1),
    ("3D stride 2", 3, 2, 64, (16, 64, 64), 3, 2),
]
QUICK = [CONFIGS[0], CONFIGS[2]]


class UnfoldInvolution(Involution):
    """The aggregation by unfolding every ``K^d`` neighbourhood (memory reference)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.generate_kernel(x)
        k, s, pad = self.kernel_size, self.stride, self.kernel_size // 2
        patches = F.pad(x, [pad] * (2 * self.spatial_dims))
        for axis in range(2, 2 + self.spatial_dims):
            patches = patches.unfold(axis, k, s)  # (B, C, *S_out, K, ..., K)
        b, c = x.shape[:2]
        out_shape = kernel.shape[3:]
        patches = patches.reshape(b, self.groups, c // self.groups, *out_shape, -1)
        patches = patches.movedim(-1, 3)  # (B, G, C/G, K^d, *S_out), a K^d-fold copy
        return (kernel.unsqueeze(2) * patches).sum(dim=3).reshape(b, c, *out_shape)


def _layers(dims: int, channels: int, kernel: int, stride: int) -> dict:
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    layers = {
        "involution": Involution(channels, spatial_dims=dims, kernel_size=kernel, stride=stride),
        "conv 3": conv(channels, channels, 3, stride=stride, padding=1, bias=False),
        f"conv {kernel}": conv(channels, channels, kernel, stride=stride, padding=kernel // 2,
                               bias=False),
        "unfold involution": UnfoldInvolution(channels, spatial_dims=dims, kernel_size=kernel,
                                              stride=stride),
    }
    return layers


def _step(layer: nn.Module, x: torch.Tensor) -> None:
    layer(x).square().mean().backward()


def _cpu_seconds(layer: nn.Module, x: torch.Tensor, repeats: int) -> float:
    _step(layer, x)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.process_time()
        _step(layer, x)
        times.append(time.process_time() - start)
    return sorted(times)[len(times) // 2]


def _resident_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def _peak_mib(layer: nn.Module, x: torch.Tensor) -> float:
    """Peak resident memory of one step above the resident memory before it."""
    before = _resident_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # reset the peak (VmHWM) to the current resident size
    _step(layer, x)
    return _resident_mib("VmHWM") - before


def _mmap_large_allocations() -> None:
    # glibc raises its mmap threshold after the first large free, and then keeps
    # freed tensors on its heap where resident memory no longer follows them; a
    # fixed threshold (M_MMAP_THRESHOLD = -3) keeps every tensor above 64 KiB mmapped.
    ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 1024)


def _memory_child(configs: list, queue) -> None:
    # A fresh process whose allocator mmaps every tensor from the start, so that
    # no heap kept from earlier steps hides an allocation.
    _mmap_large_allocations()
    torch.set_num_threads(1)
    peaks = {}
    for config in configs:
        _, dims, batch, channels, size, kernel, stride = config
        for name, layer in _layers(dims, channels, kernel, stride).items():
            x = torch.randn(batch, channels, *size, requires_grad=True)
            peaks[config[0], name] = _peak_mib(layer, x)
            del x
    queue.put(peaks)


def _peaks(configs: list) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_memory_child, args=(configs, queue))
    child.start()
    peaks = queue.get()
    child.join()
    return peaks


def main(quick: bool) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    repeats = 3 if quick else 5
    configs = QUICK if quick else CONFIGS
    peaks = _peaks(configs)
    print(f"torch {torch.__version__}, 1 thread; times are CPU s of forward + backward "
          "(median), memory is the peak above the inputs (MiB)")
    for config in configs:
        label, dims, batch, channels, size, kernel, stride = config
        x = torch.randn(batch, channels, *size, requires_grad=True)
        input_mib = x.numel() * 4 / 2 ** 20
        print(f"\n{label}: input {tuple(x.shape)} ({input_mib:.1f} MiB), K={kernel}, "
              f"stride {stride}")
        layers = _layers(dims, channels, kernel, stride)
        seconds = {name: _cpu_seconds(layer, x, repeats) for name, layer in layers.items()}
        for name in layers:
            peak = peaks[label, name]
            print(f"  {name:<18} {seconds[name]:8.3f} s  x{seconds[name] / seconds['conv 3']:6.2f}"
                  f" of conv 3   peak {peak:8.1f} MiB  ({peak / input_mib:5.1f} x input)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small configurations")
    main(parser.parse_args().quick)
