"""CoxPHSurvival against R, lifelines, statsmodels and scikit-survival; sklearn contract."""

import pickle

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_lung, load_rossi
from lifelines.statistics import proportional_hazard_test
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sksurv.datasets import load_veterans_lung_cancer, load_whas500
from sksurv.ensemble import RandomSurvivalForest
from sksurv.functions import StepFunction
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored
from sksurv.preprocessing import OneHotEncoder
from statsmodels.duration.hazard_regression import PHReg

from mvikit.exceptions import SurvivalTargetError
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.survival import CoxPHSurvival, Surv, make_survival_target

ROSSI_FEATURES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def rossi_fit(rossi):
    return CoxPHSurvival().fit(*rossi)


def test_rossi_matches_r_coxph(rossi_fit):
    # R: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi)
    # (Efron ties), printed in evaluation.md:
    r_coef = [-0.3794222, -0.0574377, 0.3138998, -0.1497957, -0.4337039, -0.0848711, 0.0914971]
    r_se = [0.19138, 0.02200, 0.30799, 0.21222, 0.38187, 0.19576, 0.02865]
    summary = rossi_fit.summary_
    np.testing.assert_allclose(rossi_fit.coef_, r_coef, atol=5e-8)  # 7 printed decimals
    np.testing.assert_allclose(summary["se"], r_se, atol=5e-6)  # 5 printed decimals
    # options(digits = 15); coef(fit); sqrt(diag(vcov(fit))) (R survival 3.5-3):
    r_coef = [-0.3794221664858867, -0.0574377426840623, 0.3138997878424986,
              -0.1497956976665371, -0.4337038779373086, -0.0848710825003947, 0.0914970809852960]
    r_se = [0.1913794807135435, 0.0219994706006800, 0.3079927765574182, 0.2122242962486229,
            0.3818680576687913, 0.1957566719066243, 0.0286485499599737]
    # R's own stopping rule (eps = 1e-9) leaves it up to 1.8e-8 (relative, prio) from the
    # optimum: coef(update(fit, control = coxph.control(eps = 1e-14))) - coef(fit) is
    # -3.9e-10 -3.3e-10 -1.9e-09 4.4e-10 1.2e-09 -4.9e-10 -1.6e-09
    np.testing.assert_allclose(rossi_fit.coef_, r_coef, rtol=2e-8)
    np.testing.assert_allclose(summary["se"], r_se, rtol=1e-8)
    r_optimum = np.add(r_coef, [-3.85318388307354e-10, -3.29699198498012e-10,
                                -1.89319659948950e-09, 4.43754866186197e-10,
                                1.24705812343251e-09, -4.90435844713311e-10,
                                -1.63417472609506e-09])
    np.testing.assert_allclose(rossi_fit.coef_, r_optimum, rtol=1e-11)
    # R: fit$loglik[2] -658.747659446087
    assert rossi_fit.log_likelihood_ == pytest.approx(-658.747659446087, rel=1e-13)
    # fin: exp(coef) 0.68426, lower .95 0.4702, upper .95 0.9957, Pr(>|z|) 0.04742
    assert summary.loc["fin", "HR"] == pytest.approx(0.68426, abs=5e-6)
    assert summary.loc["fin", "HR lower"] == pytest.approx(0.4702, abs=5e-5)
    assert summary.loc["fin", "HR upper"] == pytest.approx(0.9957, abs=5e-5)
    assert summary.loc["fin", "p"] == pytest.approx(0.04742, abs=5e-6)
    # Likelihood ratio test= 33.27  on 7 df
    statistic, df, _ = rossi_fit.log_likelihood_ratio_test_
    assert (round(statistic, 2), df) == (33.27, 7)


def test_lung_efron_converges_as_r_coxph():
    lung = load_lung().dropna(subset=["ph.ecog"])
    y = make_survival_target(lung, time="time", event="status")
    cox = CoxPHSurvival().fit(lung[["age", "sex", "ph.ecog"]], y)
    # R: fit <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung)
    # options(digits = 15); coef(fit); sqrt(diag(vcov(fit))); fit$loglik
    #   0.0110667645600735 -0.5526123957036310 0.4637284753704277
    #   0.00926741101370053 0.16773905378726350 0.11357726616199662
    #   -744.480455761440 -729.230121374862
    # with control = coxph.control(eps = 1e-14) the coefficients move by
    #   3.6e-11 1.7e-10 -2.5e-10
    r_coef = [0.0110667645600735, -0.5526123957036310, 0.4637284753704277]
    np.testing.assert_allclose(cox.coef_, r_coef, rtol=1e-8)
    np.testing.assert_allclose(cox.coef_, np.add(r_coef, [3.60451616471247e-11,
                                                          1.71793912429052e-10,
                                                          -2.54695486923140e-10]), rtol=1e-11)
    np.testing.assert_allclose(cox.summary_["se"],
                               [0.00926741101370053, 0.16773905378726350, 0.11357726616199662],
                               rtol=1e-8)
    assert cox.log_likelihood_ == pytest.approx(-729.230121374862, rel=1e-13)
    # lifelines' own defaults stop about 1e-5 (relative) short of this optimum
    default = CoxPHFitter().fit(lung[["time", "status", "age", "sex", "ph.ecog"]],
                                "time", "status")
    assert np.max(np.abs(default.params_.to_numpy() / cox.coef_ - 1)) > 1e-7


def test_rossi_matches_lifelines_and_statsmodels(rossi, rossi_fit):
    X, y = rossi
    frame = X.assign(week=y["time"], arrest=y["event"])
    reference = CoxPHFitter().fit(frame, "week", "arrest",
                                  fit_options={"precision": 1e-18, "r_precision": 1e-12})
    ref = reference.summary.loc[ROSSI_FEATURES]
    ours = rossi_fit.summary_
    np.testing.assert_allclose(ours["coef"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(ours["se"], ref["se(coef)"], atol=1e-6)
    np.testing.assert_allclose(ours["HR lower"], ref["exp(coef) lower 95%"], atol=1e-6)
    np.testing.assert_allclose(ours["HR upper"], ref["exp(coef) upper 95%"], atol=1e-6)
    np.testing.assert_allclose(ours["p"], ref["p"], atol=1e-6)
    # statsmodels' independent Efron implementation: coefficients, SEs, Wald p-values
    sm = PHReg(y["time"], X.to_numpy(float), status=y["event"].astype(int), ties="efron").fit()
    np.testing.assert_allclose(ours["coef"], sm.params, atol=1e-6)
    np.testing.assert_allclose(ours["se"], sm.bse, atol=1e-6)
    np.testing.assert_allclose(ours["p"], sm.pvalues, atol=1e-6)
    # Harrell's C equals lifelines' concordance and scikit-survival's
    assert rossi_fit.score(X, y) == pytest.approx(reference.concordance_index_, abs=1e-6)


@pytest.mark.parametrize("loader", [load_whas500, load_veterans_lung_cancer])
def test_sksurv_datasets_match_sksurv_efron(loader):
    X, y = loader()
    X = OneHotEncoder().fit_transform(X)
    ours = CoxPHSurvival().fit(X, y)
    reference = CoxPHSurvivalAnalysis(ties="efron", tol=1e-12, n_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-6)
    event, time = y[y.dtype.names[0]], y[y.dtype.names[1]]
    expected = concordance_index_censored(event, time, reference.predict(X))[0]
    assert ours.score(X, y) == pytest.approx(expected, abs=1e-6)


def test_survival_functions_match_lifelines(rossi, rossi_fit):
    X, y = rossi
    frame = X.assign(week=y["time"], arrest=y["event"])
    reference = CoxPHFitter().fit(frame, "week", "arrest",
                                  fit_options={"precision": 1e-18, "r_precision": 1e-12})
    expected = reference.predict_survival_function(X.iloc[:20]).to_numpy().T
    np.testing.assert_allclose(rossi_fit.predict_survival_function(X.iloc[:20], return_array=True),
                               expected, atol=1e-8)
    expected_h = reference.predict_cumulative_hazard(X.iloc[:20]).to_numpy().T
    np.testing.assert_allclose(
        rossi_fit.predict_cumulative_hazard_function(X.iloc[:20], return_array=True),
        expected_h, atol=1e-8)
    np.testing.assert_allclose(rossi_fit.predict(X), reference.predict_log_partial_hazard(X),
                               atol=1e-8)
    functions = rossi_fit.predict_survival_function(X.iloc[:3])
    assert isinstance(functions[0], StepFunction)
    np.testing.assert_allclose([fn(10.0) for fn in functions],
                               reference.predict_survival_function(X.iloc[:3], times=[10.0])
                               .to_numpy().ravel(), atol=1e-8)


def test_strata_match_lifelines(rossi):
    X, y = rossi
    frame = X.assign(week=y["time"], arrest=y["event"])
    model = CoxPHSurvival(strata=["wexp", "mar"]).fit(X, y)
    reference = CoxPHFitter().fit(frame, "week", "arrest", strata=["wexp", "mar"],
                                  fit_options={"precision": 1e-18, "r_precision": 1e-12})
    assert model.covariates_ == ["fin", "age", "race", "paro", "prio"]
    np.testing.assert_allclose(model.coef_, reference.params_.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(model.summary_["se"], reference.standard_errors_, atol=1e-10)
    assert model.baseline_survival_.shape[1] == 4  # one baseline per (wexp, mar) stratum
    expected = reference.predict_survival_function(X.iloc[:40])[X.index[:40]].to_numpy().T
    np.testing.assert_allclose(model.predict_survival_function(X.iloc[:40], return_array=True),
                               expected, atol=1e-10)
    assert list(model.check_proportional_hazards(X, y).index) == model.covariates_
    unseen = X.iloc[:3].assign(wexp=5)
    with pytest.raises(ValueError, match="Row 0 is in stratum .*not seen in fit"):
        model.predict_survival_function(unseen)
    with pytest.raises(ValueError, match=r"strata \['center'\] are not features of X"):
        CoxPHSurvival(strata=["center"]).fit(X, y)


def test_proportional_hazards_test_matches_lifelines(rossi, rossi_fit):
    X, y = rossi
    frame = X.assign(week=y["time"], arrest=y["event"])
    reference = CoxPHFitter().fit(frame, "week", "arrest",
                                  fit_options={"precision": 1e-18, "r_precision": 1e-12})
    expected = proportional_hazard_test(reference, frame, time_transform="rank").summary
    ours = rossi_fit.check_proportional_hazards(X, y)
    assert list(ours.index) == ROSSI_FEATURES
    np.testing.assert_allclose(ours["p"], expected.loc[ROSSI_FEATURES, "p"], atol=1e-8)
    # age and wexp violate proportional hazards on Rossi (lifelines' tutorial)
    assert set(ours.index[ours["p"] < 0.05]) == {"age", "wexp"}


def test_pickle_clone_html_and_registry(rossi, rossi_fit):
    X, y = rossi
    restored = pickle.loads(pickle.dumps(rossi_fit))
    np.testing.assert_array_equal(restored.predict(X), rossi_fit.predict(X))
    assert clone(rossi_fit).get_params() == rossi_fit.get_params()
    html = rossi_fit._repr_html_()
    assert "0.6843" in html and "432 patients, 114 events" in html
    assert "CoxPHSurvival" in CoxPHSurvival()._repr_html_()  # sklearn's diagram when unfitted
    # the registry's all_estimators(type_filter="survival") selects on this attribute
    assert CoxPHSurvival._estimator_kind == "survival"
    np.testing.assert_array_equal(rossi_fit.feature_names_in_, ROSSI_FEATURES)
    assert rossi_fit.n_features_in_ == 7


def _clinical_frame():
    frame = load_rossi()
    frame.index = [f"P{i:03d}" for i in range(len(frame))]
    frame["race"] = frame["race"].map({0: "other", 1: "black"})
    frame.loc[frame.index[::17], "age"] = np.nan
    y = make_survival_target(frame, time="week", event="arrest")
    return frame.drop(columns=["week", "arrest"]), y


def test_pipeline_gridsearch_and_parallel_cv():
    X, y = _clinical_frame()
    pipe = make_pipeline(ClinicalPreprocessor(), CoxPHSurvival())
    cv = KFold(4, shuffle=True, random_state=0)
    serial = cross_val_score(pipe, X, y, cv=cv)
    parallel = cross_val_score(pipe, X, y, cv=cv, n_jobs=2)
    np.testing.assert_allclose(serial, parallel)
    # each fold's score is the fold model's Harrell C on the held-out patients
    train, test = next(cv.split(X))
    fold = clone(pipe).fit(X.iloc[train], y[train])
    expected = concordance_index_censored(y["event"][test], y["time"][test],
                                          fold.predict(X.iloc[test]))[0]
    assert serial[0] == pytest.approx(expected)
    search = GridSearchCV(pipe, {"coxphsurvival__penalizer": [0.0, 0.5]}, cv=cv).fit(X, y)
    assert search.best_params_["coxphsurvival__penalizer"] in (0.0, 0.5)
    ridge = search.cv_results_["param_coxphsurvival__penalizer"].tolist().index(0.5)
    heavy = search.cv_results_["mean_test_score"][ridge]
    assert heavy == pytest.approx(cross_val_score(
        pipe.set_params(coxphsurvival__penalizer=0.5), X, y, cv=cv).mean())


def test_penalizer_shrinks_towards_zero(rossi):
    X, y = rossi
    free = CoxPHSurvival().fit(X, y)
    shrunk = CoxPHSurvival(penalizer=1.0).fit(X, y)
    assert np.linalg.norm(shrunk.coef_) < 0.5 * np.linalg.norm(free.coef_)


def test_sksurv_models_run_on_the_same_frames():
    X, y = _clinical_frame()
    prep = ClinicalPreprocessor()
    Z = prep.fit_transform(X)
    # Coxnet at a tiny penalty is the Breslow-ties Cox model
    coxnet = make_pipeline(ClinicalPreprocessor(),
                           CoxnetSurvivalAnalysis(alphas=[1e-5], l1_ratio=0.5)).fit(X, y)
    breslow = CoxPHSurvivalAnalysis(ties="breslow").fit(Z, y)
    np.testing.assert_allclose(coxnet[-1].coef_[:, 0], breslow.coef_, atol=2e-3)
    # Breslow and Efron estimates are close on Rossi (few ties within weeks)
    efron = CoxPHSurvival().fit(Z, y)
    np.testing.assert_allclose(efron.coef_, breslow.coef_, atol=0.02)
    forest = make_pipeline(ClinicalPreprocessor(), RandomSurvivalForest(
        n_estimators=25, min_samples_leaf=15, random_state=0, n_jobs=1))
    scores = cross_val_score(forest, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert 0.55 < scores.mean() < 0.75  # Rossi is a weak-signal data set (Cox C ~ 0.62 in CV)
    forest.fit(X, y)
    manual = RandomSurvivalForest(n_estimators=25, min_samples_leaf=15, random_state=0,
                                  n_jobs=1).fit(Z, y)
    np.testing.assert_allclose(forest.predict(X), manual.predict(Z))
    # the Pipeline forwards scikit-survival's survival functions (patched by sksurv)
    assert forest.predict_survival_function(X.iloc[:2])[0](10.0) == pytest.approx(
        manual.predict_survival_function(Z[:2])[0](10.0))


def test_errors(rossi):
    X, y = rossi
    with pytest.raises(SurvivalTargetError, match="Surv.from_arrays"):
        CoxPHSurvival().fit(X, y["time"])
    with pytest.raises(SurvivalTargetError, match="must be positive; patient 3 has 0.0"):
        bad = y.copy()
        bad["time"][3] = 0.0
        CoxPHSurvival().fit(X, bad)
    with pytest.raises(ValueError, match="432 patients but y has 431"):
        CoxPHSurvival().fit(X.to_numpy(), y[:-1])
    with pytest.raises(InvalidParameterError, match="ties.*efron"):
        CoxPHSurvival(ties="exact").fit(X, y)
    with pytest.raises(InvalidParameterError, match="penalizer"):
        CoxPHSurvival(penalizer=-1).fit(X, y)
    with pytest.raises(NotFittedError):
        CoxPHSurvival().predict(X)
    with pytest.raises(ValueError, match="reserved"):
        CoxPHSurvival().fit(X.rename(columns={"fin": "__mvikit_time__"}), y)
    with pytest.raises(SurvivalTargetError, match="All 3 patients are censored"):
        CoxPHSurvival().fit(X.iloc[:3], Surv.from_arrays([False] * 3, [1.0, 2.0, 3.0]))
    fitted = CoxPHSurvival().fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="expecting 7 features"):
        fitted.predict(np.zeros((2, 3)))


def test_gradient_boosting_survival_runs_on_the_same_frames():
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis

    X, y = _clinical_frame()
    boosting = make_pipeline(ClinicalPreprocessor(), GradientBoostingSurvivalAnalysis(
        n_estimators=40, max_depth=2, learning_rate=0.1, random_state=0))
    boosting.fit(X, y)
    # the pipeline is the boosting model on the preprocessed matrix, nothing else
    manual = GradientBoostingSurvivalAnalysis(n_estimators=40, max_depth=2, learning_rate=0.1,
                                              random_state=0)
    Z = ClinicalPreprocessor().fit_transform(X)
    np.testing.assert_allclose(boosting.predict(X), manual.fit(Z, y).predict(Z))
    scores = cross_val_score(boosting, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert 0.55 < scores.mean() < 0.75  # Rossi's weak signal, as for the forest above


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_constant_covariate_is_a_cohort_error_for_both_ties(ties):
    # issue 12, class 9: lifelines stopped with a bare ConvergenceError (NaN deltas)
    from mvikit.exceptions import CohortError
    from mvikit.survival import Surv

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.normal(60, 9, 50), "centre_c1": np.ones(50)})
    y = Surv.from_arrays(event=rng.random(50) < 0.6, time=rng.exponential(10, 50))
    with pytest.raises(CohortError, match=r"\['centre_c1'\] are constant over the 50"):
        CoxPHSurvival(ties=ties).fit(X, y)
