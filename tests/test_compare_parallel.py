"""compare_models on parallel backends: nested joblib work runs inside the
(model, split) task, sequentially; results equal the serial run bit for bit."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed, parallel_backend
from joblib.parallel import get_active_backend
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.model_selection import compare_models

CV = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=1)
_SEEN = []  # (nested backend class, its n_jobs, threads a nested n_jobs=-1 call used)
_LOCK = threading.Lock()


def _thread_id(_):
    return threading.get_ident()


class _NestedProbe(ClassifierMixin, BaseEstimator):
    """Logistic regression whose fit makes a nested joblib call and records how it ran."""

    def fit(self, X, y):
        backend, n_jobs = get_active_backend()
        threads = set(Parallel(n_jobs=-1)(delayed(_thread_id)(i) for i in range(8)))
        with _LOCK:
            _SEEN.append((type(backend).__name__, n_jobs, len(threads)))
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=150, n_features=6, n_informative=3, flip_y=0.1,
                               random_state=0)
    return X, y


def _forest():
    # min_samples_leaf > 1: leaves hold fractions, so the forest's probability is a
    # float sum whose last bits depend on the order the trees are added in.
    return RandomForestClassifier(n_estimators=16, min_samples_leaf=5, max_features=2,
                                  random_state=0)


def test_nested_calls_run_sequentially_when_the_comparison_fans_out(data):
    X, y = data
    _SEEN.clear()
    with parallel_backend("threading", n_jobs=2):
        compare_models({"probe": _NestedProbe(), "logistic": LogisticRegression()}, X, y,
                       cv=CV, threshold=0.5)
    # one fit per split; each nested call saw the sequential backend and ran in the
    # task's own thread
    assert _SEEN == [("SequentialBackend", None, 1)] * 6


def test_nested_calls_keep_the_users_backend_on_one_worker(data):
    X, y = data
    _SEEN.clear()
    with parallel_backend("threading", n_jobs=3):
        compare_models({"probe": _NestedProbe(), "logistic": LogisticRegression()}, X, y,
                       cv=CV, threshold=0.5, n_jobs=1)
    # n_jobs=1: the comparison is sequential, a model's own parallelism is left alone
    assert [(name, n) for name, n, _ in _SEEN] == [("ThreadingBackend", 3)] * 6


def test_threading_backend_equals_serial_run_bit_for_bit(data):
    X, y = data
    models = {"forest": _forest(), "logistic": LogisticRegression()}
    serial = compare_models(models, X, y, cv=CV, n_jobs=1, random_state=0)
    with parallel_backend("threading", n_jobs=2):
        threaded = compare_models(models, X, y, cv=CV, random_state=0)
    pd.testing.assert_frame_equal(serial.predictions, threaded.predictions, check_exact=True)
    pd.testing.assert_frame_equal(serial.scores, threaded.scores, check_exact=True)
    pd.testing.assert_frame_equal(serial.summary, threaded.summary, check_exact=True)
    # the forest's probabilities are fractions of 16 trees' leaf fractions, not 0/1 votes
    assert not np.all(np.isin(serial.predictions["score"], np.arange(17) / 16))


@pytest.mark.slow
def test_dask_cluster_runs_one_task_per_fit_and_equals_the_serial_run(data):
    distributed = pytest.importorskip("distributed")
    X, y = data
    models = {"forest": _forest(), "logistic": LogisticRegression()}
    serial = compare_models(models, X, y, cv=CV, n_jobs=1, random_state=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            distributed.get_task_stream(client) as stream, parallel_backend("dask"):
        on_dask = compare_models(models, X, y, cv=CV, random_state=0)
    # 2 models x 6 splits; joblib may batch them, but no nested tree or inner-CV task
    assert 1 <= len(stream.data) <= 12
    for table in ("predictions", "scores", "summary", "wilcoxon", "delong"):
        pd.testing.assert_frame_equal(getattr(serial, table), getattr(on_dask, table),
                                      check_exact=True)
    pd.testing.assert_series_equal(serial.fits["threshold"], on_dask.fits["threshold"],
                                   check_exact=True)
