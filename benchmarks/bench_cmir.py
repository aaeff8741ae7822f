"""One CPU-preset fit of each CMIR network on the default simulated cohort (issue 17).

The default cohort (``make_hcc_cohort(270, task="mvi", sequences=("AP", "PV"))``)
is simulated once; then each row of CMIR's ablation (``cmir_models``: S1, M1, M2,
M3, Ours, and optionally "Ours" in 3D) is fitted once with ``preset="cpu"``, and
the script prints per fit the CPU seconds (``time.process_time``, all torch
threads together), the wall seconds and the ratio to M1's CPU time measured in
the same process.  The issue's budget is one CPU-preset fit <= 5 minutes on 2
cores.

Run: ``python benchmarks/bench_cmir.py [--rows Ours,M1] [--threads 1] [--cube]``
"""

from __future__ import annotations

import argparse
import time

import torch

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import VolumeNetClassifier, cmir_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="M1,Ours", help="comma-separated Table 2 rows")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (on shared cores more threads spin)")
    parser.add_argument("--cube", action="store_true", help="also fit 'cmir_cube'")
    parser.add_argument("--n-patients", type=int, default=270)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cohort = make_hcc_cohort(args.n_patients, task="mvi", sequences=("AP", "PV"),
                             random_state=0)
    models = cmir_models(args.rows.split(","), preset="cpu", random_state=0)
    if args.cube:
        models["Ours (3D)"] = VolumeNetClassifier("cmir_cube", volumes=["AP", "PV"],
                                                  use_clinical=True, preset="cpu",
                                                  random_state=0)
    times = {}
    for name, model in models.items():
        cpu, wall = time.process_time(), time.perf_counter()
        model.fit(cohort.X, cohort.y)
        times[name] = (time.process_time() - cpu, time.perf_counter() - wall)
        n_params = sum(p.numel() for p in model.net_.module_.parameters())
        print(f"{name:10s} {model.architecture:10s} params {n_params:9,d}  "
              f"CPU {times[name][0]:7.1f} s  wall {times[name][1]:7.1f} s  "
              f"settings width={model.settings_['width']} grid={model.settings_['grid']} "
              f"epochs={model.settings_['max_epochs']}", flush=True)
    if "M1" in times:
        for name, (cpu, _) in times.items():
            print(f"{name:10s} CPU time / M1's: {cpu / times['M1'][0]:.2f}")


if __name__ == "__main__":
    main()
