"""The LASSO radiomics signature: `LassoSelector` and `RadScore`.

The "radiomics signature" of most radiomics papers (e.g. Xu et al., J Hepatol
2019 for MVI) is an L1-penalised logistic regression on standardised
features, its penalty chosen by cross-validation; the rad-score of a patient
is the fitted linear predictor.  Both classes fit it with scikit-learn's
`LogisticRegressionCV` inside ``fit`` (so they are fold-safe).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ..clinical import EmptySelectionError
from ..exceptions import CohortError
from ..utils._data import check_classification_data, check_features
from ..utils._validation import Interval, StrOptions, fit_context
from ._selection import _FrameSelector, _names

__all__ = ["LassoSelector", "RadScore"]

_LASSO_PARAMETERS: dict = {
    "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
    "cv": [Interval(Integral, 2, None, closed="left")],
    "scoring": [StrOptions({"roc_auc", "neg_log_loss", "accuracy"})],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
}


def _fit_lasso(estimator, X: np.ndarray, y: np.ndarray, *, binary: bool = True):
    """Standardise, then L1 logistic regression with the penalty chosen by CV."""
    target = type_of_target(y, raise_unknown=True)
    if binary and target != "binary":
        raise CohortError(
            f"Only binary classification is supported. {type(estimator).__name__} fits a "
            f"binary signature; y has {len(np.unique(y))} classes ({target}). Binarise y "
            "(e.g. MVI present vs absent)."
        )
    scaler = StandardScaler().fit(X)
    n_minority = int(np.min(np.unique(y, return_counts=True)[1]))
    cv = StratifiedKFold(n_splits=max(2, min(estimator.cv, n_minority)), shuffle=True,
                         random_state=estimator.random_state)
    # liblinear is exact for binary L1; several classes need saga's multinomial L1.
    solver = "liblinear" if target == "binary" else "saga"
    scoring = estimator.scoring
    if target != "binary" and scoring == "roc_auc":
        scoring = "roc_auc_ovr"
    # On standardised features the L1 penalty stops selecting beyond C ~ 10, and
    # liblinear crawls at large C on near-separable radiomics data: an int spans
    # [1e-3, 10] (scikit-learn's own grid spans [1e-4, 1e4]).
    Cs = (np.logspace(-3, 1, estimator.Cs) if isinstance(estimator.Cs, Integral)
          else estimator.Cs)
    model = LogisticRegressionCV(
        Cs=Cs, cv=cv, l1_ratios=(1.0,), solver=solver,
        scoring=scoring, max_iter=estimator.max_iter,
        random_state=estimator.random_state, use_legacy_attributes=False,
    ).fit(scaler.transform(X), y)
    return scaler, model


class LassoSelector(_FrameSelector):
    """Keep the features with a non-zero coefficient in a cross-validated L1 logistic model.

    Binary ``y``: liblinear; more classes: a multinomial L1 model (saga), a
    feature being kept when any class uses it.

    Parameters
    ----------
    Cs : int or array-like, default=10
        Inverse penalty strengths tried (`LogisticRegressionCV`); an int is
        that many values on a log grid over ``[1e-3, 10]`` (standardised
        features).
    cv : int, default=5
        Stratified folds choosing the penalty (fewer when a class is smaller).
    scoring : {"roc_auc", "neg_log_loss", "accuracy"}, default="roc_auc"
        Criterion of the penalty choice.
    max_iter : int, default=1000
        Solver iterations.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the solver.

    Attributes
    ----------
    C_ : float
        Chosen inverse penalty.
    coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
        Coefficients on the standardised features.
    n_iter_ : int
        Solver iterations of the final fit.
    support_ : ndarray of bool
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    RadScore : the same model, as the rad-score.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 5)), columns=list("abcde"))
    >>> y = (2 * X["a"] + rng.logistic(size=200) > 0).astype(int)
    >>> "a" in LassoSelector(random_state=0).fit(X, y).get_feature_names_out()
    True
    """

    _parameter_constraints: dict = dict(_LASSO_PARAMETERS)

    def __init__(self, *, Cs=10, cv=5, scoring="roc_auc", max_iter=1000, random_state=None):
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self.max_iter = max_iter
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the L1 path and keep the non-zero coefficients.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
        y : array-like of shape (n_patients,)
            Binary labels.

        Returns
        -------
        self
        """
        X, y = self._validate(X, y)
        _, model = _fit_lasso(self, X, y, binary=False)
        self.C_ = float(np.ravel(model.C_)[0])
        self.coef_ = model.coef_.copy() if model.coef_.shape[0] > 1 else model.coef_[0].copy()
        self.n_iter_ = int(np.max(model.n_iter_))
        self.support_ = np.any(np.atleast_2d(self.coef_) != 0, axis=0)
        self._check_not_empty()
        return self


class RadScore(ClassifierMixin, TransformerMixin, BaseEstimator):
    """The radiomics signature: a LASSO logistic model whose linear predictor is the rad-score.

    As a transformer it outputs one column, ``rad_score`` (log-odds), to be
    combined with clinical items in a nomogram; as a classifier it predicts
    ``P(y = classes_[1]) = expit(rad_score)``.

    Parameters
    ----------
    Cs : int or array-like, default=10
        Inverse penalty strengths tried (`LogisticRegressionCV`); an int is
        that many values on a log grid over ``[1e-3, 10]`` (standardised
        features).
    cv : int, default=5
        Stratified folds choosing the penalty.
    scoring : {"roc_auc", "neg_log_loss", "accuracy"}, default="roc_auc"
        Criterion of the penalty choice.
    max_iter : int, default=1000
        Solver iterations.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the solver.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    C_ : float
        Chosen inverse penalty.
    n_iter_ : int
        Solver iterations of the final fit.
    coef_ : ndarray of shape (1, n_features)
        Coefficients in the original feature units (0 where not selected).
    intercept_ : ndarray of shape (1,)
        Intercept in the original units.
    selected_features_ : list of str
        Features with a non-zero coefficient.
    summary_ : pandas.DataFrame
        Per selected feature: ``coef`` (original units), ``coef_std`` (per
        training SD), ``odds_ratio_per_sd``, ``mean`` and ``sd``.
    formula_ : str
        ``"rad_score = b0 + b1*x1 + ..."`` in the original units.
    score_range_ : tuple of float
        ``(min, max)`` rad-score of the training patients (the range of the
        "Rad-score" axis of `mvikit.clinical.Nomogram`).
    scaler_ : StandardScaler
    estimator_ : LogisticRegressionCV
        The fitted model on standardised features.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    With standardised ``z_j = (x_j - m_j) / s_j`` and fitted ``a_0, a_j``,
    ``rad_score = a_0 + sum_j a_j z_j = b_0 + sum_j b_j x_j`` with
    ``b_j = a_j / s_j`` and ``b_0 = a_0 - sum_j a_j m_j / s_j``.

    In a combined nomogram (`radiomics_nomogram`), `mvikit.clinical.Nomogram`
    draws the rad-score as one axis labelled ``nomogram_label`` ("Rad-score"),
    in rad-score units.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"mean": rng.normal(100, 10, 300), "noise": rng.normal(size=300)})
    >>> y = ((X["mean"] - 100) / 5 + rng.logistic(size=300) > 0).astype(int)
    >>> score = RadScore(random_state=0).fit(X, y)
    >>> score.selected_features_
    ['mean']
    >>> score.transform(X).columns.tolist()
    ['rad_score']
    >>> print(score.formula_)
    rad_score = -6.75541 + 0.0677969*mean
    """

    _parameter_constraints: dict = dict(_LASSO_PARAMETERS)
    #: Label of the rad-score axis in `mvikit.clinical.Nomogram`.
    nomogram_label = "Rad-score"

    def __init__(self, *, Cs=10, cv=5, scoring="roc_auc", max_iter=1000, random_state=None):
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self.max_iter = max_iter
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the signature.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
            Radiomics features (no missing values).
        y : array-like of shape (n_patients,)
            Binary labels.

        Returns
        -------
        self : RadScore
        """
        X, y = check_classification_data(self, X, y)
        self.classes_ = np.unique(y)
        self.scaler_, self.estimator_ = _fit_lasso(self, X, y)
        self.C_ = float(self.estimator_.C_)
        self.n_iter_ = int(np.max(self.estimator_.n_iter_))
        a = self.estimator_.coef_[0]
        names = _names(self)
        if not np.any(a):
            raise EmptySelectionError(
                f"RadScore: the LASSO kept no feature of {X.shape[1]} (C = {self.C_:.3g}); "
                "the features carry no signal in this training set. Try more features, "
                "scoring='neg_log_loss', or larger Cs."
            )
        scale, mean = self.scaler_.scale_, self.scaler_.mean_
        self.coef_ = (a / scale)[None, :]
        self.intercept_ = np.array([self.estimator_.intercept_[0] - np.sum(a * mean / scale)])
        keep = a != 0
        self.selected_features_ = [str(n) for n in names[keep]]
        self.summary_ = pd.DataFrame({
            "coef": self.coef_[0][keep], "coef_std": a[keep],
            "odds_ratio_per_sd": np.exp(a[keep]), "mean": mean[keep], "sd": scale[keep],
        }, index=pd.Index(self.selected_features_, name="feature"))
        terms = " ".join(f"{'-' if b < 0 else '+'} {abs(b):.6g}*{name}"
                         for name, b in zip(self.selected_features_, self.coef_[0][keep]))
        self.formula_ = f"rad_score = {self.intercept_[0]:.6g} {terms}"
        training = X @ self.coef_[0] + self.intercept_[0]
        self.score_range_ = (float(training.min()), float(training.max()))
        return self

    def decision_function(self, X):
        """The rad-score (log-odds of ``classes_[1]``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)

        Returns
        -------
        ndarray of shape (n_patients,)
        """
        check_is_fitted(self, "coef_")
        X = check_features(self, X, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X):
        """Class probabilities ``[1 - p, p]`` with ``p = expit(rad_score)``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)

        Returns
        -------
        ndarray of shape (n_patients, 2)
        """
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        """Class with the larger probability.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)

        Returns
        -------
        ndarray of shape (n_patients,)
        """
        score = self.decision_function(X)
        return self.classes_[(score > 0).astype(int)]

    def transform(self, X):
        """The rad-score as one column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)

        Returns
        -------
        pandas.DataFrame or ndarray of shape (n_patients, 1)
            A DataFrame with column ``rad_score`` and the index of ``X`` when
            ``X`` is a DataFrame, else an array.
        """
        score = self.decision_function(X)
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame({"rad_score": score}, index=X.index)
        return score[:, None]

    def get_feature_names_out(self, input_features=None):
        """``["rad_score"]``.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "coef_")
        return np.asarray(["rad_score"], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
