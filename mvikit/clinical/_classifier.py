"""`NomogramClassifier`: the clinical logistic model of the seeds, as a scikit-learn classifier."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._data import check_features
from ..utils._repr import SummaryReprMixin
from ..utils._validation import fit_context
from ._fitting import (
    coefficient_table,
    fit_model,
    single_threaded_blas,
    slope_slice,
    warn_if_separated,
)
from ._selection import SELECTION_PARAMETERS, _warn_not_converged, n_iterations, run_selection

__all__ = ["NomogramClassifier"]


class NomogramClassifier(SummaryReprMixin, ClassifierMixin, BaseEstimator):
    """Unpenalised logistic (or proportional-odds) model with fold-safe variable selection.

    ``fit`` runs the selection of `StepwiseSelector` (univariable screen, then
    backward/forward/bidirectional elimination by Wald, likelihood-ratio or
    AIC, or L1) and fits the final model on the selected columns with
    statsmodels, so ``summary_`` holds the usual clinical table (coefficient,
    odds ratio, 95 % CI, Wald p-value). Put it after
    `mvikit.preprocessing.ClinicalPreprocessor`; `Nomogram.from_estimator`
    turns the fitted pipeline into a nomogram in the original units.

    Parameters
    ----------
    selection : {"backward", "forward", "both", "univariable", "l1"} or None, \
default="backward"
        Variable selection (see `StepwiseSelector`). ``None`` fits every column.
    criterion : {"wald", "lr", "aic"}, default="wald"
        Test or criterion of the stepwise steps.
    screen : bool, default=True
        Univariable screen (p < ``alpha_enter``) before the multivariable step.
    alpha_enter : float, default=0.05
        Significance to pass the screen and to enter in forward steps.
    alpha_remove : float, default=0.05
        p-value above which backward steps remove a variable.
    C : float, default=None
        Inverse L1 strength of ``selection="l1"`` (``None``: chosen by CV).
        The final model is always refitted without penalty.
    groups : "auto" or array-like of str, default="auto"
        Variable of each column; ``"auto"`` groups ``"<variable>=<level>"``
        columns, so the dummies of one variable are selected or dropped
        together (pass a DataFrame, e.g. ``set_output(transform="pandas")`` on
        the pipeline, for the names to reach this step).
    ordinal : bool, default=False
        Fit a proportional-odds model of ordered grades (statsmodels
        ``OrderedModel``, logit link) instead of a binary logistic model.
    max_iter : int, default=100
        Newton iterations of each logistic fit.
    random_state : int, RandomState instance or None, default=None
        Seeds the L1 solver.

    Attributes
    ----------
    classes_ : ndarray
        Classes in order (sorted, or an ordered categorical's order).
    support_ : ndarray of bool
        Columns of ``X`` in the final model.
    selected_features_ : list of str
        Their names.
    selected_variables_ : list of str
        The selected variables (dummies of one variable count once).
    coef_ : ndarray of shape (1, n_features)
        Coefficients on the ``n_features_in_`` columns of ``X`` (0 for columns not
        selected).
    intercept_ : ndarray of shape (1,)
        Intercept (binary model; 0 for the ordinal model).
    thresholds_ : ndarray of shape (n_classes - 1,)
        Cut-points ``theta_k`` of the ordinal model, ``P(Y <= k) = expit(theta_k - x'b)``.
    summary_ : pandas.DataFrame
        Final model: ``coef``, ``se``, ``z``, ``p_value``, ``ci_lower``,
        ``ci_upper``, ``odds_ratio``, ``or_ci_lower``, ``or_ci_upper``.
    univariable_summary_ : pandas.DataFrame
        The same for one univariable model per variable, with ``p_variable``.
    datadist_ : pandas.DataFrame
        ``min``, ``median`` and ``max`` of each input column in fit (index:
        the feature names), so `Nomogram.from_estimator` needs no ``X`` (as
        R's rms ``datadist``).
    selection_path_ : pandas.DataFrame
        The selection steps.
    n_iter_ : int
        Iterations of the final maximum-likelihood fit.
    result_ : statsmodels results
        The final statsmodels fit (log-likelihood ``llf``, ``aic``, ``cov_params()``...).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    StepwiseSelector : the selection alone, as a transformer.
    Nomogram : points, axes and risk calculator of the fitted model.

    Notes
    -----
    Binary model: ``logit P(y = classes_[1]) = b0 + x'b`` (maximum likelihood,
    Newton-Raphson, statsmodels ``Logit``). Ordinal model (seed 000's M0/M1/M2):
    ``P(Y <= k) = expit(theta_k - x'b)``. Odds ratios are ``exp(b)`` with Wald
    95 % CIs ``exp(b +/- 1.96 SE)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.clinical import NomogramClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> y = (0.8 * X[:, 0] + rng.logistic(size=300) > 0).astype(int)
    >>> model = NomogramClassifier(selection="backward").fit(X, y)
    >>> model.selected_features_
    ['x0']
    >>> model.summary_[["coef", "odds_ratio", "p_value"]].round(3)
                coef  odds_ratio  p_value
    term
    Intercept -0.032       0.969    0.794
    x0         0.652       1.920    0.000
    """

    _parameter_constraints: dict = dict(SELECTION_PARAMETERS)

    def __init__(self, *, selection="backward", criterion="wald", screen=True,
                 alpha_enter=0.05, alpha_remove=0.05, C=None, groups="auto", ordinal=False,
                 max_iter=100, random_state=None):
        self.selection = selection
        self.criterion = criterion
        self.screen = screen
        self.alpha_enter = alpha_enter
        self.alpha_remove = alpha_remove
        self.C = C
        self.groups = groups
        self.ordinal = ordinal
        self.max_iter = max_iter
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Select variables and fit the final model.

        Parameters
        ----------
        X : array-like of shape (n_patients, n_features)
            Numeric design matrix without missing values.
        y : array-like of shape (n_patients,)
            Binary labels (or ordered grades with ``ordinal=True``).

        Returns
        -------
        self : NomogramClassifier
        """
        owner = type(self).__name__
        (X, self.classes_, codes, names, self.support_, self.selected_variables_,
         self.selection_path_, self.univariable_summary_) = run_selection(self, X, y, owner=owner)
        self.selected_features_ = [n for n, keep in zip(names, self.support_) if keep]
        # the axis ranges of a nomogram drawn later without X (rms's datadist)
        self.datadist_ = pd.DataFrame({"min": X.min(axis=0), "median": np.median(X, axis=0),
                                       "max": X.max(axis=0)}, index=pd.Index(names))
        design = X[:, self.support_]
        with warnings.catch_warnings(), single_threaded_blas():
            warnings.simplefilter("ignore")  # reported below as DataWarnings
            result = fit_model(design, codes, ordinal=self.ordinal, max_iter=self.max_iter)
        warn_if_separated(design, codes, self.selected_features_, result, ordinal=self.ordinal)
        _warn_not_converged(result, owner)
        self._set_coefficients(result)
        self.n_iter_ = n_iterations(result)
        n_thresholds = len(self.classes_) - 1
        self.summary_ = coefficient_table(
            result, self.selected_features_, ordinal=self.ordinal,
            threshold_names=[f"{self.classes_[k]}|{self.classes_[k + 1]}"
                             for k in range(n_thresholds)])
        self.result_ = result
        return self

    def _set_coefficients(self, result) -> None:
        params = np.asarray(result.params, dtype=float)
        n = int(self.support_.sum())
        self.coef_ = np.zeros((1, self.n_features_in_))
        self.coef_[0, self.support_] = params[slope_slice(n, self.ordinal)]
        if self.ordinal:
            self.intercept_ = np.zeros(1)
            self.thresholds_ = np.asarray(
                result.model.transform_threshold_params(params)[1:-1], dtype=float)
        else:
            self.intercept_ = params[:1].copy()

    def decision_function(self, X):
        """Linear predictor: ``b0 + x'b`` (binary) or ``x'b`` (ordinal).

        Parameters
        ----------
        X : array-like of shape (n_patients, n_features)

        Returns
        -------
        ndarray of shape (n_patients,)
        """
        check_is_fitted(self, "coef_")
        X = check_features(self, X, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_patients, n_features)

        Returns
        -------
        ndarray of shape (n_patients, n_classes)
            Columns in the order of ``classes_``.
        """
        return probabilities_from_lp(self.decision_function(X), self)

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_patients, n_features)

        Returns
        -------
        ndarray of shape (n_patients,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def _summary_fitted(self) -> bool:
        return hasattr(self, "summary_")

    def _summary_html(self) -> str:
        title = (f"<p><b>{type(self).__name__}</b> ({'ordinal' if self.ordinal else 'binary'}"
                 f", selection={self.selection!r}): {len(self.selected_variables_)} variable(s)"
                 f" selected of {len(self.univariable_summary_['variable'].unique())}</p>")
        return title + self.summary_.to_html(float_format=lambda v: f"{v:.4g}")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = bool(self.ordinal)
        return tags


def probabilities_from_lp(lp, model) -> np.ndarray:
    """Class probabilities from the linear predictor of a fitted binary or ordinal model."""
    lp = np.asarray(lp, dtype=float)
    if not getattr(model, "ordinal", False):
        p = expit(lp)
        return np.column_stack([1.0 - p, p])
    # P(Y <= k) = expit(theta_k - lp); class probabilities are successive differences
    cumulative = expit(model.thresholds_[None, :] - lp[:, None])
    cumulative = np.column_stack([np.zeros(len(lp)), cumulative, np.ones(len(lp))])
    return np.diff(cumulative, axis=1)
