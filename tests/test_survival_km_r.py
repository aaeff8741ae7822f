"""Kaplan-Meier, log-rank and hazard ratios against R's survival package (3.5-3) and
lifelines, digit for digit: the vectorised numpy KM/log-rank, R's median rule, R-tight Cox
convergence and infinite hazard ratios."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung
from lifelines.statistics import multivariate_logrank_test

from mvikit.exceptions import DataWarning, SurvivalTargetError
from mvikit.survival import (
    Surv,
    hazard_ratio,
    km_summary,
    logrank_test,
    make_survival_target,
)
from mvikit.survival._km import _band, _kaplan_meier, _risk_table

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def lung_ecog():
    """R: lung2 <- subset(lung, !is.na(ph.ecog) & ph.ecog < 3) (226 patients)."""
    lung = load_lung()
    lung = lung[lung["ph.ecog"].notna() & (lung["ph.ecog"] < 3)]
    return make_survival_target(lung, time="time", event="status"), lung["ph.ecog"].to_numpy()


def _target(time, event):
    return Surv.from_arrays(np.asarray(event, dtype=bool), np.asarray(time, dtype=float))


def test_curves_and_bands_equal_lifelines(lung_ecog):
    y, ecog = lung_ecog
    levels, codes = np.unique(ecog, return_inverse=True)
    table = _risk_table(y["time"], y["event"], codes, levels.size)
    for g in range(levels.size):
        inside = codes == g
        km = KaplanMeierFitter().fit(y["time"][inside], y["event"][inside])
        events = np.flatnonzero(table.deaths[g])
        surv, greenwood = _kaplan_meier(table.at_risk[g, events], table.deaths[g, events])
        lower, upper = _band(surv, greenwood, "log-log", 0.05)
        at = table.times[events]
        np.testing.assert_allclose(surv, km.survival_function_.loc[at].to_numpy()[:, 0],
                                   rtol=1e-12, atol=0)
        band = km.confidence_interval_.loc[at].to_numpy()
        defined = surv > 0  # lifelines fills 0 where S = 0; R's band is NA there
        np.testing.assert_allclose(lower[defined], band[defined, 0], rtol=1e-12)
        np.testing.assert_allclose(upper[defined], band[defined, 1], rtol=1e-12)
        np.testing.assert_array_equal(table.at_risk[g, events],
                                      km.event_table.loc[at, "at_risk"].to_numpy())
        np.testing.assert_array_equal(table.deaths[g, events],
                                      km.event_table.loc[at, "observed"].to_numpy())


def test_km_median_follows_r_rule():
    # R: print(survfit(Surv(time, status) ~ 1, data = d1)), d1: time 1:6, all events
    #      n events median 0.95LCL 0.95UCL
    # [1,] 6      6    3.5       2      NA       (S = 0.5 on [3, 4): the midpoint)
    y = _target([1, 2, 3, 4, 5, 6], [1] * 6)
    table = km_summary(y, np.zeros(6), ci="log")
    np.testing.assert_array_equal(table.to_numpy(), [[6, 6, 3.5, 2, np.inf]])
    # d2: time c(1, 2, 5, 7), status c(1, 1, 0, 0): the curve ends at 0.5
    # [1,] 4      2      2       1      NA
    y = _target([1, 2, 5, 7], [1, 1, 0, 0])
    np.testing.assert_array_equal(km_summary(y, np.zeros(4), ci="log").to_numpy(),
                                  [[4, 2, 2, 1, np.inf]])
    # d3: time c(2, 3, 5, 6, 8), status c(1, 0, 1, 1, 1); the log band is NA at S = 0
    # (t = 8) and above 0.5 before it: the upper limit is not reached
    # [1,] 5      4      6       5      NA                       (conf.type = "log")
    # [1,] 5      4      6       2      NA                       (conf.type = "log-log")
    y = _target([2, 3, 5, 6, 8], [1, 0, 1, 1, 1])
    np.testing.assert_array_equal(km_summary(y, np.zeros(5), ci="log").to_numpy(),
                                  [[5, 4, 6, 5, np.inf]])
    np.testing.assert_array_equal(km_summary(y, np.zeros(5)).to_numpy(),
                                  [[5, 4, 6, 2, np.inf]])


def test_km_and_logrank_match_r_on_random_cohorts():
    # 80 small cohorts (integer times, many ties; 46 medians or limits at a midpoint,
    # 415 "not reached"), tests/data/km_cohorts.csv; R's values in km_survfit_r.csv from
    #   d <- read.csv("tests/data/km_cohorts.csv"); out <- NULL
    #   for (r in unique(d$rep)) { x <- d[d$rep == r, ]
    #     for (ct in c("log", "log-log")) {
    #       tb <- summary(survfit(Surv(time, status) ~ group, data = x, conf.type = ct))$table
    #       out <- rbind(out, data.frame(rep = r, what = ct, group = sub("group=", "",
    #         rownames(tb)), median = tb[, "median"], lower = tb[, "0.95LCL"],
    #         upper = tb[, "0.95UCL"])) }
    #     s <- survdiff(Surv(time, status) ~ group, data = x)
    #     out <- rbind(out, data.frame(rep = r, what = "survdiff", group = NA,
    #       median = s$chisq, lower = sum(s$exp > 0) - 1, upper = NA)) }
    #   write.csv(out, "tests/data/km_survfit_r.csv", row.names = FALSE)
    cohorts = pd.read_csv(DATA / "km_cohorts.csv")
    expected = pd.read_csv(DATA / "km_survfit_r.csv")
    for rep, cohort in cohorts.groupby("rep"):
        y = _target(cohort["time"], cohort["status"])
        groups = cohort["group"].to_numpy()
        ours = expected[expected["rep"] == rep]
        for ci in ("log", "log-log"):
            r_table = ours[ours["what"] == ci].set_index(ours["group"][ours["what"] == ci]
                                                         .astype(int))
            table = km_summary(y, groups, ci=ci)
            reference = r_table[["median", "lower", "upper"]].fillna(np.inf).to_numpy()
            np.testing.assert_array_equal(
                table[["median", "median lower", "median upper"]].to_numpy(), reference,
                err_msg=f"cohort {rep}, conf.type {ci}")
        survdiff = ours[ours["what"] == "survdiff"].iloc[0]
        result = logrank_test(y, groups)
        assert result.statistic == pytest.approx(survdiff["median"], rel=1e-12, abs=1e-14)
        assert result.df == survdiff["lower"]


def test_logrank_three_groups_with_ties_matches_r(lung_ecog):
    y, ecog = lung_ecog
    # R: survdiff(Surv(time, status) ~ ph.ecog, data = lung2)$chisq  (options(digits = 15))
    # [1] 18.0120966946982
    result = logrank_test(y, ecog)
    assert result.statistic == pytest.approx(18.0120966946982, rel=1e-12)
    assert result.df == 2
    reference = multivariate_logrank_test(y["time"], ecog, y["event"])
    assert result.statistic == pytest.approx(reference.test_statistic, rel=1e-12)
    assert result.p_value == pytest.approx(reference.p_value, rel=1e-10)
    # R: print(survfit(Surv(time, status) ~ ph.ecog, data = lung2)) and conf.type = "log-log"
    #             n events median 0.95LCL 0.95UCL     (log)    0.95LCL 0.95UCL (log-log)
    # ph.ecog=0  63     37    394     348     574                  340     558
    # ph.ecog=1 113     82    306     268     429                  245     426
    # ph.ecog=2  50     44    199     156     288                  153     285
    np.testing.assert_array_equal(km_summary(y, ecog, ci="log").to_numpy(),
                                  [[63, 37, 394, 348, 574], [113, 82, 306, 268, 429],
                                   [50, 44, 199, 156, 288]])
    np.testing.assert_array_equal(km_summary(y, ecog).iloc[:, 3:].to_numpy(),
                                  [[340, 558], [245, 426], [153, 285]])


def test_hazard_ratio_converges_as_r(lung_ecog):
    lung = load_lung()
    y = make_survival_target(lung, time="time", event="status")
    # R: summary(coxph(Surv(time, status) ~ factor(sex), data = lung))  (digits = 15)
    #   exp(coef) 0.588002818563589  lower .95 0.423717830353915  upper .95 0.815984813171386
    #   Pr(>|z|) 0.00149122920488075
    table = hazard_ratio(y, lung["sex"])
    np.testing.assert_allclose(table.loc[2, ["HR", "HR lower", "HR upper"]],
                               [0.588002818563589, 0.423717830353915, 0.815984813171386],
                               rtol=1e-8)
    # R's coef stops 4.5e-9 (relative) short of the optimum (eps = 1e-9; with eps = 1e-14
    # it moves by -2.39e-9); p at z = -3.18 amplifies that tenfold
    assert table.loc[2, "p"] == pytest.approx(0.00149122920488075, rel=1e-7)
    y, ecog = lung_ecog
    # R: summary(coxph(Surv(time, status) ~ factor(ph.ecog), data = lung2))
    #                   exp(coef)         lower .95         upper .95         Pr(>|z|)
    # factor(ph.ecog)1 1.44576775992885 0.979489558251923 2.13401398518234 6.35040399173734e-02
    # factor(ph.ecog)2 2.49752901707205 1.608294195986795 3.87842672483791 4.58179134758154e-05
    np.testing.assert_allclose(
        hazard_ratio(y, ecog).to_numpy(),
        [[1.44576775992885, 0.979489558251923, 2.13401398518234, 6.35040399173734e-02],
         [2.49752901707205, 1.608294195986795, 3.87842672483791, 4.58179134758154e-05]],
        rtol=1e-8)


def test_hazard_ratio_without_events_in_a_group_warns():
    y = _target([5, 8, 12, 3, 9, 15], [1, 0, 0, 0, 0, 0])
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    # R: coxph(Surv(time, status) ~ g, data = d): exp(coef) 8.75606105843e-10, lower .95 0,
    # upper .95 Inf, Warning "Loglik converged before variable 1; coefficient may be
    # infinite." (lifelines printed 1.5e-7 with CI (0, inf) and no warning)
    with pytest.warns(DataWarning, match=r"'b' \(0 events in all\) have no event while patients of "
                                         r"the other groups are still at risk.*log-rank"):
        table = hazard_ratio(y, groups)
    np.testing.assert_array_equal(table.loc["b"].to_numpy(), [0.0, np.nan, np.nan, np.nan])
    with pytest.warns(DataWarning, match="inf for every group against such a reference"):
        flipped = hazard_ratio(y, groups, reference="b")
    assert flipped.loc["a", "HR"] == np.inf
    # a group whose only event comes after every other patient has left: also infinite
    y = _target([2, 4, 6, 9, 1, 3, 5, 10], [1, 1, 0, 0, 0, 0, 0, 1])
    with pytest.warns(DataWarning, match=r"'b' \(1 event in all\)"):
        assert hazard_ratio(y, np.repeat(["a", "b"], 4)).loc["b", "HR"] == 0.0
    with pytest.raises(SurvivalTargetError, match="No patient has an event"):
        hazard_ratio(_target([1, 2, 3, 4], [0, 0, 0, 0]), [0, 0, 1, 1])


def test_hazard_ratio_other_groups_fit_without_the_silent_one(lung_ecog):
    y, ecog = lung_ecog
    groups = ecog.astype(int).copy()
    event = y["event"].copy()
    event[groups == 2] = False  # group 2 event-free: its HR is 0, the others' unaffected
    censored = _target(y["time"], event)
    with pytest.warns(DataWarning, match=r"Group\(s\) 2 \(0 events in all\)"):
        table = hazard_ratio(censored, groups)
    keep = groups != 2
    alone = hazard_ratio(_target(y["time"][keep], event[keep]), groups[keep])
    np.testing.assert_allclose(table.loc[1].to_numpy(), alone.loc[1].to_numpy(), rtol=1e-10)
    assert table.loc[2, "HR"] == 0.0


def test_logrank_needs_two_groups_at_risk():
    # group 1's patients all leave before the first event: nothing to compare
    y = _target([5, 6, 7, 1, 2], [1, 1, 0, 0, 0])
    with pytest.raises(SurvivalTargetError, match="compares nothing.*groups \\[1\\]"):
        logrank_test(y, [0, 0, 0, 1, 1])
