"""Threshold metrics, Wilson CIs, Youden, kappa and McNemar against references."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    precision_score,
    recall_score,
    roc_curve,
)

from mvikit.metrics import kappa, mcnemar_test, threshold_metrics, youden_threshold


@pytest.fixture
def binary_scores():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 200)
    return y, 1 / (1 + np.exp(-(1.5 * y - 0.7 + rng.normal(size=200))))


def _wilson(k, n, z=1.959963984540054):
    # Wilson (1927): (k + z^2/2 +- z sqrt(k (n - k) / n + z^2 / 4)) / (n + z^2)
    half = z * np.sqrt(k * (n - k) / n + z**2 / 4)
    return (k + z**2 / 2 - half) / (n + z**2), (k + z**2 / 2 + half) / (n + z**2)


def test_threshold_metrics_equal_sklearn(binary_scores):
    y, p = binary_scores
    res = threshold_metrics(y, p, threshold=0.4)
    pred = (p >= 0.4).astype(int)
    assert res.sensitivity == pytest.approx(recall_score(y, pred))
    assert res.specificity == pytest.approx(recall_score(1 - y, 1 - pred))
    assert res.ppv == pytest.approx(precision_score(y, pred))
    assert res.npv == pytest.approx(precision_score(1 - y, 1 - pred))
    assert res.accuracy == pytest.approx(accuracy_score(y, pred))
    assert res.f1 == pytest.approx(f1_score(y, pred))
    assert res.tp + res.fp + res.tn + res.fn == 200
    np.testing.assert_allclose(res.ci["sensitivity"], _wilson(res.tp, res.tp + res.fn))
    np.testing.assert_allclose(res.ci["npv"], _wilson(res.tn, res.tn + res.fn))
    # F1 interval: Wilson interval of the Jaccard index mapped by 2J / (1 + J)
    lo, hi = _wilson(res.tp, res.tp + res.fp + res.fn)
    np.testing.assert_allclose(res.ci["f1"], (2 * lo / (1 + lo), 2 * hi / (1 + hi)))
    frame = res.to_frame()
    assert frame.loc["ppv", "estimate"] == res.ppv and frame.loc["f1", "upper"] == res.ci["f1"][1]


def test_threshold_metrics_from_string_labels():
    y = pd.Series(["Good", "Poor", "Poor", "Good", "Poor"], index=list("abcde"))
    pred = ["Good", "Poor", "Good", "Poor", "Poor"]
    res = threshold_metrics(y, pred, threshold=None)
    assert (res.tp, res.fp, res.tn, res.fn) == (2, 1, 1, 1) and res.threshold is None
    assert res.sensitivity == pytest.approx(2 / 3)


def test_ppv_is_nan_without_predicted_positives():
    res = threshold_metrics([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], threshold=0.9)
    assert np.isnan(res.ppv) and np.isnan(res.ci["ppv"][0]) and res.npv == 0.5


def test_youden_equals_brute_force(binary_scores):
    y, p = binary_scores
    res = youden_threshold(y, p)
    fpr, tpr, thr = roc_curve(y, p)
    best = np.argmax(tpr - fpr)
    assert res.threshold == thr[best] and res.j == pytest.approx(tpr[best] - fpr[best])
    at = threshold_metrics(y, p, threshold=res.threshold)
    assert res.sensitivity == pytest.approx(at.sensitivity)
    assert res.specificity == pytest.approx(at.specificity)
    assert res.j == pytest.approx(at.sensitivity + at.specificity - 1)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_equals_sklearn(weights):
    rng = np.random.RandomState(1)
    truth = rng.randint(0, 3, 150)
    pred = np.where(rng.rand(150) < 0.6, truth, rng.randint(0, 3, 150))
    res = kappa(truth, pred, weights=weights)
    assert res.kappa == pytest.approx(cohen_kappa_score(truth, pred, weights=weights), abs=1e-12)
    assert res.ci[0] < res.kappa < res.ci[1] and res.p_value < 1e-6


def test_unweighted_kappa_se_equals_fleiss_formula():
    # Fleiss, Cohen & Everitt (1969) large-sample variance, 2x2 case written out.
    table = np.array([[40, 10], [5, 45]])
    n = table.sum()
    p = table / n
    r, c = p.sum(1), p.sum(0)
    po, pe = np.trace(p), r @ c
    k = (po - pe) / (1 - pe)
    a = sum(p[i, i] * (1 - (r[i] + c[i]) * (1 - k)) ** 2 for i in range(2))
    b = (1 - k) ** 2 * sum(p[i, j] * (c[i] + r[j]) ** 2
                           for i in range(2) for j in range(2) if i != j)
    var = (a + b - (k - pe * (1 - k)) ** 2) / ((1 - pe) ** 2 * n)
    y1 = np.repeat([0, 0, 1, 1], table.ravel())
    y2 = np.repeat([0, 1, 0, 1], table.ravel())
    res = kappa(y1, y2)
    assert res.kappa == pytest.approx(k) and res.se == pytest.approx(np.sqrt(var), rel=1e-12)


def test_mcnemar_exact_and_chi2():
    y = np.r_[np.ones(30), np.zeros(30)].astype(int)
    rng = np.random.RandomState(2)
    a = np.where(rng.rand(60) < 0.85, y, 1 - y)
    b = np.where(rng.rand(60) < 0.6, y, 1 - y)
    res = mcnemar_test(y, a, b, subset="positives")
    ok_a, ok_b = (a == y)[y == 1], (b == y)[y == 1]
    n01, n10 = np.sum(ok_a & ~ok_b), np.sum(~ok_a & ok_b)
    assert res.table[0, 1] == n01 and res.table[1, 0] == n10 and res.table.sum() == 30
    exact_p = min(1.0, 2 * stats.binom.cdf(min(n01, n10), n01 + n10, 0.5))
    assert res.p_value == pytest.approx(exact_p)
    chi = mcnemar_test(y, a, b, exact=False, correction=True)
    ok_a, ok_b = a == y, b == y
    b_, c_ = np.sum(ok_a & ~ok_b), np.sum(~ok_a & ok_b)
    stat = (abs(b_ - c_) - 1) ** 2 / (b_ + c_)
    assert chi.statistic == pytest.approx(stat)
    assert chi.p_value == pytest.approx(stats.chi2.sf(stat, 1))
