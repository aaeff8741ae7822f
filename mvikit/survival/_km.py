"""Group comparisons: Kaplan-Meier table, log-rank test and hazard ratio (lifelines)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times
from scipy.stats import norm

from ..exceptions import SurvivalTargetError
from ._target import check_survival_y

__all__ = ["LogRankResult", "km_summary", "logrank_test", "hazard_ratio"]


def _check_groups(y, groups, *, min_groups=1):
    """Validated event, time, group labels and the sorted group levels."""
    event, time = check_survival_y(y, allow_all_censored=True)
    ids = groups.index if isinstance(groups, pd.Series) else None
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != event.shape[0]:
        raise ValueError(
            f"groups must hold one label per patient ({event.shape[0]}), got shape {groups.shape}."
        )
    missing = pd.isna(groups)
    if missing.any():
        where = f"patient {ids[np.argmax(missing)]!r}" if ids is not None else \
            f"row {int(np.argmax(missing))}"
        raise ValueError(f"groups has missing labels ({int(missing.sum())}, first at {where}); "
                         f"assign every patient to a group.")
    levels, counts = np.unique(groups, return_counts=True)
    if levels.size < min_groups:
        raise ValueError(f"At least {min_groups} groups are needed, got {levels.size} "
                         f"({levels.tolist()}).")
    lonely = levels[counts < 2]
    if lonely.size:
        raise ValueError(
            f"Group(s) {lonely.tolist()} hold a single patient; Kaplan-Meier curves and tests "
            f"need at least 2 patients per group. Merge small groups or change the cut-off."
        )
    return event, time, groups, levels


def _greenwood_band(fitter, alpha):
    """Pointwise ``1 - alpha`` band of S(t) on the log scale (R's conf.type = "log").

    Greenwood variance of log S: ``sum d_i / (n_i (n_i - d_i))`` from lifelines' event table;
    band ``S * exp(+-z * sqrt(var))``, the upper limit capped at 1.
    """
    table = fitter.event_table
    at_risk = table["at_risk"].to_numpy(float)
    deaths = table["observed"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(deaths > 0, deaths / (at_risk * (at_risk - deaths)), 0.0)
    spread = norm.ppf(1 - alpha / 2) * np.sqrt(np.cumsum(terms))
    surv = fitter.survival_function_.iloc[:, 0].to_numpy()
    lower = np.nan_to_num(surv * np.exp(-spread), nan=0.0)
    upper = np.minimum(surv * np.exp(spread), 1.0)
    return pd.DataFrame({"lower": lower, "upper": upper}, index=fitter.survival_function_.index)


def km_summary(y, groups, *, ci="log-log", alpha=0.05):
    """Kaplan-Meier summary per group: patients, events, median survival with its CI.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target.
    groups : array-like of shape (n_patients,)
        Group label of every patient (e.g. the output of :class:`RiskStratifier`).
    ci : {"log-log", "log"}, default="log-log"
        Transform of the pointwise confidence band of S(t) from which the CI of the median
        is read. ``"log-log"`` (exponential Greenwood) is lifelines' band; ``"log"`` is R's
        ``survfit`` default (``conf.type = "log"``), computed from lifelines' event table.
    alpha : float, default=0.05
        The CI has level ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``n``, ``events``, ``median``, ``median lower``, ``median upper``.
        ``inf`` means the curve (or band) never drops to 0.5.

    Notes
    -----
    As R's ``survfit``: the median is the first time with ``S(t) <= 0.5``; its CI runs from
    the first time the lower band reaches 0.5 to the first time the upper band does.

    Examples
    --------
    >>> from lifelines.datasets import load_lung
    >>> from mvikit.survival import km_summary, make_survival_target
    >>> lung = load_lung()
    >>> y = make_survival_target(lung, time="time", event="status")
    >>> km_summary(y, lung["sex"], ci="log")
           n  events  median  median lower  median upper
    group
    1    138     112   270.0         212.0         310.0
    2     90      53   426.0         348.0         550.0
    """
    if ci not in ("log-log", "log"):
        raise ValueError(f"ci must be 'log-log' or 'log', got {ci!r}.")
    event, time, groups, levels = _check_groups(y, groups)
    rows = {}
    for level in levels:
        inside = groups == level
        fitter = KaplanMeierFitter(alpha=alpha).fit(time[inside], event[inside])
        band = fitter.confidence_interval_ if ci == "log-log" else _greenwood_band(fitter, alpha)
        lower, upper = np.sort(median_survival_times(band).to_numpy().ravel())
        rows[level] = {"n": int(inside.sum()), "events": int(event[inside].sum()),
                       "median": float(fitter.median_survival_time_),
                       "median lower": float(lower), "median upper": float(upper)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "group"
    return table


@dataclass(frozen=True)
class LogRankResult:
    """Result of :func:`logrank_test`: chi-square statistic, degrees of freedom, p-value."""

    statistic: float
    df: int
    p_value: float


def logrank_test(y, groups):
    """Log-rank test that the survival curves of all groups are equal (lifelines).

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target.
    groups : array-like of shape (n_patients,)
        Two or more groups; with k groups the statistic has k - 1 degrees of freedom
        (R's ``survdiff``).

    Returns
    -------
    LogRankResult

    Examples
    --------
    >>> from lifelines.datasets import load_lung
    >>> from mvikit.survival import logrank_test, make_survival_target
    >>> lung = load_lung()
    >>> result = logrank_test(make_survival_target(lung, time="time", event="status"),
    ...                       lung["sex"])
    >>> round(result.statistic, 1), result.df, round(result.p_value, 4)
    (10.3, 1, 0.0013)
    """
    event, time, groups, levels = _check_groups(y, groups, min_groups=2)
    if not event.any():
        raise SurvivalTargetError("No patient has an event; the log-rank test is undefined.")
    result = multivariate_logrank_test(time, groups, event)
    return LogRankResult(statistic=float(result.test_statistic),
                         df=int(result.degrees_of_freedom), p_value=float(result.p_value))


def hazard_ratio(y, groups, *, reference=None, alpha=0.05):
    """Hazard ratio of each group against a reference group (Cox model, lifelines).

    A Cox model with one indicator per non-reference group (Efron ties); with two groups
    this is the HR reported next to Kaplan-Meier curves (seeds 002, 003, 004).

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target.
    groups : array-like of shape (n_patients,)
        Two or more groups.
    reference : label, default=None
        The reference group; ``None`` takes the first in sorted order (group 0, the
        low-risk group of :class:`RiskStratifier`). Seed 004 reports low vs high, i.e.
        ``reference=<high group>``.
    alpha : float, default=0.05
        The CI has level ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        One row per non-reference group: ``HR``, ``HR lower``, ``HR upper``, ``p`` (Wald).

    Examples
    --------
    >>> from lifelines.datasets import load_lung
    >>> from mvikit.survival import hazard_ratio, make_survival_target
    >>> lung = load_lung()
    >>> y = make_survival_target(lung, time="time", event="status")
    >>> hazard_ratio(y, lung["sex"]).round(4)
               HR  HR lower  HR upper      p
    group
    2      0.588    0.4237     0.816  0.0015
    """
    event, time, groups, levels = _check_groups(y, groups, min_groups=2)
    if reference is None:
        reference = levels[0]
    if reference not in levels:
        raise ValueError(f"reference {reference!r} is not a group; groups are {levels.tolist()}.")
    others = [level for level in levels if level != reference]
    names = [f"group_{i}" for i in range(len(others))]
    frame = pd.DataFrame({name: (groups == level).astype(float)
                          for name, level in zip(names, others)})
    frame["__time__"], frame["__event__"] = time, event
    summary = CoxPHFitter(alpha=alpha).fit(frame, "__time__", "__event__").summary.loc[names]
    table = pd.DataFrame({
        "HR": summary["exp(coef)"].to_numpy(),
        "HR lower": summary.filter(like="exp(coef) lower").iloc[:, 0].to_numpy(),
        "HR upper": summary.filter(like="exp(coef) upper").iloc[:, 0].to_numpy(),
        "p": summary["p"].to_numpy(),
    }, index=pd.Index(others, name="group"))
    return table
