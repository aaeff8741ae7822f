"""Figures: ROC, calibration, decision curves, confusion matrix, forest plot,
nomogram, Kaplan-Meier curves, survival curves at a horizon (time-dependent ROC,
calibration, decision curve), 3D Grad-CAM overlays and t-SNE embeddings.

Every function takes ``ax=`` and returns the Axes; none calls ``plt.show``.
``plot_roc``, ``plot_calibration`` and ``plot_decision_curve`` draw several
models on one axis from a dict ``name -> predictions``; ``plot_roc`` also draws
per-fold curves with their mean +/- SD, and one-vs-rest curves of class
probabilities (M0/M1/M2).  :mod:`mvikit.report` draws its figures with these
functions.
"""

from ._calibration import plot_calibration
from ._cam import plot_cam
from ._confusion import plot_confusion_matrix
from ._decision_curve import plot_decision_curve
from ._embedding import plot_embedding
from ._forest import plot_forest
from ._km import plot_km
from ._nomogram import plot_nomogram
from ._roc import plot_roc
from ._survival import (
    plot_survival_calibration,
    plot_survival_decision_curve,
    plot_time_roc,
)

__all__ = [
    "plot_calibration",
    "plot_cam",
    "plot_confusion_matrix",
    "plot_decision_curve",
    "plot_embedding",
    "plot_forest",
    "plot_km",
    "plot_nomogram",
    "plot_roc",
    "plot_survival_calibration",
    "plot_survival_decision_curve",
    "plot_time_roc",
]
