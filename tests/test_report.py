"""Comparison report: figure data against the metrics they plot, atomic writing."""

from __future__ import annotations

import base64
import os
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.naive_bayes import GaussianNB

from mvikit.exceptions import OutputExistsError
from mvikit.metrics import calibration_curve, calibration_stats, decision_curve, roc_auc_ci
from mvikit.model_selection import compare_models
from mvikit.plotting import plot_forest
from mvikit.report import _figures, _report, build_report, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result():
    X, y = make_classification(n_samples=100, n_features=5, n_informative=3, flip_y=0.1,
                               random_state=3)
    cv = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=0)
    return compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()}, X, y, cv=cv,
                          scoring=["auc", "sensitivity", "specificity"], threshold=0.5)


@pytest.fixture(scope="module")
def report(result):
    return build_report(result, title="Clinical models")


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


@pytest.mark.parametrize("repeat", [0, 1])
def test_roc_figure_pooled_panel_is_sklearn_roc_with_the_delong_table_aucs(result, repeat):
    ax = _figures.make_figure("roc", result, repeat).axes[0]
    delong = result.delong.query("repeat == @repeat").iloc[0]
    expected_auc = {"nb": delong["auc"], "logistic": delong["auc_reference"]}
    for k, model in enumerate(result.models):
        oof = result.oof_predictions(model, repeat)
        y = (oof["y_true"] == result.pos_label).astype(int)
        fpr, tpr, _ = roc_curve(y, oof["score"])
        line = ax.get_lines()[k]
        np.testing.assert_allclose(line.get_xdata(), fpr)
        np.testing.assert_allclose(line.get_ydata(), tpr)
        ci = roc_auc_ci(y, oof["score"]).ci
        assert line.get_label() == (f"{model}: AUC = {expected_auc[model]:.3f} "
                                    f"({ci[0]:.3f}-{ci[1]:.3f})")
    assert ax.get_title() == f"Pooled out-of-fold (repeat {repeat})"


def test_roc_figure_mean_curve_is_the_vertical_average_of_fold_curves(result):
    figure = _figures.make_figure("roc", result)
    ax = figure.axes[1]  # the first per-model panel: logistic
    grid = np.linspace(0, 1, 101)
    expected = []
    for _, fold in result.predictions.query("model == 'logistic'").groupby(["repeat", "fold"]):
        fpr, tpr, _ = roc_curve(fold["y_true"], fold["score"])
        curve = np.interp(grid, fpr, tpr)
        curve[0] = 0.0
        expected.append(curve)
    expected = np.array(expected)
    lines = [line for line in ax.get_lines() if line.get_label().startswith("mean AUC")]
    assert len(lines) == 1
    np.testing.assert_allclose(lines[0].get_ydata(), expected.mean(axis=0))
    # the legend carries the summary's fold-AUC mean and SD (ddof=1)
    auc_mean, auc_sd = result.summary.loc["logistic", ["auc_mean", "auc_sd"]]
    assert lines[0].get_label() == f"mean AUC = {auc_mean:.3f} +/- {auc_sd:.3f}"
    # six thin fold curves (no legend entries) + mean + chance line
    assert len(ax.get_lines()) == 6 + 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [lines[0].get_label(),
                                                                   "+/- 1 SD"]
    np.testing.assert_allclose(np.array([ln.get_ydata() for ln in ax.get_lines()[:6]]), expected)
    band = ax.collections[0].get_paths()[0].vertices
    upper = np.clip(expected.mean(0) + expected.std(0, ddof=1), 0, 1)
    assert np.isclose(band[:, 1].max(), upper.max())
    assert ax.get_title() == "logistic (6 folds)"


def test_calibration_and_decision_figures_plot_the_metrics_functions(result):
    oof = result.oof_predictions("nb", 0)
    curve = calibration_curve(oof["y_true"], oof["score"], n_bins=10)
    stats = calibration_stats(oof["y_true"], oof["score"])
    lines = _lines(_figures.make_figure("calibration", result).axes[0])
    line = lines[f"nb (slope {stats.slope:.2f}, intercept {stats.intercept:.2f})"]
    np.testing.assert_allclose(line.get_xdata(), curve.prob_pred)
    np.testing.assert_allclose(line.get_ydata(), curve.prob_true)
    thresholds = np.arange(0.01, 0.99, 0.01)
    net = decision_curve(oof["y_true"], oof["score"], thresholds)
    lines = _lines(_figures.make_figure("decision_curve", result).axes[0])
    np.testing.assert_allclose(lines["nb"].get_xdata(), thresholds)
    np.testing.assert_allclose(lines["nb"].get_ydata(), net["net_benefit"])
    np.testing.assert_allclose(lines["treat all"].get_ydata(), net["net_benefit_all"])
    np.testing.assert_allclose(lines["treat none"].get_ydata(), 0.0)


def test_forest_figure_draws_the_delong_intervals(result):
    ax = _figures.make_figure("forest", result).axes[0]
    row = result.delong.query("repeat == 0").iloc[0]
    (segment,) = ax.collections[0].get_segments()
    np.testing.assert_allclose(segment[:, 0], [row["ci_low"], row["ci_high"]])
    (point,) = [ln for ln in ax.get_lines() if ln.get_marker() == "s"]
    assert point.get_xdata()[0] == pytest.approx(row["difference"])
    texts = [t.get_text() for t in ax.texts]
    assert any(f"{row['difference']:.3f} ({row['ci_low']:.3f}, {row['ci_high']:.3f})" in t
               for t in texts)


def test_plot_forest_rows_and_errors():
    table = pd.DataFrame({"name": ["a", "b", "c"], "or": [1.5, 0.8, 2.0],
                          "lo": [1.1, 0.5, 1.2], "hi": [2.1, 1.3, 3.5]})
    ax = plot_forest(table, estimate="or", lower="lo", upper="hi", label="name", reference=1.0,
                     log_scale=True, annotate=False)
    segments = ax.collections[0].get_segments()
    # row i is drawn at y = n_rows - 1 - i
    assert [s[0, 1] for s in segments] == [2, 1, 0]
    np.testing.assert_allclose([s[:, 0] for s in segments], table[["lo", "hi"]].to_numpy())
    assert ax.get_xscale() == "log"
    assert ax.get_lines()[-1].get_xdata()[0] == 1.0
    with pytest.raises(KeyError, match=r"column\(s\) \['estimate'\] not in the table"):
        plot_forest(table, label="name", lower="lo", upper="hi")


def test_report_text_holds_the_result_numbers(result, report):
    assert report.markdown.startswith("# Clinical models\n")
    mean, sd = result.summary.loc["nb", ["auc_mean", "auc_sd"]]
    assert f"| nb | {mean:.3f} ± {sd:.3f} |" in report.markdown
    assert "two-sided Wilcoxon signed-rank test" in report.markdown
    assert "same 6 train/test splits (2 repeat(s)" in report.markdown
    for name in ("roc", "calibration", "decision_curve", "forest"):
        assert f"![{name}](figures/{name}.png)" in report.markdown
        assert report.figures[name].startswith(PNG_MAGIC)
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', report.html)
    assert [base64.b64decode(e) for e in embedded] == list(report.figures.values())
    assert f"{mean:.3f} ± {sd:.3f}" in report.html


def test_write_report_layout_and_tables(result, report, tmp_path, monkeypatch):
    monkeypatch.setattr(_report, "build_report", lambda result, **kw: report)
    folder = write_report(result, tmp_path / "out" / "report")
    umask = os.umask(0)
    os.umask(umask)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    assert sorted(p.name for p in (folder / "figures").iterdir()) == [
        "calibration.png", "decision_curve.png", "forest.png", "roc.png"]
    assert (folder / "report.md").read_text(encoding="utf-8") == report.markdown
    summary = pd.read_csv(folder / "tables" / "summary.csv", index_col="model")
    pd.testing.assert_frame_equal(summary, result.summary, check_dtype=False, check_names=False)
    scores = pd.read_csv(folder / "tables" / "scores.csv")
    np.testing.assert_allclose(scores["value"], result.scores["value"])


def test_write_report_refuses_to_overwrite_and_replaces_atomically(result, report, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setattr(_report, "build_report", lambda result, **kw: report)
    target = tmp_path / "report"
    write_report(result, target)
    (target / "stale.txt").write_text("old")
    with pytest.raises(OutputExistsError, match="exists; pass overwrite=True"):
        write_report(result, target)
    assert (target / "stale.txt").exists()
    write_report(result, target, overwrite=True)
    assert not (target / "stale.txt").exists()
    assert (target / "report.html").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no staging or retired folder


def test_write_report_failure_leaves_nothing_behind(result, report, tmp_path, monkeypatch):
    monkeypatch.setattr(_report, "build_report", lambda result, **kw: report)

    def broken(report, folder):
        (folder / "report.md").write_text("partial")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(_report, "_write_files", broken)
    with pytest.raises(OSError, match="disk full"):
        write_report(result, tmp_path / "report")
    assert list(tmp_path.iterdir()) == []
    # an existing report survives a failed overwrite untouched
    monkeypatch.undo()
    monkeypatch.setattr(_report, "build_report", lambda result, **kw: report)
    write_report(result, tmp_path / "report")
    monkeypatch.setattr(_report, "_write_files", broken)
    with pytest.raises(OSError, match="disk full"):
        write_report(result, tmp_path / "report", overwrite=True)
    assert (tmp_path / "report" / "report.md").read_text(encoding="utf-8") == report.markdown
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


@pytest.fixture(scope="module")
def graded():
    X, y = make_classification(n_samples=90, n_features=5, n_informative=3, n_classes=3,
                               random_state=0)
    grade = np.array(["M0", "M1", "M2"])[y]
    return compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()}, X, grade,
                          cv=3, scoring=["auc", "kappa_quadratic"])


def test_multiclass_report_figures_and_forest_of_mean_auc(graded):
    report = build_report(graded)
    assert list(report.figures) == ["roc", "confusion_matrix", "forest"]
    for name in report.figures:
        assert f"![{name}](figures/{name}.png)" in report.markdown
        assert report.captions[name] in report.markdown
    table, _ = _figures.forest_table(graded)
    np.testing.assert_allclose(table["estimate"], graded.summary["auc_mean"])
    np.testing.assert_allclose(table["upper"] - table["estimate"], graded.summary["auc_sd"])
    assert "DeLong" not in report.markdown.split("## Methods")[1].split("###")[0]
    assert "confusion matrices use the pooled out-of-fold predictions of repeat 0" in \
        report.markdown


def test_multiclass_one_vs_rest_roc_equals_sklearn_and_macro_auc(graded):
    figure = _figures.make_figure("roc", graded)
    columns = [f"proba_{c}" for c in graded.classes]
    for ax, model in zip(figure.axes, graded.models):
        oof = graded.oof_predictions(model)
        proba = oof[columns].to_numpy()
        for k, grade in enumerate(graded.classes):
            fpr, tpr, _ = roc_curve(oof["y_true"] == grade, proba[:, k])
            line = ax.get_lines()[k]
            np.testing.assert_allclose(line.get_xdata(), fpr)
            np.testing.assert_allclose(line.get_ydata(), tpr)
            auc = roc_auc_score(oof["y_true"] == grade, proba[:, k])
            assert line.get_label().startswith(f"{grade} vs rest: AUC = {auc:.3f} (")
        macro = roc_auc_ci(oof["y_true"], proba, multi_class="ovr", labels=graded.classes,
                           n_resamples=10, random_state=0).auc
        assert macro == pytest.approx(roc_auc_score(oof["y_true"], proba, multi_class="ovr"))
        assert ax.get_legend().get_title().get_text() == f"macro AUC (one-vs-rest) = {macro:.3f}"
        assert ax.get_title() == f"{model} (pooled out-of-fold, repeat 0)"


def test_multiclass_confusion_matrices_equal_sklearn(graded):
    figure = _figures.make_figure("confusion_matrix", graded)
    images = [ax for ax in figure.axes if ax.images]  # the colour bars are axes too
    assert [ax.get_title() for ax in images] == graded.models
    for ax, model in zip(images, graded.models):
        oof = graded.oof_predictions(model)
        expected = confusion_matrix(oof["y_true"], oof["y_pred"], labels=graded.classes)
        np.testing.assert_array_equal(ax.images[0].get_array(), expected)
        assert expected.sum() == 90  # every patient once
        assert [t.get_text() for t in ax.get_xticklabels()] == ["M0", "M1", "M2"]


def test_build_report_rejects_an_unknown_repeat(result):
    with pytest.raises(ValueError, match=r"repeat=5 is not a repeat of this comparison; its "
                                         r"repeats are \[0, 1\]"):
        build_report(result, repeat=5)


X_FAIL, Y_FAIL = make_classification(n_samples=90, n_features=4, random_state=5)
FIRST_PATIENT_X0 = X_FAIL[0, 0]


class _FailsWithPatientZero(LogisticRegression):
    """A logistic model that raises whenever patient 0 is in its training set."""

    def fit(self, X, y, sample_weight=None):
        if np.isclose(X[:, 0], FIRST_PATIENT_X0).any():
            raise RuntimeError("simulated failure")
        return super().fit(X, y, sample_weight)



def test_report_figures_of_a_model_that_failed_on_a_fold_use_its_own_patients():
    with pytest.warns(FitFailedWarning, match="flaky: 2 of 3 fits"):
        res = compare_models({"logistic": LogisticRegression(), "flaky": _FailsWithPatientZero()},
                             X_FAIL, Y_FAIL, cv=3, scoring=["auc"], threshold=0.5)
    oof = res.oof_predictions("flaky")
    assert 0 < len(oof) < 90  # it scored only the patients of the fold holding patient 0
    fpr, tpr, _ = roc_curve(oof["y_true"], oof["score"])
    pooled = _figures.make_figure("roc", res).axes[0].get_lines()[1]
    np.testing.assert_allclose(pooled.get_xdata(), fpr)
    np.testing.assert_allclose(pooled.get_ydata(), tpr)
    curve = calibration_curve(oof["y_true"], oof["score"], n_bins=10)
    line = _figures.make_figure("calibration", res).axes[0].get_lines()[2]
    assert line.get_label().startswith("flaky (")
    np.testing.assert_allclose(line.get_ydata(), curve.prob_true)
