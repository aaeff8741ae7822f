"""ROC, calibration, decision-curve and confusion plots: the drawn data equal the metrics,
for one model, several models on one axis, and one-vs-rest curves of a graded outcome."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve  # noqa: E402

from mvikit.exceptions import DataWarning, MetricInputError  # noqa: E402
from mvikit.metrics import (  # noqa: E402
    calibration_curve,
    calibration_stats,
    decision_curve,
    roc_auc_ci,
)
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


def test_plot_roc_several_models_on_one_axis(data, ax):
    y, p, _ = data
    other = np.clip(p + np.random.RandomState(2).normal(0, 0.2, len(p)), 0, 1)
    # the second model scored only the first 200 patients: its own outcomes
    plot_roc({"a": y, "b": y[:200]}, {"a": p, "b": other[:200]}, ax=ax)
    for line, (yy, pp, name) in zip(ax.lines, [(y, p, "a"), (y[:200], other[:200], "b")]):
        fpr, tpr, _ = roc_curve(yy, pp)
        np.testing.assert_allclose(line.get_xdata(), fpr)
        np.testing.assert_allclose(line.get_ydata(), tpr)
        res = roc_auc_ci(yy, pp)
        assert res.auc == pytest.approx(roc_auc_score(yy, pp))
        assert line.get_label() == f"{name}: AUC = {res.auc:.3f} ({res.ci[0]:.3f}-{res.ci[1]:.3f})"
    assert len(ax.lines) == 3  # two models + chance line
    with pytest.raises(MetricInputError, match="y_true has no entry for model 'b'"):
        plot_roc({"a": y}, {"a": p, "b": other}, ax=ax)
    with pytest.raises(MetricInputError, match="y_true is a dict of models but y_score is not"):
        plot_roc({"a": y}, p, ax=ax)


def test_plot_roc_folds_sample_sd_and_fold_style(data, ax):
    y, p, folds = data
    plot_roc(y, p, folds=folds, ax=ax, ddof=1, label="m",
             fold_kwargs={"color": "grey", "label": "_nolegend_"})
    aucs = [roc_auc_score(y[folds == k], p[folds == k]) for k in range(4)]
    mean_line = ax.lines[4]
    sd = np.std(aucs, ddof=1)
    assert mean_line.get_label() == f"m: mean AUC = {np.mean(aucs):.3f} +/- {sd:.3f}"
    assert all(line.get_color() == "grey" for line in ax.lines[:4])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [mean_line.get_label(), "+/- 1 SD"]
    curves = np.array([line.get_ydata() for line in ax.lines[:4]])
    band = ax.collections[0].get_paths()[0].vertices
    upper = np.clip(mean_line.get_ydata() + curves.std(axis=0, ddof=1), 0, 1)
    assert band[:, 1].max() == pytest.approx(upper.max())


def test_plot_roc_skips_a_one_class_fold_with_a_warning(data, ax):
    y, p, folds = data
    folds = folds.copy()
    folds[np.flatnonzero(y == 1)[:3]] = 9  # fold 9: three events only
    with pytest.warns(DataWarning, match="Fold 9 holds one class only"):
        plot_roc(y, p, folds=folds, ax=ax)
    aucs = [roc_auc_score(y[folds == k], p[folds == k]) for k in range(4)]
    assert f"mean AUC = {np.mean(aucs):.3f} +/- {np.std(aucs):.3f}" == ax.lines[4].get_label()
    with pytest.raises(MetricInputError, match="folds has shape"):
        plot_roc(y, p, folds=folds[:10], ax=ax)


def test_plot_roc_one_vs_rest_per_class_and_macro_auc(ax):
    rng = np.random.RandomState(4)
    grade = rng.choice(["M0", "M1", "M2"], 150, p=[0.5, 0.3, 0.2])
    logits = rng.normal(size=(150, 3)) + 1.2 * (grade[:, None] == np.array(["M0", "M1", "M2"]))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # columns in a non-sorted order, named by labels=
    order = ["M2", "M0", "M1"]
    plot_roc(grade, proba[:, [2, 0, 1]], labels=order, ax=ax, label="MD-Net")
    for k, cls in enumerate(order):
        column = proba[:, ["M0", "M1", "M2"].index(cls)]
        fpr, tpr, _ = roc_curve(grade == cls, column)
        np.testing.assert_allclose(ax.lines[k].get_xdata(), fpr)
        np.testing.assert_allclose(ax.lines[k].get_ydata(), tpr)
        assert ax.lines[k].get_label().startswith(
            f"MD-Net: {cls} vs rest: AUC = {roc_auc_score(grade == cls, column):.3f} (")
    macro = roc_auc_ci(grade, proba, multi_class="ovr", n_resamples=10, random_state=0).auc
    assert macro == pytest.approx(roc_auc_score(grade, proba, multi_class="ovr"))
    title = ax.get_legend().get_title().get_text()
    assert title == f"MD-Net: macro AUC (one-vs-rest) = {macro:.3f}"
    with pytest.raises(MetricInputError, match="folds= averages binary ROC curves"):
        plot_roc(grade, proba, folds=np.arange(150) % 3, ax=ax)
    with pytest.raises(MetricInputError, match="3 columns but there are 2 classes"):
        plot_roc(grade, proba, labels=["M0", "M1"], ax=ax)
    with pytest.raises(MetricInputError, match=r"labels \['M2'\] missing from labels"):
        plot_roc(grade, proba, labels=["M0", "M1", "M3"], ax=ax)


def test_plot_calibration_several_models(data, ax):
    y, p, _ = data
    other = p ** 2
    plot_calibration(y, {"a": p, "b": other}, n_bins=6, ax=ax)
    assert ax.lines[0].get_label() == "ideal"
    for line, (name, prob) in zip(ax.lines[1:], [("a", p), ("b", other)]):
        curve = calibration_curve(y, prob, n_bins=6)
        stats = calibration_stats(y, prob)
        np.testing.assert_allclose(line.get_xdata(), curve.prob_pred)
        np.testing.assert_allclose(line.get_ydata(), curve.prob_true)
        text = f"slope {stats.slope:.2f}, intercept {stats.intercept:.2f}"
        assert line.get_label() == f"{name} ({text})"
    counts = [patch.get_height() for patch in ax.child_axes[0].patches]
    assert sum(counts) == 2 * len(y)  # one histogram per model in the single inset


def test_plot_decision_curve_outcomes_per_model(data, ax):
    y, p, _ = data
    pts = np.arange(0.05, 0.95, 0.05)
    plot_decision_curve({"a": y, "b": y[:120]}, {"a": p, "b": p[:120]}, thresholds=pts, ax=ax)
    np.testing.assert_allclose(ax.lines[0].get_ydata(),
                               decision_curve(y, p, thresholds=pts)["net_benefit"])
    short = decision_curve(y[:120], p[:120], thresholds=pts)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), short["net_benefit"])
    # treat-all is that of the first model's outcomes
    np.testing.assert_allclose(ax.lines[2].get_ydata(),
                               decision_curve(y, p, thresholds=pts)["net_benefit_all"])
    with pytest.raises(MetricInputError, match="y_prob is an empty dict"):
        plot_decision_curve(y, {}, ax=ax)
