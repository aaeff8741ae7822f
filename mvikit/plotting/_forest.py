"""Forest plot: one estimate with its interval per row (model comparisons, odds ratios)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_forest"]


def plot_forest(table, *, estimate="estimate", lower="lower", upper="upper", label="label",
                p_value=None, reference=0.0, log_scale=False, xlabel=None, title=None,
                annotate=True, ax=None):
    """Forest plot: a point and a horizontal interval per row, top to bottom.

    Parameters
    ----------
    table : DataFrame
        One row per entry, with the columns named below.
    estimate, lower, upper, label : str, default="estimate", "lower", "upper", "label"
        Columns holding the point estimate, the interval limits and the row label.
    p_value : str, default=None
        Column of p-values, printed in the annotation when given.
    reference : float or None, default=0.0
        Position of the vertical no-effect line (0 for differences, 1 for
        ratios); ``None`` draws none.
    log_scale : bool, default=False
        Logarithmic x-axis (odds and hazard ratios).
    xlabel, title : str, default=None
        Axis label and title.
    annotate : bool, default=True
        Write "estimate (lower, upper)" and the p-value at the right of each row.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes; row ``i`` of ``table`` is drawn at ``y = n_rows - 1 - i``.

    See Also
    --------
    mvikit.model_selection.compare_models : Its DeLong table plots as a forest of AUC differences.

    Examples
    --------
    >>> import pandas as pd
    >>> from mvikit.plotting import plot_forest
    >>> table = pd.DataFrame({"label": ["radiomics", "deep"], "estimate": [0.04, -0.02],
    ...                       "lower": [0.00, -0.07], "upper": [0.08, 0.03]})
    >>> ax = plot_forest(table, xlabel="AUC difference vs clinical")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['radiomics', 'deep']
    """
    table = pd.DataFrame(table)
    missing = [c for c in (estimate, lower, upper, label, p_value) if c and c not in table]
    if missing:
        raise KeyError(f"plot_forest: column(s) {missing} not in the table (columns: "
                       f"{list(table.columns)}); name them with estimate=/lower=/upper=/label=.")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.4, 0.9 + 0.45 * len(table)))
    values = table[[estimate, lower, upper]].to_numpy(dtype=float)
    y_pos = np.arange(len(table))[::-1]
    ax.hlines(y_pos, values[:, 1], values[:, 2], color="black", linewidth=1.5)
    ax.plot(values[:, 0], y_pos, "s", color="black", markersize=6, linestyle="none")
    if reference is not None:
        ax.axvline(reference, color="grey", linestyle="--", linewidth=1)
    if log_scale:
        ax.set_xscale("log")
    ax.set_yticks(y_pos)
    ax.set_yticklabels([str(v) for v in table[label]])
    ax.set_ylim(-0.7, len(table) - 0.3)
    if annotate:
        _annotate(ax, table, values, y_pos, p_value)
    if xlabel:
        ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax


def _annotate(ax, table, values, y_pos, p_value):
    transform = ax.get_yaxis_transform()
    for k, (est, lo, hi) in enumerate(values):
        text = f"{est:.3f} ({lo:.3f}, {hi:.3f})"
        if p_value is not None and not pd.isna(table[p_value].iloc[k]):
            p = float(table[p_value].iloc[k])
            text += f"  p={p:.2e}" if p < 1e-3 else f"  p={p:.3f}"
        ax.text(1.02, y_pos[k], text, transform=transform, va="center", fontsize=8)
