"""AUC, DeLong variance / covariance and the DeLong test.

The variance of an AUC and the covariance of correlated AUCs follow DeLong,
DeLong & Clarke-Pearson (1988), computed with the fast algorithm of Sun & Xu
(2014, IEEE Signal Process. Lett. 21:1389): three mid-rank transforms, so
O(n log n) time and O(n) memory -- no n_pos x n_neg structural-component
matrix.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from mvikit.exceptions import MetricInputError

from ..utils._align import align_by_patient
from ._bootstrap import _distribution, _percentile_ci
from ._checks import (
    _check_alpha,
    _check_binary_inputs,
    _check_class_scores,
)
from ._results import AUCCovarianceResult, AUCResult, DeLongTestResult

__all__ = ["roc_auc_ci", "delong_test", "delong_covariance"]


def _fast_delong(y01, scores):
    """AUCs and DeLong covariance of the rows of ``scores`` (k, n) for labels ``y01``.

    Sun & Xu (2014), Algorithm 1: with mid-ranks Tz (pooled), Tx (positives)
    and Ty (negatives),
    AUC = (sum Tz[pos] - m(m+1)/2) / (m n)                    (their eq. 6),
    V10 = (Tz[pos] - Tx) / n,   V01 = 1 - (Tz[neg] - Ty) / m  (eqs. 11-12),
    S = cov(V10) / m + cov(V01) / n                           (DeLong eq. 5).
    ``cov`` uses the n - 1 denominator, as pROC does.
    """
    pos = y01 == 1
    m, n = int(pos.sum()), int((~pos).sum())
    if m < 2 or n < 2:
        raise MetricInputError(
            f"DeLong's variance needs at least 2 events and 2 non-events; got {m} and {n}. "
            "Use more patients or an exact/bootstrap interval."
        )
    tz = stats.rankdata(scores, axis=1)
    tx = stats.rankdata(scores[:, pos], axis=1)
    ty = stats.rankdata(scores[:, ~pos], axis=1)
    tz_pos, tz_neg = tz[:, pos], tz[:, ~pos]
    aucs = (tz_pos.sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz_pos - tx) / n
    v01 = 1.0 - (tz_neg - ty) / m
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def _auc(y01, score):
    """Mann-Whitney AUC (ties count one half) from mid-ranks, O(n log n)."""
    pos = y01 == 1
    m = int(pos.sum())
    n = len(y01) - m
    ranks = stats.rankdata(score)
    return float((ranks[pos].sum() - m * (m + 1) / 2.0) / (m * n))


def _wald_ci(estimate, se, alpha, transform=None):
    """Normal interval on the AUC scale (clipped to [0, 1]) or on the logit scale."""
    z = stats.norm.ppf(1 - alpha / 2)
    if transform == "logit":
        if not 0 < estimate < 1:
            return float(estimate), float(estimate)
        # delta method: se(logit AUC) = se / (AUC (1 - AUC))
        centre = np.log(estimate / (1 - estimate))
        half = z * se / (estimate * (1 - estimate))
        lo, hi = 1 / (1 + np.exp(-(centre - half))), 1 / (1 + np.exp(-(centre + half)))
        return float(lo), float(hi)
    return float(max(0.0, estimate - z * se)), float(min(1.0, estimate + z * se))


def _multiclass_auc(y, score, labels, multi_class):
    """Macro one-vs-rest or one-vs-one (Hand & Till 2001, eq. 7) AUC."""
    if multi_class == "ovr":
        return float(np.mean([_auc((y == c).astype(int), score[:, k])
                              for k, c in enumerate(labels)]))
    pair_aucs = []
    for i, j in combinations(range(len(labels)), 2):
        keep = (y == labels[i]) | (y == labels[j])
        yi = (y[keep] == labels[i]).astype(int)
        # A(i|j) ranks class i by its own column, A(j|i) class j by its column.
        a_ij = _auc(yi, score[keep, i])
        a_ji = _auc(1 - yi, score[keep, j])
        pair_aucs.append((a_ij + a_ji) / 2.0)
    return float(np.mean(pair_aucs))


def _check_options(method, transform, multi_class):
    if method not in (None, "delong", "bootstrap"):
        raise MetricInputError(f"method must be None, 'delong' or 'bootstrap'; got {method!r}.")
    if transform not in (None, "logit"):
        raise MetricInputError(f"transform must be None or 'logit'; got {transform!r}.")
    if multi_class not in (None, "ovr", "ovo"):
        raise MetricInputError(f"multi_class must be None, 'ovr' or 'ovo'; got {multi_class!r}.")
    if multi_class is not None and method == "delong":
        raise MetricInputError(
            "DeLong's variance is defined for a binary AUC; for multi_class="
            f"{multi_class!r} use method='bootstrap' (or leave method=None)."
        )


def _roc_auc_multiclass(y_true, y_score, alpha, multi_class, labels, n_resamples, random_state):
    y, score, labels = _check_class_scores(y_true, y_score, labels)

    def statistic(idx):
        return _multiclass_auc(y[idx], score[idx], labels, multi_class)

    auc = statistic(np.arange(len(y)))
    dist = _distribution(statistic, y, n_resamples, True, random_state)
    var = float(np.var(dist, ddof=1))
    return AUCResult(
        auc=auc,
        variance=var,
        se=float(np.sqrt(var)),
        ci=_percentile_ci(dist, alpha),
        method="bootstrap",
        n_pos=None,
        n_neg=None,
        alpha=alpha,
        multi_class=multi_class,
    )


def roc_auc_ci(
    y_true,
    y_score,
    *,
    alpha=0.05,
    method=None,
    transform=None,
    multi_class=None,
    labels=None,
    n_resamples=2000,
    random_state=None,
):
    """Area under the ROC curve with its variance and confidence interval.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (the larger of the two sorted labels is the event,
        e.g. ``"Poor"`` over ``"Good"``, 1 over 0), or class labels when
        ``multi_class`` is given.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores (higher = more likely the event); one column per class for
        ``multi_class``.
    alpha : float, default=0.05
        One minus the confidence level.
    method : {None, "delong", "bootstrap"}, default=None
        ``None`` means DeLong for a binary AUC and the stratified bootstrap
        for a multiclass AUC (the only option there).
    transform : {None, "logit"}, default=None
        ``None``: Wald interval on the AUC scale, clipped to [0, 1] (pROC's
        ``ci.auc``); ``"logit"``: interval on the logit scale mapped back,
        which stays inside (0, 1). Used with ``method="delong"``.
    multi_class : {None, "ovr", "ovo"}, default=None
        Macro one-vs-rest, or macro one-vs-one (Hand & Till 2001; the AUC MD-Net
        reports). Equal to :func:`sklearn.metrics.roc_auc_score` with
        ``average="macro"``.
    labels : array-like, default=None
        Class labels in the column order of ``y_score`` (multiclass only);
        defaults to the sorted labels of ``y_true``.
    n_resamples : int, default=2000
        Bootstrap resamples (``method="bootstrap"`` and multiclass).
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstrap.

    Returns
    -------
    AUCResult
        ``auc``, ``variance``, ``se``, ``ci``, ``method``, ``n_pos``, ``n_neg``
        (``None`` for multiclass), ``alpha``, ``multi_class``.

    See Also
    --------
    delong_test : Compare two AUCs.
    delong_covariance : Covariance matrix of k correlated AUCs.

    Notes
    -----
    DeLong variance with the algorithm of Sun & Xu (2014); for a binary
    outcome it equals pROC's ``var(roc, method = "delong")`` and the CI its
    ``ci.auc``. For multiclass AUCs the variance is that of a stratified
    bootstrap distribution and the CI is its percentile interval.

    Examples
    --------
    >>> from mvikit.metrics import roc_auc_ci
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> score = [0.1, 0.3, 0.35, 0.6, 0.4, 0.7, 0.8, 0.9]
    >>> res = roc_auc_ci(y, score)
    >>> res
    AUCResult(auc=0.9375, variance=0.007812, se=0.08839, ci=(0.7643, 1), method='delong',
              n_pos=4, n_neg=4, alpha=0.05, multi_class=None)
    """
    alpha = _check_alpha(alpha)
    _check_options(method, transform, multi_class)
    if multi_class is not None:
        return _roc_auc_multiclass(
            y_true, y_score, alpha, multi_class, labels, n_resamples, random_state
        )
    y, (score,), _, _ = _check_binary_inputs(y_true, y_score)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if method == "bootstrap":
        auc = _auc(y, score)
        dist = _distribution(lambda i: _auc(y[i], score[i]), y, n_resamples, True, random_state)
        var, ci = float(np.var(dist, ddof=1)), _percentile_ci(dist, alpha)
    else:
        aucs, cov = _fast_delong(y, score[None, :])
        auc, var = float(aucs[0]), float(cov[0, 0])
        ci = _wald_ci(auc, np.sqrt(var), alpha, transform)
    return AUCResult(
        auc=auc,
        variance=var,
        se=float(np.sqrt(var)),
        ci=ci,
        method="bootstrap" if method == "bootstrap" else "delong",
        n_pos=n_pos,
        n_neg=n_neg,
        alpha=alpha,
    )


def delong_covariance(y_true, y_scores):
    """AUCs of k scores on the same patients and their DeLong covariance matrix.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_scores : array-like of shape (n_samples, n_scores) or DataFrame
        One column per score (a DataFrame's column names label the result).

    Returns
    -------
    AUCCovarianceResult
        ``auc`` (k,), ``covariance`` (k, k) and ``names``; ``to_frame()``
        labels the matrix.

    See Also
    --------
    delong_test : Test of the difference of two AUCs built on this matrix.

    Notes
    -----
    DeLong et al. (1988), eq. 5, computed as in Sun & Xu (2014); equal to
    pROC's ``cov(roc1, roc2, method = "delong")`` for each pair.

    Examples
    --------
    >>> import pandas as pd
    >>> from mvikit.metrics import delong_covariance
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> scores = pd.DataFrame({"a": [1, 2, 4, 3, 5, 6], "b": [2, 1, 3, 6, 4, 5]})
    >>> res = delong_covariance(y, scores)
    >>> res.auc
    array([0.8889, 1.    ])
    """
    y_true, y_scores = align_by_patient(y_true, y_scores, names=["y_true", "y_scores"])
    names = tuple(y_scores.columns) if isinstance(y_scores, pd.DataFrame) else None
    matrix = np.asarray(y_scores, dtype=np.float64)
    if matrix.ndim != 2:
        raise MetricInputError(
            f"y_scores must be two-dimensional (n_patients, n_scores); got shape {matrix.shape}."
        )
    names = names or tuple(f"score_{i}" for i in range(matrix.shape[1]))
    columns = [matrix[:, k] for k in range(matrix.shape[1])]
    y, checked, _, _ = _check_binary_inputs(y_true, *columns, names=[str(n) for n in names])
    aucs, cov = _fast_delong(y, np.vstack(checked))
    return AUCCovarianceResult(auc=aucs, covariance=cov, names=names)


def _z_test(difference, variance, alpha):
    se = float(np.sqrt(max(variance, 0.0)))
    if se > 0:
        z = difference / se
    else:
        z = 0.0 if difference == 0 else float(np.copysign(np.inf, difference))
    half = stats.norm.ppf(1 - alpha / 2) * se
    return se, float(z), float(2 * stats.norm.sf(abs(z))), (difference - half, difference + half)


def _welch_t_test(difference, variances, sizes, alpha):
    """pROC's unpaired DeLong test: Student t with Welch-Satterthwaite df.

    ``t = (AUC_A - AUC_B) / sqrt(V_A + V_B)``, ``df = (V_A + V_B)^2 / (V_A^2 / (N_A - 1) +
    V_B^2 / (N_B - 1))`` with ``N`` the patients of each ROC curve (pROC's
    ``delong.unpaired.test``); the CI of the difference uses the same t quantile.
    """
    var_a, var_b = variances
    variance = var_a + var_b
    se = float(np.sqrt(variance))
    df = float(variance ** 2 / (var_a ** 2 / (sizes[0] - 1) + var_b ** 2 / (sizes[1] - 1)))
    t = difference / se
    half = stats.t.ppf(1 - alpha / 2, df) * se
    return se, float(t), float(2 * stats.t.sf(abs(t), df)), (difference - half,
                                                             difference + half), df


def delong_test(y_true, y_score_a, y_score_b=None, *, paired=True, alpha=0.05, y_true_b=None,
                distribution="normal"):
    """DeLong test of the difference of two AUCs (paired or unpaired).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome of the patients scored by ``y_score_a``.
    y_score_a : array-like of shape (n_samples,)
        Scores of model A.
    y_score_b : array-like, default=None
        Scores of model B: on the same patients (paired) or on another
        cohort with outcome ``y_true_b`` (unpaired). ``None`` tests the AUC of
        A against 0.5.
    paired : bool, default=True
        Use the DeLong covariance of the two AUCs (same patients). ``False``
        treats the AUCs as independent.
    alpha : float, default=0.05
        One minus the confidence level of the CI of the difference.
    y_true_b : array-like, default=None
        Outcome of an independent cohort scored by ``y_score_b``; implies
        ``paired=False``.
    distribution : {"normal", "t"}, default="normal"
        Reference distribution of the unpaired test. ``"normal"``: the z-test of
        DeLong et al. ``"t"``: R's convention, pROC's ``roc.test(roc_a, roc_b,
        method = "delong", paired = FALSE)``: Student's t with Welch-Satterthwaite
        degrees of freedom (reported in ``df``). The paired test is a z-test in
        pROC too, so ``"t"`` needs ``paired=False``.

    Returns
    -------
    DeLongTestResult
        ``auc_a``, ``auc_b``, ``difference`` (A - B), ``variance`` and ``se``
        of the difference, ``statistic`` (z, or t), two-sided ``p_value``,
        ``ci`` of the difference, ``paired``, ``alpha``, ``df`` (``None`` for
        the z-test).

    See Also
    --------
    roc_auc_ci, delong_covariance, paired_bootstrap_test

    Notes
    -----
    z = (AUC_A - AUC_B) / sqrt(V_A + V_B - 2 C_AB) (DeLong et al. 1988,
    eq. 6); C_AB = 0 when unpaired. Equal to pROC's
    ``roc.test(roc_a, roc_b, method = "delong", paired = TRUE)``; unpaired,
    ``distribution="t"`` equals pROC's ``paired = FALSE`` test (statistic
    ``D``, ``df`` and p-value), where ``df = (V_A + V_B)^2 / (V_A^2 / (N_A - 1)
    + V_B^2 / (N_B - 1))`` and N counts the patients behind each AUC.

    Examples
    --------
    >>> from mvikit.metrics import delong_test
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> a = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    >>> b = [0.5, 0.2, 0.3, 0.7, 0.4, 0.6, 0.1, 0.8]
    >>> res = delong_test(y, a, b)
    >>> res.auc_a, res.auc_b, round(res.p_value, 3)
    (1.0, 0.5625, 0.074)
    """
    alpha = _check_alpha(alpha)
    if distribution not in ("normal", "t"):
        raise MetricInputError(f"distribution must be 'normal' or 't'; got {distribution!r}.")
    if distribution == "t" and (paired or y_score_b is None):
        raise MetricInputError(
            "distribution='t' is pROC's unpaired test (Welch-Satterthwaite df); pass "
            "paired=False with two scores. Paired DeLong tests are z-tests, in pROC too."
        )
    if y_true_b is not None and paired:
        raise MetricInputError(
            "y_true_b describes an independent cohort, so the test cannot be paired; "
            "pass paired=False (or drop y_true_b if both scores are on the same patients)."
        )
    if y_score_b is None:
        y, (a,), _, _ = _check_binary_inputs(y_true, y_score_a, names=["y_score_a"])
        aucs, cov = _fast_delong(y, a[None, :])
        auc_a, auc_b, var = float(aucs[0]), 0.5, float(cov[0, 0])
    elif paired:
        y, (a, b), _, _ = _check_binary_inputs(
            y_true, y_score_a, y_score_b, names=["y_score_a", "y_score_b"]
        )
        aucs, cov = _fast_delong(y, np.vstack([a, b]))
        auc_a, auc_b = float(aucs[0]), float(aucs[1])
        var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    else:
        ya, (a,), _, _ = _check_binary_inputs(y_true, y_score_a, names=["y_score_a"])
        yb_raw = y_true if y_true_b is None else y_true_b
        yb, (b,), _, _ = _check_binary_inputs(yb_raw, y_score_b, names=["y_score_b"])
        auc_va, cov_a = _fast_delong(ya, a[None, :])
        auc_vb, cov_b = _fast_delong(yb, b[None, :])
        auc_a, auc_b = float(auc_va[0]), float(auc_vb[0])
        var = float(cov_a[0, 0] + cov_b[0, 0])
    diff = auc_a - auc_b
    df = None
    if distribution == "t":
        se, z, p, ci, df = _welch_t_test(diff, (float(cov_a[0, 0]), float(cov_b[0, 0])),
                                         (len(ya), len(yb)), alpha)
    else:
        se, z, p, ci = _z_test(diff, var, alpha)
    return DeLongTestResult(
        auc_a=auc_a,
        auc_b=auc_b,
        difference=diff,
        variance=var,
        se=se,
        statistic=z,
        p_value=p,
        ci=ci,
        paired=bool(paired and y_score_b is not None),
        alpha=alpha,
        df=df,
    )
