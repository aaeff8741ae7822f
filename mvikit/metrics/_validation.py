"""Harrell's bootstrap optimism correction of apparent performance
(Efron & Tibshirani 1993, sec. 17.6; Harrell, Lee & Mark 1996; rms ``validate``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils import _safe_indexing, check_random_state

from mvikit.exceptions import MetricInputError

from ..utils._align import align_to_rows
from ._calibration import _recalibration
from ._checks import _check_binary_target, _index_of
from ._results import OptimismResult
from ._roc import _auc

__all__ = ["optimism_corrected"]


def _slope(y, p):
    return float(_recalibration(y, p)[0][1])


def _intercept(y, p):
    return float(_recalibration(y, p)[0][0])


def _brier(y, p):
    return float(np.mean((y - p) ** 2))


# Calibration intercept and slope are the two coefficients of
# logit P(y) = a + b logit(p), as in rms validate ("Intercept", "Slope").
_SCORERS = {"auc": _auc, "slope": _slope, "intercept": _intercept, "brier": _brier}


def _resolve_scoring(scoring):
    if isinstance(scoring, str):
        scoring = (scoring,)
    if isinstance(scoring, dict):
        resolved = dict(scoring)
    else:
        unknown = [s for s in scoring if s not in _SCORERS]
        if unknown:
            raise MetricInputError(
                f"unknown scoring {unknown}; use names from {sorted(_SCORERS)} or a dict "
                "name -> callable(y_true, y_prob)."
            )
        resolved = {s: _SCORERS[s] for s in scoring}
    if not resolved or not all(callable(f) for f in resolved.values()):
        raise MetricInputError("scoring must name at least one metric; dict values must be callables.")
    return resolved


def _positive_proba(model, X, positive):
    column = int(np.flatnonzero(model.classes_ == positive)[0])
    return model.predict_proba(X)[:, column]


def _bootstrap_indices(y01, n_bootstrap, random_state):
    """Ordinary bootstrap indices; a resample with a single class is drawn again
    (the model cannot be fitted on it)."""
    rng = check_random_state(random_state)
    n = len(y01)
    draws = []
    while len(draws) < n_bootstrap:
        idx = rng.randint(0, n, size=n)
        if 0 < y01[idx].sum() < n:
            draws.append(idx)
    return draws


def _one_replicate(estimator, X, y_raw, y01, idx, positive, scorers):
    model = clone(estimator).fit(_safe_indexing(X, idx), y_raw[idx])
    p_train = _positive_proba(model, _safe_indexing(X, idx), positive)
    p_test = _positive_proba(model, X, positive)
    return (
        [f(y01[idx], p_train) for f in scorers.values()],
        [f(y01, p_test) for f in scorers.values()],
    )


def optimism_corrected(
    estimator,
    X,
    y,
    *,
    n_bootstrap=200,
    scoring=("auc", "slope", "intercept", "brier"),
    random_state=None,
    n_jobs=None,
):
    """Bootstrap optimism-corrected performance of any probabilistic classifier.

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``predict_proba``
        A scikit-learn classifier or pipeline (cloned, never modified).
    X : array-like or DataFrame of shape (n_samples, ...)
        Predictors (a cohort frame works: rows are indexed, not copied).
    y : array-like of shape (n_samples,)
        Binary outcome (the larger sorted label is the event).
    n_bootstrap : int, default=200
        Bootstrap replicates (Harrell recommends 100-200).
    scoring : sequence of str or dict, default=("auc", "slope", "intercept", "brier")
        Metrics of the predicted risk: ``"auc"``, ``"slope"`` and
        ``"intercept"`` (coefficients of logit P(y) = a + b logit(p), as in rms
        ``validate``), ``"brier"``; or a dict name -> ``callable(y01, p)``.
    random_state : int, RandomState instance or None, default=None
        Seed of the resampling.
    n_jobs : int, default=None
        Parallel replicates (joblib).

    Returns
    -------
    OptimismResult
        ``table`` with one row per metric and columns ``apparent`` (model fitted
        and scored on all data), ``training`` and ``test`` (mean over
        replicates of the bootstrap model scored on its resample and on the
        original data), ``optimism`` (training - test) and ``corrected``
        (apparent - optimism); ``n_bootstrap``.

    See Also
    --------
    calibration_stats : Apparent calibration of given predictions.

    Notes
    -----
    Harrell's enhanced bootstrap (Efron 1983; Harrell et al. 1996, sec. 5.3):
    optimism = mean_b [M(f_b, D_b) - M(f_b, D)], corrected = M(f, D) -
    optimism. A resample holding a single class is drawn again.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.metrics import optimism_corrected
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(80, 6))
    >>> y = (X[:, 0] + rng.normal(size=80) > 0).astype(int)
    >>> res = optimism_corrected(LogisticRegression(), X, y, n_bootstrap=20, random_state=0)
    >>> bool(res["auc"]["corrected"] < res["auc"]["apparent"])
    True
    """
    if not (isinstance(n_bootstrap, (int, np.integer)) and n_bootstrap >= 1):
        raise MetricInputError(f"n_bootstrap must be a positive integer; got {n_bootstrap!r}.")
    scorers = _resolve_scoring(scoring)
    y = align_to_rows(y, X)
    y01, classes = _check_binary_target(y, index=_index_of(y, X))
    y_raw = np.asarray(y)
    if len(y_raw) != (X.shape[0] if hasattr(X, "shape") else len(X)):
        raise MetricInputError(f"X has {len(X)} rows but y has {len(y_raw)}; pass one row per patient.")
    positive = classes[1]
    full = clone(estimator).fit(X, y_raw)
    p_full = _positive_proba(full, X, positive)
    apparent = np.array([f(y01, p_full) for f in scorers.values()])
    draws = _bootstrap_indices(y01, n_bootstrap, random_state)
    results = Parallel(n_jobs=n_jobs)(
        delayed(_one_replicate)(estimator, X, y_raw, y01, idx, positive, scorers) for idx in draws
    )
    training = np.mean([r[0] for r in results], axis=0)
    test = np.mean([r[1] for r in results], axis=0)
    optimism = training - test
    table = pd.DataFrame(
        {
            "apparent": apparent,
            "training": training,
            "test": test,
            "optimism": optimism,
            "corrected": apparent - optimism,
        },
        index=pd.Index(list(scorers), name="metric"),
    )
    return OptimismResult(table=table, n_bootstrap=int(n_bootstrap))
