"""Speed of stepwise selection by AIC / likelihood ratio on the 52 clinical items.

Backward elimination without a univariable screen on the default simulated
cohort (270 patients, 52 clinical items, 58 design columns after one-hot
coding; several candidate models are quasi-separated, so statsmodels runs
its 100 Newton iterations on them).  Three ways to fit the candidate models,
in the same process and on the same data:

1. ``new``: mvikit's path - candidates by a warm-started numpy Newton
   (`logistic_llf`), BLAS on one thread;
2. ``statsmodels, 1 BLAS thread``: one statsmodels ``Logit`` per candidate,
   BLAS on one thread;
3. ``statsmodels, default BLAS`` (the path before this benchmark existed):
   one statsmodels ``Logit`` per candidate with the default BLAS threads.
   Slow (minutes); skip it with ``--skip-original``.

Every path must select the same variables in the same order (checked, with
the largest AIC difference along the path).  Timings are printed with their
ratio to the new path.  Run ``python benchmarks/bench_stepwise.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

import numpy as np

from mvikit.clinical import StepwiseSelector
from mvikit.clinical._fitting import single_threaded_blas
from mvikit.clinical._selection import SELECTION_PARAMETERS, select_variables
from mvikit.datasets import make_hcc_cohort
from mvikit.preprocessing import ClinicalPreprocessor


def run(design, y, names, criterion, *, fast, one_thread):
    params = {**{k: getattr(StepwiseSelector(), k) for k in SELECTION_PARAMETERS},
              "selection": "backward", "criterion": criterion, "screen": False}
    context = single_threaded_blas() if one_thread else contextlib.nullcontext()
    start = time.perf_counter()
    with context:
        _, chosen, path, _ = select_variables(design, y, names, params, owner="bench",
                                              fast=fast)
    return time.perf_counter() - start, chosen, path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criteria", nargs="+", default=["aic", "lr"])
    parser.add_argument("--skip-original", action="store_true",
                        help="do not time statsmodels with the default BLAS threads")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # separation warnings of candidate models
    cohort = make_hcc_cohort(n_patients=270, task="mvi", sequences=(), random_state=0)
    X = cohort.X[cohort.clinical_columns]
    frame = ClinicalPreprocessor(log_transform="auto").set_output(
        transform="pandas").fit_transform(X)
    design, y, names = frame.to_numpy(float), np.asarray(cohort.y), list(frame.columns)
    print(f"{len(y)} patients, {len(cohort.clinical_columns)} clinical items, "
          f"{design.shape[1]} design columns; backward elimination, no screen")
    import statsmodels.api  # noqa: F401  (imported once, outside the timings)

    for criterion in args.criteria:
        run(design, y, names, criterion, fast=True, one_thread=True)  # warm-up (first calls)
        new = run(design, y, names, criterion, fast=True, one_thread=True)
        rows = [("new (numpy Newton, warm starts)", new),
                ("statsmodels per candidate, 1 BLAS thread",
                 run(design, y, names, criterion, fast=False, one_thread=True))]
        if not args.skip_original:
            rows.append(("statsmodels per candidate, default BLAS (before)",
                         run(design, y, names, criterion, fast=False, one_thread=False)))
        print(f"criterion={criterion!r}: {len(new[2])} removals, {len(new[1])} variables kept")
        for label, (seconds, chosen, path) in rows:
            same = chosen == new[1] and list(path["variable"]) == list(new[2]["variable"])
            gap = float(np.nanmax(np.abs(path["aic"].to_numpy() - new[2]["aic"].to_numpy())))
            print(f"  {label:<50s} {seconds:8.2f} s  x{seconds / new[0]:7.1f}  "
                  f"same path: {same}, max |AIC diff| {gap:.1e}")
        start = time.perf_counter()
        StepwiseSelector(selection="backward", criterion=criterion, screen=False).fit(frame, y)
        print(f"  StepwiseSelector.fit (univariable table, final fit included): "
              f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
