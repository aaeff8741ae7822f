"""Validating a frozen (already fitted) binary model on a new cohort.

External validation as TRIPOD asks for it (Collins et al. 2015, items 10d and
16): the model is applied unchanged; discrimination (AUC with DeLong CI),
calibration (calibration-in-the-large, slope, the intercept ``rms::val.prob``
prints, the curve), the decision curve and the threshold metrics at a
threshold fixed *before* looking at the new cohort.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.utils.validation import check_is_fitted

from ..exceptions import ColumnRoleError, MetricInputError
from ..metrics import (
    calibration_curve,
    calibration_stats,
    decision_curve,
    roc_auc_ci,
    threshold_metrics,
)
from ..utils._roles import check_cohort_frame
from ._recalibration import _binary_events, logistic_recalibration

__all__ = ["FrozenValidationResult", "check_model_columns", "validate_frozen",
           "validate_predictions"]


def check_model_columns(model, X):
    """The cohort's columns the fitted model was trained on, in training order.

    Extra columns (images the model does not use, identifiers) are left out,
    as a missing one is an error.

    Parameters
    ----------
    model : fitted estimator
        Its ``feature_names_in_`` (set by scikit-learn when fitted on a
        DataFrame) lists the columns it needs.
    X : pandas.DataFrame
        The new cohort.

    Returns
    -------
    pandas.DataFrame or array-like
        ``X[model.feature_names_in_]``, or ``X`` itself when the model
        records no column names.

    Raises
    ------
    ColumnRoleError
        Naming every missing column.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import check_model_columns
    >>> model = LogisticRegression().fit(pd.DataFrame({"age": [50, 60, 70, 80],
    ...                                                "afp": [1, 9, 2, 8]}), [0, 1, 0, 1])
    >>> check_model_columns(model, pd.DataFrame({"age": [55]}))
    Traceback (most recent call last):
    ...
    mvikit.exceptions.ColumnRoleError: The cohort lacks 1 column(s) the model was trained on: ...
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None or not isinstance(X, pd.DataFrame):
        return X
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise ColumnRoleError(
            f"The cohort lacks {len(missing)} column(s) the model was trained on: {missing}. "
            "Rename the cohort's columns to the training names (or add them, empty where "
            "unmeasured, if the model imputes)."
        )
    return X[list(names)]


def _aligned_outcome(y, X):
    if isinstance(y, pd.Series) and isinstance(X, pd.DataFrame) and set(X.index) <= set(y.index):
        y = y.reindex(X.index)
    y = np.asarray(y)
    if len(y) != len(X):
        raise MetricInputError(f"y has {len(y)} values but the cohort has {len(X)} patients.")
    if pd.isna(y).any():
        ids = list(np.asarray(getattr(X, "index", np.arange(len(X))))[pd.isna(y)][:5])
        raise MetricInputError(f"The outcome is missing for patient(s) {ids}; drop them or "
                               "fill the outcome before validating.")
    return y


@dataclass(frozen=True, repr=False)
class FrozenValidationResult:
    """The validation of a frozen model on a new cohort (see :func:`validate_frozen`).

    Attributes
    ----------
    n, n_events : int
        Patients and events of the new cohort.
    auc : AUCResult
        AUC with its DeLong CI.
    calibration : CalibrationStatsResult
        Calibration-in-the-large, slope, Brier, Hosmer-Lemeshow, Spiegelhalter.
    val_prob : dict
        ``intercept``, ``slope`` (and standard errors) of
        logit P = a + b logit(p): what ``rms::val.prob`` prints.
    curve : CalibrationCurveResult
        The binned calibration curve.
    decision : pandas.DataFrame
        The decision curve (net benefit of the model, treat all, treat none).
    threshold : float
        The decision threshold fixed beforehand.
    metrics : ThresholdMetricsResult
        Sensitivity, specificity, PPV, NPV, accuracy, F1 at ``threshold``.
    predictions : pandas.DataFrame
        ``y``, ``event`` (1/0) and ``risk`` per patient.
    alpha : float
        One minus the confidence level.
    """

    n: int
    n_events: int
    auc: object
    calibration: object
    val_prob: dict
    curve: object
    decision: pd.DataFrame = field(repr=False)
    threshold: float = 0.5
    metrics: object = None
    predictions: pd.DataFrame = field(repr=False, default=None)
    alpha: float = 0.05

    def __repr__(self):
        return (f"FrozenValidationResult(n={self.n}, events={self.n_events}, "
                f"auc={self.auc.auc:.3f}, slope={self.calibration.slope:.3f})")

    def summary(self) -> pd.DataFrame:
        """One row per statistic: estimate and CI (``lower``, ``upper``)."""
        z = stats.norm.ppf(1 - self.alpha / 2)
        cal, vp = self.calibration, self.val_prob
        rows = [("AUC", self.auc.auc, *self.auc.ci),
                ("Calibration-in-the-large", cal.intercept, *cal.intercept_ci),
                ("Calibration slope", cal.slope, *cal.slope_ci),
                ("Intercept (val.prob)", vp["intercept"], vp["intercept"] - z * vp["intercept_se"],
                 vp["intercept"] + z * vp["intercept_se"]),
                ("Brier score", cal.brier, np.nan, np.nan),
                ("Hosmer-Lemeshow p", cal.hosmer_lemeshow.p_value, np.nan, np.nan)]
        metrics = self.metrics.to_frame()
        labels = {name: name.upper() if len(name) == 3 else name.capitalize()
                  for name in metrics.index}
        rows += [(f"{labels[name]} at {self.threshold:.3g}", *metrics.loc[name])
                 for name in metrics.index]
        return pd.DataFrame(rows, columns=["statistic", "estimate", "lower", "upper"])

    def _repr_html_(self):
        return self.summary().to_html(index=False, float_format=lambda v: f"{v:.3f}")


def validate_frozen(model, X, y, *, threshold=0.5, pos_label=None, n_bins=10, alpha=0.05):
    """Validate a fitted binary classifier, unchanged, on a new cohort.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
        Any mvikit/scikit-learn classifier or pipeline; it is not refitted.
    X : pandas.DataFrame
        The new cohort, with the columns the model was trained on (others,
        e.g. images a clinical model does not use, are left out).
    y : array-like of shape (n_samples,)
        The new cohort's outcome.
    threshold : float, default=0.5
        The decision threshold, fixed beforehand (e.g. the development
        cohort's Youden threshold); never tuned on the new cohort.
    pos_label : label, default=None
        The event class (default: the larger of the model's two classes).
    n_bins : int, default=10
        Quantile bins of the calibration curve and Hosmer-Lemeshow groups.
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    FrozenValidationResult
        ``summary()`` is the table a paper prints; :func:`build_validation_report`
        renders it with figures.

    Raises
    ------
    ColumnRoleError
        The cohort lacks columns the model was trained on (named).
    MetricInputError
        The outcome has one class, labels the model does not know, or is
        missing for some patients (named).

    See Also
    --------
    RecalibratedClassifier : Update the model when calibration is off.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import validate_frozen
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)); y = rng.binomial(1, 1 / (1 + np.exp(-2 * X[:, 0])))
    >>> model = LogisticRegression().fit(X[:150], y[:150])
    >>> result = validate_frozen(model, X[150:], y[150:], threshold=0.4)
    >>> result.summary()["statistic"].tolist()[:3]
    ['AUC', 'Calibration-in-the-large', 'Calibration slope']
    """
    check_is_fitted(model)
    if isinstance(X, pd.DataFrame):
        check_cohort_frame(X)
    y = _aligned_outcome(y, X)
    X = check_model_columns(model, X)
    classes = np.asarray(model.classes_)
    if len(classes) != 2:
        raise MetricInputError(f"validate_frozen needs a binary classifier; the model has "
                               f"classes {list(classes)}.")
    positive = classes[1] if pos_label is None else pos_label
    _binary_events(y, classes, positive)  # labels the model does not know are an error
    risk = model.predict_proba(X)[:, int(np.flatnonzero(classes == positive)[0])]
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(y))
    return validate_predictions(pd.Series(y, index=index), risk, threshold=threshold,
                                pos_label=positive, n_bins=n_bins, alpha=alpha)


def validate_predictions(y, risk, *, threshold=0.5, pos_label=None, n_bins=10, alpha=0.05):
    """The statistics of :func:`validate_frozen` from predicted risks already at hand.

    For example the pooled out-of-fold predictions of a cross-validation
    (internal validation), or the risks a published model gives.

    Parameters
    ----------
    y : array-like or pandas.Series of shape (n_samples,)
        The outcome (a Series keeps its index as the patient ids).
    risk : array-like of shape (n_samples,)
        Predicted probabilities of the event.
    threshold, n_bins, alpha
        As in :func:`validate_frozen`.
    pos_label : label, default=None
        The event (default: the larger of the two labels of ``y``).

    Returns
    -------
    FrozenValidationResult

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.study import validate_predictions
    >>> rng = np.random.default_rng(1)
    >>> risk = rng.uniform(0.05, 0.95, 200); y = rng.binomial(1, risk)
    >>> result = validate_predictions(y, risk, threshold=0.5)
    >>> round(result.calibration.slope, 2), result.n_events
    (1.35, 99)
    """
    index = y.index if isinstance(y, pd.Series) else pd.RangeIndex(len(y))
    y = np.asarray(y)
    labels = np.unique(y[~pd.isna(y)])
    positive = labels[-1] if pos_label is None else pos_label
    events = _binary_events(y, labels, positive)
    risk = np.asarray(risk, dtype=float)
    return FrozenValidationResult(
        n=len(events), n_events=int(events.sum()),
        auc=roc_auc_ci(events, risk, alpha=alpha),
        calibration=calibration_stats(events, risk, n_groups=n_bins, alpha=alpha),
        val_prob=logistic_recalibration(events, risk, slope=True),
        curve=calibration_curve(events, risk, n_bins=n_bins, alpha=alpha),
        decision=decision_curve(events, risk),
        threshold=float(threshold),
        metrics=threshold_metrics(events, risk, threshold=threshold, alpha=alpha),
        predictions=pd.DataFrame({"y": y, "event": events.astype(int), "risk": risk},
                                 index=index),
        alpha=alpha,
    )
