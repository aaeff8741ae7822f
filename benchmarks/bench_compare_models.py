"""Benchmark: compare_models against a bare scikit-learn loop on the same splits.

The bare loop fits every model on every split and predicts the test fold's
probabilities (what ``cross_val_predict`` does per split); ``compare_models``
does the same plus metrics, Wilcoxon, DeLong and the tidy tables.  Printed as
ratios of median times measured in this process (target: overhead <= 1.3 with a
fixed threshold).  Also printed: the cost of the inner-CV Youden threshold
(``threshold_cv=3``, about 4x the fits) and of ``n_jobs=2`` against ``n_jobs=1``.
Run: ``python benchmarks/bench_compare_models.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.naive_bayes import GaussianNB

from mvikit.model_selection import compare_models

MODELS = {"logistic": LogisticRegression(max_iter=1000), "naive Bayes": GaussianNB(),
          "forest": RandomForestClassifier(n_estimators=50, random_state=0)}


def bare_loop(X, y, cv):
    for model in MODELS.values():
        for train, test in cv.split(X, y):
            clone(model).fit(X[train], y[train]).predict_proba(X[test])


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(repeats):
    X, y = make_classification(n_samples=1000, n_features=20, random_state=0)
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=0)
    base = median_time(lambda: bare_loop(X, y, cv), repeats)
    fixed = median_time(lambda: compare_models(MODELS, X, y, cv=cv, threshold=0.5, n_jobs=1),
                        repeats)
    youden = median_time(lambda: compare_models(MODELS, X, y, cv=cv, n_jobs=1), repeats)
    parallel = median_time(lambda: compare_models(MODELS, X, y, cv=cv, threshold=0.5, n_jobs=2),
                           repeats)
    print(f"bare sklearn loop (75 fits): {base:.2f} s (baseline)")
    print(f"compare_models, fixed threshold / bare loop: {fixed / base:.2f}")
    print(f"compare_models, inner-CV Youden / fixed threshold: {youden / fixed:.2f}")
    print(f"compare_models, n_jobs=2 / n_jobs=1: {parallel / fixed:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
