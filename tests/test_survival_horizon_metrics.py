"""Survival metrics at a horizon: time-dependent ROC, bootstrap CIs, decision curves,
calibration."""

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung
from sksurv.metrics import concordance_index_ipcw, cumulative_dynamic_auc

from mvikit.exceptions import MetricInputError
from mvikit.metrics import decision_curve
from mvikit.survival import (
    CoxPHSurvival,
    Surv,
    calibration_slope_at_horizon,
    km_at,
    make_survival_target,
    smoothed_calibration_at_horizon,
    survival_decision_curve,
    time_dependent_auc_ci,
    time_dependent_roc,
    uno_c_ci,
)


@pytest.fixture(scope="module")
def lung():
    frame = load_lung().dropna()
    return frame, make_survival_target(frame, time="time", event="status")


def _simulated(n, seed, censor=3.0):
    rng = np.random.default_rng(seed)
    lp = rng.normal(size=n)
    time = rng.exponential(np.exp(-lp))
    censor_time = rng.uniform(0.2, censor, n)
    y = Surv.from_arrays(event=time <= censor_time, time=np.minimum(time, censor_time))
    return y, lp


@pytest.mark.parametrize("horizon", [100.0, 250.0, 400.0])
def test_time_dependent_roc_area_equals_sksurv(lung, horizon):
    frame, y = lung
    risk = frame["ph.ecog"].to_numpy(float)  # heavily tied
    train, test = y[::2], y[1::2]
    for y_train in (None, train):
        roc = time_dependent_roc(test, risk[1::2], horizon, y_train=y_train)
        expected = cumulative_dynamic_auc(test if y_train is None else train, test, risk[1::2],
                                          [horizon])[0][0]
        assert roc.attrs["auc"] == pytest.approx(expected, abs=1e-12)
        assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
        assert (roc["fpr"].iloc[[0, -1]].tolist(), roc["tpr"].iloc[[0, -1]].tolist()) == \
            ([0.0, 1.0], [0.0, 1.0])
    cases = (test["time"] <= horizon) & test["event"]
    assert roc.attrs["n_cases"] == cases.sum()
    assert roc.attrs["n_controls"] == (test["time"] > horizon).sum()


def test_km_at_equals_lifelines():
    y, _ = _simulated(300, 0)
    time = np.round(y["time"], 1) + 0.1  # ties
    fitter = KaplanMeierFitter().fit(time, y["event"])
    for horizon in (0.05, 0.3, 1.0, 1.7, 2.5):
        expected = fitter.survival_function_at_times(horizon).iloc[0]
        assert km_at(time, y["event"], horizon) == pytest.approx(expected, abs=1e-14)
    # beyond a censored last follow-up: unknown
    assert np.isnan(km_at(np.array([1.0, 2.0]), np.array([True, False]), 3.0))


def _hand_net_benefit(time, event, risk, pt, horizon):
    """Vickers et al. 2008 with lifelines' KM of the treated patients."""
    treated = risk >= pt
    if not treated.any():
        return 0.0
    surv = KaplanMeierFitter().fit(time[treated], event[treated]).survival_function_at_times(
        horizon).iloc[0]
    share = treated.mean()
    return (1 - surv) * share - surv * share * pt / (1 - pt)


def test_survival_decision_curve_by_hand():
    time = np.array([2.0, 3.0, 3.0, 5.0, 6.0, 7.0, 8.0, 9.0, 11.0, 12.0, 14.0, 15.0])
    event = np.array([1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 0], dtype=bool)
    risk = np.array([0.9, 0.7, 0.8, 0.45, 0.3, 0.6, 0.2, 0.5, 0.1, 0.35, 0.15, 0.05])
    thresholds = np.array([0.1, 0.25, 0.4, 0.55, 0.75])
    curve = survival_decision_curve(Surv.from_arrays(event=event, time=time), risk, 10.0,
                                    thresholds)
    for pt, nb in zip(thresholds, curve["net_benefit"]):
        assert nb == pytest.approx(_hand_net_benefit(time, event, risk, pt, 10.0), abs=1e-14)
    everyone = np.ones(12)
    for pt, nb in zip(thresholds, curve["net_benefit_all"]):
        assert nb == pytest.approx(_hand_net_benefit(time, event, everyone, pt, 10.0), abs=1e-14)
    # a hand value: pt = 0.4 treats the 6 risks >= 0.4 (times 2, 3, 3+, 5, 7, 9): KM(10) =
    # 5/6 * 4/5 * 2/3 * 1/2 * 0 = 0 (the event at 9 empties the group), NB = 6/12 * 1 - 0
    assert curve["net_benefit"].iloc[2] == pytest.approx(0.5, abs=1e-15)


def test_survival_decision_curve_without_censoring_equals_binary_dca():
    # everyone followed past the horizon or with an event before it: the KM event rate is the
    # plain proportion, and the survival decision curve is the binary one
    y, lp = _simulated(400, 1, censor=50.0)
    horizon = 0.8
    followed = (y["time"] > horizon) | y["event"]
    y, lp = y[followed], lp[followed]
    risk = 1 - np.exp(-np.exp(lp) * horizon)
    labels = (y["event"] & (y["time"] <= horizon)).astype(int)
    thresholds = np.linspace(0.05, 0.95, 19)
    survival = survival_decision_curve(y, risk, horizon, thresholds)
    binary = decision_curve(labels, risk, thresholds)
    np.testing.assert_allclose(survival["net_benefit"], binary["net_benefit"], atol=1e-12)
    np.testing.assert_allclose(survival["net_benefit_all"], binary["net_benefit_all"], atol=1e-12)
    band = survival_decision_curve(y, risk, horizon, thresholds, n_resamples=50, random_state=0)
    assert (band["net_benefit_lower"] <= band["net_benefit"] + 1e-12).all()
    assert (band["net_benefit"] <= band["net_benefit_upper"] + 1e-12).all()


def test_bootstrap_cis(lung):
    frame, y = lung
    risk = frame["ph.ecog"].to_numpy(float) + frame["age"].to_numpy() / 100
    out = uno_c_ci(y, risk, tau=600, n_resamples=100, random_state=0)
    assert out["c"] == pytest.approx(concordance_index_ipcw(y, y, risk, tau=600)[0])
    assert out["ci_low"] < out["c"] < out["ci_high"] and out["ci_high"] - out["ci_low"] < 0.2
    assert uno_c_ci(y, risk, tau=600, n_resamples=100, random_state=0) == out
    table = time_dependent_auc_ci(y, risk, [180, 365], y_train=y, n_resamples=100,
                                  random_state=0)
    np.testing.assert_allclose(table["auc"], cumulative_dynamic_auc(y, y, risk, [180, 365])[0])
    assert ((table["ci_low"] < table["auc"]) & (table["auc"] < table["ci_high"])).all()
    with pytest.raises(MetricInputError, match="horizon 5000 is at or beyond the last follow-up"):
        time_dependent_auc_ci(y, risk, [365, 5000], n_resamples=10)


def test_calibration_slope_and_smoothed_curve():
    y, lp = _simulated(600, 2)
    X = pd.DataFrame({"lp": lp + np.random.default_rng(5).normal(scale=0.5, size=lp.size)})
    model = CoxPHSurvival().fit(X, y)
    risk = 1 - np.array([fn(1.0) for fn in model.predict_survival_function(X)])
    # the apparent slope of a Cox model on its own training data is exactly 1 (its MLE)
    assert calibration_slope_at_horizon(y, risk)["slope"] == pytest.approx(1.0, abs=1e-5)
    # predictions of half the linear predictor, S0^exp(lp/2), are too timid: slope 2
    halved = 1 - (1 - risk) ** np.exp(-model.predict(X) / 2)
    assert calibration_slope_at_horizon(y, halved)["slope"] == pytest.approx(2.0, abs=1e-4)
    good = smoothed_calibration_at_horizon(y, risk, 1.0)
    bad = smoothed_calibration_at_horizon(y, np.clip(risk * 0.5, 0, 1), 1.0)
    assert good.attrs["ici"] < 0.03 < bad.attrs["ici"]
    assert good["observed"].is_monotonic_increasing
