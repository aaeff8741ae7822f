"""Benchmark: compare_models with three Cox models against a bare loop of fits and C-indices.

Default cohort of the survival example (``make_hcc_cohort(270, task="survival")``, clinical
columns, overall survival), 5 x 5 repeated folds stratified on the event. The bare loop fits
every model on every split and computes Harrell's C of the test fold
(:func:`mvikit.survival.concordance_index`); ``compare_models`` does the same plus Uno's C,
the time-dependent AUC at three horizons, the integrated Brier score, the risk-group cut-offs
of each training fold, the pooled C-indices with their paired tests and the log-rank tests and
hazard ratios of the held-out groups. Printed: median times and the overhead ratio
(target <= 1.10). Run: ``python benchmarks/bench_compare_survival.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import make_pipeline

from mvikit.datasets import make_hcc_cohort
from mvikit.model_selection import compare_models
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.survival import CoxPHSurvival, concordance_index, make_survival_target


def models():
    return {f"Cox (penalizer {p})": make_pipeline(ClinicalPreprocessor(),
                                                  CoxPHSurvival(penalizer=p))
            for p in (0.05, 0.1, 0.5)}


def bare_loop(X, y, cv):
    for model in models().values():
        for train, test in cv.split(X, y["event"]):
            fitted = clone(model).fit(X.iloc[train], y[train])
            concordance_index(y[test], fitted.predict(X.iloc[test]))


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cohort = make_hcc_cohort(n_patients=270, task="survival", random_state=0)
    X = cohort.X[cohort.clinical_columns]
    y = make_survival_target(cohort.outcomes, time="os_time", event="os_event")
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=0)
    bare = median_time(lambda: bare_loop(X, y, cv), args.repeats)
    full = median_time(lambda: compare_models(models(), X, y, cv=cv, n_jobs=1), args.repeats)
    print(f"3 Cox models x 25 folds, {len(y)} patients: bare loop (fit + Harrell C) {bare:.2f} s, "
          f"compare_models {full:.2f} s; overhead ratio {full / bare:.3f} "
          f"({'meets' if full / bare <= 1.10 else 'MISSES'} the 1.10 target)")


if __name__ == "__main__":
    main()
