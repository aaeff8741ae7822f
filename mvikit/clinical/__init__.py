"""mvikit.clinical: clinical logistic models, variable selection and nomograms."""

from ._classifier import NomogramClassifier
from ._nomogram import Nomogram
from ._selection import EmptySelectionError, StepwiseSelector

__all__ = ["Nomogram", "NomogramClassifier", "StepwiseSelector", "EmptySelectionError"]
