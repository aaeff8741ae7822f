"""Survival targets, horizon labels, risk groups, KM/log-rank/HR helpers and plot_km."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402
from lifelines.datasets import load_lung, load_rossi  # noqa: E402
from lifelines.statistics import logrank_test as lifelines_logrank  # noqa: E402
from lifelines.statistics import multivariate_logrank_test  # noqa: E402
from lifelines.utils import median_survival_times  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from statsmodels.duration.survfunc import SurvfuncRight  # noqa: E402

from mvikit.exceptions import SurvivalTargetError  # noqa: E402
from mvikit.plotting import plot_km  # noqa: E402
from mvikit.preprocessing import ClinicalPreprocessor  # noqa: E402
from mvikit.survival import (  # noqa: E402
    CoxPHSurvival,
    RiskStratifier,
    Surv,
    check_survival_y,
    hazard_ratio,
    horizon_labels,
    km_summary,
    logrank_test,
    make_survival_target,
)


@pytest.fixture(scope="module")
def lung():
    frame = load_lung()
    return make_survival_target(frame, time="time", event="status"), frame["sex"].to_numpy()


# ---------------------------------------------------------------- survival target
def test_make_survival_target_and_validator_errors():
    table = pd.DataFrame({"t": [5.0, 3.0, 8.0], "e": [1, 0, 1]}, index=["A", "B", "C"])
    y = make_survival_target(table, time="t", event="e")
    np.testing.assert_array_equal(y["event"], [True, False, True])
    np.testing.assert_array_equal(y["time"], [5.0, 3.0, 8.0])
    with pytest.raises(SurvivalTargetError, match="'t' is missing .NaN. for patient 'B'"):
        make_survival_target(table.assign(t=[5.0, np.nan, 8.0]), time="t", event="e")
    with pytest.raises(SurvivalTargetError, match="must be positive; patient 'C' has -2.0"):
        make_survival_target(table.assign(t=[5.0, 3.0, -2.0]), time="t", event="e")
    with pytest.raises(SurvivalTargetError, match="must be positive; patient 'A' has 0.0"):
        make_survival_target(table.assign(t=[0.0, 3.0, 2.0]), time="t", event="e")
    with pytest.raises(SurvivalTargetError, match="boolean or 0/1; patient 'C' has 2"):
        make_survival_target(table.assign(e=[1, 0, 2]), time="t", event="e")
    with pytest.raises(SurvivalTargetError, match="dtype object.*boolean or 0/1"):
        make_survival_target(table.assign(e=["dead", "alive", "dead"]), time="t", event="e")
    with pytest.raises(SurvivalTargetError, match="'e' is missing for patient 'A'"):
        make_survival_target(table.assign(e=[np.nan, 0, 1]), time="t", event="e")
    with pytest.raises(KeyError, match="time='days' is not a column"):
        make_survival_target(table, time="days", event="e")
    with pytest.raises(SurvivalTargetError, match="All 2 patients are censored"):
        check_survival_y(Surv.from_arrays([False, False], [1.0, 2.0]))
    with pytest.raises(SurvivalTargetError, match="plain array.*Surv.from_arrays"):
        check_survival_y(np.array([1.0, 2.0]))
    with pytest.raises(SurvivalTargetError, match="got DataFrame.*Surv.from_arrays"):
        check_survival_y(table)
    with pytest.raises(SurvivalTargetError, match="is missing .NaN. for row 1"):
        check_survival_y(Surv.from_arrays([True, True], [1.0, np.nan]))


# ---------------------------------------------------------------- horizon labels
def test_horizon_labels_by_hand():
    # times:  2E  4C  5E  7E  9C  12E  15C   horizon 6
    y = Surv.from_arrays([1, 0, 1, 1, 0, 1, 0], [2.0, 4.0, 5.0, 7.0, 9.0, 12.0, 15.0])
    res = horizon_labels(y, 6.0)
    np.testing.assert_array_equal(res.labels, [1, -1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(res.mask, [True, False, True, True, True, True, True])
    assert res.counts == {"events": 2, "event_free": 4, "censored_before_horizon": 1}
    np.testing.assert_array_equal(res.weights, res.mask.astype(float))
    # censoring KM: G = 1 before 4, 5/6 from 4 on (6 at risk at t=4, 1 censored)
    ipcw = horizon_labels(y, 6.0, censored="ipcw")
    np.testing.assert_allclose(ipcw.weights, [1.0, 0.0, 6 / 5, 6 / 5, 6 / 5, 6 / 5, 6 / 5])
    np.testing.assert_array_equal(ipcw.labels, res.labels)


def test_ipcw_weights_reproduce_kaplan_meier(lung):
    y, _ = lung
    for horizon in (180.0, 365.0, 500.0):
        res = horizon_labels(y, horizon, censored="ipcw")
        km = KaplanMeierFitter().fit(y["time"], y["event"])
        expected = 1 - km.survival_function_at_times(horizon).iloc[0]
        # weighted case fraction = 1 - KM(h); weights sum to n (Satten & Datta 2001)
        assert (res.weights * (res.labels == 1)).sum() / y.size == pytest.approx(expected)
        assert res.weights.sum() == pytest.approx(y.size)


def test_horizon_errors():
    y = Surv.from_arrays([1, 0, 1], [2.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="not before the last follow-up time 5.0"):
        horizon_labels(y, 5.0)
    with pytest.raises(ValueError, match="positive"):
        horizon_labels(y, 0)
    with pytest.raises(ValueError, match="'exclude' or 'ipcw'"):
        horizon_labels(y, 3.0, censored="drop")


# ---------------------------------------------------------------- risk groups
def test_risk_stratifier_cutoffs_from_training_only():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(101, 1))
    median = RiskStratifier().fit(train)
    assert median.cutoffs_[0] == pytest.approx(np.median(train))
    np.testing.assert_array_equal(median.group_counts_, [51, 50])  # median itself is "low"
    new = np.array([[-5.0], [np.median(train)], [5.0]])
    np.testing.assert_array_equal(median.predict(new), [0, 0, 1])
    tertiles = RiskStratifier(method="tertiles").fit(train)
    np.testing.assert_allclose(tertiles.cutoffs_, np.quantile(train, [1 / 3, 2 / 3]))
    assert tertiles.group_names_ == ["low", "intermediate", "high"]
    fixed = RiskStratifier(method=0.157).fit(np.array([[0.1], [0.157], [0.2]]))
    np.testing.assert_array_equal(fixed.transform(np.array([[0.157], [0.1571]])), [[0], [1]])
    assert fixed.get_feature_names_out().tolist() == ["risk_group"]


def test_youden_on_horizon_labels_matches_roc(lung):
    y, sex = lung
    frame = load_lung()
    score = frame["ph.ecog"].fillna(1).to_numpy() + 0.01 * frame["age"].to_numpy()
    strat = RiskStratifier(method="youden", horizon=365.0).fit(score[:, None], y)
    res = horizon_labels(y, 365.0)
    fpr, tpr, thr = roc_curve(res.labels[res.mask], score[res.mask])
    assert strat.youden_index_ == pytest.approx((tpr - fpr).max())
    high = strat.predict(score[:, None]) == 1
    kept = res.mask
    # training groups are exactly the best ROC split
    best = thr[np.argmax(tpr - fpr)]
    np.testing.assert_array_equal(high[kept], score[kept] >= best)


def test_risk_stratifier_with_estimator_and_errors(lung):
    y, _ = lung
    frame = load_lung()[["age", "sex", "ph.ecog", "ph.karno"]]
    strat = RiskStratifier(estimator=make_pipeline(ClinicalPreprocessor(), CoxPHSurvival()))
    groups = strat.fit(frame, y).predict(frame)
    risk = strat.estimator_.predict(frame)
    np.testing.assert_array_equal(groups, (risk > np.median(risk)).astype(int))
    clf = RiskStratifier(estimator=LogisticRegression(), method="youden")
    labels = (y["time"] < 300).astype(int)
    clf.fit(frame.fillna(0), labels)
    proba = clf.estimator_.predict_proba(frame.fillna(0))[:, 1]
    np.testing.assert_array_equal(clf.predict(frame.fillna(0)), proba > clf.cutoffs_[0])
    with pytest.raises(ValueError, match="one column of risk scores, got 4"):
        RiskStratifier().fit(frame.fillna(0))
    with pytest.raises(ValueError, match="needs horizon="):
        RiskStratifier(method="youden").fit(frame[["age"]], y)
    with pytest.raises(ValueError, match="leave the training group.*'high'.* empty"):
        RiskStratifier(method=500.0).fit(frame[["age"]])
    with pytest.raises(ValueError, match="increasing"):
        RiskStratifier(method=[0.5, 0.2]).fit(frame[["age"]])


# ---------------------------------------------------------------- KM, log-rank, HR
def test_km_summary_matches_r_and_lifelines(lung):
    y, sex = lung
    # R: survfit(Surv(time, status) ~ sex, data = lung)   (conf.type = "log", R's default)
    #         n events median 0.95LCL 0.95UCL
    # sex=1 138    112    270     212     310
    # sex=2  90     53    426     348     550
    table = km_summary(y, sex, ci="log")
    np.testing.assert_array_equal(table.to_numpy(), [[138, 112, 270, 212, 310],
                                                     [90, 53, 426, 348, 550]])
    # R: survfit(Surv(time, status) ~ 1, data = lung): 228 165 310 285 363
    overall = km_summary(y, np.zeros(y.size), ci="log")
    np.testing.assert_array_equal(overall.to_numpy(), [[228, 165, 310, 285, 363]])
    loglog = km_summary(y, sex)  # lifelines' own (exponential Greenwood) band
    for level in (1, 2):
        inside = sex == level
        km = KaplanMeierFitter().fit(y["time"][inside], y["event"][inside])
        bounds = median_survival_times(km.confidence_interval_).to_numpy().ravel()
        assert loglog.loc[level, "median"] == km.median_survival_time_
        np.testing.assert_array_equal(loglog.loc[level, ["median lower", "median upper"]],
                                      bounds)
        # statsmodels inverts the same tests (SAS); both transforms agree with it
        sf = SurvfuncRight(y["time"][inside], y["event"][inside].astype(float))
        np.testing.assert_array_equal(
            table.loc[level, ["median lower", "median upper"]], sf.quantile_ci(0.5, method="log"))
        np.testing.assert_array_equal(
            loglog.loc[level, ["median lower", "median upper"]], sf.quantile_ci(0.5))


def test_logrank_matches_r_and_lifelines(lung):
    y, sex = lung
    result = logrank_test(y, sex)
    # R: survdiff(Surv(time, status) ~ sex, data = lung): Chisq= 10.3 on 1 degrees of freedom,
    # p= 0.001
    assert (round(result.statistic, 1), result.df, round(result.p_value, 3)) == (10.3, 1, 0.001)
    male, female = sex == 1, sex == 2
    reference = lifelines_logrank(y["time"][male], y["time"][female],
                                  y["event"][male], y["event"][female])
    assert result.statistic == pytest.approx(reference.test_statistic, abs=1e-10)
    assert result.p_value == pytest.approx(reference.p_value, abs=1e-12)
    rossi = load_rossi()
    prio = np.digitize(rossi["prio"], [1, 3])  # three groups
    y3 = make_survival_target(rossi, time="week", event="arrest")
    multi = logrank_test(y3, prio)
    expected = multivariate_logrank_test(rossi["week"], prio, rossi["arrest"])
    assert multi.df == 2
    assert multi.statistic == pytest.approx(expected.test_statistic, abs=1e-10)


def test_hazard_ratio_matches_r(lung):
    y, sex = lung
    # R: coxph(Surv(time, status) ~ sex, data = lung)
    #   coef -0.5310  exp(coef) 0.5880  se 0.1672  p 0.00149; lower .95 0.4237  upper .95 0.816
    table = hazard_ratio(y, sex)
    assert table.loc[2, "HR"] == pytest.approx(0.5880, abs=5e-5)
    assert table.loc[2, "HR lower"] == pytest.approx(0.4237, abs=5e-5)
    assert table.loc[2, "HR upper"] == pytest.approx(0.816, abs=5e-4)
    assert table.loc[2, "p"] == pytest.approx(0.00149, abs=5e-6)
    flipped = hazard_ratio(y, sex, reference=2)
    assert flipped.loc[1, "HR"] == pytest.approx(1 / table.loc[2, "HR"], rel=1e-6)
    with pytest.raises(ValueError, match="reference 3 is not a group"):
        hazard_ratio(y, sex, reference=3)


def test_group_errors(lung):
    y, sex = lung
    groups = sex.copy()
    groups[7] = 3
    for function in (km_summary, logrank_test, hazard_ratio, plot_km):
        with pytest.raises(ValueError, match=r"Group\(s\) \[3\] hold a single patient"):
            function(y, groups)
    with pytest.raises(ValueError, match="At least 2 groups"):
        logrank_test(y, np.ones(y.size))
    with pytest.raises(ValueError, match="one label per patient"):
        km_summary(y, sex[:-1])
    labelled = pd.Series(sex.astype(float), index=[f"P{i}" for i in range(sex.size)])
    labelled.iloc[4] = np.nan
    with pytest.raises(ValueError, match="first at patient 'P4'"):
        km_summary(y, labelled)
    with pytest.raises(ValueError, match="'log-log' or 'log'"):
        km_summary(y, sex, ci="plain")


def test_plot_km_draws_curves_table_and_annotation(lung):
    y, sex = lung
    fig, ax = plt.subplots()
    out = plot_km(y, sex, ax=ax, group_names={1: "male", 2: "female"})
    assert out is ax
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels[:2] == ["male", "female"]
    text = ax.texts[0].get_text()
    assert "log-rank p = 0.00131" in text and "HR female vs male = 0.59 (0.42-0.82)" in text
    # the at-risk table is a second x-axis below the plot (lifelines' add_at_risk_counts)
    assert len(fig.axes) >= 2
    # the male curve passes through the Kaplan-Meier value at 300 days
    km = KaplanMeierFitter().fit(y["time"][sex == 1], y["event"][sex == 1])
    line = [item for item in ax.get_lines() if item.get_label() == "male"][0]
    xs, ys = line.get_data()
    at = np.searchsorted(xs, 300.0, side="right") - 1
    assert ys[at] == pytest.approx(km.survival_function_at_times(300.0).iloc[0])
    plt.close(fig)
    ax = plot_km(y, sex, reference=2, at_risk=False, ci=False)
    assert ax.texts[0].get_text().endswith("HR 1 vs 2 = 1.70 (1.23-2.36)")
    plt.close(ax.figure)
