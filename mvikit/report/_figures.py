"""Figures of a comparison report: panel layouts filled by :mod:`mvikit.plotting`.

This module only picks the data of a ``ModelComparison`` (pooled out-of-fold
predictions of one repeat, or every fold's predictions) and the panel layout;
every curve is drawn by the public plotting functions, so a user calling them
on the same predictions gets the same figure.  No pyplot: a report never
touches the global figure registry or the backend of the user's session, and
figures are freed as soon as their PNG is written.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..plotting import (
    plot_calibration,
    plot_confusion_matrix,
    plot_decision_curve,
    plot_forest,
    plot_roc,
)

__all__ = ["figure_names", "make_figure", "caption", "forest_table", "png_bytes",
           "pooled_predictions", "DECISION_THRESHOLDS"]

# 0.01, ..., 0.98: the threshold grid of the report's decision curves
DECISION_THRESHOLDS = np.arange(0.01, 0.99, 0.01)
CALIBRATION_BINS = 10


def png_bytes(figure: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def figure_names(result) -> list:
    """Names of the report's figures, in order, for this comparison."""
    if result.task == "survival":
        from ._survival_figures import survival_figure_names

        return survival_figure_names(result)
    if result.task != "binary":
        return ["roc", "confusion_matrix", "forest"]
    names = ["roc"]
    if result.probability_models:
        names += ["calibration", "decision_curve"]
    return names + ["forest"]


def make_figure(name, result, repeat=0) -> Figure:
    """The report figure ``name`` (see :func:`figure_names`) of ``result``."""
    if result.task == "survival":
        from ._survival_figures import make_survival_figure

        return make_survival_figure(name, result, repeat)
    builders = {"roc": roc_figure if result.task == "binary" else one_vs_rest_figure,
                "calibration": calibration_figure, "decision_curve": decision_curve_figure,
                "confusion_matrix": confusion_figure, "forest": forest_figure}
    return builders[name](result, repeat)


def caption(name, result, repeat=0) -> str:
    """The caption of figure ``name``: what is drawn and from which predictions."""
    if result.task == "survival":
        from ._survival_figures import survival_caption

        return survival_caption(name, result, repeat)
    pooled = f"pooled out-of-fold predictions of repeat {repeat}"
    if name == "roc" and result.task == "binary":
        return (f"ROC curves. First panel: every model on the {pooled} (AUC with DeLong 95% CI; "
                "the AUCs of the DeLong table). Then one panel per model: every fold (thin), "
                "the vertical mean (thick) and mean ± 1 SD (band); its legend gives the mean ± "
                "SD (ddof=1) of the fold AUCs, as in the summary table.")
    captions = {
        "roc": (f"One-vs-rest ROC curves per class of the {pooled}, one panel per model (AUC "
                "with DeLong 95% CI); the legend title is the macro one-vs-rest AUC."),
        "calibration": (f"Calibration of the {pooled} ({CALIBRATION_BINS} quantile bins); "
                        "legend: logistic calibration slope and intercept."),
        "decision_curve": f"Decision curves of the {pooled}, with treat-all and treat-none.",
        "confusion_matrix": (f"Confusion matrices of the {pooled}: true class (rows) against "
                             "each model's predicted class (columns), in patients."),
        "forest": "Forest plot against the reference model.",
    }
    return captions[name]


def pooled_predictions(result, repeat=0, models=None) -> dict:
    """Model name -> its pooled out-of-fold predictions in ``repeat`` (models that have any)."""
    frames = {m: result.oof_predictions(m, repeat) for m in (models or result.models)}
    return {m: frame for m, frame in frames.items() if len(frame)}


def _event(frame, positive) -> np.ndarray:
    return (frame["y_true"].to_numpy() == positive).astype(int)


def _panel_figure(n_panels, width=4.0, height=4.0, max_columns=3):
    ncols = min(n_panels, max_columns)
    nrows = int(np.ceil(n_panels / ncols))
    figure = Figure(figsize=(width * ncols, height * nrows))
    return figure, [figure.add_subplot(nrows, ncols, k + 1) for k in range(n_panels)]


def roc_figure(result, repeat=0) -> Figure:
    """Binary: all models' pooled ROC curves, then per model its fold curves and mean +/- SD."""
    oof = pooled_predictions(result, repeat)
    models = [m for m in result.models if (result.predictions["model"] == m).any()]
    figure, axes = _panel_figure(1 + len(models))
    plot_roc({m: _event(f, result.pos_label) for m, f in oof.items()},
             {m: f["score"].to_numpy() for m, f in oof.items()}, ax=axes[0])
    axes[0].set_title(f"Pooled out-of-fold (repeat {repeat})")
    for ax, model in zip(axes[1:], models):
        rows = result.predictions[result.predictions["model"] == model]
        y = _event(rows, result.pos_label)
        # one id per (repeat, fold), in sorted order: every fold of every repeat
        folds = rows.groupby(["repeat", "fold"], sort=True).ngroup().to_numpy()
        plot_roc(y, rows["score"].to_numpy(), folds=folds, ddof=1, ax=ax,
                 fold_kwargs={"color": "C0", "alpha": 0.15, "label": "_nolegend_"})
        n_folds = pd.Series(y).groupby(folds).nunique().eq(2).sum()
        ax.set_title(f"{model} ({n_folds} folds)")
    figure.tight_layout()
    return figure


def one_vs_rest_figure(result, repeat=0) -> Figure:
    """Multiclass: per model, one-vs-rest ROC curves of its pooled class probabilities."""
    oof = pooled_predictions(result, repeat)
    columns = [f"proba_{label}" for label in result.classes]
    figure, axes = _panel_figure(len(oof))
    for ax, (model, frame) in zip(axes, oof.items()):
        plot_roc(frame["y_true"].to_numpy(), frame[columns].to_numpy(), labels=result.classes,
                 ax=ax)
        ax.set_title(f"{model} (pooled out-of-fold, repeat {repeat})", fontsize=10)
    figure.tight_layout()
    return figure


def confusion_figure(result, repeat=0) -> Figure:
    """Per model, the confusion matrix of its pooled out-of-fold predicted classes."""
    oof = pooled_predictions(result, repeat)
    figure, axes = _panel_figure(len(oof), width=4.5, height=4.0)
    for ax, (model, frame) in zip(axes, oof.items()):
        plot_confusion_matrix(frame["y_true"].to_numpy(), frame["y_pred"].to_numpy(),
                              labels=result.classes, ax=ax)
        ax.set_title(model, fontsize=10)
    figure.tight_layout()
    return figure


def calibration_figure(result, repeat=0) -> Figure:
    """Observed vs predicted risk (quantile bins) of the pooled out-of-fold predictions."""
    oof = pooled_predictions(result, repeat, result.probability_models)
    figure = Figure(figsize=(5.5, 5.5))
    ax = figure.add_subplot()
    plot_calibration({m: _event(f, result.pos_label) for m, f in oof.items()},
                     {m: f["score"].to_numpy() for m, f in oof.items()},
                     n_bins=CALIBRATION_BINS, hist=False, ci=False, ax=ax)
    ax.set_title(f"Calibration (pooled out-of-fold, repeat {repeat})")
    figure.tight_layout()
    return figure


def decision_curve_figure(result, repeat=0) -> Figure:
    """Net benefit of each model, treat-all and treat-none (pooled out-of-fold predictions)."""
    oof = pooled_predictions(result, repeat, result.probability_models)
    figure = Figure(figsize=(6.0, 4.5))
    ax = figure.add_subplot()
    plot_decision_curve({m: _event(f, result.pos_label) for m, f in oof.items()},
                        {m: f["score"].to_numpy() for m, f in oof.items()},
                        thresholds=DECISION_THRESHOLDS, ax=ax)
    ax.set_title(f"Decision curves (pooled out-of-fold, repeat {repeat})")
    figure.tight_layout()
    return figure


def forest_table(result, repeat=0) -> tuple[pd.DataFrame, str]:
    """Rows of the forest plot and its x label.

    Binary: DeLong AUC difference (model - reference) with its 95 % CI on the
    pooled predictions of ``repeat``.  Multiclass: mean fold AUC with mean +/- SD.
    """
    if not result.delong.empty:
        rows = result.delong[result.delong["repeat"] == repeat]
        table = pd.DataFrame({"label": rows["model"], "estimate": rows["difference"],
                              "lower": rows["ci_low"], "upper": rows["ci_high"],
                              "p": rows["p_value"]})
        return table, f"AUC difference vs {result.reference} (DeLong 95% CI)"
    metric = result.primary_metric
    mean, sd = result.summary[f"{metric}_mean"], result.summary[f"{metric}_sd"].fillna(0.0)
    table = pd.DataFrame({"label": result.models, "estimate": mean.to_numpy(),
                          "lower": (mean - sd).to_numpy(), "upper": (mean + sd).to_numpy(),
                          "p": result.summary["p_wilcoxon"].to_numpy()})
    return table, f"{metric} (mean ± SD over folds; p: Wilcoxon vs {result.reference})"


def forest_figure(result, repeat=0) -> Figure:
    """Forest plot of the comparison against the reference model."""
    table, xlabel = forest_table(result, repeat)
    figure = Figure(figsize=(7.5, 1.2 + 0.5 * len(table)))
    ax = figure.add_subplot()
    reference = 0.0 if not result.delong.empty else None
    plot_forest(table, p_value="p", reference=reference, xlabel=xlabel, ax=ax)
    figure.tight_layout()
    return figure
