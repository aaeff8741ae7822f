"""mvikit.radiomics."""

__all__ = []
