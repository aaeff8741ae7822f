"""Validation helpers, column-role resolution and the estimator registry."""

from ._align import align_by_patient, align_to_rows, check_patient_ids, describe_ids
from ._registry import all_estimators
from ._roles import ColumnRoles, check_cohort_frame, is_image_cell, mask_column_for, resolve_columns
from ._warnings import PatientWarning, aggregate_patient_warnings

__all__ = [
    "PatientWarning",
    "aggregate_patient_warnings",
    "align_by_patient",
    "align_to_rows",
    "check_patient_ids",
    "describe_ids",
    "all_estimators",
    "ColumnRoles",
    "check_cohort_frame",
    "is_image_cell",
    "mask_column_for",
    "resolve_columns",
]
