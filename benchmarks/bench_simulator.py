"""Throughput of `make_hcc_cohort` (patients per second, one process, one thread).

Prints patients/s for the clinical-only cohort, the ROI layout (2 and 5
sequences) and the full layout, and each as a ratio against the ROI layout
with the default two sequences measured in the same run.  The design target is
at least 50 patients/s for the ROI layout (PRE+HBP, the default 270-patient
cohort) on one core.

Rates are patients per CPU second of this process with BLAS/OpenMP pools
limited to one thread (``time.process_time``), so they stay meaningful on a
shared machine where wall-clock time depends on the other jobs; the wall-clock
rate is printed too.  The last line is the floor that the same seed -> same
voxels contract leaves: drawing the Rician noise of two sequences (2 x 2 x
20 x 80 x 80 float32 normals per patient) with numpy's generator, which no
rewrite of the renderer can avoid.

Run ``python benchmarks/bench_simulator.py [--n 270]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from mvikit.datasets import make_hcc_cohort


def rate(n, repeats=3, **kwargs):
    """Best of ``repeats``: patients per CPU second of this process (robust to a
    shared machine) and per wall-clock second."""
    make_hcc_cohort(2, random_state=0, **kwargs)  # warm caches / imports
    best = (0.0, 0.0)
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        make_hcc_cohort(n, random_state=1, **kwargs)
        best = max(best, (n / (time.process_time() - cpu), n / (time.perf_counter() - wall)))
    return best


def noise_floor(n, repeats=3):
    """Patients/s if rendering cost nothing but the Rician noise draws of PRE+HBP."""
    rng = np.random.default_rng(0)
    buffer = np.empty((20, 80, 80), dtype=np.float32)
    best = 0.0
    for _ in range(repeats):
        cpu = time.process_time()
        for _ in range(4 * n):  # two sequences x two channels
            rng.standard_normal(dtype=np.float32, out=buffer)
        best = max(best, n / (time.process_time() - cpu))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=270)
    args = parser.parse_args()
    n = args.n
    with threadpool_limits(limits=1):
        cases = {
            "roi, PRE+HBP (baseline)": rate(n),
            "clinical only (sequences=())": rate(n, sequences=()),
            "roi, 5 MRI sequences": rate(n, sequences=("PRE", "AP", "PV", "HBP", "T2")),
            "roi, CT 3 phases": rate(n, sequences=("CT_PLAIN", "CT_AP", "CT_PV"),
                                     modality="ct"),
            "full (48x192x192), PRE+HBP": rate(max(n // 20, 5), repeats=1, layout="full"),
        }
        floor = noise_floor(n)
    base = cases["roi, PRE+HBP (baseline)"][0]
    print(f"make_hcc_cohort throughput, one process, one BLAS thread, n={n} (best of 3)")
    for name, (cpu, wall) in cases.items():
        print(f"  {name:32s} {cpu:8.1f} patients/CPU-s ({wall:7.1f}/wall-s)   "
              f"ratio vs baseline {cpu / base:6.2f}")
    print(f"  {'noise draws only (floor)':32s} {floor:8.1f} patients/CPU-s"
          f"{'':22s}ratio vs baseline {floor / base:6.2f}")
    print(f"target >= 50 patients/CPU-s for the baseline: {'met' if base >= 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
