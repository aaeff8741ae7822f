"""Speed of `RadiomicsFeatures`: parallel extraction, the disk cache, grid search.

On the simulated cohort (``make_hcc_cohort``, 20x80x80 ROI cubes), PRE and
HBP, tumour + 5 mm peritumoral shell (2 x 2 extractions per patient), with
`RadiomicsFeatures`' default feature classes (Original image; firstorder,
shape and the five texture classes) unless ``--feature-classes`` says
otherwise:

1. ``n_jobs=2`` vs ``n_jobs=1`` - target >= 1.7x on 2 free cores (both runs
   write a fresh cache, so the serial run is also the "first run" of 2);
2. a second run with ``memory`` (every entry cached) vs the first - target >= 50x;
3. ``GridSearchCV`` (4 candidates x 3 folds, first-order features) with vs
   without ``memory``.

Timings are printed as ratios against the baseline measured in the same run,
with the machine's load average (a ratio on cores that other processes use
means little).  Run ``python benchmarks/bench_radiomics.py [--n-patients 100]
[--feature-classes firstorder glcm]``.
"""

from __future__ import annotations

import argparse
import os
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


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def extraction(cohort, settings, n_calls):
    """Section 1 and 2: serial vs parallel first runs, then cached runs."""
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as other:
        clear_volume_cache()
        serial = timed(lambda: RadiomicsFeatures(n_jobs=1, memory=first, **settings)
                       .fit(cohort.X))
        clear_volume_cache()
        parallel = timed(lambda: RadiomicsFeatures(n_jobs=2, memory=other, **settings)
                         .fit(cohort.X))
        print(f"  n_jobs=1: {serial:.1f} s ({serial / n_calls * 1000:.0f} ms per extraction)")
        print(f"  n_jobs=2: {parallel:.1f} s -> speed-up {serial / parallel:.2f}x "
              "(target >= 1.7x)")
        again = timed(lambda: RadiomicsFeatures(memory=first, n_jobs=1, **settings)
                      .fit(cohort.X))
        fresh = make_hcc_cohort(n_patients=len(cohort.X), task="mvi", random_state=0)
        new_session = timed(lambda: RadiomicsFeatures(memory=first, n_jobs=1, **settings)
                            .fit(fresh.X))
    print(f"  cached second run: {again:.2f} s -> {serial / again:.0f}x faster than the first "
          f"({serial:.1f} s; target >= 50x)")
    print(f"  cached run on re-simulated volumes (new objects, same voxels): {new_session:.2f} s"
          f" -> {serial / new_session:.0f}x")


def grid_search(n_patients):
    """Section 3: a grid search re-extracting every fold vs one with the cache."""
    small = make_hcc_cohort(n_patients=n_patients, task="mvi", random_state=1)
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
    print(f"GridSearchCV, {n_patients} patients, 4 candidates x 3 folds (+ refit):")
    print(f"  without memory: {without:.1f} s; with memory: {with_cache:.1f} s -> "
          f"{without / with_cache:.1f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=100)
    parser.add_argument("--grid-patients", type=int, default=20)
    parser.add_argument("--feature-classes", nargs="+", default=None,
                        help="pyradiomics feature classes (default: RadiomicsFeatures' own)")
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # shells cut by the ROI cube border
    cohort = make_hcc_cohort(n_patients=args.n_patients, task="mvi", random_state=0)
    settings = dict(peritumoral_mm=5.0, feature_classes=args.feature_classes)
    n_calls = args.n_patients * 2 * 2
    classes = ", ".join(args.feature_classes or ["defaults: firstorder, shape, glcm, glrlm, "
                                                 "glszm, gldm, ngtdm"])
    print(f"{args.n_patients} patients x 2 sequences x 2 ROIs = {n_calls} extractions "
          f"(Original; {classes}); {os.cpu_count()} CPUs, {load()}")
    extraction(cohort, settings, n_calls)
    if not args.skip_grid:
        grid_search(args.grid_patients)
    print(f"done, {load()}")


if __name__ == "__main__":
    main()
