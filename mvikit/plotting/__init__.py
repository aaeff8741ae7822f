"""mvikit.plotting."""

__all__ = []
