"""The one error and warning hierarchy of mvikit.

Every error subclasses :class:`MvikitError` *and* the builtin it means, so
callers may catch either ``mvikit.exceptions.CohortError`` or plain
``ValueError``.  Messages name the patient id and the column when the problem
lies in the data, and say how to fix it.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "MvikitError",
    "CohortError",
    "ColumnRoleError",
    "PatientIdError",
    "VolumeError",
    "ImageFileNotFoundError",
    "ImageReadError",
    "GeometryMismatchError",
    "EmptyMaskError",
    "OutputExistsError",
    "SurvivalTargetError",
    "NotFittedError",
    "TrainingError",
    "MetricInputError",
    "FeatureExtractionError",
    "InvalidSettingsError",
    "UnsafeModelFileError",
    "MvikitWarning",
    "DataWarning",
]


class MvikitError(Exception):
    """Base class of every error raised by mvikit."""


class MetricInputError(MvikitError, ValueError):
    """Inputs of a metric are invalid (one class only, NaN or infinite scores,
    lengths that differ, probabilities outside [0, 1])."""


class CohortError(MvikitError, ValueError):
    """The cohort frame is malformed (duplicate ids, wrong types, bad cells)."""


class ColumnRoleError(CohortError):
    """A column named for a role does not exist, or its role is ambiguous."""


class PatientIdError(CohortError, MetricInputError):
    """Patient ids are missing, duplicated, or differ between inputs that must be
    paired by id (``X`` and ``y``, an outcome and its scores)."""


class VolumeError(MvikitError, ValueError):
    """A volume's content is invalid (NaN/inf voxels, wrong dimensionality)."""


class ImageFileNotFoundError(MvikitError, FileNotFoundError):
    """An image or mask file referenced by the cohort does not exist."""


class ImageReadError(MvikitError, OSError):
    """An image file exists but cannot be read (corrupt, unknown format,
    a DICOM folder holding several series)."""


class GeometryMismatchError(VolumeError):
    """A mask does not match its image in shape or spacing."""


class EmptyMaskError(VolumeError):
    """A tumour mask contains no foreground voxel."""


class SurvivalTargetError(MvikitError, ValueError):
    """A survival target (event indicator and follow-up time) is malformed."""


class OutputExistsError(MvikitError, FileExistsError):
    """An output folder or file exists and overwriting was not asked for."""


class NotFittedError(MvikitError, _SklearnNotFittedError):
    """An estimator was used before ``fit``."""


class TrainingError(MvikitError, RuntimeError):
    """Training a model failed (e.g. the loss became NaN or infinite)."""


class FeatureExtractionError(MvikitError, RuntimeError):
    """Feature extraction (e.g. pyradiomics) failed for a patient's image and mask."""


class InvalidSettingsError(MvikitError, ValueError):
    """A settings dictionary or file of an external tool (e.g. pyradiomics) holds an
    unknown key or an invalid value."""


class UnsafeModelFileError(MvikitError, ValueError):
    """A model file is not an mvikit model file, was tampered with, or names a type
    that loading would have to trust (the types are named); or a model holds an
    object that cannot be saved without pickle."""


class MvikitWarning(UserWarning):
    """Base class of every warning issued by mvikit."""


class DataWarning(MvikitWarning):
    """Something in the data deserves attention but does not stop the run."""
