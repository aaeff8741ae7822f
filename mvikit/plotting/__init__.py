"""mvikit.plotting."""

from ._km import plot_km

__all__ = ["plot_km"]
