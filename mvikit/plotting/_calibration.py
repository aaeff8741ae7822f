"""`plot_calibration`: calibration curves (one or several models) with a histogram of the
predicted risks."""

from __future__ import annotations

import numpy as np

from ..metrics import calibration_curve, calibration_stats
from ._common import _axes, _model_entries

__all__ = ["plot_calibration"]



def plot_calibration(y_true, y_prob, *, n_bins=10, strategy="quantile", method="binned", ax=None,
                     label=None, hist=True, ci=True):
    """Observed event rate against predicted risk, with the risk histogram below.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or dict
        Binary outcome.  With a dict ``y_prob``, one outcome shared by every
        model or a dict model name -> outcome.
    y_prob : array-like of shape (n_samples,) or dict
        Predicted probabilities of one model, or a dict model name ->
        probabilities drawn on the same axis.
    n_bins : int, default=10
        Bins of the binned curve.
    strategy : {"quantile", "uniform"}, default="quantile"
        Bin edges (see :func:`mvikit.metrics.calibration_curve`).
    method : {"binned", "lowess"}, default="binned"
        Bin means or a LOWESS smooth.
    ax : matplotlib Axes, default=None
        Axes to draw on (current axes when ``None``).
    label : str, default=None
        Legend label of a single model (with a dict, the model names); the
        calibration slope and intercept
        (:func:`mvikit.metrics.calibration_stats`) are appended.
    hist : bool, default=True
        Draw a histogram of the predictions (one per model, in the model's
        colour) in an inset along the bottom.
    ci : bool, default=True
        Draw the Wilson intervals of the binned curve as error bars.

    Returns
    -------
    ax : matplotlib Axes
        The first line is the ideal diagonal, then one curve per model.

    See Also
    --------
    mvikit.metrics.calibration_curve, mvikit.metrics.calibration_stats

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from mvikit.plotting import plot_calibration
    >>> rng = np.random.RandomState(0)
    >>> p = rng.uniform(0.05, 0.95, 200)
    >>> y = rng.binomial(1, p)
    >>> fig, ax = plt.subplots()
    >>> ax = plot_calibration(y, p, n_bins=5, ax=ax)
    >>> len(ax.lines[1].get_xdata())
    5

    Two models on one axis (over-confident risks, twice the log-odds, have a
    slope near 1/2):

    >>> from scipy.special import expit, logit
    >>> fig, ax = plt.subplots()
    >>> ax = plot_calibration(y, {"calibrated": p, "over-confident": expit(2 * logit(p))},
    ...                       n_bins=5, ax=ax, hist=False)
    >>> [line.get_label() for line in ax.lines]  # doctest: +NORMALIZE_WHITESPACE
    ['ideal', 'calibrated (slope 0.97, intercept 0.16)',
     'over-confident (slope 0.49, intercept 0.20)']
    >>> plt.close("all")
    """
    ax = _axes(ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="ideal")
    inset = ax.inset_axes([0.0, 0.0, 1.0, 0.15], sharex=ax) if hist else None
    for name, y, prob, _ in _model_entries(y_true, y_prob, label, score_name="y_prob"):
        curve = calibration_curve(y, prob, n_bins=n_bins, strategy=strategy, method=method)
        stats = calibration_stats(y, prob)
        text = f"slope {stats.slope:.2f}, intercept {stats.intercept:.2f}"
        marker = "o" if method == "binned" else None
        line = ax.plot(curve.prob_pred, curve.prob_true, marker=marker,
                       label=f"{name} ({text})" if name else text)[0]
        if ci and method == "binned":
            err = np.vstack([curve.prob_true - curve.ci_lower, curve.ci_upper - curve.prob_true])
            ax.errorbar(curve.prob_pred, curve.prob_true, yerr=err, fmt="none",
                        ecolor=line.get_color(), linewidth=1)
        if inset is not None:
            inset.hist(np.asarray(prob, dtype=float), bins=50, range=(0, 1),
                       color=line.get_color(), alpha=0.5)
    if inset is not None:
        inset.set_axis_off()
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel="predicted risk", ylabel="observed event rate")
    ax.legend(loc="upper left", fontsize=8)
    return ax
