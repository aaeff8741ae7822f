"""Benchmark: CoxPHSurvival.fit against bare lifelines CoxPHFitter.fit on the same data.

CoxPHSurvival is a thin adapter; its overhead (validation, frame building, the summary
table) should stay small. Both fits run in this process on 10,000 patients x 50 features,
with the same Newton-Raphson tolerances, and the ratio of the median times is printed
(target: <= 1.3). Run: ``python benchmarks/bench_cox.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from mvikit.survival import CoxPHSurvival, Surv


def make_data(n_patients=10_000, n_features=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_patients, n_features))
    beta = rng.normal(scale=0.2, size=n_features)
    event_time = rng.exponential(np.exp(-X @ beta))
    censor_time = rng.exponential(np.median(event_time) * 2, size=n_patients)
    time_ = np.minimum(event_time, censor_time)
    event = event_time <= censor_time
    columns = [f"x{i}" for i in range(n_features)]
    return pd.DataFrame(X, columns=columns), Surv.from_arrays(event, time_)


def median_times(functions, repeats):
    """Median wall time of each function, runs interleaved so load drifts hit all alike."""
    times = [[] for _ in functions]
    for _ in range(repeats):
        for slot, function in zip(times, functions):
            start = time.perf_counter()
            function()
            slot.append(time.perf_counter() - start)
    return [float(np.median(slot)) for slot in times]


def main(repeats=5):
    X, y = make_data()
    tol = CoxPHSurvival().tol
    frame = X.assign(T=y["time"], E=y["event"])
    options = {"precision": tol, "r_precision": tol * 1e-3, "max_steps": 500}

    def bare():
        CoxPHFitter().fit(frame, "T", "E", fit_options=options)

    def wrapped():
        CoxPHSurvival().fit(X, y)

    def bare_defaults():
        CoxPHFitter().fit(frame, "T", "E")

    bare()  # warm-up (imports, caches)
    t_bare, t_wrapped, t_defaults = median_times([bare, wrapped, bare_defaults], repeats)
    print(f"data: {X.shape[0]} patients x {X.shape[1]} features, {int(y['event'].sum())} events")
    print(f"lifelines CoxPHFitter.fit (same tolerances)  : {t_bare:.3f} s (baseline)")
    print(f"mvikit CoxPHSurvival.fit                      : {t_wrapped / t_bare:.2f}x baseline")
    print(f"lifelines with its default tolerances         : {t_defaults / t_bare:.2f}x baseline")
    ratio = t_wrapped / t_bare
    print(f"overhead ratio {ratio:.2f} ({'within' if ratio <= 1.3 else 'ABOVE'} the 1.3x target)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
