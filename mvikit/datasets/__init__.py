"""mvikit.datasets."""

__all__ = []
