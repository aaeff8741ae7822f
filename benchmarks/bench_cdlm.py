"""CDLM benchmarks (seed 003), as ratios against a baseline measured in the same run.

1. Paper-size training step of `CDLMNet` (three CT phases, width 1 = ResNet18,
   3x224x224 slices, batch 16, forward + backward + Adam, as the end-to-end scheme;
   the paper's scheme trains the same per-phase networks without the tiny fusion
   head): its arithmetic rate (FLOPs counted by ``torch.utils.flop_counter``) as a
   fraction of the float32 matrix-multiply rate measured here
   (``bench_deep.matmul_gflops``, CPU-time based).
2. The same for the CPU preset's network (width 1/4, 64x64 slices).
3. (without ``--quick``) one CPU-preset `CDLMClassifier` fit (cross-fitting: 3
   inner folds + the final networks, factor selection) on the default-size cohort
   (270 patients, binary MVI, CT phases; ``--modality mri`` for the five MRI ones):
   wall and CPU seconds, peak RSS.

CPU seconds (``time.process_time``) are reported besides wall seconds: on a machine
whose cores are shared, wall time depends on the neighbours, CPU time much less.

Run: ``python benchmarks/bench_cdlm.py [--quick] [--threads N] [--modality ct|mri]``.
"""

from __future__ import annotations

import argparse
import os
import resource

import numpy as np
import torch
from bench_deep import Timer, matmul_gflops
from torch.utils.flop_counter import FlopCounterMode

from mvikit.deep import CDLM_PHASES, CDLMClassifier, cdlm_models
from mvikit.deep.nets import CDLMNet


def cdlm_step(width: float, batch: int, size: int, n_phases: int = 3):
    """One forward + backward + Adam step of CDLMNet on random slices."""
    torch.manual_seed(0)
    net = CDLMNet(n_phases, 2, n_clinical=4, width=width).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-4)
    batch_data = {"volumes": torch.randn(batch, n_phases, 3, size, size),
                  "clinical": torch.randn(batch, 4)}
    y = torch.randint(0, 2, (batch,))

    def step():
        optimizer.zero_grad()
        out = net(batch_data)
        loss = torch.nn.functional.cross_entropy(out["logits"], y)
        for s in range(n_phases):
            loss = loss + torch.nn.functional.cross_entropy(out["phase_logits"][:, s], y)
        loss.backward()
        optimizer.step()

    return step


def step_rate(width: float, batch: int, size: int, repeat: int) -> tuple[float, float, float]:
    """(GFLOP/s, CPU s per step, wall s per step)."""
    step = cdlm_step(width, batch, size)
    with FlopCounterMode(display=False) as counter:
        step()
    with Timer() as t:
        for _ in range(repeat):
            step()
    return counter.get_total_flops() / (t.cpu / repeat) / 1e9, t.cpu / repeat, t.wall / repeat


def one_fit(modality: str) -> None:
    from mvikit.datasets import make_hcc_cohort

    phases = CDLM_PHASES[modality]
    cohort = make_hcc_cohort(270, "mvi", sequences=phases, modality=modality, random_state=0)
    model = cdlm_models(modality, preset="cpu", random_state=0)["CDLM"]
    assert isinstance(model, CDLMClassifier)
    with Timer() as fit:
        model.fit(cohort.X, np.asarray(cohort.y))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"CPU-preset CDLM fit, 270 patients, {modality.upper()} ({len(phases)} phases, 3 inner "
          f"folds + final): {fit.cpu:.0f} CPU s ({fit.wall:.0f} wall s), peak RSS {rss:.2f} GiB;"
          f" factors selected: {model.selected_factors_}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modality", choices=sorted(CDLM_PHASES), default="ct")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load "
          f"{os.getloadavg()[0]:.1f}")
    mm = matmul_gflops()
    print(f"float32 matmul (1024^2, CPU time): {mm:.1f} GFLOP/s")
    for label, width, batch, size, repeat in (
            ("paper size (3 phases, width 1, batch 16, 3x224x224)", 1.0, 16, 224, 2),
            ("CPU preset (3 phases, width 1/4, batch 16, 3x64x64)", 0.25, 16, 64, 5)):
        rate, cpu, wall = step_rate(width, batch, size, repeat)
        print(f"{label}: {rate:6.1f} GFLOP/s = {rate / mm:5.1%} of matmul; {cpu:.2f} CPU s "
              f"({wall:.2f} wall s) per step")
    if not args.quick:
        one_fit(args.modality)


if __name__ == "__main__":
    main()
