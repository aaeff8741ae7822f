"""mvikit.metrics."""

__all__ = []
