"""Throughput of `make_hcc_cohort` (patients per second, one process).

Prints patients/s for the clinical-only cohort, the ROI layout (2 and 5
sequences) and the full layout, and each as a ratio against the ROI layout
with the default two sequences measured in the same run.  The design target is
at least 50 patients/s for the ROI layout on one core.

Run ``python benchmarks/bench_simulator.py [--n 100]``.
"""

from __future__ import annotations

import argparse
import time

from threadpoolctl import threadpool_limits

from mvikit.datasets import make_hcc_cohort


def rate(n, **kwargs):
    """Patients per CPU second of this process (robust to a shared machine) and
    per wall-clock second."""
    make_hcc_cohort(2, random_state=0, **kwargs)  # warm caches / imports
    wall, cpu = time.perf_counter(), time.process_time()
    make_hcc_cohort(n, random_state=1, **kwargs)
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    n = args.n
    with threadpool_limits(limits=1):
        cases = {
            "roi, PRE+HBP (baseline)": rate(n),
            "clinical only (sequences=())": rate(n, sequences=()),
            "roi, 5 MRI sequences": rate(n, sequences=("PRE", "AP", "PV", "HBP", "T2")),
            "roi, CT 3 phases": rate(n, sequences=("CT_PLAIN", "CT_AP", "CT_PV"),
                                     modality="ct"),
            "full (48x192x192), PRE+HBP": rate(max(n // 10, 5), layout="full"),
        }
    base = cases["roi, PRE+HBP (baseline)"][0]
    print(f"make_hcc_cohort throughput, one process, n={n}")
    for name, (cpu, wall) in cases.items():
        print(f"  {name:32s} {cpu:8.1f} patients/CPU-s ({wall:7.1f}/wall-s)   "
              f"ratio vs baseline {cpu / base:6.2f}")


if __name__ == "__main__":
    main()
