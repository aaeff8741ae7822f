"""Figures of a comparison report, drawn on bare matplotlib ``Figure`` objects.

No pyplot: a report never touches the global figure registry or the backend of
the user's session, and figures are freed as soon as their PNG is written.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from ..metrics import calibration_curve, decision_curve
from ..plotting import plot_forest

__all__ = ["roc_figure", "calibration_figure", "decision_curve_figure", "forest_figure",
           "mean_roc", "png_bytes"]

FPR_GRID = np.linspace(0.0, 1.0, 101)


def png_bytes(figure: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def mean_roc(predictions: pd.DataFrame, positive):
    """Per-fold TPR on a common FPR grid: (grid, tpr of shape (n_folds, n_grid)).

    Each fold's ROC curve is interpolated on ``FPR_GRID`` (step curve taken at its
    upper envelope, TPR(0) = 0), the usual way of averaging ROC curves vertically
    over cross-validation folds (Fawcett 2006, "vertical averaging").
    """
    curves = []
    for _, fold in predictions.groupby(["repeat", "fold"], sort=True):
        y = fold["y_true"].to_numpy() == positive
        if y.all() or not y.any():
            continue
        fpr, tpr, _ = roc_curve(y, fold["score"].to_numpy())
        curve = np.interp(FPR_GRID, fpr, tpr)
        curve[0] = 0.0
        curves.append(curve)
    return FPR_GRID, np.array(curves)


def roc_figure(result) -> Figure:
    """One panel per model: per-fold ROC curves, mean curve and mean +/- SD band."""
    n = len(result.models)
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    figure = Figure(figsize=(4.0 * ncols, 4.0 * nrows))
    for k, model in enumerate(result.models):
        ax = figure.add_subplot(nrows, ncols, k + 1)
        rows = result.predictions[result.predictions["model"] == model]
        grid, tpr = mean_roc(rows, result.pos_label)
        for curve in tpr:
            ax.plot(grid, curve, color="tab:blue", alpha=0.15, linewidth=0.8)
        if len(tpr):
            mean, sd = tpr.mean(axis=0), tpr.std(axis=0, ddof=1) if len(tpr) > 1 else 0.0
            auc_mean, auc_sd = (result.summary.loc[model, "auc_mean"],
                                result.summary.loc[model, "auc_sd"]) if "auc" in result.metrics \
                else (np.nan, np.nan)
            ax.plot(grid, mean, color="tab:blue", linewidth=2,
                    label=f"mean ROC (AUC {auc_mean:.3f} ± {auc_sd:.3f})")
            ax.fill_between(grid, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1),
                            color="tab:blue", alpha=0.2, label="± 1 SD")
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity", ylabel="sensitivity",
               title=f"{model} ({len(tpr)} folds)")
        ax.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return figure


def calibration_figure(result, repeat: int = 0, n_bins: int = 10) -> Figure:
    """Observed vs predicted risk (quantile bins) of the pooled out-of-fold predictions."""
    figure = Figure(figsize=(5.0, 5.0))
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="ideal")
    for model in result.probability_models:
        oof = result.oof_predictions(model, repeat)
        y = (oof["y_true"].to_numpy() == result.pos_label).astype(int)
        curve = calibration_curve(y, oof["score"].to_numpy(), n_bins=n_bins)
        ax.plot(curve.prob_pred, curve.prob_true, marker="o", linewidth=1.5, label=model)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted risk", ylabel="observed event rate",
           title=f"Calibration (pooled out-of-fold, repeat {repeat})")
    ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def decision_curve_figure(result, repeat: int = 0, thresholds=None) -> Figure:
    """Net benefit of each model, treat-all and treat-none (pooled out-of-fold predictions)."""
    thresholds = np.arange(0.01, 0.99, 0.01) if thresholds is None else np.asarray(thresholds)
    figure = Figure(figsize=(6.0, 4.5))
    ax = figure.add_subplot()
    treat_all = None
    for model in result.probability_models:
        oof = result.oof_predictions(model, repeat)
        y = (oof["y_true"].to_numpy() == result.pos_label).astype(int)
        curve = decision_curve(y, oof["score"].to_numpy(), thresholds)
        ax.plot(curve["threshold"], curve["net_benefit"], linewidth=1.5, label=model)
        treat_all = curve
    if treat_all is not None:
        ax.plot(treat_all["threshold"], treat_all["net_benefit_all"], color="grey", linewidth=1,
                label="treat all")
        prevalence = treat_all.attrs.get("prevalence", treat_all["net_benefit_all"].iloc[0])
        ax.set_ylim(-0.05, max(prevalence, 0.05) * 1.1)
    ax.axhline(0, color="black", linewidth=1, label="treat none")
    ax.set(xlim=(0, 1), xlabel="threshold probability", ylabel="net benefit",
           title=f"Decision curves (pooled out-of-fold, repeat {repeat})")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def forest_table(result, repeat: int = 0) -> tuple[pd.DataFrame, str]:
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


def forest_figure(result, repeat: int = 0) -> Figure:
    """Forest plot of the comparison against the reference model."""
    table, xlabel = forest_table(result, repeat)
    figure = Figure(figsize=(7.5, 1.2 + 0.5 * len(table)))
    ax = figure.add_subplot()
    reference = 0.0 if not result.delong.empty else None
    plot_forest(table, p_value="p", reference=reference, xlabel=xlabel, ax=ax)
    figure.tight_layout()
    return figure
