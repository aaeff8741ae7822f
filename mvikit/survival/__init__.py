"""mvikit.survival."""

__all__ = []
