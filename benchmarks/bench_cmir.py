"""One CPU-preset fit of each CMIR network on the default simulated cohort (issue 17).

The default cohort (``make_hcc_cohort(270, task="mvi", sequences=("AP", "PV"))``)
is simulated once; then each row of CMIR's ablation (``cmir_models``: S1, M1, M2,
M3, Ours; ``--spatial-dims 3``: the same rows in 3D on the tumour cubes, ``2,3``:
both) is fitted once with ``preset="cpu"``, and
the script prints per fit the CPU seconds (``time.process_time``, all torch
threads together), the wall seconds and the ratio to M1's CPU time measured in
the same process (per input).  The issue's budget is one CPU-preset fit <= 5
minutes on 2 cores.

Run: ``python benchmarks/bench_cmir.py [--rows Ours,M1] [--threads 1]
[--spatial-dims 2,3] [--n-patients 270]``
"""

from __future__ import annotations

import argparse
import time

import torch

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import cmir_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="M1,Ours", help="comma-separated Table 2 rows")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (on shared cores more threads spin)")
    parser.add_argument("--spatial-dims", default="2",
                        help="2 (slices), 3 (tumour cubes) or 2,3 (both)")
    parser.add_argument("--n-patients", type=int, default=270)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cohort = make_hcc_cohort(args.n_patients, task="mvi", sequences=("AP", "PV"),
                             random_state=0)
    models = {(row, dims): model for dims in (int(d) for d in args.spatial_dims.split(","))
              for row, model in cmir_models(args.rows.split(","), spatial_dims=dims,
                                            preset="cpu", random_state=0).items()}
    times = {}
    for (row, dims), model in models.items():
        cpu, wall = time.process_time(), time.perf_counter()
        model.fit(cohort.X, cohort.y)
        times[row, dims] = time.process_time() - cpu
        n_params = sum(p.numel() for p in model.net_.module_.parameters())
        print(f"{row:5s} {dims}D {model.architecture:13s} params {n_params:9,d}  "
              f"CPU {times[row, dims]:7.1f} s  wall {time.perf_counter() - wall:7.1f} s  "
              f"settings width={model.settings_['width']} grid={model.settings_['grid']} "
              f"crop={model.settings_['crop_size']} epochs={model.settings_['max_epochs']}",
              flush=True)
    for (row, dims), cpu in times.items():
        if ("M1", dims) in times:
            print(f"{row:5s} {dims}D CPU time / {dims}D M1's: {cpu / times['M1', dims]:.2f}")

if __name__ == "__main__":
    main()
