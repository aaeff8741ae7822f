"""`plot_confusion_matrix`: counts (or row/column shares) with the numbers written in."""

from __future__ import annotations

import numpy as np

from ._common import _axes

__all__ = ["plot_confusion_matrix"]


def plot_confusion_matrix(y_true, y_pred, *, labels=None, normalize=None, ax=None, cmap="Blues"):
    """Confusion matrix as a heat map, true labels on rows, predictions on columns.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels (binary or multiclass, e.g. M0/M1/M2).
    labels : array-like, default=None
        Label order; defaults to the sorted union.
    normalize : {None, "true", "pred", "all"}, default=None
        As :func:`sklearn.metrics.confusion_matrix`: shares per true class
        (row), per predicted class (column) or overall.
    ax : matplotlib Axes, default=None
        Axes to draw on (current axes when ``None``).
    cmap : str, default="Blues"
        Colour map.

    Returns
    -------
    ax : matplotlib Axes
        ``ax.images[0].get_array()`` holds the matrix shown.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from mvikit.plotting import plot_confusion_matrix
    >>> ax = plot_confusion_matrix(["M0", "M1", "M2", "M1"], ["M0", "M2", "M2", "M1"])
    >>> ax.images[0].get_array().tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    >>> plt.close("all")
    """
    from sklearn.metrics import confusion_matrix

    ax = _axes(ax)
    if labels is None:
        labels = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    matrix = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    image = ax.imshow(matrix, cmap=cmap, vmin=0)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        text = f"{value:d}" if normalize is None else f"{value:.2f}"
        ax.text(j, i, text, ha="center", va="center",
                color="white" if value > threshold else "black")
    ticks = np.arange(len(labels))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=[str(v) for v in labels],
           yticklabels=[str(v) for v in labels], xlabel="predicted", ylabel="true")
    ax.figure.colorbar(image, ax=ax, fraction=0.046)
    return ax
