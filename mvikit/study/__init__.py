"""From a hospital export to a paper.

Table 1 (:func:`table_one`), the validation of a frozen model on a new cohort
(:func:`validate_frozen`, its report) and its recalibration
(:class:`RecalibratedClassifier`); model files that load without running code
(:func:`save_model`, :func:`load_model`) with a model card (:func:`model_card`).
"""

from ._cohort import read_study_cohort, scan_images
from ._frozen import (
                      FrozenValidationResult,
                      check_model_columns,
                      validate_frozen,
                      validate_predictions,
)
from ._model_card import ModelCard, model_card
from ._model_file import load_model, model_file_info, read_model_card, save_model
from ._recalibration import RecalibratedClassifier, logistic_recalibration
from ._report import build_validation_report, write_validation_report
from ._study_file import MODEL_NAMES, build_models, read_study_file
from ._table_one import TableOneResult, table_one

__all__ = [
    "MODEL_NAMES",
    "FrozenValidationResult",
    "ModelCard",
    "RecalibratedClassifier",
    "TableOneResult",
    "build_models",
    "build_validation_report",
    "check_model_columns",
    "load_model",
    "logistic_recalibration",
    "model_card",
    "model_file_info",
    "read_model_card",
    "read_study_cohort",
    "read_study_file",
    "save_model",
    "scan_images",
    "table_one",
    "validate_frozen",
    "validate_predictions",
    "write_validation_report",
]
