"""Benchmark: `compare_models` on a Dask LocalCluster against ``n_jobs`` on one machine.

Three models (logistic, naive Bayes, a 50-tree random forest) on 1000 x 20
synthetic patients, 5-fold CV x 5 repeats, the default inner-CV Youden
threshold: 75 (model, split) tasks, each with 3 inner fits.  Timed, wall clock,
median of ``--repeats`` interleaved runs in this process:

* ``n_jobs=1`` (the baseline of the ratios), ``n_jobs=2`` (loky processes);
* ``joblib.parallel_backend("dask")`` on ``LocalCluster(n_workers=2,
  threads_per_worker=1)`` started once before timing (its start-up is not
  counted; a warm-up run ships the code to the workers first).

Target (issue 14): Dask within 15 % of ``n_jobs=2``, i.e. dask / n_jobs=2 <= 1.15.
Also checked: the Dask run's scores and predictions table equal the serial
run's bit for bit.  Parallel timings need two idle cores; on a shared machine
they only show the direction.

Run: ``python benchmarks/bench_compare_dask.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from joblib import parallel_backend
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.naive_bayes import GaussianNB

from mvikit.model_selection import compare_models

MODELS = {"logistic": LogisticRegression(max_iter=1000), "naive Bayes": GaussianNB(),
          "forest": RandomForestClassifier(n_estimators=50, random_state=0)}


def run(X, y, cv, n_jobs=None):
    return compare_models(MODELS, X, y, cv=cv, n_jobs=n_jobs, random_state=0)


def timed(function):
    start = time.perf_counter()
    out = function()
    return time.perf_counter() - start, out


def main(repeats):
    import distributed

    X, y = make_classification(n_samples=1000, n_features=20, random_state=0)
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=0)
    times = {"n_jobs=1": [], "n_jobs=2": [], "dask, 2 workers x 1 thread": []}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:

        def on_dask():
            with parallel_backend("dask"):
                return run(X, y, cv)

        with distributed.get_task_stream(client) as stream:
            on_dask()  # warm-up: imports and code on the workers
        n_tasks = len(stream.data)
        run(X, y, cv, n_jobs=2)  # warm-up: loky's worker pool
        for _ in range(repeats):
            t, serial = timed(lambda: run(X, y, cv, n_jobs=1))
            times["n_jobs=1"].append(t)
            t, _ = timed(lambda: run(X, y, cv, n_jobs=2))
            times["n_jobs=2"].append(t)
            t, dask_result = timed(on_dask)
            times["dask, 2 workers x 1 thread"].append(t)
    median = {k: float(np.median(v)) for k, v in times.items()}
    base = median["n_jobs=1"]
    print(f"compare_models, 3 models x 25 splits, median of {repeats} (wall clock)")
    for name, t in median.items():
        print(f"  {name:28s} {t:6.2f} s   ratio vs n_jobs=1 {t / base:5.2f}")
    ratio = median["dask, 2 workers x 1 thread"] / median["n_jobs=2"]
    print(f"dask / n_jobs=2: {ratio:.2f} (target <= 1.15)")
    print(f"tasks on the cluster per comparison: {n_tasks} for {len(MODELS) * 25} (model, split) "
          "fits")
    same = True
    try:
        pd.testing.assert_frame_equal(serial.scores, dask_result.scores, check_exact=True)
        pd.testing.assert_frame_equal(serial.predictions, dask_result.predictions,
                                      check_exact=True)
    except AssertionError as error:
        same = False
        print("dask results differ from the serial run:", str(error).splitlines()[0:6])
    print(f"dask scores and predictions bit-identical to n_jobs=1: {same}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
