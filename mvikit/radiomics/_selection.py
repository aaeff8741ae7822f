"""Fold-safe radiomics feature selection: each filter learns its choice in `fit`
from the training rows only, so it can sit inside cross-validation.

The usual radiomics chain (e.g. Xu et al., J Hepatol 2019) is: drop
near-constant features, drop one of each highly correlated pair, keep features
that differ between outcome groups (univariate test or mRMR), then a LASSO
logistic model (`LassoSelector` / `RadScore`).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin, f_classif, mutual_info_classif
from sklearn.utils.validation import check_is_fitted

from ..clinical import EmptySelectionError
from ..utils._data import check_classification_data, check_features
from ..utils._validation import Interval, StrOptions, fit_context

__all__ = ["NearZeroVarianceFilter", "CorrelationFilter", "UnivariateFilter", "MRMRSelector"]


class _FrameSelector(SelectorMixin, BaseEstimator):
    """A selector whose `transform` keeps a DataFrame a DataFrame (same index)."""

    def _validate(self, X, y=None, reset=True):
        if y is None:
            values = check_features(self, X, reset=reset)
        else:
            values = check_classification_data(self, X, y, reset=reset)
        n_samples = (values if y is None else values[0]).shape[0]
        if reset and n_samples < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 patients to select "
                             f"features; got n_samples = {n_samples}.")
        return values

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def _check_not_empty(self):
        if not self.support_.any():
            raise EmptySelectionError(
                f"{type(self).__name__} kept no feature of {self.n_features_in_}; relax its "
                "threshold (or check the features for constant columns)."
            )

    def transform(self, X):
        """Keep the selected columns.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)

        Returns
        -------
        DataFrame or ndarray of shape (n_patients, n_selected)
            A DataFrame (same index) when ``X`` is one.
        """
        check_is_fitted(self, "support_")
        values = self._validate(X, reset=False)
        if isinstance(X, pd.DataFrame):
            return X.loc[:, self.support_].astype(float)
        return values[:, self.support_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class NearZeroVarianceFilter(_FrameSelector):
    """Drop constant and near-constant features (caret's ``nearZeroVar``).

    A feature is dropped when it takes one value only, or when both its
    frequency ratio (count of the most common value / count of the second most
    common) exceeds ``freq_cut`` and its percentage of distinct values is at
    most ``unique_cut``.

    Parameters
    ----------
    freq_cut : float, default=95/5
        Frequency-ratio cut-off.
    unique_cut : float, default=10
        Percentage of distinct values (0-100) at or below which a feature with a
        high frequency ratio is dropped.

    Attributes
    ----------
    freq_ratio_ : ndarray of shape (n_features,)
        Frequency ratios (``inf`` for a constant feature).
    percent_unique_ : ndarray of shape (n_features,)
        Percentages of distinct values.
    support_ : ndarray of bool
        Kept features.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    Kuhn M. caret: ``nearZeroVar(x, freqCut = 95/5, uniqueCut = 10)``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2, 3, 4, 5, 6], "b": [0.0] * 6,
    ...                   "c": [0.0] * 5 + [1.0]})
    >>> NearZeroVarianceFilter(freq_cut=4, unique_cut=40).fit_transform(X).columns.tolist()
    ['a']
    """

    _parameter_constraints: dict = {
        "freq_cut": [Interval(Real, 1, None, closed="left")],
        "unique_cut": [Interval(Real, 0, 100, closed="both")],
    }

    def __init__(self, *, freq_cut=95 / 5, unique_cut=10.0):
        self.freq_cut = freq_cut
        self.unique_cut = unique_cut

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute frequency ratios and distinct-value percentages.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
        y : ignored

        Returns
        -------
        self
        """
        X = self._validate(X)
        n = X.shape[0]
        ratios, unique = [], []
        for column in X.T:
            _, counts = np.unique(column, return_counts=True)
            counts = np.sort(counts)[::-1]
            ratios.append(counts[0] / counts[1] if len(counts) > 1 else np.inf)
            unique.append(100.0 * len(counts) / n)
        self.freq_ratio_ = np.asarray(ratios)
        self.percent_unique_ = np.asarray(unique)
        constant = ~np.isfinite(self.freq_ratio_)
        near_zero = (self.freq_ratio_ > self.freq_cut) & (self.percent_unique_ <= self.unique_cut)
        self.support_ = ~(constant | near_zero)
        self._check_not_empty()
        return self


def _abs_corr(X: np.ndarray, method: str) -> np.ndarray:
    if method == "spearman":
        X = np.apply_along_axis(stats.rankdata, 0, X)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(X, rowvar=False)
    corr = np.atleast_2d(np.abs(np.nan_to_num(corr, nan=0.0)))
    np.fill_diagonal(corr, 0.0)
    return corr


class CorrelationFilter(_FrameSelector):
    """Drop one feature of each pair whose absolute correlation exceeds ``threshold``.

    Greedy, most correlated pair first: while some pair of the remaining
    features has ``|r| > threshold``, take the pair with the largest ``|r|``
    and drop the member with the larger mean ``|r|`` to the other remaining
    features (the more redundant one; on a tie, the later column).  This is
    caret's ``findCorrelation`` rule.  At the end no two kept features have
    ``|r| > threshold``.

    Parameters
    ----------
    threshold : float, default=0.9
        Absolute correlation above which a pair is redundant.
    method : {"pearson", "spearman"}, default="pearson"
        Correlation coefficient.

    Attributes
    ----------
    dropped_ : pandas.DataFrame
        One row per dropped feature, in order: ``dropped``, ``kept`` (its
        partner in the pair) and ``abs_r``.
    support_ : ndarray of bool
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=100), rng.normal(size=100)
    >>> X = pd.DataFrame({"a": a, "b": b, "a_plus_b": a + b})
    >>> f = CorrelationFilter(threshold=0.6).fit(X)
    >>> f.get_feature_names_out().tolist(), f.dropped_["dropped"].tolist()
    (['a', 'b'], ['a_plus_b'])
    """

    _parameter_constraints: dict = {
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "method": [StrOptions({"pearson", "spearman"})],
    }

    def __init__(self, *, threshold=0.9, method="pearson"):
        self.threshold = threshold
        self.method = method

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Find the redundant features.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
        y : ignored

        Returns
        -------
        self
        """
        X = self._validate(X)
        names = _names(self)
        corr = _abs_corr(X, self.method)
        keep = np.ones(X.shape[1], dtype=bool)
        rows = []
        while keep.sum() > 1:
            sub = np.where(keep[:, None] & keep[None, :], corr, -1.0)
            i, j = np.unravel_index(np.argmax(sub), sub.shape)
            if sub[i, j] <= self.threshold:
                break
            i, j = min(i, j), max(i, j)
            others = keep.copy()
            mean_i = corr[i, others & (np.arange(len(keep)) != i)].mean()
            mean_j = corr[j, others & (np.arange(len(keep)) != j)].mean()
            drop, kept = (i, j) if mean_i > mean_j else (j, i)
            keep[drop] = False
            rows.append({"dropped": names[drop], "kept": names[kept], "abs_r": corr[i, j]})
        self.support_ = keep
        self.dropped_ = pd.DataFrame(rows, columns=["dropped", "kept", "abs_r"])
        return self


def _names(estimator) -> np.ndarray:
    if hasattr(estimator, "feature_names_in_"):
        return np.asarray(estimator.feature_names_in_, dtype=object)
    return np.asarray([f"x{i}" for i in range(estimator.n_features_in_)], dtype=object)


def _p_values(X: np.ndarray, y: np.ndarray, test: str) -> np.ndarray:
    classes = np.unique(y)
    groups = [X[y == c] for c in classes]
    p = np.empty(X.shape[1])
    for k in range(X.shape[1]):
        samples = [g[:, k] for g in groups]
        if np.ptp(X[:, k]) == 0:
            p[k] = 1.0  # a constant feature carries no evidence
        elif test == "mannwhitney":
            p[k] = (stats.mannwhitneyu(*samples, alternative="two-sided").pvalue
                    if len(classes) == 2 else stats.kruskal(*samples).pvalue)
        else:
            p[k] = (stats.ttest_ind(*samples, equal_var=False).pvalue
                    if len(classes) == 2 else stats.f_oneway(*samples).pvalue)
    return np.nan_to_num(p, nan=1.0)


class UnivariateFilter(_FrameSelector):
    """Keep the features that differ between outcome groups (p-value or top-k).

    Parameters
    ----------
    test : {"mannwhitney", "ttest"}, default="mannwhitney"
        Two groups: Mann-Whitney U (two-sided) or Welch's t-test; more groups:
        Kruskal-Wallis or one-way ANOVA.
    alpha : float, default=0.05
        Keep features with ``p < alpha`` (when ``k`` is None).
    k : int, default=None
        Keep the ``k`` smallest p-values instead (ties: column order).

    Attributes
    ----------
    p_values_ : ndarray of shape (n_features,)
    support_ : ndarray of bool
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 40)
    >>> X = pd.DataFrame({"signal": y + rng.normal(size=80), "noise": rng.normal(size=80)})
    >>> UnivariateFilter(k=1).fit(X, y).get_feature_names_out().tolist()
    ['signal']
    """

    _parameter_constraints: dict = {
        "test": [StrOptions({"mannwhitney", "ttest"})],
        "alpha": [Interval(Real, 0, 1, closed="right")],
        "k": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, *, test="mannwhitney", alpha=0.05, k=None):
        self.test = test
        self.alpha = alpha
        self.k = k

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Test each feature against ``y`` on the training rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
        y : array-like of shape (n_patients,)
            Class labels.

        Returns
        -------
        self
        """
        X, y = self._validate(X, y)
        self.p_values_ = _p_values(X, y, self.test)
        if self.k is not None:
            order = np.argsort(self.p_values_, kind="stable")[: self.k]
            self.support_ = np.zeros(X.shape[1], dtype=bool)
            self.support_[order] = True
        else:
            self.support_ = self.p_values_ < self.alpha
        self._check_not_empty()
        return self


class MRMRSelector(_FrameSelector):
    """Minimum-redundancy maximum-relevance selection (Peng, Long and Ding 2005).

    Greedy: the first feature has the largest relevance; each next one
    maximises relevance minus (``"difference"``, MID) or over (``"quotient"``,
    MIQ) its redundancy, the mean absolute Pearson correlation with the
    features already selected.

    Parameters
    ----------
    n_features : int, default=10
        Features to select (at most the number of columns).
    relevance : {"f", "mi"}, default="f"
        ANOVA F statistic (`sklearn.feature_selection.f_classif`) or mutual
        information (`sklearn.feature_selection.mutual_info_classif`).
    scheme : {"quotient", "difference"}, default="quotient"
        How relevance and redundancy are combined.  The quotient suits F
        statistics, whose scale differs from a correlation's ("FCQ", the best
        variant in Zhao et al. 2019).
    random_state : int, RandomState instance or None, default=None
        Seeds the mutual-information estimate.

    Attributes
    ----------
    relevance_ : ndarray of shape (n_features,)
    ranking_ : ndarray of int
        Selected column indices in selection order.
    scores_ : ndarray
        The criterion of each selected feature when it was chosen.
    support_ : ndarray of bool
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    Step ``m``: ``argmax_j rel(j) - (1/|S|) sum_{i in S} |r(i, j)|`` (MID) or
    ``rel(j) / ((1/|S|) sum_{i in S} |r(i, j)|)`` (MIQ), eqs. (6)-(7) of Peng
    H, Long F, Ding C. IEEE TPAMI 2005;27(8):1226-38, with the correlation
    redundancy of Ding and Peng, J Bioinform Comput Biol 2005;3(2):185-205.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 50)
    >>> a = y + rng.normal(size=100)
    >>> X = pd.DataFrame({"a": a, "a_twin": a + 0.05 * rng.normal(size=100),
    ...                   "b": y + rng.normal(size=100)})
    >>> MRMRSelector(n_features=2).fit(X, y).get_feature_names_out().tolist()
    ['a', 'b']
    """

    _parameter_constraints: dict = {
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "relevance": [StrOptions({"f", "mi"})],
        "scheme": [StrOptions({"quotient", "difference"})],
        "random_state": ["random_state"],
    }

    def __init__(self, *, n_features=10, relevance="f", scheme="quotient", random_state=None):
        self.n_features = n_features
        self.relevance = relevance
        self.scheme = scheme
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Select features greedily on the training rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_features)
        y : array-like of shape (n_patients,)
            Class labels.

        Returns
        -------
        self
        """
        X, y = self._validate(X, y)
        if self.relevance == "f":
            with np.errstate(divide="ignore", invalid="ignore"):
                relevance = f_classif(X, y)[0]
        else:
            relevance = mutual_info_classif(X, y, random_state=self.random_state)
        self.relevance_ = np.nan_to_num(relevance, nan=0.0)
        corr = _abs_corr(X, "pearson")
        n_select = min(self.n_features, X.shape[1])
        selected = [int(np.argmax(self.relevance_))]
        scores = [self.relevance_[selected[0]]]
        while len(selected) < n_select:
            redundancy = corr[:, selected].mean(axis=1)
            if self.scheme == "difference":
                criterion = self.relevance_ - redundancy
            else:
                with np.errstate(divide="ignore"):
                    criterion = self.relevance_ / np.maximum(redundancy, 1e-12)
            criterion[selected] = -np.inf
            best = int(np.argmax(criterion))
            selected.append(best)
            scores.append(criterion[best])
        self.ranking_ = np.asarray(selected)
        self.scores_ = np.asarray(scores)
        self.support_ = np.zeros(X.shape[1], dtype=bool)
        self.support_[self.ranking_] = True
        return self
