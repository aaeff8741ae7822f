"""Time the seed-paper sections of the full demo at their full-demo sizes.

Runs each named section (``mvikit._demo_seeds``, the default `SeedSettings`: "cpu"
preset, the cohorts and folds the full demo uses) once into ``--out`` and prints its
wall time, the CPU time of this process and its children (joblib workers with
``--n-jobs`` > 1) and the peak resident memory.

    OMP_NUM_THREADS=1 python benchmarks/bench_demo_seeds.py --sections cdlm,mtnet,cmir,dmmgnet \\
        [--n-jobs 1] [--out demo_seeds_bench]

``--tiny`` runs the test suite's sizes instead (a smoke test of the script).
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import sys
import time
import warnings
from pathlib import Path


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import torch

    from mvikit._demo_seeds import SEED_SECTIONS, SeedSettings, check_sections, run_seed_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SEED_SECTIONS))
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("demo_seeds_bench"))
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--print-sections", action="store_true",
                        help="also print each section's tables")
    args = parser.parse_args()
    torch.set_num_threads(1)  # small networks on shared cores: one thread per fit
    warnings.simplefilter("ignore")
    settings = (SeedSettings(preset="demo", max_epochs=1, n_splits=2, cdlm_patients=40,
                             mtnet_patients=100, cmir_patients=120, dmmgnet_patients=48,
                             dmmgnet_splits=2) if args.tiny else SeedSettings())
    shutil.rmtree(args.out, ignore_errors=True)
    for name in check_sections(args.sections.split(",")):
        stream = sys.stdout if args.print_sections else io.StringIO()
        wall, cpu = time.perf_counter(), _cpu_seconds()
        section = run_seed_section(name, settings, args.out, random_state=args.seed,
                                   n_jobs=args.n_jobs, stream=stream)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"{name}: {time.perf_counter() - wall:.0f} wall s, {_cpu_seconds() - cpu:.0f} "
              f"CPU s, peak RSS so far {peak:.1f} GiB; figures: "
              f"{', '.join(f.name for f in section.figures) or '(report only)'}", flush=True)


if __name__ == "__main__":
    main()
