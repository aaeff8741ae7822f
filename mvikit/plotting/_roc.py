"""`plot_roc`: ROC curves, per fold with the mean +/- SD band (DMMGNet, seed 002 Fig. 5),
several models on one axis, or one-vs-rest curves of a graded outcome (M0/M1/M2)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import roc_curve

from ..exceptions import DataWarning, MetricInputError
from ..metrics import roc_auc_ci
from ..metrics._checks import (
    _check_binary_inputs,
    _check_class_scores,
)
from ._common import _axes, _model_entries

__all__ = ["plot_roc"]


def _mean_roc(y, score, folds, grid):
    """TPR of every fold interpolated on a common FPR grid (starting at 0), and fold AUCs.

    Vertical averaging (Fawcett 2006, sec. 8.1).  A fold holding one class has
    no ROC curve: it is left out with a ``DataWarning`` naming it.
    """
    tprs, aucs = [], []
    for fold in np.unique(folds).tolist():
        mask = folds == fold
        if np.unique(y[mask]).size < 2:
            warnings.warn(f"Fold {fold!r} holds one class only ({int(mask.sum())} patients); it "
                          "has no ROC curve and is left out of the mean.", DataWarning,
                          stacklevel=4)
            continue
        fpr, tpr, _ = roc_curve(y[mask], score[mask])
        curve = np.interp(grid, fpr, tpr)
        curve[0] = 0.0
        tprs.append(curve)
        aucs.append(roc_auc_ci(y[mask], score[mask]).auc)
    if not tprs:
        raise MetricInputError("No fold holds both classes; there is no ROC curve to average.")
    return np.array(tprs), np.array(aucs)


def plot_roc(y_true, y_score, *, folds=None, ax=None, label=None, n_grid=101, show_folds=True,
             ddof=0, fold_kwargs=None, labels=None):
    """ROC curves: one model, per-fold curves with their mean, several models, or one-vs-rest.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or dict
        Outcome: binary (the larger sorted label is the event) or class labels
        when ``y_score`` has one column per class.  With a dict ``y_score``,
        either one outcome shared by every model or a dict model name ->
        outcome (models scored on different patients).
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes), or dict
        Scores of one model (e.g. pooled out-of-fold probabilities), or a
        dict model name -> scores drawn on the same axis, one colour each.
        A 2-D array (one column per class, e.g. M0/M1/M2 probabilities) draws
        a one-vs-rest curve per class and writes the macro one-vs-rest AUC
        (:func:`mvikit.metrics.roc_auc_ci` with ``multi_class="ovr"``) as the
        legend title.
    folds : array-like of shape (n_samples,) or dict, default=None
        Test-fold id of every patient (binary only; a dict per model with a
        dict ``y_score``).  Given, each fold's curve is drawn thin, their mean
        TPR on a common FPR grid thick, with a band of +/- 1 SD and the label
        "mean AUC = m +/- sd" (mean and SD of the fold AUCs).  A fold holding
        one class is left out with a ``DataWarning``.
    ax : matplotlib Axes, default=None
        Axes to draw on (current axes when ``None``).
    label : str, default=None
        Legend label prefix of a single model (e.g. the model name); with a
        dict ``y_score`` the model names are the prefixes.
    n_grid : int, default=101
        Points of the common FPR grid (with ``folds``).
    show_folds : bool, default=True
        Draw the individual fold curves.
    ddof : int, default=0
        Delta degrees of freedom of the SD of the fold AUCs and of the band
        (``1`` gives the sample SD that
        :func:`~mvikit.model_selection.compare_models` summarises).
    fold_kwargs : dict, default=None
        Line properties of the fold curves, overriding the default
        ``linewidth=0.8, alpha=0.4, label="fold k"`` (e.g.
        ``{"color": "grey", "label": "_nolegend_"}`` for many folds).
    labels : array-like, default=None
        Class labels in the column order of a 2-D ``y_score``; defaults to the
        sorted labels of ``y_true``.

    Returns
    -------
    ax : matplotlib Axes
        Curves in drawing order (per model: fold curves, then the mean; or
        one curve per class), then the chance diagonal.

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

    Two models on one axis, each with its AUC and DeLong 95 % CI:

    >>> ax = plot_roc(y, {"clinical": [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.7],
    ...                   "radiomics": [0.2, 0.3, 0.5, 0.8, 0.1, 0.6, 0.7, 0.4]},
    ...               ax=plt.figure().add_subplot())
    >>> [line.get_label() for line in ax.lines[:2]]
    ['clinical: AUC = 0.875 (0.592-1.000)', 'radiomics: AUC = 0.812 (0.425-1.000)']

    A graded outcome, one curve per class against the others:

    >>> grade = np.array(["M0", "M0", "M0", "M1", "M1", "M1", "M2", "M2", "M2"])
    >>> proba = np.array([[.8, .1, .1], [.6, .3, .1], [.3, .5, .2], [.2, .6, .2], [.4, .4, .2],
    ...                   [.1, .5, .4], [.1, .3, .6], [.2, .2, .6], [.3, .2, .5]])
    >>> ax = plot_roc(grade, proba, ax=plt.figure().add_subplot())
    >>> ax.get_legend().get_title().get_text()
    'macro AUC (one-vs-rest) = 0.944'
    >>> plt.close("all")
    """
    ax = _axes(ax)
    titles = []
    for name, y, score, fold_ids in _model_entries(y_true, y_score, label, extra=folds,
                                                   extra_name="folds"):
        prefix = f"{name}: " if name else ""
        if np.ndim(score) == 2 and np.shape(score)[1] > 1:
            if fold_ids is not None:
                raise MetricInputError(
                    "folds= averages binary ROC curves; for class probabilities (one column per "
                    "class) pass the pooled predictions without folds.")
            titles.append(_draw_one_vs_rest(ax, y, score, labels, prefix))
        elif fold_ids is None:
            _draw_pooled(ax, y, score, prefix)
        else:
            _draw_folds(ax, y, score, fold_ids, prefix, n_grid, show_folds, ddof, fold_kwargs)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false positive rate (1 - specificity)",
           ylabel="true positive rate (sensitivity)")
    ax.legend(loc="lower right", fontsize=8, title="\n".join(titles) or None, title_fontsize=8)
    return ax


def _draw_pooled(ax, y_true, y_score, prefix):
    y, (score,), _, _ = _check_binary_inputs(y_true, y_score)
    fpr, tpr, _ = roc_curve(y, score)
    res = roc_auc_ci(y, score)
    ax.plot(fpr, tpr, label=f"{prefix}AUC = {res.auc:.3f} ({res.ci[0]:.3f}-{res.ci[1]:.3f})")


def _draw_folds(ax, y_true, y_score, folds, prefix, n_grid, show_folds, ddof, fold_kwargs):
    y, (score,), _, _ = _check_binary_inputs(y_true, y_score)
    folds = np.asarray(folds)
    if folds.shape != y.shape:
        raise MetricInputError(f"folds has shape {folds.shape} but y_true {y.shape}; pass one "
                               "test-fold id per patient.")
    grid = np.linspace(0, 1, n_grid)
    tprs, aucs = _mean_roc(y, score, folds, grid)
    if show_folds:
        for k, curve in enumerate(tprs):
            ax.plot(grid, curve, **{"linewidth": 0.8, "alpha": 0.4, "label": f"fold {k + 1}",
                                    **(fold_kwargs or {})})
    mean, sd = tprs.mean(axis=0), _sd(tprs, ddof)
    mean[-1] = 1.0
    line = ax.plot(grid, mean, linewidth=2,
                   label=f"{prefix}mean AUC = {aucs.mean():.3f} +/- {_sd(aucs, ddof):.3f}")[0]
    ax.fill_between(grid, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1),
                    color=line.get_color(), alpha=0.2, label="+/- 1 SD")


def _sd(values, ddof):
    """SD along the first axis; NaN (no warning) when there are too few folds for ``ddof``."""
    if len(values) <= ddof:
        return np.full(np.shape(values)[1:], np.nan) if np.ndim(values) > 1 else np.nan
    return np.std(values, axis=0, ddof=ddof)


def _draw_one_vs_rest(ax, y_true, y_score, labels, prefix) -> str:
    """One ROC curve per class (class vs the rest); returns the macro-AUC legend title."""
    y, score, labels = _check_class_scores(y_true, y_score, labels)
    aucs = []
    for k, cls in enumerate(labels):
        positive = (y == cls).astype(int)
        if positive.all() or not positive.any():
            raise MetricInputError(
                f"Class {cls!r} has {int(positive.sum())} of {len(y)} patients; a one-vs-rest ROC "
                "curve needs patients in and outside every class. Drop the column or the class.")
        fpr, tpr, _ = roc_curve(positive, score[:, k])
        res = roc_auc_ci(positive, score[:, k])
        aucs.append(res.auc)
        ax.plot(fpr, tpr, label=f"{prefix}{cls} vs rest: AUC = {res.auc:.3f} "
                                f"({res.ci[0]:.3f}-{res.ci[1]:.3f})")
    # the mean of the one-vs-rest AUCs is roc_auc_ci(..., multi_class="ovr").auc (macro OvR)
    return f"{prefix}macro AUC (one-vs-rest) = {np.mean(aucs):.3f}"
