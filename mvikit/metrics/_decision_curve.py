"""Decision curve analysis (Vickers & Elkin 2006): net benefit over threshold
probabilities, treat-all / treat-none references, interventions avoided,
bootstrap CIs and the net-benefit difference of two models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._bootstrap import _resample_indices
from ._checks import _check_alpha, _check_binary_inputs, _check_thresholds

__all__ = ["decision_curve", "net_benefit_difference"]

_DEFAULT_THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)


def _net_benefit(y, p, thresholds):
    """Net benefit TP/n - FP/n * pt / (1 - pt) (Vickers & Elkin 2006, eq. 1).

    A patient is treated when p >= pt (as dcurves). Counts come from binary
    searches in the sorted risks of events and non-events: O((n + T) log n).
    """
    events, nonevents = np.sort(p[y == 1]), np.sort(p[y == 0])
    tp = len(events) - np.searchsorted(events, thresholds, side="left")
    fp = len(nonevents) - np.searchsorted(nonevents, thresholds, side="left")
    return (tp - fp * thresholds / (1 - thresholds)) / len(y)


def _treat_all(prevalence, thresholds):
    return prevalence - (1 - prevalence) * thresholds / (1 - thresholds)


def _bootstrap_net_benefit(y, probs, thresholds, n_resamples, random_state):
    """Net benefit of each model in ``probs`` over (unstratified) resamples.

    Unstratified because the prevalence varies between samples and the treat-all
    reference with it; shape (n_resamples, n_models, n_thresholds).
    """
    out = np.empty((n_resamples, len(probs), len(thresholds)))
    for b, idx in enumerate(_resample_indices(y, n_resamples, False, random_state)):
        for k, p in enumerate(probs):
            out[b, k] = _net_benefit(y[idx], p[idx], thresholds)
    return out


def decision_curve(
    y_true,
    y_prob,
    thresholds=None,
    *,
    standardize=False,
    n_resamples=0,
    alpha=0.05,
    random_state=None,
):
    """Net benefit of a model over threshold probabilities (decision curve).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted risks in [0, 1]; for cross-validated models, the pooled
        out-of-fold predictions (net benefit averaged over folds is biased).
    thresholds : array-like, default=None
        Threshold probabilities, strictly inside (0, 1); defaults to
        0.01, 0.02, ..., 0.99 (pt = 0 is left out: it carries no decision).
    standardize : bool, default=False
        Add the standardized net benefit (net benefit / prevalence; Kerr et
        al. 2016) of the model and of treat-all.
    n_resamples : int, default=0
        If > 0, add bootstrap percentile CIs of the model's net benefit
        (``net_benefit_lower``, ``net_benefit_upper``).
    alpha : float, default=0.05
        One minus the confidence level.
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold``, ``net_benefit``,
        ``net_benefit_all``, ``net_benefit_none`` (0), ``interventions_avoided``
        (per 100 patients) and the optional columns above. ``attrs`` holds
        ``prevalence`` and ``n``.

    See Also
    --------
    net_benefit_difference : Compare two models' net benefit with CIs.

    Notes
    -----
    NB(pt) = TP/n - FP/n * pt/(1 - pt); treat-all NB = pi - (1 - pi) pt/(1 - pt)
    with prevalence pi; interventions avoided per 100 =
    100 (NB - NB_all) / (pt/(1 - pt)) (Vickers et al. 2008). Equal to
    ``dcurves.dca`` (tested).

    Examples
    --------
    >>> from mvikit.metrics import decision_curve
    >>> y = np.array([0, 0, 0, 1, 0, 1, 1, 0, 1, 1])
    >>> p = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.5, 0.6, 0.65, 0.8, 0.9])
    >>> dc = decision_curve(y, p, thresholds=[0.2, 0.5])
    >>> dc[["threshold", "net_benefit", "net_benefit_all"]].round(4)
       threshold  net_benefit  net_benefit_all
    0        0.2       0.4250           0.3750
    1        0.5       0.3000           0.0000
    """
    alpha = _check_alpha(alpha)
    y, (p,), _, _ = _check_binary_inputs(y_true, y_prob, names=["y_prob"], probabilities=True)
    pts = _DEFAULT_THRESHOLDS if thresholds is None else _check_thresholds(thresholds)
    prevalence = float(y.mean())
    nb = _net_benefit(y, p, pts)
    nb_all = _treat_all(prevalence, pts)
    table = pd.DataFrame(
        {
            "threshold": pts,
            "net_benefit": nb,
            "net_benefit_all": nb_all,
            "net_benefit_none": np.zeros_like(pts),
            "interventions_avoided": 100 * (nb - nb_all) / (pts / (1 - pts)),
        }
    )
    if standardize:
        table["standardized_net_benefit"] = nb / prevalence
        table["standardized_net_benefit_all"] = nb_all / prevalence
    if n_resamples:
        boot = _bootstrap_net_benefit(y, [p], pts, n_resamples, random_state)[:, 0]
        table["net_benefit_lower"], table["net_benefit_upper"] = np.quantile(
            boot, [alpha / 2, 1 - alpha / 2], axis=0
        )
    table.attrs.update(prevalence=prevalence, n=len(y))
    return table


def net_benefit_difference(
    y_true, y_prob_a, y_prob_b, thresholds=None, *, n_resamples=1000, alpha=0.05, random_state=None
):
    """Difference in net benefit of two models on the same patients, with bootstrap CIs.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob_a, y_prob_b : array-like of shape (n_samples,)
        Predicted risks of models A and B (pooled out-of-fold predictions
        from the same CV splits when the models were cross-validated).
    thresholds : array-like, default=None
        Threshold probabilities strictly inside (0, 1); default 0.01-0.99.
    n_resamples : int, default=1000
        Paired bootstrap resamples of patients.
    alpha : float, default=0.05
        One minus the confidence level.
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        ``threshold``, ``net_benefit_a``, ``net_benefit_b``, ``difference``
        (A - B), ``lower``, ``upper`` (percentile CI) and ``p_value`` (two-sided,
        normal approximation with the bootstrap SE).

    See Also
    --------
    decision_curve

    Examples
    --------
    >>> from mvikit.metrics import net_benefit_difference
    >>> rng = np.random.RandomState(0)
    >>> y = rng.binomial(1, 0.3, 300)
    >>> good = np.clip(0.3 + 0.4 * (y - 0.3) + rng.normal(0, 0.1, 300), 0.01, 0.99)
    >>> res = net_benefit_difference(y, good, np.full(300, 0.3), thresholds=[0.2, 0.4],
    ...                              n_resamples=200, random_state=0)
    >>> bool((res["lower"] > 0).all())
    True
    """
    alpha = _check_alpha(alpha)
    y, (a, b), _, _ = _check_binary_inputs(
        y_true, y_prob_a, y_prob_b, names=["y_prob_a", "y_prob_b"], probabilities=True
    )
    pts = _DEFAULT_THRESHOLDS if thresholds is None else _check_thresholds(thresholds)
    nb_a, nb_b = _net_benefit(y, a, pts), _net_benefit(y, b, pts)
    boot = _bootstrap_net_benefit(y, [a, b], pts, n_resamples, random_state)
    diff_boot = boot[:, 0] - boot[:, 1]
    se = diff_boot.std(axis=0, ddof=1)
    diff = nb_a - nb_b
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.inf))
    lower, upper = np.quantile(diff_boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return pd.DataFrame(
        {
            "threshold": pts,
            "net_benefit_a": nb_a,
            "net_benefit_b": nb_b,
            "difference": diff,
            "lower": lower,
            "upper": upper,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
        }
    )
