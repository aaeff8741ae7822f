"""mvikit.plotting."""

from ._forest import plot_forest
from ._km import plot_km

__all__ = ["plot_forest", "plot_km"]
