"""Validate the numeric ``X`` and the target ``y`` of an mvikit estimator.

scikit-learn's ``validate_data`` says "Input X contains NaN" or "could not
convert string to float" without the column or the patient.  These wrappers
check the same things first and name both, pair a pandas ``y`` with ``X`` by
patient id, and check the kind of target a classifier is given (a continuous
``y`` would otherwise become one class per patient).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.sparse import issparse
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import validate_data

from ..exceptions import CohortError, DataWarning
from ._align import align_to_rows, check_patient_ids, describe_ids

__all__ = ["check_features", "check_classification_data"]


def _column_names(X, n_columns):
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"x{j}" for j in range(n_columns)]


def _row_ids(X, n_rows):
    return list(X.index) if isinstance(X, (pd.DataFrame, pd.Series)) else list(range(n_rows))


# A value whose square overflows float64 (|x| > ~1.3e154) makes every variance,
# scaling and likelihood of its column inf/NaN: it is a typo or a unit error.
_HUGE = 1e150


def _numeric_column(column: pd.Series, name, index) -> np.ndarray:
    """One column as floats, or a `CohortError` naming it and the patients."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype) or isinstance(
            column.dtype, pd.PeriodDtype):
        raise CohortError(f"Column {name!r} holds dates; derive a number from it first (e.g. "
                          f"days since surgery: (X[{name!r}] - X['surgery_date']).dt.days).")
    if pd.api.types.is_numeric_dtype(column.dtype) and column.dtype.kind != "c":
        return column.to_numpy(dtype=float, na_value=np.nan)
    if column.map(lambda v: isinstance(v, (complex, np.complexfloating))).any():
        raise CohortError(f"Complex data not supported: column {name!r} holds complex numbers; "
                          "take their modulus or real part first.")
    numeric = pd.to_numeric(column, errors="coerce")
    bad = (numeric.isna() & column.notna()).to_numpy()
    if bad.any() and not all(isinstance(v, str) for v in column[bad]):
        return None  # containers and other objects: scikit-learn's TypeError says it
    if bad.any():
        first = np.flatnonzero(bad)
        raise CohortError(
            f"Column {name!r} is not numeric: patient(s) {describe_ids(index[first])} hold "
            f"{column.iloc[first[0]]!r}. Encode categorical columns first (e.g. with "
            "mvikit.preprocessing.ClinicalPreprocessor) or fix the cells."
        )
    if column.notna().any():
        warnings.warn(
            f"Column {name!r} holds numbers stored as text; they are read as numbers. Store "
            "the column as numbers to silence this warning.", DataWarning, stacklevel=5)
    return numeric.to_numpy(dtype=float, na_value=np.nan)


def _numeric_values(X):
    """``X`` as a 2-D float array, or a `CohortError` naming the first non-numeric column.

    ``None`` for inputs scikit-learn reports itself (sparse, not 2-D).
    """
    if issparse(X):
        return None
    if not isinstance(X, pd.DataFrame):
        try:
            array = np.asarray(X)
        except (TypeError, ValueError):  # ragged lists: scikit-learn's message
            return None
        if array.ndim != 2:
            return None
        if array.dtype.kind in "biuf":
            return array.astype(float)
        if array.dtype.kind == "c":
            raise CohortError("Complex data not supported: X holds complex numbers; take "
                              "their modulus or real part first.")
        X = pd.DataFrame(array)
    names = _column_names(X, X.shape[1])
    columns = [_numeric_column(X.iloc[:, j], name, X.index) for j, name in enumerate(names)]
    if any(c is None for c in columns):
        return None
    return np.column_stack(columns) if columns else np.empty((len(X), 0))


def _check_finite(X, *, allow_nan: bool) -> None:
    values = _numeric_values(X)
    if values is None:
        return
    with np.errstate(invalid="ignore"):
        huge = np.isfinite(values) & (np.abs(values) > _HUGE)
    bad = np.isinf(values) | huge if allow_nan else ~np.isfinite(values) | huge
    if not bad.any():
        return
    names = _column_names(X, values.shape[1])
    rows = _row_ids(X, values.shape[0])
    j = int(np.flatnonzero(bad.any(axis=0))[0])
    ids = [rows[i] for i in np.flatnonzero(bad[:, j])]
    if huge[:, j].any():
        what = f"implausibly large values (e.g. {values[huge[:, j], j][0]:.3g})"
    else:
        what = "infinite values" if allow_nan else "missing (NaN) or infinite values"
    columns = [names[k] for k in np.flatnonzero(bad.any(axis=0))]
    raise CohortError(
        f"Column {names[j]!r} has {what} for patient(s) {describe_ids(ids)} "
        f"(columns affected: {describe_ids(columns)}). Impute or drop missing values first "
        "(mvikit.preprocessing.ClinicalPreprocessor imputes); infinite values usually come from "
        "a division by zero or a log of 0 upstream, huge ones from a typo or a unit error."
    )


def check_features(estimator, X, *, reset: bool, allow_nan: bool = False, **kwargs):
    """``validate_data(estimator, X, ...)`` after naming non-numeric/non-finite cells.

    Parameters
    ----------
    estimator : estimator
        The estimator being fitted or used.
    X : DataFrame or array-like of shape (n_patients, n_features)
    reset : bool
        ``True`` in ``fit``, ``False`` in predict/transform.
    allow_nan : bool, default=False
        Accept NaN (an imputer downstream); infinite values are refused anyway.
    **kwargs
        Passed to scikit-learn's ``validate_data`` (default ``dtype=float``).

    Returns
    -------
    ndarray
    """
    if isinstance(X, pd.DataFrame):
        check_patient_ids(X.index)
    _check_finite(X, allow_nan=allow_nan)
    kwargs.setdefault("dtype", float)
    if allow_nan:
        kwargs.setdefault("ensure_all_finite", "allow-nan")
    return validate_data(estimator, X, reset=reset, **kwargs)


def _check_target_values(y, X, *, owner: str) -> None:
    y_array = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
    shape = y_array.shape
    if len(shape) == 2 and 1 not in shape or len(shape) > 2:
        raise CohortError(
            f"{owner} takes one label per patient; y has shape {shape} (several outcomes?). "
            "Fit one model per outcome column."
        )
    values = y_array.astype(object).ravel()
    if any(isinstance(v, (complex, np.complexfloating)) for v in values):
        raise CohortError(f"Complex data not supported: {owner} got complex labels in y.")
    n_rows = _n_rows(X)
    if n_rows is not None and len(values) != n_rows:
        raise CohortError(
            f"{owner}: y has {len(values)} labels but X has {n_rows} rows (patients); pass "
            "one label per patient (a Series indexed by patient id is matched by id)."
        )
    missing = pd.isna(pd.Series(values, dtype=object)).to_numpy()
    if missing.any():
        rows = _row_ids(y if isinstance(y, pd.Series) else X, len(values))
        ids = [rows[i] for i in np.flatnonzero(missing)]
        raise CohortError(
            f"{owner}: y is missing for patient(s) {describe_ids(ids)} ({int(missing.sum())} in "
            "all). Drop those patients from X and y; mvikit never drops patients silently."
        )
    kind = type_of_target(y_array.ravel() if y_array.dtype != object else
                          values.astype(float) if _all_numbers(values) else values)
    n_classes = len(pd.unique(pd.Series(values, dtype=object)))
    one_per_patient = n_classes > 2 and n_classes > len(values) / 2
    if kind not in ("binary", "multiclass") or one_per_patient:
        raise CohortError(
            f"{owner} is a classifier but y is {kind!r} with {n_classes} distinct values in "
            f"{len(values)} patients: a continuous outcome read as labels would make one class "
            "per value. Pass class labels (e.g. y = (df['mvi'] == 1)), or binarise a "
            "continuous outcome at a pre-specified cut-off."
        )


def _n_rows(X):
    if isinstance(X, pd.DataFrame):
        return len(X)
    try:
        array = np.asarray(X)
    except (TypeError, ValueError):
        return None
    return array.shape[0] if array.ndim else None


def _all_numbers(values) -> bool:
    return all(isinstance(v, (int, float, np.number)) for v in values)


def check_classification_data(estimator, X, y, *, allow_nan: bool = False, **kwargs):
    """Validate ``X`` and a class-label ``y`` for ``fit``, pairing them by patient id.

    A pandas ``y`` is reordered onto the index of a pandas ``X``
    (`mvikit.utils.align_to_rows`); ids in one only are an error naming them.

    Parameters
    ----------
    estimator : estimator
    X : DataFrame or array-like of shape (n_patients, n_features)
    y : array-like of shape (n_patients,)
    allow_nan : bool, default=False
    **kwargs
        Passed to ``validate_data`` (default ``dtype=float``).

    Returns
    -------
    X, y : ndarray
    """
    owner = type(estimator).__name__
    if isinstance(X, pd.DataFrame):
        check_patient_ids(X.index)
    y = align_to_rows(y, X)
    if y is None:
        raise CohortError(f"{owner} requires y to be passed, but the target y is None. Pass "
                          "the class labels (one per patient).")
    _check_target_values(y, X, owner=owner)
    _check_finite(X, allow_nan=allow_nan)
    kwargs.setdefault("dtype", float)
    if allow_nan:
        kwargs.setdefault("ensure_all_finite", "allow-nan")
    return validate_data(estimator, X, y, **kwargs)
