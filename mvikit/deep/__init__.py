"""mvikit.deep."""

__all__ = []
