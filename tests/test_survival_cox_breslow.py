"""CoxPHSurvival(ties="breslow") against statsmodels, scikit-survival, lifelines and scipy."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import minimize
from sklearn.utils._param_validation import InvalidParameterError
from sksurv.datasets import load_whas500
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored
from sksurv.preprocessing import OneHotEncoder
from statsmodels.duration.hazard_regression import PHReg

from mvikit.exceptions import TrainingError
from mvikit.survival import CoxPHSurvival, cox_partial_likelihood_loss
from mvikit.survival._breslow import schoenfeld_residuals

ROSSI_FEATURES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def breslow_fit(rossi):
    return CoxPHSurvival(ties="breslow").fit(*rossi)


@pytest.fixture(scope="module")
def untied(rossi):
    """Rossi with every week nudged by a distinct fraction: no tied times, same order."""
    X, y = rossi
    y = y.copy()
    y["time"] = y["time"] + np.arange(len(y)) / (10 * len(y))
    return X, y


def test_rossi_breslow_matches_statsmodels(rossi, breslow_fit):
    # R: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
    #          data = Rossi, ties = "breslow")
    # statsmodels' PHReg is the numeric reference (an independent Breslow implementation).
    X, y = rossi
    model = PHReg(y["time"], X.to_numpy(float), status=y["event"].astype(int),
                  ties="breslow")
    sm = model.fit()
    summary = breslow_fit.summary_
    np.testing.assert_allclose(breslow_fit.coef_, sm.params, atol=1e-6)
    np.testing.assert_allclose(summary["se"], sm.bse, atol=1e-6)
    np.testing.assert_allclose(summary["p"], sm.pvalues, atol=1e-6)
    lower, upper = np.exp(sm.conf_int()).T
    np.testing.assert_allclose(summary["HR lower"], lower, atol=1e-6)
    np.testing.assert_allclose(summary["HR upper"], upper, atol=1e-6)
    np.testing.assert_allclose(breslow_fit.variance_matrix_, sm.cov_params(), atol=1e-8)
    assert breslow_fit.log_likelihood_ == pytest.approx(sm.llf, abs=1e-8)
    statistic, df, p = breslow_fit.log_likelihood_ratio_test_
    assert statistic == pytest.approx(2 * (sm.llf - model.loglike(np.zeros(7))), abs=1e-7)
    assert df == 7 and p < 1e-4
    # the same sum as the deep models' torch loss (Breslow ties, reduction="sum")
    risk = torch.tensor(breslow_fit.predict(X), dtype=torch.float64)
    loss = cox_partial_likelihood_loss(risk, torch.tensor(y["time"].copy()),
                                       torch.tensor(y["event"].copy()), ties="breslow",
                                       reduction="sum")
    assert -float(loss) == pytest.approx(breslow_fit.log_likelihood_, abs=1e-9)
    assert breslow_fit.lifelines_model_ is None and breslow_fit.n_iter_ <= 10
    # Breslow and Efron differ on Rossi's tied weeks, by a few hundredths at most
    efron = CoxPHSurvival().fit(X, y)
    assert 1e-4 < np.abs(efron.coef_ - breslow_fit.coef_).max() < 0.01


def test_whas500_matches_sksurv_breslow():
    X, y = load_whas500()
    X = OneHotEncoder().fit_transform(X)
    ours = CoxPHSurvival(ties="breslow").fit(X, y)
    reference = CoxPHSurvivalAnalysis(ties="breslow", tol=1e-12, n_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-6)
    event, time = y["fstat"], y["lenfol"]
    expected = concordance_index_censored(event, time, reference.predict(X))[0]
    assert ours.score(X, y) == pytest.approx(expected, abs=1e-6)
    # survival curves: Breslow baselines on the same times
    times = ours.unique_times_[ours.unique_times_ <= time.max()][::7]
    survival = np.array([fn(times) for fn in reference.predict_survival_function(X.iloc[:30])])
    ours_curves = ours.predict_survival_function(X.iloc[:30])
    np.testing.assert_allclose([fn(times) for fn in ours_curves], survival, atol=1e-6)


def test_baseline_is_breslows_estimator(rossi, breslow_fit):
    X, y = rossi
    risk = breslow_fit.predict(X)
    times = breslow_fit.unique_times_
    np.testing.assert_array_equal(times, np.unique(y["time"]))
    # H0(t) = sum over times t_k <= t of d_k / sum_{t_j >= t_k} exp(risk_j)
    expected = np.cumsum([y["event"][y["time"] == t].sum() / np.exp(risk[y["time"] >= t]).sum()
                          for t in times])
    np.testing.assert_allclose(breslow_fit.baseline_cumulative_hazard_, expected, rtol=1e-12)
    hazard = breslow_fit.predict_cumulative_hazard_function(X.iloc[:5], return_array=True)
    np.testing.assert_allclose(hazard, np.exp(risk[:5, None]) * expected[None, :], rtol=1e-12)
    survival = breslow_fit.predict_survival_function(X.iloc[:5], return_array=True)
    np.testing.assert_allclose(survival, np.exp(-hazard), rtol=1e-12)


def test_tie_free_data_gives_the_efron_model(untied):
    X, y = untied
    for params in ({}, {"penalizer": 0.1}, {"strata": ["wexp"]}):
        efron = CoxPHSurvival(**params).fit(X, y)
        breslow = CoxPHSurvival(ties="breslow", **params).fit(X, y)
        # lifelines stops ~5e-9 from the optimum on the coefficients (z: ~1.5e-7)
        np.testing.assert_allclose(breslow.coef_, efron.coef_, atol=1e-8)
        pd.testing.assert_frame_equal(breslow.summary_, efron.summary_, atol=1e-6, rtol=0)
        assert breslow.log_likelihood_ == pytest.approx(efron.log_likelihood_, abs=1e-8)
        np.testing.assert_allclose(breslow.log_likelihood_ratio_test_,
                                   efron.log_likelihood_ratio_test_, atol=1e-7)
        np.testing.assert_allclose(
            breslow.predict_survival_function(X.iloc[:25], return_array=True),
            efron.predict_survival_function(X.iloc[:25], return_array=True), atol=1e-8)
        # lifelines' "rank" with strata ranks within the stratum-sorted rows, ours over
        # all event times (as R's cox.zph); the other transforms agree everywhere
        for transform in ("km", "log") if "strata" in params else ("rank", "km", "log"):
            np.testing.assert_allclose(breslow.check_proportional_hazards(X, y,
                                                                          time_transform=transform),
                                       efron.check_proportional_hazards(X, y,
                                                                        time_transform=transform),
                                       atol=1e-6)
    assert list(breslow.baseline_survival_.columns) == list(efron.baseline_survival_.columns)


def _standardised(X):
    return ((X - X.mean()) / X.std()).to_numpy()


# atol: coefficients against L-BFGS-B (itself ~1e-7 from the optimum); kkt: optimality
@pytest.mark.parametrize("penalizer, l1_ratio, atol, kkt", [(0.1, 0.0, 1e-7, 1e-10),
                                                            (0.05, 1.0, 1e-6, 1e-10),
                                                            (0.02, 0.5, 1e-6, 1e-7)])
def test_penalty_matches_an_independent_minimisation(rossi, penalizer, l1_ratio, atol, kkt):
    """lifelines' penalty on standardised covariates: minimise -l(b)/n + penalty with
    scipy on statsmodels' Breslow likelihood (the L1 part exactly, as b = u - v with
    u, v >= 0), and check the optimality conditions."""
    X, y = rossi
    Z, n, p = _standardised(X), len(y), X.shape[1]
    ph = PHReg(y["time"], Z, status=y["event"].astype(int), ties="breslow")

    def objective(uv):
        u, v = uv[:p], uv[p:]
        b = u - v
        value = -ph.loglike(b) / n + penalizer * ((1 - l1_ratio) / 2 * b @ b
                                                  + l1_ratio * (u + v).sum())
        grad = -ph.score(b) / n + penalizer * (1 - l1_ratio) * b
        return value, np.r_[grad + penalizer * l1_ratio, -grad + penalizer * l1_ratio]

    result = minimize(objective, np.zeros(2 * p), jac=True, method="L-BFGS-B",
                      bounds=[(0, None)] * (2 * p),
                      options={"ftol": 1e-16, "gtol": 1e-13, "maxiter": 20000})
    expected = result.x[:p] - result.x[p:]
    model = CoxPHSurvival(ties="breslow", penalizer=penalizer, l1_ratio=l1_ratio).fit(X, y)
    beta = model.coef_ * X.std().to_numpy()  # back on the standardised scale
    np.testing.assert_allclose(beta, expected, atol=atol)
    # KKT: score / n = penalizer * (l1 sign(b) + (1 - l1) b) on the non-zero coefficients,
    # |score / n| <= penalizer * l1 on the zero ones
    score = ph.score(beta) / n
    active = np.abs(beta) > 1e-6
    np.testing.assert_allclose(score[active], penalizer * (
        l1_ratio * np.sign(beta[active]) + (1 - l1_ratio) * beta[active]), atol=kkt)
    assert np.all(np.abs(score[~active]) <= penalizer * l1_ratio + 1e-8)
    if l1_ratio == 1.0:
        assert (~active).sum() >= 3  # the lasso zeroes fin, race, mar, paro


def test_strata_match_statsmodels(rossi):
    X, y = rossi
    model = CoxPHSurvival(ties="breslow", strata=["wexp", "mar"]).fit(X, y)
    strata = X["wexp"].astype(str) + X["mar"].astype(str)
    covariates = ["fin", "age", "race", "paro", "prio"]
    sm = PHReg(y["time"], X[covariates].to_numpy(float), status=y["event"].astype(int),
               strata=strata.to_numpy(), ties="breslow").fit()
    np.testing.assert_allclose(model.coef_, sm.params, atol=1e-6)
    np.testing.assert_allclose(model.summary_["se"], sm.bse, atol=1e-6)
    assert model.log_likelihood_ == pytest.approx(sm.llf, abs=1e-8)
    assert list(model.baseline_survival_.columns) == [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0),
                                                      (1.0, 1.0)]
    # each patient's curve uses the baseline of their own stratum
    risk = model.predict(X)
    in_stratum = ((X["wexp"] == 1) & (X["mar"] == 0)).to_numpy()
    t = 30.0
    rows = in_stratum & (y["time"] <= t)
    expected = sum(y["event"][in_stratum & (y["time"] == s)].sum()
                   / np.exp(risk[in_stratum & (y["time"] >= s)]).sum()
                   for s in np.unique(y["time"][rows]))
    first = np.flatnonzero(in_stratum)[0]
    assert model.predict_cumulative_hazard_function(X.iloc[[first]])[0](t) == pytest.approx(
        expected * np.exp(risk[first]), rel=1e-10)


def test_schoenfeld_residuals_and_ph_test(rossi, breslow_fit):
    X, y = rossi
    sm = PHReg(y["time"], X.to_numpy(float), status=y["event"].astype(int),
               ties="breslow").fit()
    # residuals at statsmodels' own estimate (the two optima differ by ~1e-9)
    residuals, times = schoenfeld_residuals(
        X.to_numpy(float), y["time"], y["event"], np.zeros(len(y), int),
        X.to_numpy(float) @ sm.params)
    expected = sm.schoenfeld_residuals[y["event"]]
    assert residuals.shape == expected.shape == (114, 7)
    # the same residuals at each event time (tied events' rows in any order): sort both
    # by time, then by the age column
    ours_sorted = residuals[np.lexsort((residuals[:, 1], times))]
    ref_sorted = expected[np.lexsort((expected[:, 1], y["time"][y["event"]]))]
    np.testing.assert_allclose(ours_sorted, ref_sorted, atol=1e-10)
    table = breslow_fit.check_proportional_hazards(X, y, time_transform="km")
    assert list(table.index) == ROSSI_FEATURES
    # age and wexp violate proportional hazards on Rossi, as with Efron's ties
    assert set(table.index[table["p"] < 0.05]) == {"age", "wexp"}
    # the statistic by hand: scaled residuals against 1 - KM at the event times
    d = len(residuals)
    scaled = d * residuals @ breslow_fit.variance_matrix_
    from lifelines import KaplanMeierFitter
    km = KaplanMeierFitter().fit(y["time"], y["event"])
    g = 1 - km.survival_function_at_times(times).to_numpy()
    g = g - g.mean()
    statistic = (g @ scaled) ** 2 / (d * np.diag(breslow_fit.variance_matrix_) * (g @ g))
    np.testing.assert_allclose(table["test_statistic"], statistic, rtol=1e-10)


def test_breslow_errors(rossi):
    X, y = rossi
    with pytest.raises(InvalidParameterError, match="ties.*'breslow'"):
        CoxPHSurvival(ties="exact").fit(X, y)
    with pytest.raises(ValueError, match=r"Feature\(s\) \['const'\] are constant"):
        CoxPHSurvival(ties="breslow").fit(X.assign(const=1.0), y)
    with pytest.raises(TrainingError, match="singular information matrix.*collinear"):
        CoxPHSurvival(ties="breslow").fit(X.assign(age2=2 * X["age"]), y)
    # a ridge penalty makes the collinear fit well-posed
    ridge = CoxPHSurvival(ties="breslow", penalizer=0.1).fit(X.assign(age2=2 * X["age"]), y)
    assert np.all(np.isfinite(ridge.summary_["se"]))
    fitted = CoxPHSurvival(ties="breslow").fit(X, y)
    with pytest.raises(ValueError, match="time_transform must be one of"):
        fitted.check_proportional_hazards(X, y, time_transform="all")
    with pytest.raises(ValueError, match="431 entries but there are 432 patients"):
        fitted.check_proportional_hazards(X, y[:-1])
    with pytest.warns(UserWarning, match="did not converge in 1 steps"):
        CoxPHSurvival(ties="breslow", max_steps=1).fit(X, y)
