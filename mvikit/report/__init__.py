"""mvikit.report."""

__all__ = []
