"""mvikit.clinical."""

__all__ = []
