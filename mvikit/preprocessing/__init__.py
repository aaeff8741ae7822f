"""mvikit.preprocessing: turning the clinical columns of a cohort frame into a design matrix."""

from ._clinical import ClinicalPreprocessor

__all__ = ["ClinicalPreprocessor"]
