"""`plot_roc`: ROC curves, per fold with the mean +/- SD band (DMMGNet, seed 002 Fig. 5)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from ..metrics import roc_auc_ci
from ..metrics._checks import _check_binary_inputs

__all__ = ["plot_roc"]


def _mean_roc(y, score, folds, grid):
    """TPR of every fold interpolated on a common FPR grid (starting at 0)."""
    tprs, aucs = [], []
    for fold in np.unique(folds):
        mask = folds == fold
        fpr, tpr, _ = roc_curve(y[mask], score[mask])
        curve = np.interp(grid, fpr, tpr)
        curve[0] = 0.0
        tprs.append(curve)
        aucs.append(roc_auc_ci(y[mask], score[mask]).auc)
    return np.array(tprs), np.array(aucs)


def plot_roc(y_true, y_score, *, folds=None, ax=None, label=None, n_grid=101, show_folds=True):
    """ROC curve, or per-fold curves with their mean and a +/- 1 SD band.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (the larger sorted label is the event).
    y_score : array-like of shape (n_samples,)
        Scores (e.g. pooled out-of-fold probabilities).
    folds : array-like of shape (n_samples,), default=None
        Test-fold id of every patient. Given, each fold's curve is drawn thin,
        their mean TPR on a common FPR grid thick, with a band of +/- 1 SD
        and the label "mean AUC = m +/- sd".
    ax : matplotlib Axes, default=None
        Axes to draw on (current axes when ``None``).
    label : str, default=None
        Legend label prefix (e.g. the model name).
    n_grid : int, default=101
        Points of the common FPR grid (with ``folds``).
    show_folds : bool, default=True
        Draw the individual fold curves.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    mvikit.metrics.roc_auc_ci

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from mvikit.plotting import plot_roc
    >>> y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    >>> ax = plot_roc(y, [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.7])
    >>> ax.get_xlabel()
    'false positive rate (1 - specificity)'
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    y, (score,), _, _ = _check_binary_inputs(y_true, y_score)
    prefix = f"{label}: " if label else ""
    if folds is None:
        fpr, tpr, _ = roc_curve(y, score)
        res = roc_auc_ci(y, score)
        ax.plot(fpr, tpr, label=f"{prefix}AUC = {res.auc:.3f} ({res.ci[0]:.3f}-{res.ci[1]:.3f})")
    else:
        folds = np.asarray(folds)
        grid = np.linspace(0, 1, n_grid)
        tprs, aucs = _mean_roc(y, score, folds, grid)
        if show_folds:
            for k, curve in enumerate(tprs):
                ax.plot(grid, curve, linewidth=0.8, alpha=0.4, label=f"fold {k + 1}")
        mean, sd = tprs.mean(axis=0), tprs.std(axis=0)
        mean[-1] = 1.0
        line = ax.plot(grid, mean, linewidth=2,
                       label=f"{prefix}mean AUC = {aucs.mean():.3f} +/- {aucs.std():.3f}")[0]
        ax.fill_between(grid, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1),
                        color=line.get_color(), alpha=0.2, label="+/- 1 SD")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false positive rate (1 - specificity)",
           ylabel="true positive rate (sensitivity)")
    ax.legend(loc="lower right", fontsize=8)
    return ax
