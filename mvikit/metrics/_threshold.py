"""Metrics of a classifier at one threshold: confusion counts with Wilson CIs,
Youden's threshold, Cohen's kappa and McNemar's test of two classifiers.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn.metrics import confusion_matrix, roc_curve
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.proportion import proportion_confint

from mvikit.exceptions import DataWarning, MetricInputError

from ..utils._align import align_by_patient
from ._checks import (
    _as_1d,
    _check_alpha,
    _check_binary_inputs,
    _check_binary_target,
    _check_scores,
    _check_target,
    _index_of,
    _where,
)
from ._results import KappaResult, McNemarResult, ThresholdMetricsResult, YoudenResult

__all__ = ["threshold_metrics", "youden_threshold", "kappa", "mcnemar_test"]


def _as_binary_prediction(pred, classes, n, name, index):
    """Predicted labels as 0/1: labels of ``y_true`` (``classes[1]`` positive), bools or 0/1."""
    arr = _as_1d(pred, name)
    if len(arr) != n:
        raise MetricInputError(
            f"{name} has {len(arr)} values but y_true has {n}; pass one prediction per patient."
        )
    if arr.dtype == bool:
        return arr.astype(np.int64)
    in_classes = np.isin(arr, classes)
    if in_classes.all():
        return (arr == classes[1]).astype(np.int64)
    if np.isin(arr, [0, 1]).all():
        return arr.astype(np.int64)
    bad = ~in_classes
    raise MetricInputError(
        f"{name} must hold predicted labels ({list(classes)}) or 0/1, but {_where(bad, index)} "
        f"hold other values (e.g. {arr[bad][0]!r}). Threshold scores first, e.g. "
        "score >= youden_threshold(y, score).threshold."
    )


def _wilson(count, nobs, alpha):
    if nobs == 0:
        return float("nan"), (float("nan"), float("nan"))
    lo, hi = proportion_confint(count, nobs, alpha=alpha, method="wilson")
    return count / nobs, (float(lo), float(hi))


def threshold_metrics(y_true, y_score_or_pred, threshold=0.5, alpha=0.05):
    """Sensitivity, specificity, PPV, NPV, accuracy and F1 with Wilson CIs.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (the larger sorted label is the event).
    y_score_or_pred : array-like of shape (n_samples,)
        Scores, called positive when ``score >= threshold``; or predicted
        labels (labels of ``y_true``, booleans, or 0/1 with ``threshold=None``).
    threshold : float or None, default=0.5
        Decision threshold on the scores; ``None`` for predicted labels.
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    ThresholdMetricsResult
        ``tp``, ``fp``, ``tn``, ``fn``, each metric, ``ci`` (metric -> (lower,
        upper)) and ``to_frame()``. A metric whose denominator is zero (e.g.
        PPV with no predicted positive) is NaN.

    See Also
    --------
    youden_threshold : A data-driven threshold.
    mcnemar_test : Compare two classifiers' sensitivity or specificity.

    Notes
    -----
    Proportions get the Wilson score interval (Wilson 1927; Newcombe 1998,
    method 3). F1 is not a binomial proportion; it is a monotone function of
    the Jaccard index J = TP / (TP + FP + FN), F1 = 2J / (1 + J), and given
    TP + FP + FN, TP is binomial with probability J under multinomial
    sampling. The F1 interval is therefore the Wilson interval of J mapped
    through 2J / (1 + J).

    Examples
    --------
    >>> from mvikit.metrics import threshold_metrics
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> score = [0.1, 0.3, 0.35, 0.6, 0.4, 0.7, 0.8, 0.9]
    >>> res = threshold_metrics(y, score, threshold=0.5)
    >>> res.sensitivity, res.specificity, res.f1
    (0.75, 0.75, 0.75)
    >>> [round(v, 3) for v in res.ci["sensitivity"]]
    [0.301, 0.954]
    """
    alpha = _check_alpha(alpha)
    y_true, y_score_or_pred = align_by_patient(y_true, y_score_or_pred,
                                               names=["y_true", "y_score_or_pred"])
    index = _index_of(y_true, y_score_or_pred)
    y, classes = _check_binary_target(y_true, index=index)
    raw = _as_1d(y_score_or_pred, "y_score_or_pred")
    if threshold is None or raw.dtype.kind not in "iuf":
        pred = _as_binary_prediction(raw, classes, len(y), "y_score_or_pred", index)
        threshold = None
    else:
        score = _check_scores(raw, len(y), "y_score_or_pred", index)
        pred = (score >= threshold).astype(np.int64)
    tp = int(np.sum((pred == 1) & (y == 1)))
    fp = int(np.sum((pred == 1) & (y == 0)))
    tn = int(np.sum((pred == 0) & (y == 0)))
    fn = int(np.sum((pred == 0) & (y == 1)))
    values, ci = {}, {}
    for name, count, nobs in [
        ("sensitivity", tp, tp + fn),
        ("specificity", tn, tn + fp),
        ("ppv", tp, tp + fp),
        ("npv", tn, tn + fn),
        ("accuracy", tp + tn, len(y)),
    ]:
        values[name], ci[name] = _wilson(count, nobs, alpha)
    undefined = [name for name, nobs in (("sensitivity", tp + fn), ("specificity", tn + fp),
                                         ("ppv", tp + fp), ("npv", tn + fn)) if nobs == 0]
    if undefined:
        warnings.warn(
            f"threshold_metrics: {', '.join(undefined)} undefined (NaN): no patient is "
            f"{'predicted positive' if 'ppv' in undefined else 'predicted negative'} at "
            f"threshold {threshold!r}.", DataWarning, stacklevel=2)
    jaccard, (j_lo, j_hi) = _wilson(tp, tp + fp + fn, alpha)
    values["f1"] = 2 * jaccard / (1 + jaccard)
    ci["f1"] = (2 * j_lo / (1 + j_lo), 2 * j_hi / (1 + j_hi))
    return ThresholdMetricsResult(
        threshold=threshold, tp=tp, fp=fp, tn=tn, fn=fn, ci=ci, alpha=alpha, **values
    )


def youden_threshold(y_true, y_score):
    """Threshold maximising Youden's J = sensitivity + specificity - 1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_score : array-like of shape (n_samples,)
        Scores or probabilities; positive means ``score >= threshold``.

    Returns
    -------
    YoudenResult
        ``threshold``, ``sensitivity``, ``specificity`` and ``j`` at the
        optimum. Among equally good thresholds the highest one is returned.

    See Also
    --------
    threshold_metrics : Metrics with CIs at the chosen threshold.

    Notes
    -----
    Youden (1950). MTnet split its risk groups at the Youden threshold (0.157);
    a threshold chosen on the same data it is evaluated on is optimistic, so
    choose it on training folds and report the metrics on held-out patients.

    Examples
    --------
    >>> from mvikit.metrics import youden_threshold
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> score = [0.1, 0.3, 0.35, 0.6, 0.4, 0.7, 0.8, 0.9]
    >>> youden_threshold(y, score)
    YoudenResult(threshold=0.7, sensitivity=0.75, specificity=1, j=0.75)
    """
    y, (score,), _, _ = _check_binary_inputs(y_true, y_score)
    fpr, tpr, thresholds = roc_curve(y, score, drop_intermediate=False)
    # roc_curve's first threshold (inf: nobody positive) is no cut-off a paper can report
    j = np.where(np.isfinite(thresholds), tpr - fpr, -np.inf)
    best = int(np.argmax(j))
    if np.ptp(score) == 0:
        warnings.warn(
            f"youden_threshold: y_score is constant ({score[0]:.6g} for all {len(score)} "
            "patients), so no threshold separates the classes (J = 0); the threshold returned "
            "is that value (every patient positive). Check the model's predictions.",
            DataWarning, stacklevel=2)
    return YoudenResult(
        threshold=float(thresholds[best]),
        sensitivity=float(tpr[best]),
        specificity=float(1 - fpr[best]),
        j=float(j[best]),
    )


def kappa(y1, y2, *, weights=None, labels=None, alpha=0.05):
    """Cohen's kappa (optionally linear- or quadratic-weighted) with SE and CI.

    Parameters
    ----------
    y1, y2 : array-like of shape (n_samples,)
        Two ratings of the same patients (e.g. true and predicted grade).
    weights : {None, "linear", "quadratic"}, default=None
        Disagreement weights for ordered categories (e.g. MVI grades
        M0 < M1 < M2).
    labels : array-like, default=None
        Categories in their order; defaults to the sorted union of both ratings.
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    KappaResult
        ``kappa``, its large-sample ``se``, Wald ``ci`` (clipped to [-1, 1]), ``statistic`` (z under
        no agreement beyond chance) and ``p_value``.

    See Also
    --------
    sklearn.metrics.cohen_kappa_score : The point estimate (equal).

    Notes
    -----
    Variances of Fleiss, Cohen & Everitt (1969): the unrestricted variance for
    the CI and the null variance for the test; computed with
    :func:`statsmodels.stats.inter_rater.cohens_kappa`.

    Examples
    --------
    >>> from mvikit.metrics import kappa
    >>> truth = [0, 0, 1, 1, 2, 2, 2, 1, 0, 2]
    >>> pred = [0, 1, 1, 1, 2, 1, 2, 1, 0, 2]
    >>> round(kappa(truth, pred).kappa, 4), round(kappa(truth, pred, weights="quadratic").kappa, 4)
    (0.7015, 0.8305)
    """
    alpha = _check_alpha(alpha)
    if weights not in (None, "linear", "quadratic"):
        raise MetricInputError(f"weights must be None, 'linear' or 'quadratic'; got {weights!r}.")
    y1, y2 = align_by_patient(y1, y2, names=["y1", "y2"])
    index = _index_of(y1, y2)
    a, _ = _check_target(y1, "y1", index)
    b = _as_1d(y2, "y2")
    if len(b) != len(a):
        raise MetricInputError(
            f"y2 has {len(b)} values but y1 has {len(a)}; rate the same patients.")
    labels = np.unique(np.concatenate([a, b])) if labels is None else np.asarray(labels)
    table = confusion_matrix(a, b, labels=labels)
    if table.sum() != len(a):
        raise MetricInputError(f"some ratings are not among labels={list(labels)}.")
    res = cohens_kappa(table, wt=weights,
                       weights=None if weights is None else np.arange(len(labels)))
    se = float(np.sqrt(res.var_kappa))
    z_half = stats.norm.ppf(1 - alpha / 2) * se
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(res.kappa / np.sqrt(res.var_kappa0))
    if not np.isfinite(statistic):
        constant = "y1" if len(np.unique(a)) == 1 else "y2" if len(np.unique(b)) == 1 else None
        warnings.warn(
            "kappa: the test of no agreement beyond chance is undefined (null variance 0)"
            + (f": {constant} uses a single category" if constant else "")
            + "; statistic and p_value are NaN.", DataWarning, stacklevel=2)
    return KappaResult(
        kappa=float(res.kappa),
        se=se,
        ci=(float(max(-1.0, res.kappa - z_half)), float(min(1.0, res.kappa + z_half))),
        statistic=statistic,
        p_value=float(2 * stats.norm.sf(abs(statistic))),
        weights=weights,
        alpha=alpha,
    )


def mcnemar_test(y_true, pred_a, pred_b, *, exact=True, correction=True, subset="all"):
    """McNemar's test of two classifiers' correctness on the same patients.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    pred_a, pred_b : array-like of shape (n_samples,)
        Predicted labels (labels of ``y_true``, booleans or 0/1).
    exact : bool, default=True
        Exact binomial test on the discordant pairs; ``False`` for the
        chi-square statistic.
    correction : bool, default=True
        Continuity correction of the chi-square statistic (``exact=False``).
    subset : {"all", "positives", "negatives"}, default="all"
        Patients compared: all (accuracy), events only (sensitivity, as in
        CDLM) or non-events only (specificity).

    Returns
    -------
    McNemarResult
        ``statistic``, ``p_value``, the 2x2 ``table`` (rows: A correct /
        wrong; columns: B correct / wrong), ``exact``, ``correction``,
        ``subset``.

    Notes
    -----
    McNemar (1947); computed with
    :func:`statsmodels.stats.contingency_tables.mcnemar`. With ``exact=True``
    the statistic is the smaller discordant count.

    Examples
    --------
    >>> from mvikit.metrics import mcnemar_test
    >>> y = [1] * 10 + [0] * 10
    >>> a = [1] * 9 + [0] + [0] * 10
    >>> b = [1] * 3 + [0] * 7 + [0] * 10
    >>> res = mcnemar_test(y, a, b, subset="positives")
    >>> res.table.tolist(), round(res.p_value, 4)
    ([[3, 6], [0, 1]], 0.0312)
    """
    if subset not in ("all", "positives", "negatives"):
        raise MetricInputError(f"subset must be 'all', 'positives' or 'negatives'; got {subset!r}.")
    y_true, pred_a, pred_b = align_by_patient(y_true, pred_a, pred_b,
                                              names=["y_true", "pred_a", "pred_b"])
    index = _index_of(y_true, pred_a, pred_b)
    y, classes = _check_binary_target(y_true, index=index)
    a = _as_binary_prediction(pred_a, classes, len(y), "pred_a", index)
    b = _as_binary_prediction(pred_b, classes, len(y), "pred_b", index)
    keep = {"all": np.ones(len(y), bool), "positives": y == 1, "negatives": y == 0}[subset]
    ok_a, ok_b = (a == y)[keep], (b == y)[keep]
    table = np.array(
        [[np.sum(ok_a & ok_b), np.sum(ok_a & ~ok_b)], [np.sum(~ok_a & ok_b), np.sum(~ok_a & ~ok_b)]]
    )
    res = mcnemar(table, exact=exact, correction=correction)
    return McNemarResult(
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        table=table,
        exact=exact,
        correction=correction,
        subset=subset,
    )
