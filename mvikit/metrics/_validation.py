"""Harrell's bootstrap optimism correction of apparent performance
(Efron & Tibshirani 1993, sec. 17.6; Harrell, Lee & Mark 1996; rms ``validate``), for
probabilistic classifiers and for survival models (rms ``validate`` of a ``cph`` fit).
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


def _harrell_c(y, risk):
    from ..survival._concordance import concordance_index

    return concordance_index(y, risk).c


def _dxy(y, risk):
    # Somers' Dxy of rms validate(cph): 2C - 1 with C oriented so that higher risk = worse
    return 2 * _harrell_c(y, risk) - 1


def _cox_slope(y, risk):
    """Coefficient of the risk score in a Cox model of ``y`` (rms validate(cph) "Slope")."""
    from lifelines import CoxPHFitter

    frame = pd.DataFrame({"risk": risk, "time": y["time"], "event": y["event"]})
    return float(CoxPHFitter().fit(frame, "time", "event").params_["risk"])


_SURVIVAL_SCORERS = {"c_index": _harrell_c, "dxy": _dxy, "slope": _cox_slope}
_DEFAULT_SCORING = {False: ("auc", "slope", "intercept", "brier"), True: ("c_index", "slope")}


def _resolve_scoring(scoring, survival=False):
    known = _SURVIVAL_SCORERS if survival else _SCORERS
    if scoring is None:
        scoring = _DEFAULT_SCORING[survival]
    if isinstance(scoring, str):
        scoring = (scoring,)
    if isinstance(scoring, dict):
        resolved = dict(scoring)
    else:
        unknown = [s for s in scoring if s not in known]
        if unknown:
            kind = "survival models" if survival else "classifiers"
            raise MetricInputError(
                f"unknown scoring {unknown} for {kind}; use names from {sorted(known)} or a "
                "dict name -> callable(y_true, prediction)."
            )
        resolved = {s: known[s] for s in scoring}
    if not resolved or not all(callable(f) for f in resolved.values()):
        raise MetricInputError(
            "scoring must name at least one metric; dict values must be callables.")
    return resolved


def _positive_proba(model, X, positive):
    column = int(np.flatnonzero(model.classes_ == positive)[0])
    return model.predict_proba(X)[:, column]


def _bootstrap_indices(y01, n_bootstrap, random_state, *, survival=False):
    """Ordinary bootstrap indices; a resample with a single class (survival: no event) is
    drawn again (the model cannot be fitted on it)."""
    rng = check_random_state(random_state)
    n = len(y01)
    draws = []
    while len(draws) < n_bootstrap:
        idx = rng.randint(0, n, size=n)
        if 0 < y01[idx].sum() < n or (survival and y01[idx].any()):
            draws.append(idx)
    return draws


def _prediction(model, X, positive):
    """Positive-class probability of a classifier; the risk score (``predict``) of a
    survival model (``positive is None``)."""
    if positive is None:
        return np.asarray(model.predict(X), dtype=float)
    return _positive_proba(model, X, positive)


def _resample(X, idx):
    """Rows ``idx`` of ``X``; a cohort frame's repeated patient ids get a copy suffix
    (``"P001~2"``) because mvikit's preprocessors refuse duplicate ids."""
    sample = _safe_indexing(X, idx)
    if isinstance(sample, pd.DataFrame) and sample.index.has_duplicates:
        copies = sample.groupby(level=0).cumcount().to_numpy()
        sample = sample.set_axis([f"{i}~{c}" if c else i for i, c in zip(sample.index, copies)])
    return sample


def _one_replicate(estimator, X, y_raw, y_score, idx, positive, scorers):
    sample = _resample(X, idx)
    model = clone(estimator).fit(sample, y_raw[idx])
    p_train = _prediction(model, sample, positive)
    p_test = _prediction(model, X, positive)
    return (
        [f(y_score[idx], p_train) for f in scorers.values()],
        [f(y_score, p_test) for f in scorers.values()],
    )


def optimism_corrected(
    estimator,
    X,
    y,
    *,
    n_bootstrap=200,
    scoring=None,
    random_state=None,
    n_jobs=None,
):
    """Bootstrap optimism-corrected performance of a probabilistic classifier or a survival model.

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``predict_proba`` (or a survival model)
        A scikit-learn classifier or pipeline (cloned, never modified); with a survival
        ``y``, a survival model whose ``predict`` is a risk score (e.g.
        :class:`mvikit.survival.CoxPHSurvival`'s linear predictor).
    X : array-like or DataFrame of shape (n_samples, ...)
        Predictors (a cohort frame works: rows are indexed, not copied).
    y : array-like of shape (n_samples,) or structured survival array
        Binary outcome (the larger sorted label is the event), or a survival target
        (``Surv.from_arrays(event=..., time=...)``).
    n_bootstrap : int, default=200
        Bootstrap replicates (Harrell recommends 100-200).
    scoring : sequence of str or dict, default=None
        Classifiers (default ``("auc", "slope", "intercept", "brier")``): metrics of
        the predicted risk, ``"auc"``, ``"slope"`` and ``"intercept"`` (coefficients of
        logit P(y) = a + b logit(p), as in rms ``validate``), ``"brier"``. Survival
        models (default ``("c_index", "slope")``): Harrell's ``"c_index"``, rms's
        ``"dxy"`` (2C - 1) and the calibration ``"slope"``, the coefficient of the risk
        score in a Cox model of the outcome (rms ``validate(cph)``'s "Slope"). Or a dict
        name -> ``callable(y, prediction)``.
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
    optimism. A resample holding a single class (survival: no event) is drawn again.
    For an unpenalised Cox model the apparent slope is 1 (the model's own maximum
    likelihood) and the corrected slope is the shrinkage factor to apply.

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
    survival = getattr(np.asarray(y).dtype, "names", None) is not None
    scorers = _resolve_scoring(scoring, survival)
    y = align_to_rows(y, X)
    y_raw = np.asarray(y)
    if survival:
        from ..survival._target import check_survival_y

        event, _ = check_survival_y(y, patient_ids=_index_of(y, X))
        y_score, y_draw, positive = y_raw, event.astype(int), None
    else:
        y01, classes = _check_binary_target(y, index=_index_of(y, X))
        y_score, y_draw, positive = y01, y01, classes[1]
    if len(y_raw) != (X.shape[0] if hasattr(X, "shape") else len(X)):
        raise MetricInputError(
            f"X has {len(X)} rows but y has {len(y_raw)}; pass one row per patient.")
    full = clone(estimator).fit(X, y_raw)
    p_full = _prediction(full, X, positive)
    apparent = np.array([f(y_score, p_full) for f in scorers.values()])
    draws = _bootstrap_indices(y_draw, n_bootstrap, random_state, survival=survival)
    results = Parallel(n_jobs=n_jobs)(
        delayed(_one_replicate)(estimator, X, y_raw, y_score, idx, positive, scorers)
        for idx in draws
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
