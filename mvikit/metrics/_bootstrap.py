"""Bootstrap confidence intervals and the paired bootstrap test of two scores.

The resampling is written here (not with :func:`scipy.stats.bootstrap`)
because a clinical bootstrap is usually *stratified*: each resample keeps the
number of events and non-events, so an AUC is defined in every resample (Carpenter
& Bithell 2000, sec. 3).  Unstratified percentile and BCa intervals agree with
:func:`scipy.stats.bootstrap` within Monte-Carlo error (tested).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from mvikit.exceptions import MetricInputError

from ..utils._align import align_by_patient
from ._checks import _check_alpha, _check_target, _index_of, _where
from ._results import BootstrapResult, BootstrapTestResult

__all__ = ["bootstrap_ci", "paired_bootstrap_test"]

_METHODS = ("percentile", "bca")


def _resample_indices(strata, n_resamples, stratified, random_state):
    """Yield ``n_resamples`` index arrays drawn with replacement.

    Stratified: within each level of ``strata`` (class sizes kept fixed).
    """
    rng = check_random_state(random_state)
    n = len(strata)
    if not stratified:
        for _ in range(n_resamples):
            yield rng.randint(0, n, size=n)
        return
    groups = [np.flatnonzero(strata == level) for level in np.unique(strata)]
    for _ in range(n_resamples):
        yield np.concatenate([g[rng.randint(0, len(g), size=len(g))] for g in groups])


def _distribution(statistic, strata, n_resamples, stratified, random_state):
    """Statistic over bootstrap resamples; ``statistic`` takes an index array."""
    idx = _resample_indices(strata, n_resamples, stratified, random_state)
    return np.array([statistic(i) for i in idx], dtype=np.float64)


def _percentile_ci(dist, alpha):
    lo, hi = np.quantile(dist, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _bca_ci(dist, estimate, statistic, n, alpha):
    """Bias-corrected and accelerated interval (Efron 1987, eqs. 2.3-2.8).

    z0 from the share of resamples below the estimate; acceleration from the
    jackknife (leave-one-patient-out) values of the statistic.
    """
    share = (np.sum(dist < estimate) + 0.5 * np.sum(dist == estimate)) / len(dist)
    z0 = stats.norm.ppf(np.clip(share, 1e-12, 1 - 1e-12))
    keep = np.ones(n, dtype=bool)
    jack = np.empty(n)
    for i in range(n):
        keep[i] = False
        jack[i] = statistic(np.flatnonzero(keep))
        keep[i] = True
    dev = jack.mean() - jack
    denom = 6.0 * np.sum(dev**2) ** 1.5
    accel = np.sum(dev**3) / denom if denom > 0 else 0.0
    z = stats.norm.ppf([alpha / 2, 1 - alpha / 2])
    levels = stats.norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))
    lo, hi = np.quantile(dist, levels)
    return float(lo), float(hi)


def _check_aligned(values, n, name, index):
    arr = np.asarray(values)
    if arr.shape[:1] != (n,):
        raise MetricInputError(
            f"{name} has {arr.shape[0] if arr.ndim else 0} rows but y_true has {n}; pass one "
            "value (or row) per patient, in the same order as y_true."
        )
    if arr.dtype.kind in "fc":
        bad = ~np.isfinite(arr).reshape(n, -1).all(axis=1)
        if bad.any():
            raise MetricInputError(
                f"{name} has NaN or infinite values at {_where(bad, index)}; a model must "
                "score every patient."
            )
    return arr


def _check_common(y_true, scores, n_resamples, method, alpha):
    if not (isinstance(n_resamples, (int, np.integer)) and n_resamples >= 2):
        raise MetricInputError(f"n_resamples must be an integer >= 2; got {n_resamples!r}.")
    if method not in _METHODS:
        raise MetricInputError(f"method must be one of {_METHODS}; got {method!r}.")
    alpha = _check_alpha(alpha)
    names = [f"scores[{i}]" for i in range(len(scores))]
    y_true, *scores = align_by_patient(y_true, *scores, names=["y_true", *names])
    index = _index_of(y_true, *scores)
    y, _ = _check_target(y_true, index=index)
    arrays = [_check_aligned(s, len(y), nm, index) for s, nm in zip(scores, names)]
    return y, arrays, alpha


def bootstrap_ci(
    metric,
    y_true,
    *scores,
    n_resamples=2000,
    method="percentile",
    stratified=True,
    random_state=None,
    alpha=0.05,
):
    """Bootstrap confidence interval of any metric of ``(y_true, *scores)``.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, *scores) -> float``, e.g. :func:`sklearn.metrics.roc_auc_score`.
    y_true : array-like of shape (n_samples,)
        Class labels (binary or multiclass).
    *scores : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores, probabilities or predictions, resampled together with
        ``y_true`` (the same patients in every resample).
    n_resamples : int, default=2000
        Number of bootstrap resamples.
    method : {"percentile", "bca"}, default="percentile"
        Percentile interval, or the bias-corrected and accelerated interval
        (Efron 1987) whose acceleration uses the leave-one-out jackknife.
    stratified : bool, default=True
        Resample within each class, keeping class sizes fixed.
    random_state : int, RandomState instance or None, default=None
        Seed of the resampling.
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    BootstrapResult
        ``estimate`` (metric on the full data), ``se`` (SD of the bootstrap
        distribution), ``ci``, ``method``, ``n_resamples``, ``alpha`` and
        ``distribution``.

    See Also
    --------
    paired_bootstrap_test : Bootstrap test of the difference of two scores.
    roc_auc_ci : DeLong CI of an AUC, without resampling.

    Notes
    -----
    Without stratification a resample may hold a single class, where an AUC
    is undefined; the metric's error is then raised unchanged.

    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> from mvikit.metrics import bootstrap_ci
    >>> rng = np.random.RandomState(0)
    >>> y = np.r_[np.zeros(40), np.ones(40)]
    >>> score = 2 * y + rng.normal(size=80)
    >>> res = bootstrap_ci(roc_auc_score, y, score, n_resamples=200, random_state=0)
    >>> round(res.estimate, 3), res.ci[0] < res.estimate < res.ci[1]
    (0.835, True)
    """
    y, arrays, alpha = _check_common(y_true, scores, n_resamples, method, alpha)

    def statistic(idx):
        return metric(y[idx], *(a[idx] for a in arrays))

    estimate = float(statistic(np.arange(len(y))))
    dist = _distribution(statistic, y, n_resamples, stratified, random_state)
    if method == "bca":
        ci = _bca_ci(dist, estimate, statistic, len(y), alpha)
    else:
        ci = _percentile_ci(dist, alpha)
    return BootstrapResult(
        estimate=estimate,
        se=float(np.std(dist, ddof=1)),
        ci=ci,
        method=method,
        n_resamples=int(n_resamples),
        alpha=alpha,
        distribution=dist,
    )


def paired_bootstrap_test(
    metric,
    y_true,
    score_a,
    score_b,
    *,
    n_resamples=2000,
    stratified=True,
    random_state=None,
    alpha=0.05,
):
    """Paired bootstrap test of ``metric(y, score_a) - metric(y, score_b)``.

    Both scores are computed on the same resampled patients, so their
    correlation is kept.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, score) -> float``.
    y_true : array-like of shape (n_samples,)
        Class labels.
    score_a, score_b : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores of the two models on the same patients.
    n_resamples : int, default=2000
        Number of bootstrap resamples.
    stratified : bool, default=True
        Resample within each class.
    random_state : int, RandomState instance or None, default=None
        Seed of the resampling.
    alpha : float, default=0.05
        One minus the confidence level of the percentile CI of the difference.

    Returns
    -------
    BootstrapTestResult
        ``estimate_a``, ``estimate_b``, ``difference``, ``se``, percentile
        ``ci``, ``p_value``, ``n_resamples``, ``alpha``, ``distribution``.

    See Also
    --------
    delong_test : The analytic test of two correlated AUCs.

    Notes
    -----
    As in pROC's ``roc.test(method = "bootstrap")``, the statistic is
    ``D = difference / sd(bootstrap differences)`` and the two-sided p-value is
    taken from the standard normal distribution.

    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> from mvikit.metrics import paired_bootstrap_test
    >>> rng = np.random.RandomState(0)
    >>> y = np.r_[np.zeros(50), np.ones(50)]
    >>> strong, weak = 2 * y + rng.normal(size=100), 0.3 * y + rng.normal(size=100)
    >>> res = paired_bootstrap_test(roc_auc_score, y, strong, weak, n_resamples=200,
    ...                             random_state=0)
    >>> res.difference > 0, res.p_value < 0.001
    (True, True)
    """
    y, (a, b), alpha = _check_common(y_true, (score_a, score_b), n_resamples, "percentile", alpha)

    def statistic(idx):
        return metric(y[idx], a[idx]) - metric(y[idx], b[idx])

    est_a, est_b = float(metric(y, a)), float(metric(y, b))
    dist = _distribution(statistic, y, n_resamples, stratified, random_state)
    se = float(np.std(dist, ddof=1))
    diff = est_a - est_b
    z = diff / se if se > 0 else (0.0 if diff == 0 else np.copysign(np.inf, diff))
    return BootstrapTestResult(
        estimate_a=est_a,
        estimate_b=est_b,
        difference=diff,
        se=se,
        ci=_percentile_ci(dist, alpha),
        p_value=float(2 * stats.norm.sf(abs(z))),
        n_resamples=int(n_resamples),
        alpha=alpha,
        distribution=dist,
    )
