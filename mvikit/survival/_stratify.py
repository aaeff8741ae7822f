"""`RiskStratifier`: cut a risk score into risk groups chosen on the training data."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone, is_classifier
from sklearn.metrics import roc_curve
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._validation import HasMethods, Interval, StrOptions, fit_context
from ._horizon import horizon_labels

__all__ = ["RiskStratifier"]

_GROUP_NAMES = {2: ["low", "high"], 3: ["low", "intermediate", "high"]}


class RiskStratifier(TransformerMixin, BaseEstimator):
    """Risk groups from a risk score, with cut-offs chosen on the training data.

    ``fit`` chooses the cut-offs on the training scores (never on new data);
    ``predict``/``transform`` apply them. A patient with ``score <= cut`` falls in the
    lower group (seed 004: risk <= 0.157 is "low").

    Parameters
    ----------
    method : {"median", "tertiles", "youden"}, float or list of float, default="median"
        ``"median"``: two groups split at the training median. ``"tertiles"``: three groups.
        ``"youden"``: two groups split where Youden's J (sensitivity + specificity - 1)
        of the training ROC curve is largest (seed 004's 0.157); needs binary labels or a
        survival target with ``horizon``. A number, or increasing numbers: fixed cut-offs.
    horizon : float, default=None
        For ``"youden"`` with a survival target: labels are "event by ``horizon``"
        (:func:`horizon_labels`, censored-before-horizon patients left out of the ROC).
    estimator : estimator, default=None
        ``None``: ``X`` is the risk score (one column). Otherwise a model cloned and fitted
        on ``X, y`` whose output is the score: ``predict_proba[:, 1]`` for classifiers,
        ``predict`` otherwise (a Cox model's risk).

    Attributes
    ----------
    cutoffs_ : ndarray of float
        Increasing cut-offs; ``k`` cut-offs make ``k + 1`` groups coded ``0..k``.
    group_names_ : list of str
        ``["low", "high"]``, ``["low", "intermediate", "high"]`` or ``"group 0"...``.
    group_counts_ : ndarray of int
        Training patients per group.
    estimator_ : estimator
        The fitted clone of ``estimator`` (only when ``estimator`` is given).
    youden_index_ : float
        Youden's J at the chosen cut-off (only for ``method="youden"``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    km_summary, logrank_test, hazard_ratio : compare the groups.
    mvikit.plotting.plot_km : Kaplan-Meier curves of the groups.

    Notes
    -----
    For ``"youden"`` the cut-off is the midpoint between the two training scores where
    J is largest (as pROC's ``coords(..., "best")``), so training groups equal the ROC
    split and new scores are cut symmetrically.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import RiskStratifier
    >>> scores = np.array([[0.05], [0.12], [0.2], [0.31], [0.08], [0.6]])
    >>> labels = np.array([0, 0, 1, 1, 0, 1])
    >>> strat = RiskStratifier(method="youden").fit(scores, labels)
    >>> strat.cutoffs_
    array([0.16])
    >>> strat.predict(np.array([[0.157], [0.5]]))
    array([0, 1])
    """

    _parameter_constraints = {
        "method": [StrOptions({"median", "tertiles", "youden"}), Real, "array-like"],
        "horizon": [Interval(Real, 0, None, closed="neither"), None],
        "estimator": [HasMethods(["fit", "predict"]), None],
    }

    def __init__(self, *, method="median", horizon=None, estimator=None):
        self.method = method
        self.horizon = horizon
        self.estimator = estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        # the output is a group code, whatever the input dtype
        tags.transformer_tags.preserves_dtype = []
        if self.estimator is not None:
            tags.input_tags.sparse = get_tags(self.estimator).input_tags.sparse
        return tags

    def _scores(self, X, *, fitting):
        if self.estimator is None:
            X = validate_data(self, X, reset=fitting, dtype=float)
            if X.shape[1] != 1:
                raise ValueError(
                    f"RiskStratifier without an estimator needs one column of risk scores, got "
                    f"{X.shape[1]} columns. Pass the score alone, or estimator=<model> to "
                    f"score the features."
                )
            return X[:, 0]
        if fitting:
            validate_data(self, X, reset=True, skip_check_array=True)
        model = self.estimator_
        if is_classifier(model) and hasattr(model, "predict_proba"):
            return np.asarray(model.predict_proba(X))[:, 1]
        return np.asarray(model.predict(X), dtype=float).ravel()

    def _youden_cutoff(self, scores, y):
        if y is None:
            raise ValueError("method='youden' needs y: binary labels, or a survival target "
                             "with horizon=...")
        if isinstance(y, np.ndarray) and y.dtype.names is not None:
            if self.horizon is None:
                raise ValueError("method='youden' with a survival target needs horizon=..., "
                                 "the time at which 'event by the horizon' is the label.")
            res = horizon_labels(y, self.horizon)
            labels, scores = res.labels[res.mask], scores[res.mask]
        else:
            labels = np.asarray(y)
        if np.unique(labels).size != 2:
            raise ValueError(
                f"method='youden' needs two classes, got {np.unique(labels).tolist()}.")
        fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
        best = int(np.argmax(tpr - fpr))
        self.youden_index_ = float(tpr[best] - fpr[best])
        # roc_curve calls "positive" score >= thresholds[best]; cut midway below it.
        below = scores[scores < thresholds[best]]
        return np.array([(below.max() + thresholds[best]) / 2 if below.size else
                         thresholds[best]])

    def _cutoffs(self, scores, y):
        if isinstance(self.method, str):
            if self.method == "median":
                return np.quantile(scores, [0.5])
            if self.method == "tertiles":
                return np.quantile(scores, [1 / 3, 2 / 3])
            return self._youden_cutoff(scores, y)
        cutoffs = np.atleast_1d(np.asarray(self.method, dtype=float))
        if cutoffs.ndim != 1 or np.any(np.diff(cutoffs) <= 0) or not np.isfinite(cutoffs).all():
            raise ValueError(f"Fixed cut-offs must be finite and increasing, got {self.method!r}.")
        return cutoffs

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Choose the cut-offs on the training scores.

        Parameters
        ----------
        X : array-like of shape (n_patients, 1) or (n_patients, n_features)
            Risk scores, or features for ``estimator``.
        y : array-like or structured ndarray, default=None
            Needed by ``estimator`` and by ``method="youden"`` (binary labels, or survival
            target with ``horizon``).

        Returns
        -------
        self : RiskStratifier
        """
        if self.estimator is not None:
            self.estimator_ = clone(self.estimator).fit(X, y)
        scores = self._scores(X, fitting=True)
        if scores.size < 2:
            raise ValueError(f"RiskStratifier needs at least 2 patients to choose cut-offs, got "
                             f"{scores.size} sample.")
        self.cutoffs_ = self._cutoffs(scores, y)
        n_groups = self.cutoffs_.size + 1
        self.group_names_ = _GROUP_NAMES.get(n_groups, [f"group {i}" for i in range(n_groups)])
        self.group_counts_ = np.bincount(self._cut(scores), minlength=n_groups)
        empty = [self.group_names_[i] for i in np.flatnonzero(self.group_counts_ == 0)]
        if empty:
            raise ValueError(f"The cut-offs {self.cutoffs_.tolist()} leave the training group(s) "
                             f"{empty} empty; choose other cut-offs.")
        return self

    def _cut(self, scores):
        # side="left": a score equal to a cut-off stays in the lower group.
        return np.searchsorted(self.cutoffs_, scores, side="left")

    def predict(self, X):
        """Risk group of each patient, coded ``0`` (lowest risk) to ``k``.

        Parameters
        ----------
        X : array-like of shape (n_patients, n_features)

        Returns
        -------
        ndarray of int, shape (n_patients,)
        """
        check_is_fitted(self)
        return self._cut(self._scores(X, fitting=False))

    def transform(self, X):
        """The risk group as one integer column (see :meth:`predict`).

        Parameters
        ----------
        X : array-like of shape (n_patients, n_features)

        Returns
        -------
        ndarray of int, shape (n_patients, 1)
        """
        return self.predict(X)[:, None]

    def get_feature_names_out(self, input_features=None):
        """The one output column, ``risk_group``.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        return np.array(["risk_group"], dtype=object)
