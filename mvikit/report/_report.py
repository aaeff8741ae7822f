"""Comparison report: Markdown + self-contained HTML + PNG figures + CSV tables."""

from __future__ import annotations

import base64
import html
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .._version import __version__
from ..exceptions import OutputExistsError
from ._figures import caption, figure_names, make_figure, png_bytes

__all__ = ["ComparisonReport", "build_report", "write_report"]


@dataclass
class ComparisonReport:
    """A rendered comparison report, held in memory.

    Attributes
    ----------
    title : str
        Report title.
    markdown : str
        Markdown text; figures are linked as ``figures/<name>.png``.
    html : str
        Self-contained HTML page; figures are embedded as base64 PNG.
    figures : dict of str -> bytes
        PNG bytes by figure name: ``roc``, ``calibration``, ``decision_curve``,
        ``forest`` (binary outcome) or ``roc``, ``confusion_matrix``,
        ``forest`` (multiclass outcome).
    captions : dict of str -> str
        Caption of every figure, as printed under it.
    tables : dict of str -> DataFrame
        The result's tables written as CSV (``summary``, ``scores``, ...).

    See Also
    --------
    build_report, write_report
    """

    title: str
    markdown: str
    html: str
    figures: dict = field(repr=False)
    tables: dict = field(repr=False)
    captions: dict = field(repr=False, default_factory=dict)

    def _repr_html_(self):
        return self.html


def build_report(result, *, title="Model comparison", repeat=0, digits=3, survival=None):
    """Render a :func:`~mvikit.model_selection.compare_models` result as a report.

    Parameters
    ----------
    result : ModelComparison or SurvivalComparison
        The comparison to report.
    title : str, default="Model comparison"
        Title of the report.
    repeat : int, default=0
        Repeat whose pooled out-of-fold predictions feed the pooled ROC,
        calibration, decision-curve, confusion-matrix and forest figures (the
        DeLong tests of the summary use repeat 0).
    digits : int, default=3
        Decimals in the tables.
    survival : SurvivalComparison, default=None
        A survival comparison of the same patients (``compare_models`` on a survival
        target) reported in the same document, after ``result``: its methods, tables and
        figures (names and tables prefixed ``survival_``), its pooled predictions of
        ``repeat``.

    Returns
    -------
    ComparisonReport

    See Also
    --------
    write_report : Write the report to a folder.

    Raises
    ------
    ValueError
        ``repeat`` is not a repeat of ``result``.

    Notes
    -----
    Every curve is drawn by :mod:`mvikit.plotting` on the comparison's
    predictions, so the report shows the numbers of its tables and of the
    metrics functions.  Binary outcomes get four figures:

    * ``roc``: all models' ROC curves of the pooled out-of-fold predictions of
      ``repeat`` on one axis (:func:`~mvikit.plotting.plot_roc` with a dict of
      models; AUCs and DeLong CIs as in ``result.delong``), then one panel per
      model with every fold's curve, the vertical mean and a mean +/- 1 SD
      band (``plot_roc(..., folds=..., ddof=1)``; the legend's mean +/- SD of
      the fold AUCs is the summary's ``auc_mean`` +/- ``auc_sd``);
    * ``calibration`` (:func:`~mvikit.plotting.plot_calibration`, 10
      quantile bins) and ``decision_curve``
      (:func:`~mvikit.plotting.plot_decision_curve`) of the pooled
      predictions of the models that give probabilities;
    * ``forest``: the DeLong AUC differences against the reference
      (:func:`~mvikit.plotting.plot_forest`).

    Survival comparisons get ``km`` (Kaplan-Meier curves of the held-out risk groups,
    one panel per model), ``time_roc`` (one panel per horizon), ``calibration`` (one
    panel per model at the middle horizon: Kaplan-Meier groups, smoothed curve, slope)
    and ``decision_curve`` (at that horizon); the last two need
    ``predict_survival_function``.

    Multiclass outcomes (e.g. MVI grade M0/M1/M2) get one-vs-rest ROC curves
    per class and model with the macro one-vs-rest AUC, a confusion matrix per
    model (:func:`~mvikit.plotting.plot_confusion_matrix`, each model's
    ``predict``), both on the pooled predictions of ``repeat``, and the forest
    plot of the mean fold AUC +/- SD.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from mvikit.model_selection import compare_models
    >>> from mvikit.report import build_report
    >>> X, y = make_classification(n_samples=90, n_features=4, random_state=0)
    >>> result = compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()},
    ...                         X, y, cv=3, scoring=["auc"], threshold=0.5)
    >>> report = build_report(result)
    >>> sorted(report.figures)
    ['calibration', 'decision_curve', 'forest', 'roc']
    >>> report.markdown.splitlines()[0]
    '# Model comparison'

    A graded outcome (M0/M1/M2) gets one-vs-rest ROC curves and confusion matrices:

    >>> X, y = make_classification(n_samples=90, n_features=4, n_informative=3, n_redundant=0,
    ...                            n_classes=3, random_state=0)
    >>> graded = compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()},
    ...                         X, np.array(["M0", "M1", "M2"])[y], cv=3, scoring=["auc"])
    >>> list(build_report(graded).figures)
    ['roc', 'confusion_matrix', 'forest']
    """
    parts = [_part(result, repeat, "")]
    if survival is not None:
        parts.append(_part(survival, repeat, "survival_"))
    figures = {name: png for part in parts for name, png in part["figures"].items()}
    captions = {name: text for part in parts for name, text in part["captions"].items()}
    tables = {name: table for part in parts for name, table in part["tables"].items()}
    markdown = _markdown(parts, title, digits)
    page = _html(parts, title, digits)
    return ComparisonReport(title=title, markdown=markdown, html=page, figures=figures,
                            tables=tables, captions=captions)


def _part(result, repeat, prefix) -> dict:
    """Figures, captions and tables of one comparison, names prefixed."""
    _check_repeat(result, repeat)
    names = figure_names(result)
    return {"result": result, "repeat": repeat, "prefix": prefix,
            "figures": {prefix + n: png_bytes(make_figure(n, result, repeat)) for n in names},
            "captions": {prefix + n: caption(n, result, repeat) for n in names},
            "tables": {prefix + n: t for n, t in _tables(result).items()}}


def write_report(result, directory, *, overwrite=False, **kwargs):
    """Write a comparison report to ``directory``, atomically.

    The report is built in memory, written to a temporary folder beside
    ``directory`` and renamed into place, so a failure never leaves a partial
    report.  Layout: ``report.md``, ``report.html`` (self-contained),
    ``figures/*.png``, ``tables/*.csv``.

    Parameters
    ----------
    result : ModelComparison or SurvivalComparison
        The comparison to report.
    directory : str or path-like
        Output folder; its parent is created if needed.
    overwrite : bool, default=False
        Replace an existing ``directory``.  Otherwise an existing one is an error.
    **kwargs
        Passed to :func:`build_report` (``title``, ``repeat``, ``digits``, ``survival``).

    Returns
    -------
    pathlib.Path
        The report folder.

    Raises
    ------
    OutputExistsError
        ``directory`` exists and ``overwrite`` is False.

    See Also
    --------
    build_report : The report in memory.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from mvikit.model_selection import compare_models
    >>> from mvikit.report import write_report
    >>> X, y = make_classification(n_samples=90, n_features=4, random_state=0)
    >>> result = compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()},
    ...                         X, y, cv=3, scoring=["auc"], threshold=0.5)
    >>> folder = write_report(result, pathlib.Path(tempfile.mkdtemp()) / "report")
    >>> sorted(p.name for p in folder.iterdir())
    ['figures', 'report.html', 'report.md', 'tables']
    """
    directory = Path(directory)
    if directory.exists() and not overwrite:
        raise OutputExistsError(
            f"{directory} exists; pass overwrite=True to replace it or choose another folder."
        )
    if directory.exists() and not directory.is_dir():
        raise OutputExistsError(f"{directory} exists and is not a folder; remove it first.")
    report = build_report(result, **kwargs)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        # mkdtemp makes the folder private (0700); give the report the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)
        _write_files(report, staging)
        _move_into_place(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _write_files(report, folder: Path):
    (folder / "figures").mkdir()
    (folder / "tables").mkdir()
    for name, png in report.figures.items():
        (folder / "figures" / f"{name}.png").write_bytes(png)
    for name, table in report.tables.items():
        table.to_csv(folder / "tables" / f"{name}.csv", index=False)
    (folder / "report.md").write_text(report.markdown, encoding="utf-8")
    (folder / "report.html").write_text(report.html, encoding="utf-8")


def _move_into_place(staging: Path, directory: Path):
    if not directory.exists():
        os.rename(staging, directory)
        return
    # replace: move the old folder aside first, so one of the two is always complete
    retired = directory.parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(directory, retired)
    try:
        os.rename(staging, directory)
    except BaseException:
        os.rename(retired, directory)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _check_repeat(result, repeat):
    repeats = sorted(result.splits["repeat"].unique().tolist())
    if repeat not in repeats:
        raise ValueError(f"repeat={repeat!r} is not a repeat of this comparison; its repeats are "
                         f"{repeats}.")


def _tables(result) -> dict:
    if result.task == "survival":
        tables = {"summary": result.summary.reset_index(), "scores": result.scores,
                  "wilcoxon": result.wilcoxon, "pooled_c": result.pooled,
                  "paired_c": result.paired, "risk_groups": result.risk_groups,
                  "predictions": result.predictions,
                  "splits": result.splits.drop(columns=["train_indices", "test_indices"]),
                  "fits": result.fits.drop(columns="cutoffs", errors="ignore")}
        if not result.failures.empty:
            tables["failures"] = result.failures
        return tables
    tables = {"summary": result.summary.reset_index(), "scores": result.scores,
              "wilcoxon": result.wilcoxon, "delong": result.delong,
              "predictions": result.predictions,
              "splits": result.splits.drop(columns=["train_indices", "test_indices"]),
              "fits": result.fits}
    if result.centre_metrics is not None:
        tables["centre_metrics"] = result.centre_metrics
    if not result.failures.empty:
        tables["failures"] = result.failures
    return tables


def methods_text(result, repeat=0) -> str:
    """A methods paragraph stating how every number of the report was obtained."""
    n_repeats = result.splits["repeat"].nunique()
    if result.task == "survival":
        return _survival_methods(result, n_repeats, repeat)
    threshold = {"youden": "the Youden threshold chosen on each training fold",
                 "predict": "each model's own predict"}.get(
        result.threshold, f"a fixed probability threshold of {result.threshold}")
    text = (f"Every model was fitted on the same {len(result.splits)} train/test splits "
            f"({n_repeats} repeat(s); {result.cv}). Fold scores are summarised as mean ± SD "
            "(ddof=1) over all folds. Threshold-dependent metrics use "
            f"{threshold}; the test fold never informs the threshold. ")
    if len(result.splits) > 1:
        text += (f"p-values compare each model with the reference ({result.reference}) by the "
                 "two-sided Wilcoxon signed-rank test on the paired fold scores. ")
    if result.task == "binary":
        text += ("AUCs were also compared by the paired DeLong test on the pooled out-of-fold "
                 "predictions of each repeat (the summary shows repeat 0). The pooled ROC "
                 "curves, calibration and decision curves use the pooled out-of-fold "
                 f"predictions of repeat {repeat}.")
    else:
        text += ("One-vs-rest ROC curves and confusion matrices use the pooled out-of-fold "
                 f"predictions of repeat {repeat} (predicted class: each model's predict).")
    return text


def _survival_methods(result, n_repeats, repeat) -> str:
    horizons = ", ".join(f"{t:g}" for t in result.times)
    return (f"Every survival model was fitted on the same {len(result.splits)} train/test "
            f"splits ({n_repeats} repeat(s); {result.cv}). Per fold: Harrell's C, Uno's C "
            "truncated at the training fold's 90th percentile of follow-up (unless given), "
            f"the cumulative/dynamic AUC at {horizons} and the integrated Brier score over "
            "those horizons, with the training fold's censoring distribution; summarised as "
            "mean ± SD (ddof=1) over all folds, and compared with the reference "
            f"({result.reference}) by two-sided Wilcoxon signed-rank tests on paired folds. "
            "Harrell's C of the pooled out-of-fold risk scores of each repeat has the "
            "infinitesimal-jackknife standard error of R's survival::concordance; two models' "
            "pooled C-indices are compared on the same patients with the jackknife variance "
            "of their difference (z-test). Risk-group cut-offs were chosen on each training "
            "fold's own risk scores and applied to its test fold; the pooled held-out groups "
            "are compared by the log-rank test and a Cox hazard ratio. Figures use the pooled "
            f"out-of-fold predictions of repeat {repeat}.")


def _markdown(parts, title, digits) -> str:
    lines = [f"# {title}", "", f"Generated by mvikit {__version__}.", ""]
    for part in parts:
        result = part["result"]
        body = result.to_markdown(digits).split("\n", 2)[2]  # drop its own heading
        heading = "Survival" if part["prefix"] else "Methods"
        lines += [f"## {heading}", "", methods_text(result, part["repeat"]), "", body, "",
                  "## Survival figures" if part["prefix"] else "## Figures", ""]
        for name in part["figures"]:
            lines += [f"![{name}](figures/{name}.png)", "", f"*{part['captions'][name]}*", ""]
    return "\n".join(lines)


def _html_part(part, digits) -> str:
    result = part["result"]
    images = "\n".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}"/><figcaption>'
        f"{html.escape(part['captions'][name])}</figcaption></figure>"
        for name, png in part["figures"].items())
    heading = "Survival" if part["prefix"] else "Methods"
    figures = "Survival figures" if part["prefix"] else "Figures"
    return (f"<h2>{heading}</h2>\n<p>{html.escape(methods_text(result, part['repeat']))}</p>\n"
            f"{result.to_html(digits)}\n<h2>{figures}</h2>\n{images}")


def _html(parts, title, digits) -> str:
    body = "\n".join(_html_part(part, digits) for part in parts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"/><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; }}
table.mvikit-table {{ border-collapse: collapse; margin-bottom: 1.5em; font-size: 0.9em; }}
table.mvikit-table th, table.mvikit-table td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; }}
figure img {{ max-width: 100%; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Generated by mvikit {__version__}.</p>
{body}
</body>
</html>
"""
