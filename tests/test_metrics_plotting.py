"""ROC, calibration, decision-curve and confusion plots: the drawn data equal the metrics."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve  # noqa: E402

from mvikit.metrics import calibration_curve, decision_curve  # noqa: E402
from mvikit.plotting import (  # noqa: E402
    plot_calibration,
    plot_confusion_matrix,
    plot_decision_curve,
    plot_roc,
)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    y = rng.binomial(1, 0.4, 240)
    p = 1 / (1 + np.exp(-(1.8 * y - 1.0 + rng.normal(size=240))))
    return y, p, np.repeat(np.arange(4), 60)


@pytest.fixture
def ax():
    figure, axes = plt.subplots()
    yield axes
    plt.close(figure)


def test_plot_roc_single_curve(data, ax):
    y, p, _ = data
    assert plot_roc(y, p, ax=ax) is ax
    fpr, tpr, _ = roc_curve(y, p)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), fpr)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), tpr)
    assert f"AUC = {roc_auc_score(y, p):.3f}" in ax.lines[0].get_label()


def test_plot_roc_folds_mean_and_band(data, ax):
    y, p, folds = data
    plot_roc(y, p, folds=folds, ax=ax, n_grid=51)
    grid = np.linspace(0, 1, 51)
    curves = []
    for k in range(4):
        fpr, tpr, _ = roc_curve(y[folds == k], p[folds == k])
        curve = np.interp(grid, fpr, tpr)
        curve[0] = 0
        curves.append(curve)
        np.testing.assert_allclose(ax.lines[k].get_ydata(), curve)
    mean = np.mean(curves, axis=0)
    mean[-1] = 1
    np.testing.assert_allclose(ax.lines[4].get_ydata(), mean)
    aucs = [roc_auc_score(y[folds == k], p[folds == k]) for k in range(4)]
    assert f"mean AUC = {np.mean(aucs):.3f} +/- {np.std(aucs):.3f}" in ax.lines[4].get_label()
    band = ax.collections[0].get_paths()[0].vertices  # fill_between polygon: mean +/- SD
    sd = np.std(curves, axis=0)
    assert band[:, 1].max() == pytest.approx(min(1.0, (mean + sd).max()))


def test_plot_calibration_equals_curve(data, ax):
    y, p, _ = data
    assert plot_calibration(y, p, n_bins=6, ax=ax) is ax
    curve = calibration_curve(y, p, n_bins=6)
    np.testing.assert_allclose(ax.lines[1].get_xdata(), curve.prob_pred)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), curve.prob_true)
    counts = [patch.get_height() for patch in ax.child_axes[0].patches]
    assert sum(counts) == len(y)  # the histogram shows every prediction


def test_plot_decision_curve_equals_metric(data, ax):
    y, p, _ = data
    other = np.clip(p + 0.1, 0, 1)
    pts = np.arange(0.05, 0.95, 0.05)
    assert plot_decision_curve(y, {"a": p, "b": other}, thresholds=pts, ax=ax) is ax
    for line, prob in zip(ax.lines[:2], (p, other)):
        curve = decision_curve(y, prob, thresholds=pts)
        np.testing.assert_allclose(line.get_ydata(), curve["net_benefit"])
    np.testing.assert_allclose(ax.lines[2].get_ydata(), curve["net_benefit_all"])
    assert [line.get_label() for line in ax.lines] == ["a", "b", "treat all", "treat none"]
    figure, ax2 = plt.subplots()
    plot_decision_curve(y, p, thresholds=pts, standardize=True, ax=ax2)
    standardized = decision_curve(y, p, thresholds=pts, standardize=True)
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), standardized["standardized_net_benefit"])
    plt.close(figure)


def test_plot_confusion_matrix_equals_sklearn(ax):
    rng = np.random.RandomState(1)
    truth = rng.choice(["M0", "M1", "M2"], 90)
    pred = np.where(rng.rand(90) < 0.6, truth, rng.choice(["M0", "M1", "M2"], 90))
    plot_confusion_matrix(truth, pred, normalize="true", ax=ax)
    expected = confusion_matrix(truth, pred, normalize="true")
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert [t.get_text() for t in ax.texts][:3] == [f"{v:.2f}" for v in expected[0]]
