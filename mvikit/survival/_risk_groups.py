"""`risk_group_summary`: Kaplan-Meier medians, log-rank test and hazard ratios of risk groups.

What seeds 002-004 print under their Kaplan-Meier figures, for one or several outcomes
(PFS and OS, time to macrovascular invasion and OS): per group the patients, events and
median survival with its CI (R's ``survfit`` table rule, `km_summary`), the log-rank test
(R's ``survdiff``, `logrank_test`) and the Cox hazard ratio of each group against a
reference group with its Wald CI (R's ``coxph``, `hazard_ratio`); with a continuous score,
also the Cox hazard ratio per standard deviation of the score.

The groups are given, or cut from a score by a rule: the score's own median or tertiles,
fixed cut-offs, or cut-offs chosen on training data (a fitted `RiskStratifier`: training
median, Youden; a fitted model's ``threshold_``: MTnet's Youden cut-off).  Groups of
held-out patients per cross-validation fold come from `compare_survival_models`
(``risk_groups``, ``fold_risk_groups``, ``plot_km``).
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd

from ..exceptions import MetricInputError
from ..utils._repr import _SectionedResult
from ._cox import _lifelines_fit_options
from ._km import hazard_ratio, km_summary, logrank_test
from ._stratify import _GROUP_NAMES, RiskStratifier

__all__ = ["RiskGroupSummary", "risk_group_summary"]

#: Known group names in increasing risk; other labels follow in sorted order.
_RISK_ORDER = ("low", "intermediate", "high")


class RiskGroupSummary(_SectionedResult):
    """Result of `risk_group_summary`: per outcome, the groups' Kaplan-Meier summary,
    the log-rank test and the hazard ratios.

    Attributes
    ----------
    groups : pandas.Series
        The risk group of every patient (indexed by patient id when the input had one).
    levels : list of str
        The groups, lowest risk first.
    cutoffs : ndarray of float
        The cut-offs applied to the score (empty when the groups were given).
    reference : str
        The group the hazard ratios are against.
    km : pandas.DataFrame
        Indexed by (outcome, group): ``n``, ``events``, ``median``, ``median lower``,
        ``median upper`` (`km_summary`; ``inf``: not reached).
    hazard_ratios : pandas.DataFrame
        Indexed by (outcome, group), one row per non-reference group: ``HR``,
        ``HR lower``, ``HR upper``, ``p`` (Wald), against ``reference``.
    tests : pandas.DataFrame
        Indexed by outcome: the log-rank ``chi2``, ``df`` and ``p``; with two groups the
        hazard ratio of the other group against the reference (``HR``, ``HR lower``,
        ``HR upper``, ``HR p``); with a score, the Cox ``HR per SD`` of the score
        (``HR per SD lower``, ``HR per SD upper``, ``HR per SD p``).
    alpha : float
        CIs have level ``1 - alpha``.
    """

    _title = "Risk groups"

    def table(self, digits=3) -> pd.DataFrame:
        """One row per outcome and group, as papers print it under the KM figure.

        Parameters
        ----------
        digits : int, default=3
            Decimals of the hazard ratios and p-values (medians: one more than needed
            is never shown; they keep ``digits`` too).

        Returns
        -------
        pandas.DataFrame
            ``outcome, group, n, events, median [CI], HR [CI], log-rank p`` (the HR of the
            reference group reads ``ref.``; the log-rank p is on the outcome's first row).
        """
        level = int(round(100 * (1 - self.alpha)))
        rows = []
        for (outcome, group), km in self.km.iterrows():
            row = {"outcome": outcome, "group": group, "n": int(km["n"]),
                   "events": int(km["events"]),
                   f"median [{level}% CI]": _interval(km["median"], km["median lower"],
                                                      km["median upper"], digits),
                   f"HR [{level}% CI]": "ref."}
            if group != self.reference:
                hr = self.hazard_ratios.loc[(outcome, group)]
                row[f"HR [{level}% CI]"] = _interval(hr["HR"], hr["HR lower"], hr["HR upper"],
                                                     digits)
            first = group == self.levels[0]
            row["log-rank p"] = _p(self.tests.at[outcome, "p"], digits) if first else ""
            rows.append(row)
        return pd.DataFrame(rows)

    def _sections(self, digits):
        sections = [("Kaplan-Meier medians, log-rank test and hazard ratios", self.table(digits))]
        if "HR per SD" in self.tests.columns:
            level = int(round(100 * (1 - self.alpha)))
            per_sd = pd.DataFrame({
                "outcome": self.tests.index,
                f"HR per SD [{level}% CI]": [
                    _interval(r["HR per SD"], r["HR per SD lower"], r["HR per SD upper"], digits)
                    for _, r in self.tests.iterrows()],
                "p": [_p(p, digits) for p in self.tests["HR per SD p"]]})
            sections.append(("Cox hazard ratio per SD of the score", per_sd))
        return sections

    def _header(self):
        counts = self.groups.value_counts()
        groups = ", ".join(f"{g} {int(counts.get(g, 0))}" for g in self.levels)
        cut = (f"; cut-offs {', '.join(f'{c:.4g}' for c in self.cutoffs)}"
               if len(self.cutoffs) else "")
        return (f"{len(self.groups)} patients ({groups}){cut}; outcomes "
                f"{', '.join(map(str, self.tests.index))}; hazard ratios against the "
                f"{self.reference!r} group; medians by R's survfit rule (inf: not reached).")


def _interval(value, low, high, digits):
    def text(v):
        return "NR" if np.isinf(v) and v > 0 else ("" if np.isnan(v) else f"{v:.{digits}f}")
    return f"{text(value)} [{text(low)}, {text(high)}]"


def _p(p, digits):
    if not np.isfinite(p):
        return ""
    return f"<{10.0 ** -digits:.{digits}f}" if p < 10.0 ** -digits else f"{p:.{digits}f}"


def _named(codes: np.ndarray, names) -> np.ndarray:
    return np.asarray(names, dtype=object)[codes]


def _groups_from_labels(labels: np.ndarray) -> np.ndarray:
    """Given groups: integer codes ``0..k`` (`RiskStratifier`) become its group names."""
    if labels.dtype.kind in "biu":
        codes = labels.astype(int)
        if codes.min() < 0:
            raise MetricInputError(f"Group codes must be 0 (lowest risk) to k; got "
                                   f"{sorted(set(codes.tolist()))}. Drop the patients coded "
                                   f"{codes.min()} (no group) first.")
        n = int(codes.max()) + 1
        return _named(codes, _GROUP_NAMES.get(n, [f"group {i}" for i in range(n)]))
    return np.asarray([str(g) for g in labels], dtype=object)


def _cut(score: np.ndarray, cutoff):
    """Groups and cut-offs of ``score`` under ``cutoff`` (see `risk_group_summary`)."""
    if isinstance(cutoff, RiskStratifier):
        if not hasattr(cutoff, "cutoffs_"):
            raise MetricInputError("cutoff is an unfitted RiskStratifier: fit it on the "
                                   "training scores (RiskStratifier(method=...).fit(train)).")
        codes = np.searchsorted(cutoff.cutoffs_, score, side="left")  # as its predict
        return _named(codes, cutoff.group_names_), np.asarray(cutoff.cutoffs_, dtype=float)
    if hasattr(cutoff, "threshold_"):  # a fitted classifier's cut-off (MTnet's Youden)
        threshold = float(cutoff.threshold_)
        return np.where(score >= threshold, "high", "low").astype(object), np.array([threshold])
    if isinstance(cutoff, str) and cutoff not in ("median", "tertiles"):
        raise MetricInputError(
            f"cutoff={cutoff!r}: a rule on the score itself is 'median' or 'tertiles'. A "
            "Youden cut-off needs labels: fit RiskStratifier(method='youden') on the training "
            "scores and labels and pass it as cutoff.")
    if not isinstance(cutoff, (str, Real, list, tuple, np.ndarray)):
        raise MetricInputError(f"cutoff must be None, 'median', 'tertiles', numbers, a fitted "
                               f"RiskStratifier or a fitted model with threshold_; got "
                               f"{cutoff!r}.")
    stratifier = RiskStratifier(method=cutoff).fit(score[:, None])
    return _named(stratifier.predict(score[:, None]), stratifier.group_names_), \
        np.asarray(stratifier.cutoffs_, dtype=float)


def _levels(groups: np.ndarray) -> list:
    present = set(groups)
    known = [g for g in _RISK_ORDER if g in present]
    return known + sorted(present - set(known))


def _score_hazard_ratio(y, score: np.ndarray, alpha: float) -> dict:
    """Cox HR per SD of the score (lifelines, Efron ties, converged as R's coxph)."""
    from lifelines import CoxPHFitter

    frame = pd.DataFrame({"score": (score - score.mean()) / score.std(ddof=1),
                          "__time__": y["time"], "__event__": y["event"]})
    row = CoxPHFitter(alpha=alpha).fit(frame, "__time__", "__event__",
                                       fit_options=_lifelines_fit_options()).summary.loc["score"]
    return {"HR per SD": float(row["exp(coef)"]),
            "HR per SD lower": float(row.filter(like="exp(coef) lower").iloc[0]),
            "HR per SD upper": float(row.filter(like="exp(coef) upper").iloc[0]),
            "HR per SD p": float(row["p"])}


def _outcome_rows(y, groups, levels, reference, score, ci, alpha):
    km = km_summary(y, groups, ci=ci, alpha=alpha).loc[levels]
    test = logrank_test(y, groups)
    ratios = hazard_ratio(y, groups, reference=reference, alpha=alpha)
    ratios = ratios.loc[[g for g in levels if g != reference]]
    row = {"chi2": test.statistic, "df": test.df, "p": test.p_value}
    if len(levels) == 2:
        hr = ratios.iloc[0]
        row.update({"HR": hr["HR"], "HR lower": hr["HR lower"], "HR upper": hr["HR upper"],
                    "HR p": hr["p"]})
    if score is not None:
        row.update(_score_hazard_ratio(y, score, alpha))
    return km, ratios, row


def risk_group_summary(risk, outcomes, *, cutoff=None, score=None, reference=None,
                       ci="log-log", alpha=0.05) -> RiskGroupSummary:
    """Kaplan-Meier medians, log-rank test and hazard ratios of risk groups, per outcome.

    Parameters
    ----------
    risk : array-like or pandas.Series of shape (n_patients,)
        With ``cutoff=None``: the risk group of every patient, as labels (``"low"``,
        ``"high"``...) or `RiskStratifier` codes ``0..k`` (0: lowest risk).
        Otherwise: a continuous risk score, cut by ``cutoff``.
    outcomes : dict of str to structured ndarray, or structured ndarray
        Survival targets by name, e.g. ``{"PFS": ..., "OS": ...}`` (`Surv`); a single
        target is named ``"outcome"``.
    cutoff : None, {"median", "tertiles"}, float, list of float, RiskStratifier or \
fitted model, default=None
        How a score becomes groups. ``"median"``/``"tertiles"``: of the score itself;
        numbers: fixed increasing cut-offs; a fitted `RiskStratifier`: its cut-offs,
        chosen on training scores (training median, Youden...); a fitted model with
        ``threshold_`` (`mvikit.deep.MTNetClassifier`: its training Youden cut-off):
        high risk where ``score >= threshold_``, as its ``predict_risk_group``.  A
        score at a `RiskStratifier` cut-off stays in the lower group.
    score : array-like of shape (n_patients,), default=None
        A continuous score for the Cox hazard ratio per standard deviation; defaults to
        ``risk`` when ``cutoff`` is given.
    reference : str, default=None
        The group the hazard ratios are against; None: the lowest-risk group (HR > 1
        when higher risk fares worse).  Seed 004 prints low against high:
        ``reference="high"``.
    ci : {"log-log", "log"}, default="log-log"
        Band of the Kaplan-Meier curve the median's CI is read from (`km_summary`).
    alpha : float, default=0.05
        CIs have level ``1 - alpha``.

    Returns
    -------
    RiskGroupSummary
        ``km``, ``hazard_ratios``, ``tests`` tables, ``table()``, ``to_markdown()`` and
        ``to_html()``.

    Raises
    ------
    MetricInputError
        Fewer than two groups, an unknown reference or cut-off rule, lengths that differ.

    See Also
    --------
    RiskStratifier : cut-offs chosen on training scores.
    mvikit.model_selection.compare_survival_models : risk groups of held-out patients,
        cut at each training fold's own risks, per fold and pooled.
    mvikit.plotting.plot_km : the Kaplan-Meier figure.

    Notes
    -----
    The median is R's ``survfit`` table rule (``survival:::survmean``), its CI from the
    ``ci`` band; the log-rank test is R's ``survdiff`` (k - 1 degrees of freedom); the
    hazard ratios come from one Cox model with an indicator per non-reference group
    (Efron ties, converged as R's ``coxph``).  With two groups, the HR against
    ``reference="high"`` is the inverse of the HR against ``"low"`` and its CI the
    inverted, swapped one.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import Surv, risk_group_summary
    >>> rng = np.random.default_rng(0)
    >>> score = rng.uniform(size=200)
    >>> time = rng.exponential(20 / (0.5 + 2 * score))
    >>> pfs = Surv.from_arrays(time < 30, np.minimum(time, 30))
    >>> result = risk_group_summary(score, {"PFS": pfs}, cutoff="median")
    >>> print(result.table(digits=2).to_string(index=False))
    outcome group   n  events      median [95% CI]       HR [95% CI] log-rank p
        PFS   low 100      67 16.33 [11.27, 21.60]              ref.      <0.01
        PFS  high 100      98    6.94 [5.39, 8.95] 2.63 [1.90, 3.62]
    >>> row = result.tests.loc["PFS"]
    >>> round(float(row["chi2"]), 2), round(float(row["HR per SD"]), 3)
    (36.89, 1.759)
    """
    ids = risk.index if isinstance(risk, pd.Series) else None
    values = np.asarray(risk)
    if values.ndim != 1:
        raise MetricInputError(f"risk must be one value per patient; got shape {values.shape}.")
    missing = pd.isna(values)
    if missing.any():
        first = ids[np.argmax(missing)] if ids is not None else int(np.argmax(missing))
        raise MetricInputError(
            f"risk is missing for {int(missing.sum())} patient(s), the first "
            f"{'patient' if ids is not None else 'row'} {first!r}; give every patient a group "
            "or a score (drop the patients without one).")
    if cutoff is None:
        groups, cutoffs = _groups_from_labels(values), np.array([])
    else:
        score = values.astype(float) if score is None else score
        groups, cutoffs = _cut(values.astype(float), cutoff)
    if score is not None:
        score = np.asarray(score, dtype=float)
    if not isinstance(outcomes, dict):
        outcomes = {"outcome": outcomes}
    for name, y in outcomes.items():
        if len(y) != len(groups) or (score is not None and len(score) != len(groups)):
            raise MetricInputError(f"Outcome {name!r} has {len(y)} patients, risk "
                                   f"{len(groups)}" + ("" if score is None else
                                                       f", score {len(score)}")
                                   + ": give one value per patient, in the same order.")
    levels = _levels(groups)
    if len(levels) < 2:
        raise MetricInputError(f"Every patient is in group {levels}; with one group there is "
                               "nothing to compare. Check the cut-off (a training cut-off can "
                               "put every held-out patient on one side).")
    reference = levels[0] if reference is None else reference
    if reference not in levels:
        raise MetricInputError(f"reference={reference!r} is not a group; groups: {levels}.")
    km, ratios, rows = {}, {}, {}
    for name, y in outcomes.items():
        km[name], ratios[name], rows[name] = _outcome_rows(y, groups, levels, reference, score,
                                                           ci, alpha)
    tests = pd.DataFrame.from_dict(rows, orient="index")
    tests.index.name = "outcome"
    return RiskGroupSummary(
        groups=pd.Series(groups, index=ids, name="risk group"), levels=levels,
        cutoffs=cutoffs, reference=reference, alpha=alpha, tests=tests,
        km=pd.concat(km, names=["outcome", "group"]),
        hazard_ratios=pd.concat(ratios, names=["outcome", "group"]))
