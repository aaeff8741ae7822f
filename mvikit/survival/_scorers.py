"""Scorers for survival models: Harrell's C, Uno's C, time-dependent AUC, Brier score.

Each scorer is a picklable callable ``scorer(estimator, X, y)`` for ``cross_val_score`` and
``GridSearchCV`` (``scoring=make_survival_scorer("uno_c")``, or a dict of them). The numbers
come from scikit-survival's metric functions, except Harrell's C, which comes from
:func:`concordance_index` (the same value in O(n log n), R's counting of ties).

The IPCW metrics (Uno's C, cumulative/dynamic AUC, Brier score) need a censoring
distribution G (Kaplan-Meier of the censoring times). A scorer only sees the test fold,
so the training target must travel with the fitted estimator: with ``censoring="train"``
(default) it is read from the estimator's ``survival_train_`` attribute (set by
:class:`CoxPHSurvival`; looked up on the final step of a Pipeline and on a search's
``best_estimator_``). ``censoring="test"`` estimates G on the test fold itself (Uno et
al. 2011 estimate G on the data being evaluated); use it for estimators that do not keep
their training target, e.g. scikit-survival's. Scorers keep no state between calls.
"""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline
from sksurv.metrics import (
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)

from ._concordance import concordance_index
from ._target import check_survival_y

__all__ = ["SurvivalScorer", "make_survival_scorer"]

_METRICS = ("harrell_c", "uno_c", "cumulative_auc", "neg_integrated_brier")
# Default grid of evaluation times: these quantiles of the test fold's event times.
_DEFAULT_TIME_QUANTILES = np.linspace(0.1, 0.8, 8)
# Default Uno truncation: this quantile of the times the censoring distribution comes from.
_DEFAULT_TAU_QUANTILE = 0.9


def _as_target(event, time):
    y = np.empty(event.shape[0], dtype=[("event", bool), ("time", float)])
    y["event"], y["time"] = event, time
    return y


def _training_target(estimator):
    """The training target stored by the fitted estimator (or its final step)."""
    candidate = estimator
    for _ in range(5):  # search -> pipeline -> model: a few levels are enough
        if hasattr(candidate, "survival_train_"):
            return candidate.survival_train_
        if isinstance(candidate, Pipeline):
            candidate = candidate.steps[-1][1]
        elif hasattr(candidate, "best_estimator_"):
            candidate = candidate.best_estimator_
        else:
            break
    raise AttributeError(
        f"censoring='train' needs the training target, but {type(estimator).__name__} does not "
        f"keep it (no survival_train_ attribute). Use make_survival_scorer(..., "
        f"censoring='test') to estimate the censoring distribution on the test fold, or wrap "
        f"the model in sksurv.metrics.as_concordance_index_ipcw_scorer."
    )


def _truncate(y, last_time):
    """Censor follow-up just after the last evaluation time.

    The AUC and Brier score at times ``t <= last_time`` are unchanged (a patient followed
    beyond ``last_time`` stays a control there), but events after it no longer need the
    censoring distribution, which is 0 after the last training time when follow-up ends
    administratively (every patient left is censored then).
    """
    cap = np.nextafter(last_time, np.inf)
    beyond = y["time"] > cap
    if not beyond.any():
        return y
    y = y.copy()
    y["event"][beyond] = False
    y["time"][beyond] = cap
    return y


class SurvivalScorer:
    """A scorer ``scorer(estimator, X, y) -> float`` built by :func:`make_survival_scorer`.

    Parameters
    ----------
    metric : str
        One of ``"harrell_c"``, ``"uno_c"``, ``"cumulative_auc"``, ``"neg_integrated_brier"``.
    tau : float or None
        Truncation time of Uno's C.
    times : array-like or None
        Evaluation times of the time-dependent AUC and the Brier score.
    censoring : {"train", "test"}
        Where the censoring distribution comes from.
    """

    def __init__(self, metric, *, tau=None, times=None, censoring="train"):
        self.metric = metric
        self.tau = tau
        self.times = times
        self.censoring = censoring

    def __repr__(self):
        return (f"make_survival_scorer({self.metric!r}, tau={self.tau!r}, times={self.times!r}, "
                f"censoring={self.censoring!r})")

    def __call__(self, estimator, X, y):
        event, time = check_survival_y(y, allow_all_censored=True)
        test = _as_target(event, time)
        if self.metric == "harrell_c":
            return concordance_index(test, self._risk(estimator, X)).c
        train = test if self.censoring == "test" else _training_target(estimator)
        if self.metric == "uno_c":
            tau = self.tau
            if tau is None:
                tau = float(np.quantile(train["time"], _DEFAULT_TAU_QUANTILE))
            return float(concordance_index_ipcw(train, test, self._risk(estimator, X), tau=tau)[0])
        times = self._times(test, train)
        test = _truncate(test, times.max())
        if self.metric == "cumulative_auc":
            return float(cumulative_dynamic_auc(train, test, self._risk(estimator, X), times)[1])
        survival = np.vstack([fn(times) for fn in estimator.predict_survival_function(X)])
        return -float(integrated_brier_score(train, test, survival, times))

    @staticmethod
    def _risk(estimator, X):
        risk = np.asarray(estimator.predict(X), dtype=float)
        # estimators predicting a time (sksurv's _predict_risk_score=False) rank the other way
        return risk if getattr(estimator, "_predict_risk_score", True) else -risk

    def _times(self, test, train):
        if self.times is not None:
            return np.asarray(self.times, dtype=float)
        times = np.unique(np.quantile(test["time"][test["event"]], _DEFAULT_TIME_QUANTILES))
        # IPCW weights (and predicted survival) are only defined before the last training
        # time; the metrics need follow-up beyond the last evaluation time
        return times[(times < train["time"].max()) & (times < test["time"].max())]


def make_survival_scorer(metric, *, tau=None, times=None, censoring="train"):
    """A scorer for ``cross_val_score``/``GridSearchCV`` from a survival metric.

    Parameters
    ----------
    metric : {"harrell_c", "uno_c", "cumulative_auc", "neg_integrated_brier"}
        - ``"harrell_c"``: Harrell's C of ``predict`` (:func:`concordance_index`, equal to
          :func:`sksurv.metrics.concordance_index_censored` and R ``survival::concordance``).
        - ``"uno_c"``: Uno's IPCW C up to ``tau`` (:func:`sksurv.metrics.concordance_index_ipcw`).
        - ``"cumulative_auc"``: mean cumulative/dynamic AUC over ``times``
          (:func:`sksurv.metrics.cumulative_dynamic_auc`; its ``mean_auc``, weighted by the
          Kaplan-Meier drop at each time).
        - ``"neg_integrated_brier"``: minus the integrated Brier score over ``times``
          (:func:`sksurv.metrics.integrated_brier_score`; uses ``predict_survival_function``).
          Negated so that greater is better, as scikit-learn's ``neg_*`` scorers.
    tau : float, default=None
        Uno's C truncation time. ``None``: the 90th percentile of the observed times of the
        data the censoring distribution comes from (training target, or test fold).
    times : array-like, default=None
        Evaluation times. ``None``: the 10th, 20th, ..., 80th percentiles of the test fold's
        event times (those before the last training and test times). Pass fixed times to
        compare folds on the same grid; they must lie inside every test fold's follow-up.
        Test follow-up is censored just after the last evaluation time: this leaves the
        AUC and Brier score at the evaluation times unchanged and avoids censoring weights
        after the end of follow-up, where they are infinite.
    censoring : {"train", "test"}, default="train"
        Censoring distribution of the IPCW metrics: Kaplan-Meier of the training target
        (read from the fitted estimator's ``survival_train_``) or of the test fold.

    Returns
    -------
    SurvivalScorer

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> from sklearn.model_selection import KFold, cross_val_score
    >>> from mvikit.survival import CoxPHSurvival, make_survival_scorer, make_survival_target
    >>> rossi = load_rossi()
    >>> y = make_survival_target(rossi, time="week", event="arrest")
    >>> X = rossi.drop(columns=["week", "arrest"])
    >>> scores = cross_val_score(CoxPHSurvival(), X, y, cv=KFold(3, shuffle=True, random_state=0),
    ...                          scoring=make_survival_scorer("uno_c"))
    >>> scores.round(3)
    array([0.633, 0.664, 0.576])
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {list(_METRICS)}, got {metric!r}.")
    if censoring not in ("train", "test"):
        raise ValueError(f"censoring must be 'train' or 'test', got {censoring!r}.")
    return SurvivalScorer(metric, tau=tau, times=times, censoring=censoring)
