"""Calibration: Stata Hosmer-Lemeshow, statsmodels recalibration, sklearn curve/Brier."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import brier_score_loss

from mvikit.exceptions import MetricInputError
from mvikit.metrics import calibration_curve, calibration_stats, hosmer_lemeshow


@pytest.fixture(scope="module")
def spector():
    data = sm.datasets.spector.load_pandas().data
    fit = smf.logit("GRADE ~ GPA + TUCE + PSI", data).fit(disp=0)
    # Stata: logit GRADE GPA TUCE PSI -> log-likelihood -12.8896 (evaluation.md)
    assert fit.llf == pytest.approx(-12.8896, abs=1e-4)
    return data["GRADE"].to_numpy(), fit.predict(data).to_numpy()


@pytest.fixture(scope="module")
def miscalibrated():
    rng = np.random.RandomState(0)
    lp = rng.normal(-0.5, 1.2, 600)
    y = rng.binomial(1, 1 / (1 + np.exp(-lp)))
    # an over-confident model: linear predictor inflated and shifted
    return y, 1 / (1 + np.exp(-(1.6 * lp + 0.4)))


def test_hosmer_lemeshow_equals_stata(spector):
    y, p = spector
    # Stata: logit GRADE GPA TUCE PSI; estat gof, group(5) -> chi2(3) = 1.630883318257913
    res = hosmer_lemeshow(y, p, n_groups=5)
    assert res.statistic == pytest.approx(1.630883318257913, rel=1e-9)
    assert res.df == 3 and res.p_value == pytest.approx(stats.chi2.sf(1.630883318257913, 3))
    assert res.table["n"].tolist() == [7, 6, 7, 6, 6]
    # plain quantile bins give another number (evaluation.md: 1.21)
    quantile = hosmer_lemeshow(y, p, n_groups=5, grouping="quantile")
    assert quantile.statistic == pytest.approx(1.21, abs=0.005)


def test_recalibration_equals_statsmodels(miscalibrated):
    y, p = miscalibrated
    lp = np.log(p / (1 - p))
    res = calibration_stats(y, p)
    slope_fit = sm.Logit(y, sm.add_constant(lp)).fit(disp=0)
    assert res.slope == pytest.approx(slope_fit.params[1], rel=1e-8)
    np.testing.assert_allclose(res.slope_ci, slope_fit.conf_int()[1], rtol=1e-6)
    citl_fit = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit()
    assert res.intercept == pytest.approx(citl_fit.params[0], abs=1e-8)
    np.testing.assert_allclose(res.intercept_ci, citl_fit.conf_int()[0], rtol=1e-6)
    assert res.slope < 0.8  # the over-confident model is detected
    assert res.brier == pytest.approx(brier_score_loss(y, p))


def test_spiegelhalter_formula(miscalibrated):
    y, p = miscalibrated
    res = calibration_stats(y, p)
    # Spiegelhalter (1986): z = sum (y - p)(1 - 2p) / sqrt(sum (1 - 2p)^2 p (1 - p))
    z = np.sum((y - p) * (1 - 2 * p)) / np.sqrt(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    assert res.spiegelhalter_z == pytest.approx(z) and res.spiegelhalter_p < 0.05
    assert res.hosmer_lemeshow.statistic == pytest.approx(hosmer_lemeshow(y, p).statistic)


def test_apparent_calibration_of_a_logistic_fit_is_perfect(spector):
    y, p = spector
    res = calibration_stats(y, p)
    # maximum likelihood on the same data: intercept 0, slope 1 (score equations)
    assert res.intercept == pytest.approx(0, abs=1e-8) and res.slope == pytest.approx(1, abs=1e-8)


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_binned_curve_equals_sklearn(miscalibrated, strategy):
    y, p = miscalibrated
    res = calibration_curve(y, p, n_bins=8, strategy=strategy)
    prob_true, prob_pred = sk_calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(res.prob_true, prob_true)
    np.testing.assert_allclose(res.prob_pred, prob_pred)
    assert res.counts.sum() == len(y)
    assert np.all(res.ci_lower <= res.prob_true) and np.all(res.prob_true <= res.ci_upper)


def test_lowess_curve_follows_truth():
    rng = np.random.RandomState(3)
    p = rng.uniform(0.05, 0.95, 3000)
    y = rng.binomial(1, p)
    res = calibration_curve(y, p, method="lowess")
    assert np.all(np.diff(res.prob_pred) >= 0) and res.counts is None
    # perfectly calibrated data: the smooth stays near the diagonal
    assert np.max(np.abs(res.prob_true - res.prob_pred)) < 0.06


def test_intercept_conventions_match_r():
    # dcurves' df_binary with a miscalibrated risk p = cancerpredmarker^0.8. R (rms 6.5.0):
    # d <- read.csv("tests/data/df_binary.csv"); y <- as.numeric(as.logical(d$cancer))
    # p <- d$cancerpredmarker^0.8; options(digits = 15)
    # val.prob(p, y, pl = FALSE)[c("Intercept", "Slope", "Brier")]
    #   -0.3341772193701674  1.1256262628150440  0.0874388811229745
    # glm(y ~ qlogis(p), binomial, control = glm.control(epsilon = 1e-14)): the same model
    # converged further: (Intercept) -0.33417721772245 (se 0.156761060604525),
    #   slope 1.12562627048929 (se 0.107394022070424)
    # glm(y ~ offset(qlogis(p)), binomial, ...): -0.448691459761871 (se 0.121454790202588)
    data = pd.read_csv(Path(__file__).parent / "data" / "df_binary.csv")
    y, p = data["cancer"].astype(int).to_numpy(), data["cancerpredmarker"].to_numpy() ** 0.8
    rms = calibration_stats(y, p, intercept="recalibration")
    assert rms.intercept == pytest.approx(-0.3341772193701674, rel=1e-8)  # lrm.fit's tolerance
    assert rms.slope == pytest.approx(1.1256262628150440, rel=1e-8)
    assert rms.brier == pytest.approx(0.0874388811229745, rel=1e-12)
    assert rms.intercept == pytest.approx(-0.33417721772245, rel=1e-12)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(rms.intercept_ci, -0.33417721772245 + np.array([-z, z])
                               * 0.156761060604525, rtol=1e-11)
    large = calibration_stats(y, p)
    assert large.intercept == pytest.approx(-0.448691459761871, rel=1e-12)
    np.testing.assert_allclose(large.intercept_ci, -0.448691459761871 + np.array([-z, z])
                               * 0.121454790202588, rtol=1e-11)
    assert large.slope == rms.slope
    with pytest.raises(MetricInputError, match="intercept must be one of"):
        calibration_stats(y, p, intercept="val.prob")


def test_separating_predictions_are_refused_or_give_an_infinite_slope():
    from mvikit.exceptions import DataWarning, MetricInputError
    from mvikit.metrics._calibration import _recalibration

    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    with pytest.raises(MetricInputError, match="separate"):
        calibration_stats(y, p)
    with pytest.warns(DataWarning, match="separate the outcomes perfectly"):
        (intercept, slope), se = _recalibration(y, p)
    assert slope == np.inf and np.isnan(intercept) and np.isnan(se).all()
    with pytest.warns(DataWarning, match="-inf"):
        assert _recalibration(1 - y, p)[0][1] == -np.inf


def test_recalibration_halves_steps_where_newton_from_zero_overshoots():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    lp = rng.normal(0, 6, 40)  # confident predictions: a full first step overshoots
    y = (rng.random(40) < 1 / (1 + np.exp(-lp / 3))).astype(int)
    p = 1 / (1 + np.exp(-lp))
    result = calibration_stats(y, p)
    reference = sm.Logit(y, sm.add_constant(lp)).fit(disp=0, tol=1e-12)
    assert result.slope == pytest.approx(reference.params[1], rel=1e-6)
