"""Speed of `RadiomicsFeatures`: parallel extraction, the disk cache, grid search.

On the simulated cohort (``make_hcc_cohort``, 20x80x80 ROI cubes), PRE and
HBP, tumour + 5 mm peritumoral shell (2 x 2 extractions per patient):

1. ``n_jobs=2`` vs ``n_jobs=1`` (no cache) - target >= 1.7x on 2 free cores;
2. a second run with ``memory`` (every entry cached) vs the first - target >= 50x;
3. ``GridSearchCV`` (4 candidates x 3 folds, first-order features) with vs
   without ``memory``.

Timings are printed as ratios against the baseline measured in the same run.
Run ``python benchmarks/bench_radiomics.py [--n-patients 100]``; on a shared
machine the parallel ratio is bounded by the cores other processes leave free.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mvikit.datasets import make_hcc_cohort
from mvikit.imaging import clear_volume_cache
from mvikit.radiomics import RadiomicsFeatures, UnivariateFilter


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=100)
    parser.add_argument("--grid-patients", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # shells cut by the ROI cube border
    cohort = make_hcc_cohort(n_patients=args.n_patients, task="mvi", random_state=0)
    settings = dict(peritumoral_mm=5.0, feature_classes=["firstorder", "glcm"])
    n_calls = args.n_patients * 2 * 2
    print(f"{args.n_patients} patients x 2 sequences x 2 ROIs = {n_calls} extractions "
          f"(Original; firstorder + glcm)")

    clear_volume_cache()
    serial = timed(lambda: RadiomicsFeatures(n_jobs=1, **settings).fit(cohort.X))
    clear_volume_cache()
    parallel = timed(lambda: RadiomicsFeatures(n_jobs=2, **settings).fit(cohort.X))
    print(f"  n_jobs=1: {serial:.1f} s ({serial / n_calls * 1000:.0f} ms per extraction)")
    print(f"  n_jobs=2: {parallel:.1f} s -> speed-up {serial / parallel:.2f}x (target >= 1.7x)")

    with tempfile.TemporaryDirectory() as cache:
        first = timed(lambda: RadiomicsFeatures(memory=cache, n_jobs=1, **settings)
                      .fit(cohort.X))
        again = timed(lambda: RadiomicsFeatures(memory=cache, n_jobs=1, **settings)
                      .fit(cohort.X))
        fresh = make_hcc_cohort(n_patients=args.n_patients, task="mvi", random_state=0)
        new_session = timed(lambda: RadiomicsFeatures(memory=cache, n_jobs=1, **settings)
                            .fit(fresh.X))
    print(f"  cached second run: {again:.2f} s -> {first / again:.0f}x faster than the first "
          f"({first:.1f} s; target >= 50x)")
    print(f"  cached run on re-simulated volumes (new objects, same voxels): {new_session:.2f} s"
          f" -> {first / new_session:.0f}x")

    small = make_hcc_cohort(n_patients=args.grid_patients, task="mvi", random_state=1)
    grid = {"univariatefilter__k": [2, 5], "logisticregression__C": [0.1, 1.0]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)

    def search(memory):
        # first-order only: the uncached baseline re-extracts every fold and candidate
        pipe = make_pipeline(RadiomicsFeatures(memory=memory, peritumoral_mm=5.0,
                                               feature_classes=["firstorder"]),
                             UnivariateFilter(),
                             StandardScaler(), LogisticRegression(solver="liblinear"))
        GridSearchCV(pipe, grid, cv=cv).fit(small.X, small.y)

    clear_volume_cache()
    without = timed(lambda: search(None))
    with tempfile.TemporaryDirectory() as cache:
        clear_volume_cache()
        with_cache = timed(lambda: search(cache))
    print(f"GridSearchCV, {args.grid_patients} patients, 4 candidates x 3 folds (+ refit):")
    print(f"  without memory: {without:.1f} s; with memory: {with_cache:.1f} s -> "
          f"{without / with_cache:.1f}x")


if __name__ == "__main__":
    main()
