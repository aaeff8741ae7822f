"""`plot_decision_curve`: net benefit of one or more models, treat-all and treat-none."""

from __future__ import annotations

from ..metrics import decision_curve
from ._common import _axes, _model_entries

__all__ = ["plot_decision_curve"]


def plot_decision_curve(y_true, y_prob, *, thresholds=None, ax=None, label=None,
                        standardize=False):
    """Decision curves (Vickers & Elkin 2006).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or dict
        Binary outcome.  With a dict ``y_prob``, one outcome shared by every
        model or a dict model name -> outcome; "treat all" is drawn for the
        first model's outcomes (the same for every model when they scored
        the same patients).
    y_prob : array-like of shape (n_samples,) or dict
        Predicted risks of one model, or a dict model name -> risks.
    thresholds : array-like, default=None
        Threshold probabilities inside (0, 1); default 0.01-0.99.
    ax : matplotlib Axes, default=None
        Axes to draw on (current axes when ``None``).
    label : str, default=None
        Legend label of a single model.
    standardize : bool, default=False
        Plot the standardized net benefit (net benefit / prevalence).

    Returns
    -------
    ax : matplotlib Axes
        One line per model, then "treat all", then "treat none".

    See Also
    --------
    mvikit.metrics.decision_curve

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from mvikit.plotting import plot_decision_curve
    >>> y = np.array([0, 0, 0, 1, 0, 1, 1, 0, 1, 1])
    >>> p = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.5, 0.6, 0.65, 0.8, 0.9])
    >>> ax = plot_decision_curve(y, {"model": p})
    >>> [line.get_label() for line in ax.lines]
    ['model', 'treat all', 'treat none']
    >>> plt.close("all")
    """
    ax = _axes(ax)
    prefix = "standardized_" if standardize else ""
    first = None
    for name, y, prob, _ in _model_entries(y_true, y_prob, label or "model", score_name="y_prob"):
        curve = decision_curve(y, prob, thresholds, standardize=standardize)
        ax.plot(curve["threshold"], curve[f"{prefix}net_benefit"], linewidth=1.5, label=name)
        first = curve if first is None else first
    curve = first
    ax.plot(curve["threshold"], curve[f"{prefix}net_benefit_all"], color="grey", linewidth=1,
            label="treat all")
    ax.plot(curve["threshold"], curve["net_benefit_none"], color="black", linewidth=1,
            label="treat none")
    top = 1.0 if standardize else curve.attrs["prevalence"]
    ax.set(xlim=(0, 1), ylim=(-0.1 * top, 1.1 * top), xlabel="threshold probability",
           ylabel="standardized net benefit" if standardize else "net benefit")
    ax.legend(fontsize=8)
    return ax
