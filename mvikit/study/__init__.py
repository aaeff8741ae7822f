"""From a hospital export to a paper.

Table 1 (:func:`table_one`), the validation of a frozen model on a new cohort
(:func:`validate_frozen`, its report) and its recalibration
(:class:`RecalibratedClassifier`).
"""

from ._frozen import FrozenValidationResult, check_model_columns, validate_frozen
from ._recalibration import RecalibratedClassifier, logistic_recalibration
from ._report import build_validation_report, write_validation_report
from ._table_one import TableOneResult, table_one

__all__ = [
    "FrozenValidationResult",
    "RecalibratedClassifier",
    "TableOneResult",
    "build_validation_report",
    "check_model_columns",
    "logistic_recalibration",
    "table_one",
    "validate_frozen",
    "write_validation_report",
]
