"""Recalibrating a frozen binary classifier on a new cohort.

The three updating methods of Steyerberg's *Clinical Prediction Models*
(2nd ed., ch. 20; Van Calster et al. 2019, CalibrationCurves), from the least
to the most data-hungry:

* ``"intercept"``: logit P(y=1) = a + logit(p)  (offset; "recalibration in
  the large", corrects the baseline risk of the new population);
* ``"logistic"``: logit P(y=1) = a + b logit(p)  (Cox 1958 logistic
  recalibration; corrects too extreme or too modest predictions);
* ``"refit"``: every coefficient re-estimated on the new cohort (a clone of
  the model fitted from scratch).

p is the frozen model's predicted probability of the positive class.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import statsmodels.api as sm
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from ..exceptions import InvalidSettingsError, MetricInputError
from ..utils._validation import HasMethods, StrOptions, fit_context

__all__ = ["RecalibratedClassifier", "logistic_recalibration"]

_EPS = 1e-12


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _binary_events(y, classes, pos_label):
    y = np.asarray(y)
    bad = ~np.isin(y, classes)
    if bad.any():
        raise MetricInputError(f"y has labels {sorted(set(y[bad].tolist()))[:5]} that the model "
                               f"does not know (its classes: {list(classes)}).")
    events = (y == pos_label).astype(float)
    if events.min() == events.max():
        raise MetricInputError(f"y has one class only ({y[0]!r}); recalibration needs both "
                               "events and non-events.")
    return events


def logistic_recalibration(y_event, y_prob, *, slope=True):
    """Intercept (and slope) of the logistic recalibration model, with standard errors.

    Parameters
    ----------
    y_event : array-like of shape (n_samples,)
        1 for an event, 0 otherwise.
    y_prob : array-like of shape (n_samples,)
        The frozen model's predicted probabilities of the event.
    slope : bool, default=True
        Fit logit P = a + b logit(p) (True) or logit P = a + logit(p) with
        logit(p) as an offset (False, slope fixed at 1).

    Returns
    -------
    dict
        ``intercept``, ``intercept_se`` and, with ``slope=True``, ``slope``,
        ``slope_se``.

    Notes
    -----
    With ``slope=True`` the intercept is the one R's ``rms::val.prob``
    prints as "Intercept" (from ``lrm(y ~ logit(p))``); with ``slope=False``
    it is calibration-in-the-large (``glm(y ~ offset(logit(p)),
    family = binomial)``).  Both are maximum-likelihood fits by statsmodels.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.study import logistic_recalibration
    >>> p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    >>> y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    >>> fit = logistic_recalibration(y, p)
    >>> round(fit["intercept"], 3), round(fit["slope"], 3)
    (0.576, 0.531)
    """
    y = np.asarray(y_event, dtype=float)
    lp = _logit(y_prob)
    if slope:
        result = sm.GLM(y, sm.add_constant(lp, has_constant="add"),
                        family=sm.families.Binomial()).fit(tol=1e-12)
        (a, b), (a_se, b_se) = result.params, result.bse
        return {"intercept": float(a), "intercept_se": float(a_se), "slope": float(b),
                "slope_se": float(b_se)}
    result = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(),
                    offset=lp).fit(tol=1e-12)
    return {"intercept": float(result.params[0]), "intercept_se": float(result.bse[0])}


class RecalibratedClassifier(ClassifierMixin, BaseEstimator):
    """A frozen binary classifier with its predictions recalibrated on a new cohort.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``, default=None
        The frozen model (required; the default None only lets scikit-learn
        build the class empty) (any mvikit/scikit-learn classifier or pipeline).
        With ``method="intercept"`` or ``"logistic"`` it is used as given,
        never refitted (wrap it in ``sklearn.frozen.FrozenEstimator`` to keep
        it fitted through ``clone``); with ``"refit"`` a clone is fitted.
    method : {"intercept", "logistic", "refit"}, default="logistic"
        The updating method (see the module notes).
    pos_label : label, default=None
        The event class (default: the larger of the model's two classes).

    Attributes
    ----------
    estimator_ : classifier
        The frozen model, or the refitted clone.
    classes_ : ndarray of shape (2,)
        The model's classes.
    intercept_ : float
        a of the recalibration (0 for ``"refit"``).
    slope_ : float
        b of the recalibration (1 for ``"intercept"`` and ``"refit"``).
    n_features_in_ : int
        The model's number of input columns (when it records it).
    feature_names_in_ : ndarray of str
        The model's input column names (when fitted on a DataFrame).

    See Also
    --------
    logistic_recalibration, validate_frozen

    Notes
    -----
    The recalibrated risk is expit(a + b logit(p)), p the frozen model's risk.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import RecalibratedClassifier
    >>> rng = np.random.default_rng(0)
    >>> X_dev = rng.normal(size=(200, 2)); y_dev = rng.binomial(1, 1 / (1 + np.exp(-X_dev[:, 0])))
    >>> X_new = rng.normal(size=(200, 2))
    >>> y_new = rng.binomial(1, 1 / (1 + np.exp(1 - X_new[:, 0])))  # a lower baseline risk
    >>> frozen = LogisticRegression().fit(X_dev, y_dev)
    >>> updated = RecalibratedClassifier(frozen, method="intercept").fit(X_new, y_new)
    >>> bool(np.isclose(updated.predict_proba(X_new)[:, 1].mean(), y_new.mean()))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["predict_proba"]), None],
        "method": [StrOptions({"intercept", "logistic", "refit"})],
        "pos_label": "no_validation",
    }

    def __init__(self, estimator=None, *, method="logistic", pos_label=None):
        self.estimator = estimator
        self.method = method
        self.pos_label = pos_label

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # a binary event and its risk
        if self.estimator is not None:
            tags.input_tags.sparse = get_tags(self.estimator).input_tags.sparse
        return tags

    def _positive_risk(self, estimator, X):
        return estimator.predict_proba(X)[:, self._pos_index]

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Recalibrate on the new cohort ``(X, y)``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            The new cohort, in the columns the model expects.
        y : array-like of shape (n_samples,)
            Its outcome.

        Returns
        -------
        self
        """
        if self.estimator is None:
            raise InvalidSettingsError("RecalibratedClassifier needs the frozen model: "
                                       "RecalibratedClassifier(model, method=...).")
        if self.method == "refit":
            self.estimator_ = clone(self.estimator).fit(X, y)
        else:
            check_is_fitted(self.estimator)
            self.estimator_ = self.estimator
        self.classes_ = np.asarray(self.estimator_.classes_)
        if len(self.classes_) != 2:
            raise MetricInputError(f"Only binary classification is supported: the model has "
                                   f"classes {list(self.classes_)}.")
        positive = self.classes_[1] if self.pos_label is None else self.pos_label
        self._pos_index = int(np.flatnonzero(self.classes_ == positive)[0])
        events = _binary_events(y, self.classes_, positive)
        self.intercept_, self.slope_ = 0.0, 1.0
        if self.method != "refit":
            fit = logistic_recalibration(events, self._positive_risk(self.estimator_, X),
                                         slope=self.method == "logistic")
            self.intercept_ = fit["intercept"]
            self.slope_ = fit.get("slope", 1.0)
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    def predict_proba(self, X):
        """Recalibrated class probabilities, shape (n_samples, 2)."""
        check_is_fitted(self, "estimator_")
        risk = _expit(self.intercept_ + self.slope_ * _logit(self._positive_risk(
            self.estimator_, X)))
        proba = np.empty((len(risk), 2))
        proba[:, self._pos_index], proba[:, 1 - self._pos_index] = risk, 1 - risk
        return proba

    def predict(self, X):
        """The class of the larger recalibrated probability."""
        check_is_fitted(self, "estimator_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
