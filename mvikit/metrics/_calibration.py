"""Calibration of predicted probabilities: curves, recalibration intercept and
slope, Brier score, Hosmer-Lemeshow and Spiegelhalter tests.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.nonparametric.smoothers_lowess import lowess
from statsmodels.stats.proportion import proportion_confint

from mvikit.exceptions import DataWarning, MetricInputError

from ._checks import _check_alpha, _check_binary_inputs
from ._results import CalibrationCurveResult, CalibrationStatsResult, HosmerLemeshowResult

__all__ = ["calibration_curve", "calibration_stats", "hosmer_lemeshow"]

logger = logging.getLogger(__name__)

# Probabilities of exactly 0 or 1 have an infinite logit; they are clipped to
# [_EPS, 1 - _EPS] for the recalibration models only (as sklearn's log_loss does).
_EPS = 1e-12


_SEPARATED = (
    "The logistic recalibration of y_true on logit(y_prob) has no maximum-likelihood "
    "solution: y_prob separates the outcomes perfectly (or there are too few patients), so "
    "the calibration intercept and slope are infinite. Report discrimination only, or "
    "evaluate on more patients."
)


def _logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _loglik(eta, y):
    """Bernoulli log-likelihood of linear predictors ``eta`` (overflow-safe)."""
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def _fit_logistic(X, y, offset, max_iter=100, tol=1e-10):
    """Newton-Raphson maximum likelihood of ``logit P(y=1) = X @ beta + offset``.

    Returns the coefficients and their covariance (inverse Fisher information).
    Written here because it runs inside every bootstrap replicate of
    :func:`optimism_corrected`; it equals statsmodels' ``Logit`` (tested).
    """
    beta = np.zeros(X.shape[1])
    loglik = _loglik(X @ beta + offset, y)
    for _ in range(max_iter):
        mu = _expit(X @ beta + offset)
        info = X.T @ (X * (mu * (1 - mu))[:, None])
        step = np.linalg.lstsq(info, X.T @ (y - mu), rcond=None)[0]
        # step halving when the log-likelihood does not improve (as R's glm.fit): a full
        # Newton step from 0 overshoots when the predictions are nearly separating
        for _halving in range(30):
            new = _loglik(X @ (beta + step) + offset, y)
            if np.isfinite(new) and new >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2
        beta, loglik = beta + step, new
        if np.max(np.abs(step)) < tol:
            break
    else:
        logger.warning("logistic recalibration did not converge in %d iterations", max_iter)
    mu = _expit(X @ beta + offset)
    try:
        cov = np.linalg.inv(X.T @ (X * (mu * (1 - mu))[:, None]))
    except np.linalg.LinAlgError:
        raise MetricInputError(_SEPARATED) from None
    return beta, cov


def _calibration_in_the_large(y, p):
    """Intercept a of logit P(y=1) = a + logit(p) (offset; slope fixed at 1)."""
    beta, cov = _fit_logistic(np.ones((len(y), 1)), y, _logit(p))
    return float(beta[0]), float(np.sqrt(cov[0, 0]))


def _recalibration(y, p):
    """Intercept and slope of logit P(y=1) = a + b logit(p) (Cox 1958).

    When the predictions separate the outcomes, the maximum-likelihood slope is
    infinite: a `DataWarning` says so and the slope is ``+-inf``, the intercept and
    both standard errors NaN (R's ``glm`` warns "fitted probabilities numerically 0
    or 1" and prints huge, meaningless numbers instead); this reaches bootstrap
    replicates (`optimism_corrected`), while `calibration_stats` refuses such
    predictions up front.
    """
    lp = _logit(p)
    if np.ptp(lp) == 0:
        raise MetricInputError(
            f"y_prob is constant ({p[0]:.6g} for every patient): the calibration slope is "
            "undefined. Check the model's predictions.")
    events, others = lp[y == 1], lp[y == 0]
    if events.size and others.size and (others.max() <= events.min()
                                        or events.max() <= others.min()):
        sign = 1.0 if others.max() <= events.min() else -1.0
        warnings.warn(
            f"The predictions separate the outcomes perfectly ({events.size} events, "
            f"{others.size} non-events): the calibration slope is {sign * np.inf} (not "
            "identified); reported with NaN intercept and standard errors.", DataWarning,
            stacklevel=3)
        return np.array([np.nan, sign * np.inf]), np.array([np.nan, np.nan])
    beta, cov = _fit_logistic(np.column_stack([np.ones_like(lp), lp]), y, np.zeros_like(lp))
    return beta, np.sqrt(np.diag(cov))


def _spiegelhalter(y, p):
    """Spiegelhalter (1986) z: sum (y - p)(1 - 2p) / sqrt(sum (1 - 2p)^2 p (1 - p))."""
    num = np.sum((y - p) * (1 - 2 * p))
    den = np.sqrt(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    z = float(num / den) if den > 0 else float("nan")
    return z, float(2 * stats.norm.sf(abs(z)))


def _stata_groups(p, n_groups):
    """Group ids by Stata's ``_pctile`` cut-points (``estat gof, group()``).

    Cut-point k is the (100 k / G)-th percentile: with P = n k / G, the mean of
    the P-th and (P+1)-th sorted values when P is an integer, else the
    ceil(P)-th value. A patient joins the first group whose cut-point it does
    not exceed.
    """
    x = np.sort(p)
    n = len(x)
    cuts = []
    for k in range(1, n_groups):
        pos = n * k / n_groups
        whole = int(np.floor(pos))
        cuts.append((x[whole - 1] + x[whole]) / 2 if pos == whole else x[whole])
    return np.searchsorted(np.asarray(cuts), p, side="left")


def hosmer_lemeshow(y_true, y_prob, n_groups=10, grouping="stata"):
    """Hosmer-Lemeshow goodness-of-fit test over groups of predicted risk.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities of the event.
    n_groups : int, default=10
        Number of risk groups requested.
    grouping : {"stata", "quantile"}, default="stata"
        ``"stata"``: the cut-points of Stata's ``estat gof, group()``
        (``_pctile``); ``"quantile"``: :func:`pandas.qcut` bins. Tied
        cut-points leave groups empty; empty groups are dropped.

    Returns
    -------
    HosmerLemeshowResult
        ``statistic``, ``df`` (non-empty groups - 2), ``p_value``, ``grouping``
        and ``table`` (per group: n, observed, expected events, mean risk).

    Notes
    -----
    Hosmer & Lemeshow (1980): C = sum_g (O_g - E_g)^2 / (E_g (1 - E_g / n_g)),
    chi-square with G - 2 df. The statistic depends on the grouping rule: on
    statsmodels' spector data, Stata's rule gives 1.6309 (5 groups) and plain
    quantile bins 1.21.

    Examples
    --------
    >>> from mvikit.metrics import hosmer_lemeshow
    >>> rng = np.random.RandomState(0)
    >>> p = rng.uniform(0.05, 0.95, 200)
    >>> y = rng.binomial(1, p)
    >>> res = hosmer_lemeshow(y, p)
    >>> res.df, res.p_value > 0.05
    (8, True)
    """
    if grouping not in ("stata", "quantile"):
        raise MetricInputError(f"grouping must be 'stata' or 'quantile'; got {grouping!r}.")
    if not (isinstance(n_groups, (int, np.integer)) and n_groups >= 3):
        raise MetricInputError(f"n_groups must be an integer >= 3; got {n_groups!r}.")
    y, (p,), _, _ = _check_binary_inputs(y_true, y_prob, names=["y_prob"], probabilities=True)
    if grouping == "stata":
        groups = _stata_groups(p, n_groups)
    else:
        groups = pd.qcut(p, n_groups, labels=False, duplicates="drop")
    table = (
        pd.DataFrame({"group": groups, "y": y, "p": p})
        .groupby("group")
        .agg(n=("y", "size"), observed=("y", "sum"), expected=("p", "sum"), mean_risk=("p", "mean"))
        .reset_index(drop=True)
    )
    if len(table) < n_groups:
        warnings.warn(
            f"hosmer_lemeshow: only {len(table)} risk groups could be formed of the "
            f"{n_groups} requested ({len(y)} patients, tied y_prob); the chi-square reference "
            f"has {len(table) - 2} df and is unreliable with few patients per group.",
            DataWarning, stacklevel=2)
    if len(table) < 3:
        raise MetricInputError(
            f"hosmer_lemeshow needs at least 3 risk groups (df = groups - 2); y_prob forms "
            f"only {len(table)}. Use more patients, or fewer tied predictions.")
    e, o, n = table["expected"], table["observed"], table["n"]
    statistic = float(np.sum((o - e) ** 2 / (e * (1 - e / n))))
    df = len(table) - 2
    return HosmerLemeshowResult(
        statistic=statistic,
        df=int(df),
        p_value=float(stats.chi2.sf(statistic, df)),
        grouping=grouping,
        table=table,
    )


_INTERCEPTS = ("in-the-large", "recalibration")


def calibration_stats(y_true, y_prob, *, n_groups=10, alpha=0.05, intercept="in-the-large"):
    """Calibration summary: intercept, slope, Brier, Hosmer-Lemeshow, Spiegelhalter.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities of the event.
    n_groups : int, default=10
        Groups of the Hosmer-Lemeshow test (Stata rule).
    alpha : float, default=0.05
        One minus the confidence level of the Wald CIs.
    intercept : {"in-the-large", "recalibration"}, default="in-the-large"
        Which calibration intercept to report. ``"in-the-large"``: ``a`` of
        ``logit P(y) = a + logit(p)``, the slope fixed at 1 (calibration-in-the-large,
        Van Calster et al. 2016; the "calibration intercept" of R's
        ``CalibrationCurves::val.prob.ci.2``). ``"recalibration"``: R's ``rms``
        convention, the ``Intercept`` printed by ``val.prob``, i.e. ``a'`` of
        ``logit P(y) = a' + b logit(p)`` fitted together with the slope (it is 0
        for any perfectly calibrated model only when the slope is 1 too).

    Returns
    -------
    CalibrationStatsResult
        ``intercept`` (0 is ideal; see ``intercept``) and its CI,
        ``slope`` (1 is ideal) and its CI, ``brier``, ``hosmer_lemeshow``,
        ``spiegelhalter_z``, ``spiegelhalter_p`` and ``n``.

    See Also
    --------
    calibration_curve, hosmer_lemeshow

    Notes
    -----
    The intercept is a in logit P(y) = a + logit(p) (logit(p) as an offset),
    the slope is b in logit P(y) = a' + b logit(p) (Cox 1958; Van Calster et
    al. 2016, "calibration hierarchy"); with ``intercept="recalibration"`` the
    intercept is a' of the slope's model, as rms ``val.prob``. Probabilities of
    exactly 0 or 1 are clipped to [1e-12, 1 - 1e-12] for these fits (``val.prob``
    drops such patients from them, with a warning). Brier = mean (y - p)^2;
    Spiegelhalter's (1986) z tests calibration without grouping.

    Examples
    --------
    >>> from mvikit.metrics import calibration_stats
    >>> rng = np.random.RandomState(0)
    >>> p = rng.uniform(0.05, 0.95, 500)
    >>> y = rng.binomial(1, p)
    >>> res = calibration_stats(y, p)
    >>> round(res.slope, 2), round(res.intercept, 2), round(res.brier, 3)
    (0.9, -0.02, 0.189)
    """
    alpha = _check_alpha(alpha)
    if intercept not in _INTERCEPTS:
        raise MetricInputError(f"intercept must be one of {_INTERCEPTS}; got {intercept!r}.")
    y, (p,), _, _ = _check_binary_inputs(y_true, y_prob, names=["y_prob"], probabilities=True)
    z = stats.norm.ppf(1 - alpha / 2)
    if p[y == 0].max() < p[y == 1].min() or p[y == 1].max() < p[y == 0].min():
        # logit(p) is monotone in p, so the recalibration slope's MLE is infinite
        raise MetricInputError(_SEPARATED)
    (joint, slope), (joint_se, slope_se) = _recalibration(y, p)
    if intercept == "recalibration":
        citl, citl_se = float(joint), float(joint_se)
    else:
        citl, citl_se = _calibration_in_the_large(y, p)
    sz, sp = _spiegelhalter(y, p)
    return CalibrationStatsResult(
        intercept=citl,
        intercept_ci=(citl - z * citl_se, citl + z * citl_se),
        slope=float(slope),
        slope_ci=(float(slope - z * slope_se), float(slope + z * slope_se)),
        brier=float(np.mean((y - p) ** 2)),
        hosmer_lemeshow=hosmer_lemeshow(y, p, n_groups=n_groups),
        spiegelhalter_z=sz,
        spiegelhalter_p=sp,
        n=len(y),
    )


def calibration_curve(y_true, y_prob, n_bins=10, strategy="quantile", method="binned", alpha=0.05):
    """Observed event rate against predicted risk (binned or LOWESS-smoothed).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities.
    n_bins : int, default=10
        Number of bins (``method="binned"``).
    strategy : {"quantile", "uniform"}, default="quantile"
        Equal-count bins or equal-width bins on [0, 1] (same edges as
        :func:`sklearn.calibration.calibration_curve`).
    method : {"binned", "lowess"}, default="binned"
        Bin means, or a LOWESS smooth of y on p (span 2/3, no robustness
        iterations, as rms ``val.prob``).
    alpha : float, default=0.05
        One minus the confidence level of the per-bin Wilson CIs.

    Returns
    -------
    CalibrationCurveResult
        ``prob_pred`` (mean predicted risk per non-empty bin, or the sorted
        predictions for LOWESS), ``prob_true`` (observed rate or smooth),
        ``counts``, ``ci_lower``/``ci_upper`` (Wilson; ``None`` for LOWESS).

    Examples
    --------
    >>> from mvikit.metrics import calibration_curve
    >>> y = [0, 0, 1, 0, 1, 1]
    >>> p = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9]
    >>> res = calibration_curve(y, p, n_bins=2)
    >>> res.prob_pred.round(4).tolist(), res.prob_true.round(4).tolist(), res.counts.tolist()
    ([0.2, 0.7333], [0.3333, 0.6667], [3, 3])
    """
    alpha = _check_alpha(alpha)
    if strategy not in ("quantile", "uniform"):
        raise MetricInputError(f"strategy must be 'quantile' or 'uniform'; got {strategy!r}.")
    if method not in ("binned", "lowess"):
        raise MetricInputError(f"method must be 'binned' or 'lowess'; got {method!r}.")
    y, (p,), _, _ = _check_binary_inputs(y_true, y_prob, names=["y_prob"], probabilities=True)
    if method == "lowess":
        fit = lowess(y, p, frac=2.0 / 3.0, it=0, return_sorted=True)
        return CalibrationCurveResult(
            prob_pred=fit[:, 0], prob_true=fit[:, 1], counts=None, ci_lower=None, ci_upper=None,
            method="lowess",
        )
    if not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise MetricInputError(f"n_bins must be a positive integer; got {n_bins!r}.")
    if strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_ids = np.searchsorted(edges[1:-1], p)
    counts = np.bincount(bin_ids, minlength=n_bins)
    events = np.bincount(bin_ids, weights=y, minlength=n_bins)
    sums = np.bincount(bin_ids, weights=p, minlength=n_bins)
    keep = counts > 0
    lo, hi = proportion_confint(events[keep], counts[keep], alpha=alpha, method="wilson")
    return CalibrationCurveResult(
        prob_pred=sums[keep] / counts[keep],
        prob_true=events[keep] / counts[keep],
        counts=counts[keep],
        ci_lower=np.asarray(lo),
        ci_upper=np.asarray(hi),
        method="binned",
    )
