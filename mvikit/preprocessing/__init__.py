"""mvikit.preprocessing."""

__all__ = []
