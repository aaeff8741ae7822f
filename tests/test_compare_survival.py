"""compare_models on survival targets: numbers against scikit-survival, mvikit.survival and R."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_lung
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import make_pipeline
from sksurv.metrics import concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score

from mvikit.exceptions import DataWarning, MetricInputError
from mvikit.model_selection import SurvivalComparison, compare_models, compare_survival_models
from mvikit.model_selection._survival_results import _paired_c
from mvikit.survival import (
    CoxPHSurvival,
    Surv,
    concordance_index,
    hazard_ratio,
    logrank_test,
    make_survival_target,
)

CV = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=0)
TIMES = np.array([180.0, 365.0, 540.0])


@pytest.fixture(scope="module")
def lung():
    frame = load_lung().dropna().reset_index(drop=True)
    frame.index = pd.Index([f"L{i:03d}" for i in range(len(frame))], name="patient")
    y = make_survival_target(frame, time="time", event="status")
    return frame.drop(columns=["time", "status"]), y


def _models():
    two = make_pipeline(make_column_transformer(("passthrough", ["age", "ph.ecog"])),
                        CoxPHSurvival())
    return {"full Cox": CoxPHSurvival(penalizer=0.1), "age + ECOG": two}


@pytest.fixture(scope="module")
def result(lung):
    X, y = lung
    return compare_survival_models(_models(), X, y, times=TIMES, cv=CV)


def test_dispatch_and_fold_metrics_equal_sksurv(lung, result):
    X, y = lung
    assert isinstance(result, SurvivalComparison)
    assert result.metrics == ["harrell_c", "uno_c", "auc@180", "auc@365", "auc@540",
                              "mean_auc", "ibs"]
    splits = list(CV.split(X, y["event"]))
    assert len(result.splits) == 6
    for s, (train, test) in enumerate(splits):
        np.testing.assert_array_equal(result.splits.loc[s, "test_indices"], test)
        model = clone(_models()["age + ECOG"]).fit(X.iloc[train], y[train])
        risk = model.predict(X.iloc[test])
        tau = np.quantile(y["time"][train], 0.9)
        auc, mean_auc = cumulative_dynamic_auc(y[train], y[test], risk, TIMES)
        survival = np.vstack([fn(TIMES) for fn in model.predict_survival_function(X.iloc[test])])
        expected = {
            "harrell_c": concordance_index(y[test], risk).c,
            "uno_c": concordance_index_ipcw(y[train], y[test], risk, tau=tau)[0],
            "auc@180": auc[0], "auc@365": auc[1], "auc@540": auc[2], "mean_auc": mean_auc,
            "ibs": integrated_brier_score(y[train], y[test], survival, TIMES)}
        repeat, fold = result.splits.loc[s, ["repeat", "fold"]]
        got = result.scores.query("model == 'age + ECOG' and repeat == @repeat and "
                                  "fold == @fold").set_index("metric")["value"]
        for metric, value in expected.items():
            assert got[metric] == pytest.approx(value, abs=1e-12), metric
    # the same splits through compare_models (defaults: its own horizons), same Harrell C
    via = compare_models(_models(), X, y, cv=CV)
    harrell = result.scores.query("metric == 'harrell_c'").reset_index(drop=True)
    np.testing.assert_allclose(
        via.scores.query("metric == 'harrell_c'")["value"].to_numpy(), harrell["value"])


def test_summary_wilcoxon_and_table(result):
    harrell = result.scores.query("metric == 'harrell_c'")
    for model in result.models:
        values = harrell.query("model == @model")["value"]
        assert result.summary.loc[model, "harrell_c_mean"] == pytest.approx(values.mean())
        assert result.summary.loc[model, "harrell_c_sd"] == pytest.approx(values.std(ddof=1))
    wide = harrell.pivot_table(index=["repeat", "fold"], columns="model", values="value")
    p = stats.wilcoxon(wide["age + ECOG"], wide["full Cox"]).pvalue
    assert result.summary.loc["age + ECOG", "p_wilcoxon"] == pytest.approx(p)
    table = result.table()
    assert list(table["p Wilcoxon (Harrell C)"])[0] == "ref."
    mean, sd = result.summary.loc["full Cox", ["harrell_c_mean", "harrell_c_sd"]]
    assert table.loc[0, "Harrell C"] == f"{mean:.3f} ± {sd:.3f}"
    assert "Survival model comparison" in result.to_markdown()
    assert "<table" in result.to_html()


def test_pooled_c_and_paired_test(result, lung):
    _, y = lung
    for repeat in (0, 1):
        oof = {m: result.oof_predictions(m, repeat) for m in result.models}
        full = concordance_index(y, oof["full Cox"]["risk"].to_numpy())
        two = concordance_index(y, oof["age + ECOG"]["risk"].to_numpy())
        row = result.pooled.query("model == 'full Cox' and repeat == @repeat").iloc[0]
        assert (row["c"], row["se"]) == pytest.approx((full.c, full.se))
        assert row["ci_low"] == pytest.approx(full.c - 1.959963984540054 * full.se)
        paired = result.paired.query("repeat == @repeat").iloc[0]
        se = np.sqrt(np.sum((two.influence - full.influence) ** 2))
        assert paired["difference"] == pytest.approx(two.c - full.c)
        assert paired["se"] == pytest.approx(se)
        assert paired["p_value"] == pytest.approx(2 * stats.norm.sf(abs(two.c - full.c) / se))


def test_paired_variance_equals_r_concordance_of_two_fits():
    # fit1 <- coxph(Surv(time, status) ~ karno + age + trt + celltype, data=veteran)
    # fit2 <- coxph(Surv(time, status) ~ karno, data=veteran)
    # cc <- concordance(fit1, fit2); ct <- c(1, -1)
    # sum(ct*cc$concordance); sqrt(drop(ct %*% cc$var %*% ct))
    #   diff=0.029134484325307 se=0.017268459871420
    # cc$var[1, 2] = 0.000326654791933693
    veteran = pd.read_csv(Path(__file__).parent / "data" / "veteran.csv")
    y = Surv.from_arrays(event=veteran["status"] == 1, time=veteran["time"].astype(float))
    full = concordance_index(y, veteran["lp"].to_numpy())
    karno = concordance_index(y, -veteran["karno"].to_numpy(float))
    assert np.sum(full.influence * karno.influence) == pytest.approx(
        0.000326654791933693, abs=1e-15)
    paired = _paired_c(full, karno, 1.96)
    assert paired["difference"] == pytest.approx(0.029134484325307, abs=1e-14)
    assert paired["se"] == pytest.approx(0.017268459871420, abs=1e-14)


def test_risk_groups_cut_on_training_folds(result, lung):
    X, y = lung
    splits = list(CV.split(X, y["event"]))
    fits = result.fits.query("model == 'full Cox'").reset_index(drop=True)
    for s, (train, _test) in enumerate(splits):
        model = clone(_models()["full Cox"]).fit(X.iloc[train], y[train])
        cut = np.quantile(model.predict(X.iloc[train]), 0.5)
        assert fits.loc[s, "cutoffs"][0] == pytest.approx(cut)
        rows = result.predictions.query("model == 'full Cox'").reset_index(drop=True)
        repeat, fold = result.splits.loc[s, ["repeat", "fold"]]
        held = rows.query("repeat == @repeat and fold == @fold")
        np.testing.assert_array_equal(held["risk_group"], (held["risk"] > cut).astype(int))
    oof = result.oof_predictions("full Cox", 0)
    expected = logrank_test(y, oof["risk_group"].to_numpy())
    hr = hazard_ratio(y, oof["risk_group"].to_numpy()).iloc[0]
    row = result.risk_groups.query("model == 'full Cox' and repeat == 0").iloc[0]
    assert row["p_logrank"] == pytest.approx(expected.p_value)
    assert row["HR"] == pytest.approx(hr["HR"])
    assert row["n_low"] + row["n_high"] == len(y)


class _ConstantRisk(BaseEstimator):
    """Every patient gets the same risk: all pairs tied."""

    _estimator_kind = "survival"

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.zeros(len(X))


def test_tied_risk_scores(lung):
    X, y = lung
    with pytest.warns(DataWarning, match="Risk groups could not be cut in 6 fit"):
        result = compare_survival_models({"Cox": CoxPHSurvival(), "constant": _ConstantRisk()},
                                         X, y, times=TIMES, cv=CV)
    constant = result.scores.query("model == 'constant'").groupby("metric")["value"]
    assert (constant.get_group("harrell_c") == 0.5).all()
    assert (constant.get_group("uno_c") == 0.5).all()
    assert constant.get_group("ibs").isna().all()  # no predict_survival_function
    assert (result.oof_predictions("constant")["risk_group"] == -1).all()
    assert np.isnan(result.risk_groups.query("model == 'constant'")["p_logrank"]).all()
    assert result.pooled.query("model == 'constant'")["c"].eq(0.5).all()


def test_bad_input(lung):
    X, y = lung
    last = y["time"].max()
    with pytest.raises(MetricInputError, match=r"horizon 2000 is at or beyond the last follow-up "
                                               r"of the test fold of repeat 0, fold 0 \(last time"):
        compare_survival_models(_models(), X, y, times=[365, 2000], cv=CV)
    assert last < 2000
    # a test fold without events
    no_event = y.copy()
    no_event["event"][:60] = False
    folds = [(np.arange(60, len(y)), np.arange(60)), (np.arange(60), np.arange(60, len(y)))]
    with pytest.raises(MetricInputError, match="test fold of repeat 0, fold 0 .60 patients. has "
                                               "no event"):
        compare_survival_models(_models(), X, no_event, times=[100.0], cv=folds)
    # classifiers and survival models mixed
    with pytest.raises(ValueError, match=r"model\(s\) \['logistic'\] are not survival models"):
        compare_models({"Cox": CoxPHSurvival(), "logistic": LogisticRegression()}, X, y, cv=CV)
    with pytest.raises(ValueError, match=r"model\(s\) \['Cox'\] are not classifiers"):
        compare_models({"Cox": CoxPHSurvival(), "logistic": LogisticRegression()}, X,
                       y["event"], cv=CV)


def test_survival_report(result, lung, tmp_path):
    from mvikit.report import build_report, write_report

    report = build_report(result, title="Survival")
    assert list(report.figures) == ["km", "time_roc", "calibration", "decision_curve"]
    assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in report.figures.values())
    assert "Harrell's C of the pooled out-of-fold risk" in report.markdown
    assert "Paired comparison of pooled C-indices" in report.html
    pd.testing.assert_frame_equal(report.tables["paired_c"], result.paired)
    # the pooled predictions carry the survival at each horizon for the figures
    oof = result.oof_predictions("full Cox", 0)
    assert oof["survival@365"].between(0, 1).all()
    # in the same document as a classifier comparison of the same patients
    X, y = lung
    classifiers = compare_models({"logistic": LogisticRegression(max_iter=1000)}, X,
                                 (y["time"] < 365).astype(int), cv=CV, scoring=["auc"],
                                 threshold=0.5)
    joint = build_report(classifiers, survival=result)
    assert "survival_km" in joint.figures and "roc" in joint.figures
    assert "survival_paired_c" in joint.tables and "delong" in joint.tables
    markdown = joint.markdown
    assert markdown.index("## Methods") < markdown.index("## Survival") < markdown.index(
        "![survival_km](figures/survival_km.png)")
    folder = write_report(result, tmp_path / "report")
    assert (folder / "figures" / "km.png").exists()
    assert (folder / "tables" / "risk_groups.csv").exists()
