"""risk_group_summary (KM medians, log-rank, HR of risk groups) against R's printed values
and lifelines; the per-fold risk groups of compare_survival_models recomputed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_lung
from lifelines.statistics import logrank_test as lifelines_logrank
from sklearn.model_selection import KFold
from sksurv.metrics import concordance_index_censored

from mvikit.exceptions import MetricInputError
from mvikit.model_selection import compare_survival_models
from mvikit.survival import (
    CoxPHSurvival,
    RiskStratifier,
    Surv,
    hazard_ratio,
    make_survival_target,
    risk_group_summary,
)


@pytest.fixture(scope="module")
def lung():
    frame = load_lung()
    y = make_survival_target(frame, time="time", event="status")
    # sex 1 = male (the worse prognosis): call it "high" risk
    return y, np.where(frame["sex"] == 1, "high", "low")


def test_lung_by_sex_equals_r(lung):
    y, groups = lung
    result = risk_group_summary(groups, {"OS": y}, ci="log")
    # R: print(survfit(Surv(time, status) ~ sex, lung))
    #   sex=1 138 112 270 212 310 ; sex=2 90 53 426 348 550
    km = result.km.loc["OS"]
    assert km.loc["high"].tolist() == [138, 112, 270.0, 212.0, 310.0]
    assert km.loc["low"].tolist() == [90, 53, 426.0, 348.0, 550.0]
    # R: survdiff(Surv(time, status) ~ sex, lung): Chisq= 10.3 on 1 df, p= 0.001
    assert result.tests.at["OS", "chi2"] == pytest.approx(10.3267, abs=1e-4)
    assert result.tests.at["OS", "df"] == 1
    # R: coxph(Surv(time, status) ~ I(sex == 1), lung): exp(coef) 1.701, 95% CI 1.226-2.36
    # (the inverse of sex=2 vs 1: 0.588 [0.4237, 0.816])
    assert result.tests.at["OS", "HR"] == pytest.approx(1 / 0.5880, rel=1e-3)
    assert result.tests.at["OS", "HR lower"] == pytest.approx(1 / 0.816, rel=1e-3)
    assert result.tests.at["OS", "HR upper"] == pytest.approx(1 / 0.4237, rel=1e-3)


def test_hazard_ratio_and_log_rank_equal_lifelines(lung):
    y, groups = lung
    result = risk_group_summary(groups, {"OS": y, "OS again": y}, reference="high")
    high = groups == "high"
    frame = pd.DataFrame({"low": (~high).astype(float), "t": y["time"], "e": y["event"]})
    cox = CoxPHFitter().fit(frame, "t", "e").summary.loc["low"]
    row = result.tests.loc["OS"]
    # lifelines' default stopping rule is looser than R's coxph (mvikit converges as R)
    assert row["HR"] == pytest.approx(cox["exp(coef)"], rel=1e-5)
    assert row["HR lower"] == pytest.approx(cox["exp(coef) lower 95%"], rel=1e-5)
    assert row["HR p"] == pytest.approx(cox["p"], rel=1e-4)
    test = lifelines_logrank(y["time"][high], y["time"][~high], y["event"][high],
                             y["event"][~high])
    assert row["p"] == pytest.approx(test.p_value, rel=1e-9)
    assert row["chi2"] == pytest.approx(test.test_statistic, rel=1e-9)
    # a binary covariate: HR(low vs high) is the inverse of HR(high vs low), CI swapped
    other = risk_group_summary(groups, {"OS": y}).tests.loc["OS"]
    assert row["HR"] == pytest.approx(1 / other["HR"], rel=1e-6)
    assert row["HR lower"] == pytest.approx(1 / other["HR upper"], rel=1e-6)
    assert result.tests.loc["OS again"].equals(row.rename("OS again"))


def test_median_is_r_survmean_midpoint_where_the_curve_sits_at_one_half():
    # low: S drops to exactly 0.5 at t=2 and below at t=4 -> R prints (2 + 4) / 2 = 3
    # (lifelines' median_survival_time_ says 2: it takes the start of the flat part)
    y = Surv.from_arrays(event=[1, 1, 1, 1, 1, 1, 0, 0], time=[1, 2, 4, 5, 1, 1.5, 9, 9])
    groups = np.array(["low"] * 4 + ["high"] * 4)
    km = risk_group_summary(groups, y).km.loc["outcome"]
    assert km.at["low", "median"] == 3.0
    assert KaplanMeierFitter().fit([1, 2, 4, 5], [1, 1, 1, 1]).median_survival_time_ == 2.0
    assert km.at["high", "median"] == 1.5


def test_score_cut_rules_and_the_hazard_ratio_per_sd():
    rng = np.random.default_rng(0)
    score = pd.Series(rng.uniform(size=150), index=[f"p{i}" for i in range(150)])
    time = rng.exponential(20 / (0.5 + 2 * score.to_numpy()))
    y = Surv.from_arrays(time < 30, np.minimum(time, 30))
    median = risk_group_summary(score, {"PFS": y}, cutoff="median")
    assert median.groups.index.equals(score.index)
    assert (median.groups == "high").tolist() == (score > score.median()).tolist()
    assert median.cutoffs.tolist() == [score.median()]
    frame = pd.DataFrame({"z": (score - score.mean()) / score.std(ddof=1), "t": y["time"],
                          "e": y["event"]})
    per_sd = CoxPHFitter().fit(frame, "t", "e").summary.loc["z"]
    assert median.tests.at["PFS", "HR per SD"] == pytest.approx(per_sd["exp(coef)"], rel=1e-5)
    # training cut-offs: a RiskStratifier fitted elsewhere, and a model's threshold_
    train = RiskStratifier(method="median").fit(score.to_numpy()[:50, None])
    fitted = risk_group_summary(score, y, cutoff=train)
    expected = np.where(score > np.median(score[:50]), "high", "low")
    assert fitted.groups.tolist() == expected.tolist()

    class Fitted:
        threshold_ = 0.4

    youden = risk_group_summary(score, y, cutoff=Fitted())
    assert youden.groups.tolist() == np.where(score >= 0.4, "high", "low").tolist()
    tertiles = risk_group_summary(score, y, cutoff="tertiles")
    assert tertiles.levels == ["low", "intermediate", "high"]
    assert tertiles.tests.at["outcome", "df"] == 2
    ratios = tertiles.hazard_ratios.loc["outcome"]
    direct = hazard_ratio(y, tertiles.groups.to_numpy(), reference="low")
    assert ratios["HR"].to_dict() == pytest.approx(direct["HR"].to_dict())
    codes = risk_group_summary(np.array([0, 1, 2] * 50), y)  # RiskStratifier codes
    assert codes.levels == ["low", "intermediate", "high"]


def test_bad_input_is_named():
    y = Surv.from_arrays(event=[1, 0, 1, 1], time=[1, 2, 3, 4])
    with pytest.raises(MetricInputError, match="one group"):
        risk_group_summary(np.array(["low"] * 4), y)
    with pytest.raises(MetricInputError, match="reference='mid'"):
        risk_group_summary(np.array(["low", "low", "high", "high"]), y, reference="mid")
    with pytest.raises(MetricInputError, match="Youden cut-off needs labels"):
        risk_group_summary(np.arange(4.0), y, cutoff="youden")
    with pytest.raises(MetricInputError, match="has 4 patients, risk 3"):
        risk_group_summary(np.array(["low", "low", "high"]), y)
    with pytest.raises(MetricInputError, match="missing for 1 patient.*'p2'"):
        risk_group_summary(pd.Series(["low", "low", None, "high"], index=["p0", "p1", "p2", "p3"]),
                           y)


def test_markdown_and_html_carry_the_numbers(lung):
    y, groups = lung
    result = risk_group_summary(groups, {"OS": y}, ci="log")
    text = result.to_markdown()
    assert "| OS | low | 90 | 53 | 426.000 [348.000, 550.000] | ref. | 0.001 |" in text
    assert "1.701 [1.226, 2.360]" in text
    assert "<td>426.000 [348.000, 550.000]</td>" in result.to_html()
    assert repr(result).startswith("<RiskGroupSummary: 228 patients (low 90, high 138)")


# ------------------------------------------------------- per fold: compare_survival_models
@pytest.fixture(scope="module")
def folds_result():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=120), "z": rng.normal(size=120)},
                     index=[f"p{i}" for i in range(120)])
    time = rng.exponential(np.exp(-X["x"].to_numpy()))
    y = Surv.from_arrays(event=rng.random(120) < 0.8, time=time)
    folds = list(KFold(3, shuffle=True, random_state=1).split(X))
    return X, y, folds, compare_survival_models({"cox": CoxPHSurvival()}, X, y, cv=folds)


def test_per_fold_c_index_and_training_median_hazard_ratio(folds_result):
    X, y, folds, result = folds_result
    per_fold = result.fold_risk_groups.set_index("fold")
    harrell = result.scores[result.scores["metric"] == "harrell_c"].set_index("fold")["value"]
    for k, (train, test) in enumerate(folds):
        model = CoxPHSurvival().fit(X.iloc[train], y[train])
        risk, risk_train = model.predict(X.iloc[test]), model.predict(X.iloc[train])
        expected_c = concordance_index_censored(y["event"][test], y["time"][test], risk)[0]
        assert harrell[k] == pytest.approx(expected_c, rel=1e-12)
        high = (risk > np.median(risk_train)).astype(int)  # the training median, not the test's
        expected = hazard_ratio(y[test], high, reference=0).iloc[0]
        assert per_fold.at[k, "HR"] == pytest.approx(expected["HR"], rel=1e-9)
        assert per_fold.at[k, "HR_low"] == pytest.approx(expected["HR lower"], rel=1e-9)
        assert per_fold.at[k, "n_high"] == high.sum()
    assert per_fold["HR"].min() > 1.5  # x drives the hazard: the high-risk group does worse
    table = result.fold_summary(digits=3)
    hr = per_fold["HR"]
    assert table.loc[0, "C-index"] == f"{harrell.mean():.3f} ± {harrell.std(ddof=1):.3f}"
    assert table.loc[0, "HR"] == f"{hr.mean():.3f} ± {hr.std(ddof=1):.3f}"


def test_km_figure_has_one_panel_per_fold(folds_result):
    *_, result = folds_result
    figure = result.plot_km("cox")
    assert len(figure.axes) == 3
    assert [ax.get_title() for ax in figure.axes] == [f"cox, fold {k}" for k in range(1, 4)]
    # each panel: one step curve per group, drawn from that fold's test patients
    assert all(len(ax.get_legend().get_texts()) == 2 for ax in figure.axes)
    with pytest.raises(KeyError, match="Unknown model"):
        result.plot_km("nope")
