"""The validation report of a frozen model: Markdown, HTML, PNG figures, CSV tables.

The same folder layout and in-memory object (`mvikit.report.ComparisonReport`)
as the comparison report of :func:`mvikit.report.write_report`.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .._version import __version__
from ..exceptions import OutputExistsError

__all__ = ["build_validation_report", "write_validation_report"]


def _figures(result) -> dict:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..plotting import plot_calibration, plot_decision_curve, plot_roc
    from ..report._figures import png_bytes

    events = result.predictions["event"].to_numpy()
    risk = result.predictions["risk"].to_numpy()
    drawn = {}
    for name, draw in (("roc", lambda ax: plot_roc(events, risk, ax=ax, label="model")),
                       ("calibration", lambda ax: plot_calibration(events, risk, ax=ax,
                                                                   label="model")),
                       ("decision_curve", lambda ax: plot_decision_curve(events, risk, ax=ax,
                                                                         label="model"))):
        figure, ax = plt.subplots(figsize=(5, 4.5))
        draw(ax)
        drawn[name] = png_bytes(figure)
        plt.close(figure)
    return drawn


_CAPTIONS = {
    "roc": "ROC curve of the frozen model on the validation cohort.",
    "calibration": "Calibration: observed event rate by decile of predicted risk (95% CI), "
                   "with the distribution of predicted risks.",
    "decision_curve": "Decision curve: net benefit of the model, treat all and treat none.",
}


def _methods(result, model_name) -> str:
    return (f"The fitted model {model_name} was applied unchanged to {result.n} patients "
            f"({result.n_events} events, prevalence {result.n_events / result.n:.1%}). "
            "Discrimination: AUC with DeLong confidence interval. Calibration: "
            "calibration-in-the-large (logit(p) as offset), calibration slope and the "
            "intercept of the logistic recalibration model logit P = a + b logit(p) "
            "(as rms val.prob), Brier score, Hosmer-Lemeshow test. Threshold metrics with "
            f"Wilson intervals at the threshold fixed beforehand ({result.threshold:.3g}). "
            f"Confidence level {1 - result.alpha:.0%}. mvikit {__version__}.")


def build_validation_report(result, *, title="External validation", model_name="model",
                            digits=3):
    """Render a :func:`validate_frozen` result as a report in memory.

    Parameters
    ----------
    result : FrozenValidationResult
        The validation.
    title : str, default="External validation"
        The report's title.
    model_name : str, default="model"
        The model's name in the methods paragraph.
    digits : int, default=3
        Decimals of the summary table.

    Returns
    -------
    mvikit.report.ComparisonReport
        ``markdown``, ``html``, ``figures`` (``roc``, ``calibration``,
        ``decision_curve``), ``tables`` (``summary``, ``predictions``,
        ``decision_curve``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import build_validation_report, validate_frozen
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = rng.binomial(1, 1 / (1 + np.exp(-2 * X[:, 0])))
    >>> result = validate_frozen(LogisticRegression().fit(X[:100], y[:100]), X[100:], y[100:])
    >>> sorted(build_validation_report(result).figures)
    ['calibration', 'decision_curve', 'roc']
    """
    from ..report import ComparisonReport

    summary = result.summary()
    shown = summary.copy()
    for column in ("estimate", "lower", "upper"):
        shown[column] = shown[column].map(lambda v: "" if np.isnan(v) else f"{v:.{digits}f}")
    figures = _figures(result)
    methods = _methods(result, model_name)
    lines = [f"# {title}", "", "## Methods", "", methods, "", "## Results", "",
             "| Statistic | Estimate | Lower | Upper |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in shown.astype(str).to_numpy()]
    for name, text in _CAPTIONS.items():
        lines += ["", f"![{name}](figures/{name}.png)", "", f"*{text}*"]
    body = [f"<h1>{html.escape(title)}</h1>", "<h2>Methods</h2>", f"<p>{html.escape(methods)}</p>",
            "<h2>Results</h2>", shown.to_html(index=False)]
    for name, text in _CAPTIONS.items():
        data = base64.b64encode(figures[name]).decode()
        body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{name}">'
                    f"<figcaption>{html.escape(text)}</figcaption></figure>")
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title></head><body>{''.join(body)}</body></html>")
    predictions = result.predictions.rename_axis("patient_id").reset_index()
    return ComparisonReport(title=title, markdown="\n".join(lines) + "\n", html=page,
                            figures=figures, captions=dict(_CAPTIONS),
                            tables={"summary": summary, "predictions": predictions,
                                    "decision_curve": result.decision})


def write_validation_report(result, directory, *, overwrite=False, **kwargs):
    """Write the validation report to ``directory`` atomically.

    Layout: ``report.md``, ``report.html`` (self-contained), ``figures/*.png``,
    ``tables/*.csv`` (as :func:`mvikit.report.write_report`).

    Parameters
    ----------
    result : FrozenValidationResult
        The validation.
    directory : str or path-like
        Output folder.
    overwrite : bool, default=False
        Replace an existing folder.
    **kwargs
        Passed to :func:`build_validation_report`.

    Returns
    -------
    pathlib.Path
        The report folder.

    Raises
    ------
    OutputExistsError
        ``directory`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import validate_frozen, write_validation_report
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = rng.binomial(1, 1 / (1 + np.exp(-2 * X[:, 0])))
    >>> result = validate_frozen(LogisticRegression().fit(X[:100], y[:100]), X[100:], y[100:])
    >>> folder = write_validation_report(result, pathlib.Path(tempfile.mkdtemp()) / "val")
    >>> sorted(p.name for p in folder.iterdir())
    ['figures', 'report.html', 'report.md', 'tables']
    """
    directory = Path(directory)
    if directory.exists() and not overwrite:
        raise OutputExistsError(f"{directory} exists; pass overwrite=True to replace it or "
                                "choose another folder.")
    report = build_validation_report(result, **kwargs)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (staging / "figures").mkdir()
        (staging / "tables").mkdir()
        for name, png in report.figures.items():
            (staging / "figures" / f"{name}.png").write_bytes(png)
        for name, table in report.tables.items():
            table.to_csv(staging / "tables" / f"{name}.csv", index=False)
        (staging / "report.md").write_text(report.markdown, encoding="utf-8")
        (staging / "report.html").write_text(report.html, encoding="utf-8")
        staging.chmod(0o755)
        if directory.exists():
            shutil.rmtree(directory)
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory
