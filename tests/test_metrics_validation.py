"""Bootstrap CIs vs scipy, Harrell's optimism correction, scorers."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from mvikit.exceptions import MetricInputError
from mvikit.metrics import (
    bootstrap_ci,
    calibration_slope_scorer,
    calibration_stats,
    decision_curve,
    make_net_benefit_scorer,
    optimism_corrected,
    roc_auc_ovo_scorer,
)
from mvikit.metrics._bootstrap import _resample_indices


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_unstratified_bootstrap_agrees_with_scipy(method):
    rng = np.random.RandomState(0)
    x = rng.exponential(size=60)
    y = (rng.rand(60) < 0.5).astype(int)  # labels only carry the resampling

    def mean_metric(_, values):
        return float(np.mean(values))

    ours = bootstrap_ci(mean_metric, y, x, n_resamples=4000, method=method, stratified=False,
                        random_state=0)
    ref = stats.bootstrap((x,), np.mean, n_resamples=4000, method=method.replace("bca", "BCa"),
                          random_state=1)
    assert ours.estimate == pytest.approx(x.mean())
    assert ours.se == pytest.approx(ref.standard_error, rel=0.08)
    np.testing.assert_allclose(ours.ci, (ref.confidence_interval.low, ref.confidence_interval.high),
                               atol=0.4 * ref.standard_error)


def test_stratified_resamples_keep_class_sizes():
    y = np.r_[np.zeros(17), np.ones(5)]
    for idx in _resample_indices(y, 50, True, 0):
        assert len(idx) == 22 and y[idx].sum() == 5


def test_optimism_recovers_chance_auc_on_noise():
    # 15 noise predictors, 100 patients: every fitted model has true AUC 0.5, while the
    # apparent AUC is far higher. The corrected AUC estimates the expected performance,
    # so it is checked on average over three cohorts.
    corrected = []
    for seed in (2, 3, 4):
        rng = np.random.RandomState(seed)
        X = rng.normal(size=(100, 15))
        y = rng.binomial(1, 0.5, 100)
        model = LogisticRegression(C=1e4, solver="liblinear")
        res = optimism_corrected(model, X, y, n_bootstrap=40, random_state=0)
        auc, slope = res["auc"], res["slope"]
        assert auc["corrected"] < auc["apparent"] - 0.1
        assert auc["optimism"] == pytest.approx(auc["training"] - auc["test"])
        # unpenalised maximum likelihood: apparent slope 1; the corrected one shows the shrinkage
        assert slope["apparent"] == pytest.approx(1, abs=1e-3) and slope["corrected"] < 0.6
        corrected.append(auc["corrected"])
    assert abs(np.mean(corrected) - 0.5) < 0.08
    p = model.fit(X, y).predict_proba(X)[:, 1]
    assert res.table.loc["brier", "apparent"] == pytest.approx(brier_score_loss(y, p))


def test_optimism_single_replicate_by_hand():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    res = optimism_corrected(LogisticRegression(), X, y, n_bootstrap=1, scoring=("auc", "slope"),
                             random_state=7)
    idx = np.random.RandomState(7).randint(0, 60, size=60)  # the first (two-class) draw
    boot = LogisticRegression().fit(X[idx], y[idx])
    train = roc_auc_score(y[idx], boot.predict_proba(X[idx])[:, 1])
    test = roc_auc_score(y, boot.predict_proba(X)[:, 1])
    apparent = roc_auc_score(y, LogisticRegression().fit(X, y).predict_proba(X)[:, 1])
    assert res["auc"]["corrected"] == pytest.approx(apparent - (train - test))
    assert res["slope"]["test"] == pytest.approx(
        calibration_stats(y, boot.predict_proba(X)[:, 1]).slope)


def test_scorers_in_cross_validation():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(150, 3))
    y = (X[:, 0] + rng.normal(size=150) > 0.5).astype(int)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    model = LogisticRegression()
    slope_scores = cross_val_score(model, X, y, cv=cv, scoring=calibration_slope_scorer)
    nb_scores = cross_val_score(model, X, y, cv=cv, scoring=make_net_benefit_scorer(0.3))
    for k, (train, test) in enumerate(cv.split(X, y)):
        p = LogisticRegression().fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        assert slope_scores[k] == pytest.approx(-abs(calibration_stats(y[test], p).slope - 1))
        nb = decision_curve(y[test], p, thresholds=[0.3])["net_benefit"].iloc[0]
        assert nb_scores[k] == pytest.approx(nb)
    grid = GridSearchCV(model, {"C": [0.01, 1.0]}, cv=cv,
                        scoring=calibration_slope_scorer).fit(X, y)
    assert grid.best_params_["C"] in (0.01, 1.0)


def test_ovo_scorer_equals_sklearn():
    rng = np.random.RandomState(4)
    X = rng.normal(size=(120, 4))
    y = np.digitize(X[:, 0] + 0.5 * rng.normal(size=120), [-0.5, 0.5])
    model = LogisticRegression().fit(X, y)
    expected = roc_auc_score(y, model.predict_proba(X), multi_class="ovo", average="macro")
    assert roc_auc_ovo_scorer(model, X, y) == pytest.approx(expected)


def _noise_survival(seed, n=120, p=12):
    from mvikit.survival import Surv

    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p))
    time = rng.exponential(size=n)
    censor = rng.uniform(0.3, 3, n)
    return X, Surv.from_arrays(event=time <= censor, time=np.minimum(time, censor))


def test_optimism_of_a_cox_model_on_noise():
    # rms validate(cph) on noise: the apparent C is optimistic, the corrected one near 0.5;
    # the apparent slope is 1 (maximum likelihood) and the corrected one shrinks
    from mvikit.survival import CoxPHSurvival

    corrected = []
    for seed in (0, 1, 2):
        X, y = _noise_survival(seed)
        res = optimism_corrected(CoxPHSurvival(), X, y, n_bootstrap=25, random_state=0)
        c, slope = res["c_index"], res["slope"]
        assert c["corrected"] < c["apparent"] - 0.05
        assert slope["apparent"] == pytest.approx(1.0, abs=1e-4)  # lifelines tolerance
        assert slope["corrected"] < 0.7
        corrected.append(c["corrected"])
    assert abs(np.mean(corrected) - 0.5) < 0.06


def test_optimism_survival_single_replicate_by_hand():
    from lifelines import CoxPHFitter

    from mvikit.survival import CoxPHSurvival, concordance_index

    X, y = _noise_survival(5, n=80, p=3)
    X[:, 0] += np.log(y["time"]) * -0.8  # a real signal
    res = optimism_corrected(CoxPHSurvival(), X, y, n_bootstrap=1, random_state=7,
                             scoring=("c_index", "dxy", "slope"))
    idx = np.random.RandomState(7).randint(0, 80, size=80)  # the first draw (it has events)
    boot = CoxPHSurvival().fit(X[idx], y[idx])
    full = CoxPHSurvival().fit(X, y)
    train = concordance_index(y[idx], boot.predict(X[idx])).c
    test = concordance_index(y, boot.predict(X)).c
    apparent = concordance_index(y, full.predict(X)).c
    assert res["c_index"]["corrected"] == pytest.approx(apparent - (train - test))
    assert res["dxy"]["corrected"] == pytest.approx(2 * res["c_index"]["corrected"] - 1)
    frame = pd.DataFrame({"lp": boot.predict(X), "T": y["time"], "E": y["event"]})
    slope = CoxPHFitter().fit(frame, "T", "E").params_["lp"]
    assert res["slope"]["test"] == pytest.approx(slope)
    with pytest.raises(MetricInputError, match="unknown scoring \\['auc'\\] for survival models"):
        optimism_corrected(CoxPHSurvival(), X, y, n_bootstrap=1, scoring=("auc",))


def test_optimism_on_a_cohort_frame_with_a_preprocessor():
    # bootstrap resamples repeat patient ids, which ClinicalPreprocessor refuses: the
    # copies get a suffix, and the result equals the same run on a plain array
    from sklearn.pipeline import make_pipeline

    from mvikit.preprocessing import ClinicalPreprocessor
    from mvikit.survival import CoxPHSurvival

    X, y = _noise_survival(3, n=60, p=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"],
                         index=pd.Index([f"P{i:02d}" for i in range(60)], name="patient"))
    pipe = make_pipeline(ClinicalPreprocessor(), CoxPHSurvival())
    res = optimism_corrected(pipe, frame, y, n_bootstrap=3, random_state=0)
    plain = optimism_corrected(make_pipeline(StandardScaler(), CoxPHSurvival()), X, y,
                               n_bootstrap=3, random_state=0)
    pd.testing.assert_frame_equal(res.table, plain.table, atol=1e-6)
