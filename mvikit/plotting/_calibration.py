"""`plot_calibration`: calibration curve with a histogram of the predicted risks."""

from __future__ import annotations

import numpy as np

from ..metrics import calibration_curve, calibration_stats

__all__ = ["plot_calibration"]


def plot_calibration(y_true, y_prob, *, n_bins=10, strategy="quantile", method="binned", ax=None,
                     label=None, hist=True, ci=True):
    """Observed event rate against predicted risk, with the risk histogram below.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities.
    n_bins : int, default=10
        Bins of the binned curve.
    strategy : {"quantile", "uniform"}, default="quantile"
        Bin edges (see :func:`mvikit.metrics.calibration_curve`).
    method : {"binned", "lowess"}, default="binned"
        Bin means or a LOWESS smooth.
    ax : matplotlib Axes, default=None
        Axes to draw on (current axes when ``None``).
    label : str, default=None
        Legend label; the calibration slope and intercept are appended.
    hist : bool, default=True
        Draw a histogram of the predictions in an inset along the bottom.
    ci : bool, default=True
        Draw the Wilson intervals of the binned curve as error bars.

    Returns
    -------
    ax : matplotlib Axes
        The first line is the ideal diagonal, the second the curve.

    See Also
    --------
    mvikit.metrics.calibration_curve, mvikit.metrics.calibration_stats

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from mvikit.plotting import plot_calibration
    >>> rng = np.random.RandomState(0)
    >>> p = rng.uniform(0.05, 0.95, 200)
    >>> fig, ax = plt.subplots()
    >>> ax = plot_calibration(rng.binomial(1, p), p, n_bins=5, ax=ax)
    >>> len(ax.lines[1].get_xdata())
    5
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    curve = calibration_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy, method=method)
    stats = calibration_stats(y_true, y_prob)
    text = f"slope {stats.slope:.2f}, intercept {stats.intercept:.2f}"
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="ideal")
    marker = "o" if method == "binned" else None
    line = ax.plot(curve.prob_pred, curve.prob_true, marker=marker,
                   label=f"{label} ({text})" if label else text)[0]
    if ci and method == "binned":
        err = np.vstack([curve.prob_true - curve.ci_lower, curve.ci_upper - curve.prob_true])
        ax.errorbar(curve.prob_pred, curve.prob_true, yerr=err, fmt="none",
                    ecolor=line.get_color(), linewidth=1)
    if hist:
        inset = ax.inset_axes([0.0, 0.0, 1.0, 0.15], sharex=ax)
        inset.hist(np.asarray(y_prob, dtype=float), bins=50, range=(0, 1),
                   color=line.get_color(), alpha=0.5)
        inset.set_axis_off()
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel="predicted risk", ylabel="observed event rate")
    ax.legend(loc="upper left", fontsize=8)
    return ax
