"""mvikit.plotting."""

from ._forest import plot_forest
from ._km import plot_km
from ._nomogram import plot_nomogram

__all__ = ["plot_forest", "plot_km", "plot_nomogram"]
