"""DMMGNet graph construction time vs number of nodes, and the graph modules' step cost.

Part 1: building a dilated kNN graph (``dilated_knn_graph``: squared distances by one
matrix product, ``topk`` of the k*d nearest, every d-th kept) for N nodes of C=64
channels, against the plain construction in the same process (``torch.cdist`` and a
full ``argsort`` of every row), best of several repeats; both give the same graph
(checked).  Part 2: forward + backward of SGCM, MMDFM and CMTFM at the sizes of a
DMMGNet stage (batch 16, 10 slices), so their share of a training step can be judged.

    python benchmarks/bench_graph.py [--threads 1]

One torch thread by default (a shared, loaded machine; see bench_cox_loss.py).
"""

from __future__ import annotations

import argparse
import timeit

import torch

from mvikit.deep.layers.graph import CMTFM, MMDFM, SGCM, dilated_knn_graph

CHANNELS = 64
K, DILATION = 9, 2
NODE_COUNTS = (64, 160, 400, 1000, 2646, 4096)  # 160 = 10 slices x 16; 2646 = CMTFM ring 2
BATCH = 4
REPEATS = 5


def sort_all_graph(nodes: torch.Tensor, k: int, dilation: int) -> torch.Tensor:
    """The plain construction: all distances, every row fully sorted."""
    distance = torch.cdist(nodes, nodes)
    distance.diagonal(dim1=1, dim2=2).fill_(-1.0)  # each node its own first neighbour
    return distance.argsort(-1)[..., :k * dilation:dilation]


def _best(fn, *args) -> float:
    fn(*args)  # warm-up
    return min(timeit.repeat(lambda: fn(*args), number=1, repeat=REPEATS))


def graph_construction() -> None:
    print(f"dilated kNN graph, k={K}, dilation={DILATION}, C={CHANNELS}, batch {BATCH}, "
          f"best of {REPEATS} ({torch.get_num_threads()} torch threads)")
    print(f"  {'nodes':>6} {'topk (ms)':>10} {'sort all (ms)':>14} {'ratio':>7}")
    for n in NODE_COUNTS:
        nodes = torch.randn(BATCH, n, CHANNELS)
        exact = nodes.double()  # same graph (float64: no rounding near-ties)
        assert torch.equal(dilated_knn_graph(exact, K, DILATION),
                           sort_all_graph(exact, K, DILATION))
        fast = _best(dilated_knn_graph, nodes, K, DILATION)
        slow = _best(sort_all_graph, nodes, K, DILATION)
        print(f"  {n:>6} {fast * 1e3:>10.2f} {slow * 1e3:>14.2f} {slow / fast:>6.1f}x")


def _step(module: torch.nn.Module, *inputs: torch.Tensor) -> None:
    module.zero_grad()
    out = module(*inputs)
    out = out if isinstance(out, tuple) else (out,)
    sum((o * o).mean() for o in out).backward()


def module_steps() -> None:
    torch.manual_seed(0)
    batch, channels, depth = 16, 16, 10

    def maps(size: int) -> torch.Tensor:
        return torch.randn(batch, channels, depth, size, size, requires_grad=True)

    mask = torch.zeros(batch, 1, depth, 28, 28)
    mask[:, :, 2:8, 8:20, 8:20] = 1  # 6 x 12 x 12 tumour voxels at the stage's resolution
    cases = [
        ("SGCM  (16, 16, 10, 56, 56)", SGCM(channels), (maps(56),)),
        ("MMDFM tumour 28^2, liver 56^2", MMDFM(channels), (maps(28), maps(56))),
        ("CMTFM (16, 16, 10, 28, 28)", CMTFM(channels), (maps(28), maps(28), mask)),
    ]
    print(f"\nforward + backward, training mode, batch {batch}, C={channels}, "
          f"best of {REPEATS}")
    for name, module, inputs in cases:
        print(f"  {name:<32} {_best(_step, module, *inputs) * 1e3:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    torch.set_num_threads(parser.parse_args().threads)
    graph_construction()
    module_steps()


if __name__ == "__main__":
    main()
