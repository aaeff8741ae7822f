"""MTnet (seed 004) benchmarks, as ratios against baselines measured in the same run.

1. Paper-size training step (MTnet width 1, batch 4, one 16x64x64 CT_PV crop, 52
   clinical items; forward + Dice/CE + cross-entropy + backward + Adam): its
   arithmetic rate (GFLOP/s, FLOPs counted by ``torch.utils.flop_counter``) as a
   fraction of the float32 matrix-multiply rate measured here.
2. (without ``--quick``) one CPU-preset ``MTNetClassifier`` (Model CR-DR) fit on
   the default simulated cohort (270 patients, ``task="mavi"``, ``CT_PV``,
   macrovascular invasion within ``--horizon`` months; patients censored before
   the horizon excluded): wall and CPU seconds; then segmentation inference per
   patient (``predict_segmentation`` back on the image grid) and the held-out
   Dice of the decoder on the patients not used in the fit.

Times are CPU seconds of this process (``time.process_time``) and wall seconds;
on shared cores the CPU time is the stable one.

Run: ``python benchmarks/bench_mtnet.py [--quick] [--threads N] [--horizon 12]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from mvikit.deep._trainers import dice_ce_loss
from mvikit.deep.nets import MTNet


class Timer:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def matmul_gflops(n: int = 1024, repeat: int = 10) -> float:
    """float32 matmul rate (CPU-time based, so shared cores do not lower it)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    with Timer() as t:
        for _ in range(repeat):
            a @ b
    return 2 * n ** 3 * repeat / t.cpu / 1e9


def make_step(width: float, batch: int, crop: tuple, n_clinical: int = 52):
    torch.manual_seed(0)
    net = MTNet(1, 2, n_clinical, width)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-4)
    volumes = torch.randn(batch, 1, *crop).contiguous(memory_format=torch.channels_last_3d)
    masks = (torch.rand(batch, 1, *crop) > 0.8).float()
    clinical, y = torch.randn(batch, n_clinical), torch.randint(0, 2, (batch,))

    def step():
        optimizer.zero_grad()
        out = net({"volumes": volumes, "clinical": clinical})
        loss = (torch.nn.functional.cross_entropy(out["logits"], y)
                + dice_ce_loss(out["segmentation"], masks))
        loss.backward()
        optimizer.step()

    return step


def bench_step(mm: float, width: float, batch: int, crop: tuple, repeat: int) -> None:
    step = make_step(width, batch, crop)
    with FlopCounterMode(display=False) as counter:
        step()
    with Timer() as t:
        for _ in range(repeat):
            step()
    rate = counter.get_total_flops() * repeat / t.cpu / 1e9
    print(f"  width {width}, batch {batch}, {crop}: {t.cpu / repeat:.2f} CPU s/step "
          f"({t.wall / repeat:.2f} wall), {counter.get_total_flops() / 1e9:.1f} GFLOP/step, "
          f"{rate:.1f} GFLOP/s = {rate / mm:.2f} x the matmul rate")


def bench_fit(horizon: float) -> None:
    from mvikit.datasets import make_hcc_cohort
    from mvikit.deep import MTNetClassifier, horizon_task

    cohort = make_hcc_cohort(task="mavi", sequences=("CT_PV",), modality="ct", random_state=0)
    X, y, labels = horizon_task(cohort.X, cohort.y, horizon)
    print(f"  cohort: 270 patients, {labels.counts} at {horizon} months -> {len(X)} labelled")
    with Timer() as t:
        model = MTNetClassifier("CR-DR", random_state=0).fit(X, y)
    print(f"  CPU-preset fit (Model CR-DR, {model.settings_['max_epochs']} epochs, width "
          f"{model.settings_['width']}): {t.cpu:.1f} CPU s, {t.wall:.1f} wall s")
    unlabelled = cohort.X.loc[~labels.mask]
    with Timer() as t:
        dice = model.segmentation_dice(unlabelled)
    print(f"  segmentation inference + Dice on the {len(unlabelled)} patients not fitted: "
          f"{1000 * t.cpu / len(unlabelled):.0f} CPU ms/patient "
          f"({1000 * t.wall / len(unlabelled):.0f} wall ms); Dice median "
          f"{dice.median():.3f} (IQR {dice.quantile(0.25):.3f}-{dice.quantile(0.75):.3f})")
    crop_dice = model.segmentation_dice(unlabelled, space="crop")
    print(f"  Dice in the network's crop: median {crop_dice.median():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--horizon", type=float, default=12.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mm = matmul_gflops()
    print(f"float32 matmul: {mm:.1f} GFLOP/s ({args.threads} thread(s))")
    print("training step:")
    bench_step(mm, 1.0, 4, (16, 64, 64), repeat=2)
    bench_step(mm, 0.25, 16, (16, 32, 32), repeat=3)
    if not args.quick:
        bench_fit(args.horizon)


if __name__ == "__main__":
    main()
