"""Frozen-model validation and recalibration: equal to statsmodels fits with offsets."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mvikit.exceptions import ColumnRoleError, MetricInputError, OutputExistsError
from mvikit.metrics import calibration_stats
from mvikit.study import (
    RecalibratedClassifier,
    logistic_recalibration,
    validate_frozen,
    write_validation_report,
)


def _cohort(rng, n, shift):
    X = pd.DataFrame({"age": rng.normal(60, 10, n), "afp": rng.lognormal(3, 1, n),
                      "size": rng.gamma(3, 1.5, n)},
                     index=pd.Index([f"P-{i:03d}" for i in range(n)], name="patient_id"))
    lp = shift + 0.04 * (X["age"] - 60) + 0.5 * np.log(X["afp"]) - 1.5 + 0.3 * X["size"] - 1
    return X, pd.Series(rng.binomial(1, 1 / (1 + np.exp(-lp))), index=X.index, name="mvi")


@pytest.fixture
def development_and_external():
    rng = np.random.default_rng(3)
    X_dev, y_dev = _cohort(rng, 300, 0.0)
    X_new, y_new = _cohort(rng, 250, -0.8)  # another centre: lower baseline risk
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_dev, y_dev)
    return model, X_new, y_new


def _logit(p):
    return np.log(p / (1 - p))


def test_recalibration_equals_statsmodels_with_offset(development_and_external):
    model, X, y = development_and_external
    lp = _logit(model.predict_proba(X)[:, 1])
    offset_fit = sm.Logit(y.to_numpy(), np.ones((len(y), 1)), offset=lp).fit(disp=0)
    slope_fit = sm.Logit(y.to_numpy(), sm.add_constant(lp)).fit(disp=0)
    intercept = RecalibratedClassifier(model, method="intercept").fit(X, y)
    assert intercept.intercept_ == pytest.approx(offset_fit.params[0], rel=1e-8)
    assert intercept.slope_ == 1.0
    logistic = RecalibratedClassifier(model, method="logistic").fit(X, y)
    assert [logistic.intercept_, logistic.slope_] == pytest.approx(slope_fit.params, rel=1e-8)
    fit = logistic_recalibration(y, model.predict_proba(X)[:, 1])
    assert [fit["intercept_se"], fit["slope_se"]] == pytest.approx(list(slope_fit.bse), rel=1e-6)
    # the score equations: the intercept update matches the observed event rate, and the
    # logistic recalibration leaves intercept 0 and slope 1 on the cohort it was fitted on
    assert intercept.predict_proba(X)[:, 1].mean() == pytest.approx(y.mean(), abs=1e-9)
    again = calibration_stats(y, logistic.predict_proba(X)[:, 1])
    assert again.slope == pytest.approx(1.0, abs=1e-7)
    assert again.intercept == pytest.approx(0.0, abs=1e-7)
    assert logistic.predict(X).tolist() == (logistic.predict_proba(X)[:, 1] >= 0.5).astype(
        int).tolist()


def test_refit_and_the_frozen_model_untouched(development_and_external):
    model, X, y = development_and_external
    before = model.predict_proba(X)
    refit = RecalibratedClassifier(model, method="refit").fit(X, y)
    expected = clone(model).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(refit.predict_proba(X), expected, rtol=1e-12)
    np.testing.assert_array_equal(model.predict_proba(X), before)
    with pytest.raises(MetricInputError, match="one class"):
        RecalibratedClassifier(model).fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="'method' parameter of RecalibratedClassifier"):
        RecalibratedClassifier(model, method="platt").fit(X, y)


def test_validate_frozen_numbers(development_and_external):
    model, X, y = development_and_external
    result = validate_frozen(model, X, y, threshold=0.3)
    risk = model.predict_proba(X)[:, 1]
    assert result.n == 250 and result.n_events == int(y.sum())
    assert result.auc.auc == pytest.approx(roc_auc_score(y, risk), rel=1e-12)
    offset_fit = sm.Logit(y.to_numpy(), np.ones((len(y), 1)), offset=_logit(risk)).fit(disp=0)
    assert result.calibration.intercept == pytest.approx(offset_fit.params[0], rel=1e-6)
    slope_fit = sm.Logit(y.to_numpy(), sm.add_constant(_logit(risk))).fit(disp=0)
    assert result.val_prob["intercept"] == pytest.approx(slope_fit.params[0], rel=1e-8)
    assert result.val_prob["slope"] == pytest.approx(result.calibration.slope, rel=1e-6)
    assert result.calibration.intercept < -0.3  # the lower baseline risk is found
    positive = risk >= 0.3
    assert result.metrics.tp == int((positive & (y == 1)).sum())
    assert result.metrics.fp == int((positive & (y == 0)).sum())
    summary = result.summary().set_index("statistic")
    assert summary.loc["Sensitivity at 0.3", "estimate"] == pytest.approx(
        result.metrics.tp / y.sum())
    assert summary.loc["AUC", "lower"] == pytest.approx(result.auc.ci[0])
    assert result.predictions.index.equals(X.index)


def test_validate_frozen_bad_input(development_and_external):
    model, X, y = development_and_external
    with pytest.raises(ColumnRoleError, match=r"lacks 1 column\(s\).*\['afp'\]"):
        validate_frozen(model, X.drop(columns="afp"), y)
    with pytest.raises(MetricInputError, match="one class"):
        validate_frozen(model, X, pd.Series(1, index=X.index))
    y_missing = y.astype(float)
    y_missing.loc["P-007"] = np.nan
    with pytest.raises(MetricInputError, match="missing for patient.*'P-007'"):
        validate_frozen(model, X, y_missing)


def test_validation_report_files(development_and_external, tmp_path):
    model, X, y = development_and_external
    result = validate_frozen(model, X, y, threshold=0.3)
    folder = write_validation_report(result, tmp_path / "validation", model_name="nomogram")
    assert sorted(p.name for p in (folder / "figures").iterdir()) == [
        "calibration.png", "decision_curve.png", "roc.png"]
    summary = pd.read_csv(folder / "tables" / "summary.csv").set_index("statistic")
    assert summary.loc["Calibration slope", "estimate"] == pytest.approx(
        result.calibration.slope)
    predictions = pd.read_csv(folder / "tables" / "predictions.csv")
    assert predictions["patient_id"].iloc[0] == "P-000"
    text = (folder / "report.md").read_text()
    assert "nomogram was applied unchanged to 250 patients" in text
    assert f"| AUC | {result.auc.auc:.3f} |" in text
    with pytest.raises(OutputExistsError):
        write_validation_report(result, folder)
