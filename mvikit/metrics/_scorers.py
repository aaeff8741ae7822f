"""Scorers (``scoring=`` of ``cross_val_score`` / ``GridSearchCV``) built on
:mod:`mvikit.metrics`. Greater is better for every scorer here.
"""

from __future__ import annotations

from sklearn.metrics import make_scorer, roc_auc_score

from ._calibration import _calibration_in_the_large, _recalibration
from ._checks import _check_binary_inputs, _check_thresholds
from ._decision_curve import _net_benefit

__all__ = [
    "calibration_slope_scorer",
    "calibration_intercept_scorer",
    "make_net_benefit_scorer",
    "roc_auc_ovo_scorer",
]


def _slope_error(y_true, y_prob):
    """-|slope - 1| of the logistic recalibration (0 is perfect)."""
    y, (p,), _, _ = _check_binary_inputs(y_true, y_prob, names=["y_prob"], probabilities=True)
    return -abs(float(_recalibration(y, p)[0][1]) - 1.0)


def _intercept_error(y_true, y_prob):
    """-|calibration-in-the-large| (0 is perfect)."""
    y, (p,), _, _ = _check_binary_inputs(y_true, y_prob, names=["y_prob"], probabilities=True)
    return -abs(_calibration_in_the_large(y, p)[0])


def _net_benefit_at(y_true, y_prob, threshold):
    y, (p,), _, _ = _check_binary_inputs(y_true, y_prob, names=["y_prob"], probabilities=True)
    return float(_net_benefit(y, p, _check_thresholds([threshold], name="threshold"))[0])


#: Scorer: ``-|calibration slope - 1|`` of ``predict_proba`` (binary; 0 is perfect).
calibration_slope_scorer = make_scorer(_slope_error, response_method="predict_proba")

#: Scorer: ``-|calibration-in-the-large|`` of ``predict_proba`` (binary; 0 is perfect).
calibration_intercept_scorer = make_scorer(_intercept_error, response_method="predict_proba")

#: Scorer: macro one-vs-one AUC of ``predict_proba`` (Hand & Till 2001), MD-Net's AUC.
roc_auc_ovo_scorer = make_scorer(
    roc_auc_score, response_method="predict_proba", multi_class="ovo", average="macro"
)


def make_net_benefit_scorer(threshold):
    """Scorer of the net benefit at one threshold probability.

    Parameters
    ----------
    threshold : float
        Threshold probability pt, strictly inside (0, 1).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` giving TP/n - FP/n * pt/(1 - pt) of
        ``predict_proba`` (binary; greater is better).

    See Also
    --------
    decision_curve : Net benefit over a grid of thresholds.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from mvikit.metrics import make_net_benefit_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(120, 3))
    >>> y = (X[:, 0] + rng.normal(size=120) > 1).astype(int)
    >>> scores = cross_val_score(LogisticRegression(), X, y, cv=3,
    ...                          scoring=make_net_benefit_scorer(0.2))
    >>> bool(scores.mean() > 0)
    True
    """
    (pt,) = _check_thresholds([threshold], name="threshold")
    return make_scorer(_net_benefit_at, response_method="predict_proba", threshold=float(pt))
