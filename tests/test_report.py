"""Comparison report: figure data against the metrics they plot, atomic writing."""

from __future__ import annotations

import base64
import os
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.naive_bayes import GaussianNB

from mvikit.exceptions import OutputExistsError
from mvikit.metrics import calibration_curve, decision_curve
from mvikit.model_selection import compare_models
from mvikit.plotting import plot_forest
from mvikit.report import build_report, write_report
from mvikit.report import _figures, _report

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


def test_roc_figure_mean_curve_is_the_vertical_average_of_fold_curves(result):
    figure = _figures.roc_figure(result)
    ax = figure.axes[0]
    expected = []
    for _, fold in result.predictions.query("model == 'logistic'").groupby(["repeat", "fold"]):
        fpr, tpr, _ = roc_curve(fold["y_true"], fold["score"])
        curve = np.interp(_figures.FPR_GRID, fpr, tpr)
        curve[0] = 0.0
        expected.append(curve)
    expected = np.array(expected)
    lines = [line for line in ax.get_lines() if line.get_label().startswith("mean ROC")]
    assert len(lines) == 1
    np.testing.assert_allclose(lines[0].get_ydata(), expected.mean(axis=0))
    auc_mean, auc_sd = result.summary.loc["logistic", ["auc_mean", "auc_sd"]]
    assert lines[0].get_label() == f"mean ROC (AUC {auc_mean:.3f} ± {auc_sd:.3f})"
    # six thin fold curves + mean + chance line
    assert len(ax.get_lines()) == 6 + 2
    band = ax.collections[0].get_paths()[0].vertices
    upper = np.clip(expected.mean(0) + expected.std(0, ddof=1), 0, 1)
    assert np.isclose(band[:, 1].max(), upper.max())


def test_calibration_and_decision_figures_plot_the_metrics_functions(result):
    oof = result.oof_predictions("nb", 0)
    curve = calibration_curve(oof["y_true"], oof["score"], n_bins=10)
    line = [ln for ln in _figures.calibration_figure(result).axes[0].get_lines()
            if ln.get_label() == "nb"][0]
    np.testing.assert_allclose(line.get_xdata(), curve.prob_pred)
    np.testing.assert_allclose(line.get_ydata(), curve.prob_true)
    thresholds = np.arange(0.01, 0.99, 0.01)
    net = decision_curve(oof["y_true"], oof["score"], thresholds)
    lines = {ln.get_label(): ln for ln in _figures.decision_curve_figure(result).axes[0].get_lines()}
    np.testing.assert_allclose(lines["nb"].get_ydata(), net["net_benefit"])
    np.testing.assert_allclose(lines["treat all"].get_ydata(), net["net_benefit_all"])


def test_forest_figure_draws_the_delong_intervals(result):
    ax = _figures.forest_figure(result).axes[0]
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


def test_multiclass_report_has_forest_of_mean_auc():
    X, y = make_classification(n_samples=90, n_features=5, n_informative=3, n_classes=3,
                               random_state=0)
    res = compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()}, X, y, cv=3,
                         scoring=["auc", "kappa_quadratic"])
    report = build_report(res)
    assert list(report.figures) == ["forest"]
    table, _ = _figures.forest_table(res)
    np.testing.assert_allclose(table["estimate"], res.summary["auc_mean"])
    np.testing.assert_allclose(table["upper"] - table["estimate"], res.summary["auc_sd"])
    assert "DeLong" not in report.markdown.split("## Methods")[1].split("###")[0]
