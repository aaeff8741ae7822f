"""Benchmark: Harrell's C with its standard error at 1e5 and 1e6 patients.

Compares :func:`mvikit.survival.concordance_index` (O(n log n) merge sort, C + IJ standard
error) with, on the same data in the same run:

- scikit-survival's ``concordance_index_censored`` (C only; O(n x events), so it is timed on
  a subsample and reported with the subsample size),
- lifelines' ``concordance_index`` (C only, a Python balanced tree),
- R ``survival::concordance(..., reverse=TRUE)`` (C + standard error), timed inside R with
  ``system.time`` around the call only (reading the CSV is not counted); skipped when
  ``Rscript`` or the survival package is not installed.

Every C agrees to 1e-10 and the standard error to R's to 1e-8 before anything is timed.
Minimum of ``--repeat`` runs. Run: ``python benchmarks/bench_concordance.py [--repeat 3]``
"""

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from lifelines.utils import concordance_index as lifelines_c
from sksurv.metrics import concordance_index_censored

from mvikit.survival import Surv, concordance_index

R_SCRIPT = """
suppressMessages(library(survival))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
best <- Inf
for (k in seq_len(as.integer(args[2]))) {
  t <- system.time(f <- concordance(Surv(time, status) ~ risk, data=d, reverse=TRUE))
  best <- min(best, t[["elapsed"]])
}
cat(sprintf("%.17g %.17g %.6f\\n", f$concordance, sqrt(f$var), best))
"""


def cohort(n, seed=0):
    """Exponential survival with a log-hazard equal to the risk, 35 % censored, tied times."""
    rng = np.random.default_rng(seed)
    risk = np.round(rng.normal(size=n), 4)
    event_time = rng.exponential(np.exp(-risk))
    censor_time = rng.exponential(2.0, n)
    time_ = np.round(np.minimum(event_time, censor_time), 3) + 0.001
    return Surv.from_arrays(event=event_time < censor_time, time=time_), risk


def best_of(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return min(times), out


def r_concordance(y, risk, repeat):
    """(C, SE, seconds) from Rscript, or None when R's survival package is not available."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        data, script = Path(folder) / "d.csv", Path(folder) / "c.R"
        rows = np.column_stack([y["time"], y["event"].astype(int), risk])
        np.savetxt(data, rows, delimiter=",", header="time,status,risk", comments="",
                   fmt=["%.3f", "%d", "%.4f"])
        script.write_text(R_SCRIPT)
        run = subprocess.run(["Rscript", str(script), str(data), str(repeat)],
                             capture_output=True, text=True, check=False)
    if run.returncode != 0:
        return None
    c, se, seconds = (float(v) for v in run.stdout.split())
    return c, se, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sksurv-n", type=int, default=100_000,
                        help="subsample for scikit-survival (O(n x events))")
    args = parser.parse_args()
    for n in (100_000, 1_000_000):
        y, risk = cohort(n)
        ours, result = best_of(lambda y=y, risk=risk: concordance_index(y, risk), args.repeat)
        print(f"n = {n:,} ({int(y['event'].sum()):,} events): mvikit concordance_index "
              f"{ours:.3f} s, C = {result.c:.6f}, se = {result.se:.6f}")
        r = r_concordance(y, risk, args.repeat)
        if r is None:
            print("  R survival::concordance: skipped (Rscript or the survival package missing)")
        else:
            assert abs(r[0] - result.c) < 1e-10 and abs(r[1] - result.se) < 1e-8, (r, result)
            print(f"  R survival::concordance {r[2]:.3f} s (same C and se): "
                  f"R / mvikit = {r[2] / ours:.2f}x")
        if n <= 100_000:
            t_lifelines, c = best_of(
                lambda y=y, risk=risk: lifelines_c(y["time"], -risk, y["event"]), 1)
            assert abs(c - result.c) < 1e-10
            print(f"  lifelines concordance_index {t_lifelines:.3f} s (C only): "
                  f"lifelines / mvikit = {t_lifelines / ours:.2f}x")
        m = min(n, args.sksurv_n)
        sub_y, sub_risk = y[:m], risk[:m]
        t_sksurv, sk = best_of(lambda y=sub_y, risk=sub_risk: concordance_index_censored(
            y["event"], y["time"], risk), 1)
        t_sub, sub = best_of(lambda y=sub_y, risk=sub_risk: concordance_index(y, risk),
                             args.repeat)
        assert abs(sk[0] - sub.c) < 1e-10
        print(f"  scikit-survival concordance_index_censored on {m:,} patients: "
              f"{t_sksurv:.3f} s vs mvikit {t_sub:.4f} s = {t_sksurv / t_sub:.0f}x "
              f"(its cost grows with patients x events)")


if __name__ == "__main__":
    main()
