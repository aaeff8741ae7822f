"""Group comparisons: Kaplan-Meier table, log-rank test and hazard ratio.

Kaplan-Meier and log-rank are vectorised numpy: one sort of the follow-up times, then the
patients and events of every (group, distinct time) cell by ``bincount`` and the numbers
at risk by a cumulative sum from the latest time backwards. Every curve, band and test
statistic is then a cumulative product, cumulative sum or matrix product over that
``(n_groups, n_times)`` table: ``O(n log n)`` for the sort, ``O(n_groups * n_times)``
after it. The hazard ratio is lifelines' Cox model, converged as R's ``coxph``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from scipy.stats import chi2, norm

from ..exceptions import DataWarning, SurvivalTargetError
from ._cox import _lifelines_fit_options
from ._target import check_survival_y

__all__ = ["LogRankResult", "hazard_ratio", "km_summary", "logrank_test"]

# survival's survmean (the survfit table): S(t) within .Machine$double.eps^0.5 of 0.5
# counts as equal to 0.5
_R_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


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


@dataclass(frozen=True)
class _RiskTable:
    """Counts per group (rows) and distinct follow-up time (columns, ascending)."""

    times: np.ndarray    # (n_times,) distinct observed times, ascending
    at_risk: np.ndarray  # (n_groups, n_times) patients followed up to at least that time
    deaths: np.ndarray   # (n_groups, n_times) events at that time


def _risk_table(time, event, codes, n_groups):
    """One sort of the times, then grouped counts: the table every KM curve and test uses.

    ``bincount`` over (group, time slot) cells gives the patients and events per cell; the
    numbers at risk are the counts summed from the latest time backwards (one contiguous
    row per group, so the sums run along memory).
    """
    order = np.argsort(time)
    sorted_time = time[order]
    new = np.empty(time.size, dtype=bool)
    new[0] = True
    np.not_equal(sorted_time[1:], sorted_time[:-1], out=new[1:])
    slot = np.cumsum(new)
    n_times = int(slot[-1])
    cell = codes[order] * n_times + (slot - 1)
    size = n_groups * n_times
    counts = np.bincount(cell, minlength=size).reshape(n_groups, n_times)
    deaths = np.bincount(cell, weights=event[order], minlength=size).reshape(n_groups, n_times)
    at_risk = np.cumsum(counts[:, ::-1], axis=1, dtype=float)[:, ::-1]
    return _RiskTable(sorted_time[new], at_risk, deaths)


def _kaplan_meier(at_risk, deaths):
    """Kaplan-Meier ``S(t)`` and Greenwood's sum at a group's event times.

    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)``; Greenwood's variance of ``log S(t)`` is
    ``sum_{t_i <= t} d_i / (n_i (n_i - d_i))`` (infinite once ``S`` reaches 0). Both
    change only at the group's event times, so those rows of the table are all they need.
    """
    with np.errstate(divide="ignore"):
        greenwood = np.cumsum(deaths / (at_risk * (at_risk - deaths)))
    return np.cumprod(1.0 - deaths / at_risk), greenwood


def _band(surv, greenwood, ci, alpha):
    """Pointwise ``1 - alpha`` band of S(t), R's ``survfit_confint``.

    ``"log"`` (R's default): ``S exp(+-z se)``, the upper limit capped at 1, undefined (NaN)
    where ``S = 0``. ``"log-log"`` (lifelines' exponential Greenwood):
    ``exp(-exp(log(-log S) +- z se / log S))``, undefined where ``S`` is 0 or 1.
    ``se`` is the square root of Greenwood's sum.
    """
    z = norm.ppf(1 - alpha / 2)
    se = np.sqrt(greenwood)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ci == "log":
            defined = np.where(surv > 0, surv, np.nan)
            return defined * np.exp(-z * se), np.minimum(defined * np.exp(z * se), 1.0)
        defined = np.where((surv > 0) & (surv < 1), surv, np.nan)
        log_s = np.log(defined)
        spread = z * se / log_s
        log_log = np.log(-log_s)
        return np.exp(-np.exp(log_log - spread)), np.exp(-np.exp(log_log + spread))


def _r_median(times, curve, tol=_R_TOLERANCE):
    """The time a survival curve (or band) reaches 0.5, by the rule of R's ``survfit``
    table (``survival:::survmean``, printed by ``print.survfit``).

    The first time with ``curve <= 0.5`` (within ``tol``); where the curve equals 0.5
    there and drops below it later, the midpoint of that time and the time of the drop.
    NaN points of a band are skipped; ``inf`` when the curve never reaches 0.5 (R: NA,
    "not reached").
    """
    reached = np.flatnonzero(curve < 0.5 + tol)  # NaN compares False: skipped, as R
    if reached.size == 0:
        return np.inf
    first = reached[0]
    if abs(curve[first] - 0.5) < tol:
        below = reached[curve[reached] < curve[first]]
        if below.size:
            return float((times[first] + times[below[0]]) / 2)
    return float(times[first])


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
        is read. ``"log-log"`` (exponential Greenwood) is lifelines' band and R's
        ``conf.type = "log-log"``; ``"log"`` is R's ``survfit`` default
        (``conf.type = "log"``).
    alpha : float, default=0.05
        The CI has level ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``n``, ``events``, ``median``, ``median lower``, ``median upper``.
        ``inf`` means "not reached" (R prints ``NA``): the curve, or for a confidence
        limit its band, never drops to 0.5 (a band is undefined where S(t) is 0, so an
        upper limit whose band only reaches 0.5 where the curve reaches 0 is not
        reached either).

    Notes
    -----
    The rule of R's ``survfit`` table (``print(survfit(...))``, ``survival:::survmean``):
    the median is the first time with ``S(t) <= 0.5``; where ``S(t)`` equals 0.5 (within
    ``sqrt(machine epsilon)``) over an interval, the midpoint of that interval (lifelines
    and statsmodels take its start). When the curve ends at 0.5 the median is where it
    reached 0.5 (``quantile.survfit`` would take the midpoint up to the last follow-up
    time instead). The CI runs from the time the lower band reaches 0.5 to the time the
    upper band does, by the same rule. Computed in numpy from one sort of the times:
    ``S(t)`` equals lifelines' ``KaplanMeierFitter`` and R's ``survfit`` to rounding.

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
    codes = np.searchsorted(levels, groups)
    table = _risk_table(time, event, codes, levels.size)
    rows = {}
    for g, level in enumerate(levels):
        events = np.flatnonzero(table.deaths[g])  # where the curve and its band change
        times = table.times[events]
        surv, greenwood = _kaplan_meier(table.at_risk[g, events], table.deaths[g, events])
        lower, upper = _band(surv, greenwood, ci, alpha)
        rows[level] = {"n": int(table.at_risk[g, 0]),
                       "events": int(table.deaths[g, events].sum()),
                       "median": _r_median(times, surv),
                       "median lower": _r_median(times, lower),
                       "median upper": _r_median(times, upper)}
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "group"
    return summary


@dataclass(frozen=True)
class LogRankResult:
    """Result of :func:`logrank_test`: chi-square statistic, degrees of freedom, p-value."""

    statistic: float
    df: int
    p_value: float


def _logrank(table):
    """Observed minus expected events per group and their covariance (R's ``survdiff``).

    At every time with ``d`` events among ``n`` at risk, group ``g`` (``n_g`` at risk)
    expects ``d n_g / n`` events; the hypergeometric covariance adds
    ``d (n - d) / (n - 1) * (n_g / n) (delta_gh - n_h / n)``. Times without an event add
    nothing, and every table time has ``n >= 1``, so no row is filtered out.
    """
    n, d = table.at_risk.sum(axis=0), table.deaths.sum(axis=0)
    share = table.at_risk / n
    expected = share @ d
    weight = np.divide(d * (n - d), n - 1, out=np.zeros_like(n), where=n > 1)
    weighted = share * weight
    covariance = np.diag(weighted.sum(axis=1)) - weighted @ share.T
    return table.deaths.sum(axis=1) - expected, expected, covariance


def logrank_test(y, groups):
    """Log-rank test that the survival curves of all groups are equal (R's ``survdiff``).

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

    Notes
    -----
    ``(O - E)' V^- (O - E)`` over the groups, dropping (as R's ``survdiff``) groups with
    no expected event and then the first group. Computed in numpy from one sort of the
    times (grouped counts per distinct time); equals R's ``survdiff`` and lifelines'
    ``multivariate_logrank_test`` to rounding.

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
    table = _risk_table(time, event, np.searchsorted(levels, groups), levels.size)
    difference, expected, covariance = _logrank(table)
    compared = np.flatnonzero(expected > 0)
    if compared.size < 2:
        raise SurvivalTargetError(
            f"Only group {levels[compared].tolist()} has patients at risk at the event times; "
            f"the log-rank test compares nothing. Check the follow-up times of groups "
            f"{levels[expected == 0].tolist()}."
        )
    kept = compared[1:]
    statistic = float(difference[kept] @ np.linalg.solve(covariance[np.ix_(kept, kept)],
                                                         difference[kept]))
    return LogRankResult(statistic=statistic, df=int(kept.size),
                         p_value=float(chi2.sf(statistic, kept.size)))


def _without_comparable_events(table, groups):
    """Groups (indices into ``groups``) whose every event happens when no patient of the
    other groups in ``groups`` is at risk: their Cox coefficient against the others goes
    to -inf (monotone likelihood; no events at all is the common case)."""
    at_risk = table.at_risk[groups]
    others = at_risk.sum(axis=0) - at_risk
    comparable = np.where(others > 0, table.deaths[groups], 0.0).sum(axis=1)
    return [g for g, count in zip(groups, comparable) if count == 0]


def _fit_hazard_ratios(time, event, codes, reference, others, alpha):
    """Cox model with one indicator per group of ``others`` (codes), lifelines, converged
    as R's ``coxph``; rows of patients in ``reference`` or ``others`` only."""
    rows = np.isin(codes, [reference, *others])
    names = [f"group_{i}" for i in range(len(others))]
    frame = pd.DataFrame({name: (codes[rows] == g).astype(float)
                          for name, g in zip(names, others)})
    frame["__time__"], frame["__event__"] = time[rows], event[rows]
    model = CoxPHFitter(alpha=alpha).fit(frame, "__time__", "__event__",
                                         fit_options=_lifelines_fit_options())
    summary = model.summary.loc[names]
    return pd.DataFrame({
        "HR": summary["exp(coef)"].to_numpy(),
        "HR lower": summary.filter(like="exp(coef) lower").iloc[:, 0].to_numpy(),
        "HR upper": summary.filter(like="exp(coef) upper").iloc[:, 0].to_numpy(),
        "p": summary["p"].to_numpy(),
    }, index=others)


def _infinite_ratio_warning(levels, silent, events, reference):
    named = ", ".join(f"{levels[g].item()!r} ({int(events[g])} event"
                      f"{'' if events[g] == 1 else 's'} in all)" for g in silent)
    warnings.warn(
        f"Group(s) {named} have no event while patients of the other groups are still at "
        f"risk: the Cox maximum-likelihood hazard ratio is infinite (0 for such a group, "
        f"inf for every group against such a reference; the reference is "
        f"{levels[reference].item()!r}) and its Wald CI and p-value are undefined (NaN). "
        f"Report the log-rank p-value, merge groups, or use Firth's penalised Cox "
        f"regression (R's coxphf) for a finite estimate.", DataWarning, stacklevel=3)


def hazard_ratio(y, groups, *, reference=None, alpha=0.05):
    """Hazard ratio of each group against a reference group (Cox model, lifelines).

    A Cox model with one indicator per non-reference group (Efron ties), converged as
    tightly as R's ``coxph`` (the coefficients agree with it to about 1e-8 relative); with
    two groups this is the HR reported next to Kaplan-Meier curves (seeds 002, 003, 004).

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
        A group without any event while others are at risk (e.g. a single event in
        the cohort) has an infinite maximum-likelihood log hazard ratio: its row reads
        ``HR = 0`` (``inf`` for every group when it is the reference) with NaN CI and p,
        the other rows come from the model without it, and a :class:`DataWarning` says
        so (R's ``coxph`` warns "coefficient may be infinite" and prints a meaningless
        HR near 0 with CI (0, inf)).

    Raises
    ------
    SurvivalTargetError
        If no patient has an event.

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
    if not event.any():
        raise SurvivalTargetError("No patient has an event; hazard ratios are undefined.")
    codes = np.searchsorted(levels, groups)
    ref = int(np.flatnonzero(levels == reference)[0])
    table = _risk_table(time, event, codes, levels.size)
    ratios = pd.DataFrame(np.nan, columns=["HR", "HR lower", "HR upper", "p"],
                          index=[g for g in range(levels.size) if g != ref])
    remaining, silent = list(range(levels.size)), []
    while ref in remaining and len(remaining) > 1:  # dropping a group may separate another
        dropped = _without_comparable_events(table, remaining)
        if not dropped:
            others = [g for g in remaining if g != ref]
            ratios.loc[others] = _fit_hazard_ratios(time, event, codes, ref, others, alpha)
            break
        silent += dropped
        remaining = [g for g in remaining if g not in dropped]
    if silent:
        _infinite_ratio_warning(levels, silent, table.deaths.sum(axis=1), ref)
        if ref in silent:
            ratios.loc[[g for g in ratios.index if g not in silent], "HR"] = np.inf
        else:
            ratios.loc[[g for g in silent if g != ref], "HR"] = 0.0
    ratios.index = pd.Index(levels[ratios.index], name="group")
    return ratios
