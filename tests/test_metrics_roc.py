"""AUC, DeLong variance/covariance/test: pROC reference values, sklearn, properties."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import t as student_t
from sklearn.metrics import roc_auc_score

from mvikit.exceptions import MetricInputError
from mvikit.metrics import (
    AUCResult,
    DeLongTestResult,
    bootstrap_ci,
    delong_covariance,
    delong_test,
    paired_bootstrap_test,
    roc_auc_ci,
)
from mvikit.metrics._roc import _auc, _fast_delong

# pROC's aSAH data: in-repo copy first (so CI never skips), the shared reference file next.
_ASAH = [
    Path(__file__).parent / "data" / "aSAH.csv",
    Path(__file__).parents[2] / "shared/data/reference/aSAH.csv",
]


@pytest.fixture(scope="module")
def asah():
    path = next((p for p in _ASAH if p.exists()), None)
    # the copy in tests/data is committed: a missing file is a broken checkout, not a skip
    assert path is not None, f"aSAH.csv not found in {[str(p) for p in _ASAH]}"
    data = pd.read_csv(path)
    # pROC's column sums (evaluation.md): the file is the one pROC ships.
    assert len(data) == 113 and (data["outcome"] == "Poor").sum() == 41
    np.testing.assert_allclose(data[["s100b", "ndka", "age"]].sum(), [27.91, 2221.47, 5774])
    return data


# ---------------------------------------------------------------- pROC values
# library(pROC); data(aSAH)  -- outcome "Poor" positive (levels Good < Poor), markers numeric.


def test_auc_and_delong_variance_equal_proc(asah):
    y = asah["outcome"]
    # auc(roc(aSAH$outcome, aSAH$s100b)) -> 0.731369 (pROC tests/testthat/test-auc.R)
    assert roc_auc_ci(y, asah["s100b"]).auc == pytest.approx(0.731369, abs=5e-7)
    # var(roc(aSAH$outcome, aSAH$s100b), method = "delong") (test-var.R)
    assert roc_auc_ci(y, asah["s100b"]).variance == pytest.approx(0.00266868245717244, rel=1e-12)
    # var(roc(aSAH$outcome, aSAH$ndka), method = "delong")
    assert roc_auc_ci(y, asah["ndka"]).variance == pytest.approx(0.0031908105493913, rel=1e-12)
    # var(roc(aSAH$outcome, as.numeric(aSAH$wfns)), method = "delong")
    assert roc_auc_ci(y, asah["wfns"]).variance == pytest.approx(0.00146991470882363, rel=1e-12)


def test_ci_auc_equals_proc(asah):
    # ci.auc(roc(aSAH$outcome, aSAH$ndka)) -> 0.501244999271703 0.611957994579946 0.722670989888189
    res = roc_auc_ci(asah["outcome"], asah["ndka"])
    assert isinstance(res, AUCResult) and res.method == "delong"
    assert (res.n_pos, res.n_neg) == (41, 72)
    np.testing.assert_allclose(
        [res.ci[0], res.auc, res.ci[1]],
        [0.501244999271703, 0.611957994579946, 0.722670989888189],
        rtol=1e-12,
    )


def test_delong_covariances_equal_proc(asah):
    res = delong_covariance(asah["outcome"], asah[["wfns", "ndka", "s100b"]])
    cov = res.to_frame()
    # cov(roc(aSAH$outcome, as.numeric(aSAH$wfns)), roc(aSAH$outcome, aSAH$ndka)) (test-cov.R)
    assert cov.loc["wfns", "ndka"] == pytest.approx(-0.000532967856762438, rel=1e-12)
    # cov(roc(aSAH$outcome, aSAH$ndka), roc(aSAH$outcome, aSAH$s100b))
    assert cov.loc["ndka", "s100b"] == pytest.approx(-0.000756164938056579, rel=1e-12)
    # cov(roc(aSAH$outcome, aSAH$s100b), roc(aSAH$outcome, as.numeric(aSAH$wfns)))
    assert cov.loc["s100b", "wfns"] == pytest.approx(0.00119615567376754, rel=1e-12)
    np.testing.assert_allclose(res.covariance, res.covariance.T)
    np.testing.assert_allclose(np.diag(res.covariance)[1], 0.0031908105493913, rtol=1e-12)


def test_paired_roc_test_equals_proc(asah):
    y = asah["outcome"]
    # roc.test(roc(aSAH$outcome, as.numeric(aSAH$wfns)), roc(aSAH$outcome, aSAH$s100b),
    #          method = "delong")  (test-roc.test.R)
    res = delong_test(y, asah["wfns"], asah["s100b"])
    assert isinstance(res, DeLongTestResult) and res.paired
    assert res.statistic == pytest.approx(2.20898359144091, rel=1e-12)
    assert res.p_value == pytest.approx(0.0271757822291882, rel=1e-10)
    np.testing.assert_allclose(res.ci, [0.0104061769564846, 0.174214419249478], rtol=1e-10)
    assert res.difference == pytest.approx(res.auc_a - res.auc_b)
    # roc.test(wfns, ndka): Z 2.79777591868904, p 0.00514557970691098
    res = delong_test(y, asah["wfns"], asah["ndka"])
    assert res.statistic == pytest.approx(2.79777591868904, rel=1e-12)
    assert res.p_value == pytest.approx(0.00514557970691098, rel=1e-10)
    # roc.test(ndka, s100b): Z -1.39077002573558, p 0.164295175223054
    res = delong_test(y, asah["ndka"], asah["s100b"])
    assert res.statistic == pytest.approx(-1.39077002573558, rel=1e-12)
    assert res.p_value == pytest.approx(0.164295175223054, rel=1e-10)


def test_unpaired_and_one_sample_tests(asah):
    y = asah["outcome"]
    va = roc_auc_ci(y, asah["ndka"]).variance
    vb = roc_auc_ci(y, asah["s100b"]).variance
    res = delong_test(y, asah["ndka"], asah["s100b"], paired=False)
    assert res.variance == pytest.approx(va + vb)  # independent AUCs: no covariance term
    # Two independent cohorts: the first 60 and the last 53 patients.
    first, last = asah.iloc[:60], asah.iloc[60:]
    res = delong_test(
        first["outcome"], first["s100b"], last["s100b"], paired=False, y_true_b=last["outcome"]
    )
    expected_var = (
        roc_auc_ci(first["outcome"], first["s100b"]).variance
        + roc_auc_ci(last["outcome"], last["s100b"]).variance
    )
    assert res.variance == pytest.approx(expected_var)
    # One-sample: AUC against 0.5 uses the AUC's own variance.
    one = delong_test(y, asah["wfns"])
    assert one.auc_b == 0.5 and one.variance == pytest.approx(0.00146991470882363, rel=1e-12)


def test_logit_ci_stays_inside_unit_interval(asah):
    res = roc_auc_ci(asah["outcome"], asah["wfns"], transform="logit")
    auc, se = res.auc, res.se
    lo = 1 / (1 + np.exp(-(np.log(auc / (1 - auc)) - 1.959963984540054 * se / (auc * (1 - auc)))))
    assert res.ci[0] == pytest.approx(lo, rel=1e-9)
    y = np.r_[np.zeros(5), np.ones(5)]
    near_perfect = np.r_[np.arange(5), np.arange(4, 9)] * 1.0
    wald, logit = roc_auc_ci(y, near_perfect), roc_auc_ci(y, near_perfect, transform="logit")
    assert wald.ci[1] == 1.0 and logit.ci[1] < 1.0  # Wald interval clipped, logit one inside


# --------------------------------------------------------------- sklearn, multiclass


def test_auc_equals_sklearn_with_ties():
    rng = np.random.RandomState(1)
    y = rng.randint(0, 2, 300)
    score = np.round(y + rng.normal(size=300), 1)  # many ties
    assert roc_auc_ci(y, score).auc == pytest.approx(roc_auc_score(y, score), abs=1e-14)


@pytest.mark.parametrize("multi_class", ["ovr", "ovo"])
def test_multiclass_auc_equals_sklearn_and_bootstrap_ci(multi_class):
    rng = np.random.RandomState(2)
    y = np.repeat(["M0", "M1", "M2"], [50, 30, 20])
    logits = rng.normal(size=(100, 3)) + 1.2 * (y[:, None] == np.array(["M0", "M1", "M2"]))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    res = roc_auc_ci(y, proba, multi_class=multi_class, n_resamples=200, random_state=0)
    expected = roc_auc_score(y, proba, multi_class=multi_class, average="macro")
    assert res.auc == pytest.approx(expected, abs=1e-12)
    assert res.method == "bootstrap" and res.multi_class == multi_class
    assert res.ci[0] < res.auc < res.ci[1] and 0.01 < res.se < 0.1


def test_delong_variance_matches_bootstrap_on_simulated_data():
    # Binormal scores, n = 400: the bootstrap SD estimates the same SE as DeLong.
    rng = np.random.RandomState(3)
    y = np.r_[np.zeros(250), np.ones(150)]
    a = y + rng.normal(size=400)
    b = 0.6 * a + 0.5 * y + rng.normal(size=400)  # correlated with a
    delong_se = roc_auc_ci(y, a).se
    boot = bootstrap_ci(_auc, y, a, n_resamples=1000, random_state=0)
    # SE of a bootstrap SD with B = 1000 is about SE / sqrt(2B) = 2 %; allow 10 %.
    assert boot.se == pytest.approx(delong_se, rel=0.10)
    paired = delong_test(y, a, b)
    boot_test = paired_bootstrap_test(_auc, y, a, b, n_resamples=1000, random_state=0)
    assert boot_test.difference == pytest.approx(paired.difference)
    assert boot_test.se == pytest.approx(paired.se, rel=0.10)
    assert abs(boot_test.p_value - paired.p_value) < 0.05


def test_fast_delong_equals_structural_components():
    # DeLong et al. (1988) eqs. 2-5 written directly (O(m n)) on a small sample.
    rng = np.random.RandomState(4)
    y = rng.randint(0, 2, 40)
    scores = np.round(rng.normal(size=(2, 40)) + y, 1)
    x, z = scores[:, y == 1], scores[:, y == 0]
    psi = (x[:, :, None] > z[:, None, :]) + 0.5 * (x[:, :, None] == z[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    cov = np.cov(v10) / x.shape[1] + np.cov(v01) / z.shape[1]
    aucs, fast_cov = _fast_delong(y, scores)
    np.testing.assert_allclose(aucs, psi.mean(axis=(1, 2)), rtol=1e-13)
    np.testing.assert_allclose(fast_cov, cov, rtol=1e-12)


# ------------------------------------------------------------------- properties


@st.composite
def _labelled_scores(draw):
    n = draw(st.integers(6, 40))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    y[:2], y[2:4] = 0, 1  # at least 2 of each class for the DeLong variance
    # a grid of 0.1 keeps ties likely and distinct values distinct after transforms
    score = np.array(draw(st.lists(st.integers(-500, 500), min_size=n, max_size=n))) / 10.0
    return y, score


@settings(max_examples=40, deadline=None)
@given(_labelled_scores())
def test_auc_invariant_under_increasing_transform(data):
    y, score = data
    res, transformed = roc_auc_ci(y, score), roc_auc_ci(y, np.exp(score / 20) + score**3)
    assert transformed.auc == pytest.approx(res.auc, abs=1e-12)
    assert transformed.variance == pytest.approx(res.variance, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(_labelled_scores())
def test_delong_variance_nonnegative_and_label_swap(data):
    y, score = data
    res = roc_auc_ci(y, score)
    assert res.variance >= 0
    swapped = roc_auc_ci(1 - y, score)
    assert swapped.auc == pytest.approx(1 - res.auc, abs=1e-12)
    assert swapped.variance == pytest.approx(res.variance, abs=1e-12)


def test_unpaired_t_test_matches_proc(asah):
    # R (pROC 1.18.0), a <- read.csv("tests/data/aSAH.csv"); options(digits = 15)
    # r1 <- roc(a$outcome[1:60], a$s100b[1:60], levels = c("Good", "Poor"), direction = "<")
    # r2 <- roc(a$outcome[61:113], a$s100b[61:113], levels = c("Good", "Poor"), direction = "<")
    # roc.test(r1, r2, method = "delong", paired = FALSE)
    #   D = -0.0195039151904889, df = 110.790568828358, p-value = 0.984474195880068
    first, last = asah.iloc[:60], asah.iloc[60:]
    res = delong_test(first["outcome"], first["s100b"], last["s100b"], paired=False,
                      y_true_b=last["outcome"], distribution="t")
    assert res.statistic == pytest.approx(-0.0195039151904889, rel=1e-12)
    assert res.df == pytest.approx(110.790568828358, rel=1e-12)
    assert res.p_value == pytest.approx(0.984474195880068, rel=1e-12)
    # the same patients treated as unpaired (pROC warns they look paired):
    # roc.test(roc(a$outcome, a$ndka), roc(a$outcome, a$s100b), method = "delong",
    #          paired = FALSE): D -1.55995743389685, df 222.235395951271, p 0.120192832430845
    res = delong_test(asah["outcome"], asah["ndka"], asah["s100b"], paired=False,
                      distribution="t")
    assert (res.statistic, res.df, res.p_value) == pytest.approx(
        (-1.55995743389685, 222.235395951271, 0.120192832430845), rel=1e-12)
    # the t-based CI of the difference has the t quantile at the same df
    half = (res.ci[1] - res.ci[0]) / 2
    assert half == pytest.approx(student_t.ppf(0.975, res.df) * res.se, rel=1e-12)
    z = delong_test(asah["outcome"], asah["ndka"], asah["s100b"], paired=False)
    assert z.df is None and z.statistic == pytest.approx(res.statistic, rel=1e-12)
    assert z.p_value < res.p_value  # the t tail is heavier
    with pytest.raises(MetricInputError, match="paired=False"):
        delong_test(asah["outcome"], asah["ndka"], asah["s100b"], distribution="t")
    with pytest.raises(MetricInputError, match="'normal' or 't'"):
        delong_test(asah["outcome"], asah["ndka"], asah["s100b"], distribution="welch")
