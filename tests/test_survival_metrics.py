"""Survival scorers (against scikit-survival's metric functions) and calibration."""

import pickle

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)

from mvikit.survival import (
    CoxPHSurvival,
    Surv,
    calibration_at_horizon,
    make_survival_scorer,
    make_survival_target,
)


def _split(frame, time, event):
    y = make_survival_target(frame, time=time, event=event)
    X = frame.drop(columns=[time, event])
    train, test = next(KFold(3, shuffle=True, random_state=1).split(X))
    model = CoxPHSurvival().fit(X.iloc[train], y[train])
    return model, X.iloc[test], y[train], y[test], X, y


@pytest.fixture(scope="module")
def split():
    # Rossi: follow-up ends at week 52 for everyone (administrative censoring)
    return _split(load_rossi(), "week", "arrest")


@pytest.fixture(scope="module")
def lung_split():
    return _split(load_lung().dropna(), "time", "status")


def test_scorers_equal_sksurv_metrics(lung_split):
    model, X_test, y_train, y_test, _, _ = lung_split
    risk = model.predict(X_test)
    harrell = make_survival_scorer("harrell_c")(model, X_test, y_test)
    assert harrell == pytest.approx(
        concordance_index_censored(y_test["event"], y_test["time"], risk)[0])
    assert harrell == pytest.approx(model.score(X_test, y_test))
    # Uno's C: censoring KM of the training target, tau = 90th percentile of training times
    tau = np.quantile(y_train["time"], 0.9)
    assert make_survival_scorer("uno_c")(model, X_test, y_test) == pytest.approx(
        concordance_index_ipcw(y_train, y_test, risk, tau=tau)[0])
    tau_test = np.quantile(y_test["time"], 0.9)
    assert make_survival_scorer("uno_c", censoring="test")(model, X_test, y_test) == \
        pytest.approx(concordance_index_ipcw(y_test, y_test, risk, tau=tau_test)[0])
    assert make_survival_scorer("uno_c", tau=300.0)(model, X_test, y_test) == pytest.approx(
        concordance_index_ipcw(y_train, y_test, risk, tau=300.0)[0])
    times = np.array([100.0, 200.0, 300.0, 400.0])
    assert make_survival_scorer("cumulative_auc", times=times)(model, X_test, y_test) == \
        pytest.approx(cumulative_dynamic_auc(y_train, y_test, risk, times)[1])
    survival = model.predict_survival_function(X_test, return_array=True)
    grid = np.searchsorted(model.unique_times_, times, side="right") - 1
    expected_ibs = integrated_brier_score(y_train, y_test, survival[:, grid], times)
    assert make_survival_scorer("neg_integrated_brier", times=times)(model, X_test, y_test) == \
        pytest.approx(-expected_ibs)
    # default grid: 10th..80th percentiles of the test fold's event times
    default_times = np.unique(np.quantile(y_test["time"][y_test["event"]],
                                          np.linspace(0.1, 0.8, 8)))
    assert make_survival_scorer("cumulative_auc")(model, X_test, y_test) == pytest.approx(
        cumulative_dynamic_auc(y_train, y_test, risk, default_times)[1])


def test_ipcw_scorers_with_administrative_censoring(split):
    model, X_test, y_train, y_test, _, _ = split
    times = np.array([10.0, 20.0, 30.0, 40.0])
    risk = model.predict(X_test)
    # every Rossi patient left at week 52 is censored: G(52) = 0 and sksurv refuses the
    # test fold's week-52 events; they do not matter for the AUC at weeks <= 40
    with pytest.raises(ValueError, match="censoring survival function is zero"):
        cumulative_dynamic_auc(y_train, y_test, risk, times)
    capped = y_test.copy()
    capped["event"][capped["time"] > 40] = False
    capped["time"][capped["time"] > 40] = np.nextafter(40.0, 50.0)
    assert make_survival_scorer("cumulative_auc", times=times)(model, X_test, y_test) == \
        pytest.approx(cumulative_dynamic_auc(y_train, capped, risk, times)[1])
    # the Brier score does not depend on the cap
    survival = np.vstack([fn(times) for fn in model.predict_survival_function(X_test)])
    assert make_survival_scorer("neg_integrated_brier", times=times)(model, X_test, y_test) == \
        pytest.approx(-integrated_brier_score(y_train, y_test, survival, times))


def test_scorers_in_cross_validate_and_grid_search(split):
    _, _, _, _, X, y = split
    cv = KFold(3, shuffle=True, random_state=0)
    scoring = {"harrell": make_survival_scorer("harrell_c"),
               "uno": make_survival_scorer("uno_c"),
               "ibs": make_survival_scorer("neg_integrated_brier", times=[10.0, 25.0, 40.0])}
    pipe = make_pipeline(StandardScaler(), CoxPHSurvival())
    result = cross_validate(pipe, X, y, cv=cv, scoring=scoring)
    # the Uno scorer found the training target through the Pipeline's final step
    for k, (train, test) in enumerate(cv.split(X)):
        fold = clone(pipe).fit(X.iloc[train], y[train])
        tau = np.quantile(y["time"][train], 0.9)
        assert result["test_uno"][k] == pytest.approx(
            concordance_index_ipcw(y[train], y[test], fold.predict(X.iloc[test]), tau=tau)[0])
    assert np.all(result["test_harrell"] > 0.55)
    assert np.all((-result["test_ibs"] > 0.05) & (-result["test_ibs"] < 0.25))
    search = GridSearchCV(pipe, {"coxphsurvival__penalizer": [0.0, 5.0]}, cv=cv,
                          scoring=scoring["uno"]).fit(X, y)
    # the best Uno C and the search's refit model are consistent
    assert search.best_score_ == pytest.approx(search.cv_results_["mean_test_score"].max())
    assert make_survival_scorer("uno_c")(search, X, y) == pytest.approx(
        concordance_index_ipcw(y, y, search.predict(X), tau=np.quantile(y["time"], 0.9))[0])
    restored = pickle.loads(pickle.dumps(scoring["uno"]))
    assert repr(restored) == repr(scoring["uno"])


def test_censoring_option_for_models_without_training_target(split):
    _, X_test, _, y_test, X, y = split
    coxnet = make_pipeline(StandardScaler(), CoxnetSurvivalAnalysis(alphas=[0.01])).fit(X, y)
    with pytest.raises(AttributeError, match="censoring='test'"):
        make_survival_scorer("uno_c")(coxnet, X_test, y_test)
    risk = coxnet.predict(X_test)
    tau = np.quantile(y_test["time"], 0.9)
    assert make_survival_scorer("uno_c", censoring="test")(coxnet, X_test, y_test) == \
        pytest.approx(concordance_index_ipcw(y_test, y_test, risk, tau=tau)[0])
    with pytest.raises(ValueError, match="metric must be one of"):
        make_survival_scorer("auc")
    with pytest.raises(ValueError, match="'train' or 'test'"):
        make_survival_scorer("uno_c", censoring="pooled")


def test_calibration_at_horizon_against_kaplan_meier():
    rng = np.random.default_rng(3)
    n = 600
    risk = rng.uniform(0.05, 0.8, n)
    # exponential times with P(T <= 12) = risk; uniform censoring up to 40
    event_time = rng.exponential(-12 / np.log(1 - risk))
    censor_time = rng.uniform(5, 40, n)
    y = Surv.from_arrays(event_time <= censor_time, np.minimum(event_time, censor_time))
    table = calibration_at_horizon(y, risk, 12.0, n_groups=5)
    assert table["n"].tolist() == [120] * 5
    # group 0 by hand: the lowest fifth of the predicted risks
    lowest = risk <= np.quantile(risk, 0.2)
    km = KaplanMeierFitter().fit(y["time"][lowest], y["event"][lowest])
    observed = 1 - km.survival_function_at_times(12.0).iloc[0]
    assert table.loc[0, "observed"] == pytest.approx(observed)
    assert table.loc[0, "predicted"] == pytest.approx(risk[lowest].mean())
    lower = km.confidence_interval_.iloc[np.searchsorted(km.confidence_interval_.index, 12.0,
                                                         side="right") - 1]
    assert table.loc[0, "observed upper"] == pytest.approx(1 - lower.iloc[0])
    # a calibrated prediction: every group's CI covers the predicted risk
    assert np.all(table["observed lower"] <= table["predicted"] + 0.02)
    assert np.all(table["observed upper"] >= table["predicted"] - 0.02)
    assert np.abs(table["observed"] - table["predicted"]).max() < 0.08
    # a group whose follow-up ends before the horizon has no observed value
    short = Surv.from_arrays([True, False, True, False], [1.0, 2.0, 20.0, 30.0])
    table = calibration_at_horizon(short, [0.1, 0.2, 0.8, 0.9], 10.0, n_groups=2)
    assert np.isnan(table.loc[0, "observed"]) and table.loc[1, "observed"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        calibration_at_horizon(short, [0.1, 0.2, 1.5, 0.9], 10.0)
