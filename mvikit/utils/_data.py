"""Validate the numeric ``X`` and the target ``y`` of an mvikit estimator.

scikit-learn's ``validate_data`` says "Input X contains NaN" or "could not
convert string to float" without the column or the patient.  These wrappers
check the same things first and name both, pair a pandas ``y`` with ``X`` by
patient id, and check the kind of target a classifier is given (a continuous
``y`` would otherwise become one class per patient).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import issparse
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import validate_data

from ..exceptions import CohortError
from ._align import align_to_rows, check_patient_ids, describe_ids

__all__ = ["check_features", "check_classification_data"]


def _column_names(X, n_columns):
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"x{j}" for j in range(n_columns)]


def _row_ids(X, n_rows):
    return list(X.index) if isinstance(X, (pd.DataFrame, pd.Series)) else list(range(n_rows))


def _numeric_values(X):
    """``X`` as a 2-D float array, or a `CohortError` naming the first non-numeric column.

    ``None`` for inputs scikit-learn reports itself (sparse, not 2-D).
    """
    if issparse(X) or np.ndim(X) != 2:
        return None
    if not isinstance(X, pd.DataFrame):
        array = np.asarray(X)
        if array.dtype.kind in "biuf":
            return array.astype(float)
        X = pd.DataFrame(array)
    if all(pd.api.types.is_numeric_dtype(t) and t.kind != "c" for t in X.dtypes):
        return X.to_numpy(dtype=float)
    names = _column_names(X, X.shape[1])
    columns = []
    for j, name in enumerate(names):
        column = X.iloc[:, j]
        numeric = pd.to_numeric(column, errors="coerce")
        bad = (numeric.isna() & column.notna()).to_numpy()
        if bad.any() or numeric.dtype.kind == "c":
            bad = bad if bad.any() else column.notna().to_numpy()
            ids = [X.index[i] for i in np.flatnonzero(bad)]
            raise CohortError(
                f"Column {name!r} is not numeric: patient(s) {describe_ids(ids)} hold "
                f"{column.iloc[np.flatnonzero(bad)[0]]!r}. Encode categorical columns first "
                "(e.g. with mvikit.preprocessing.ClinicalPreprocessor) or fix the cells."
            )
        columns.append(numeric.to_numpy(dtype=float))
    return np.column_stack(columns) if columns else np.empty((len(X), 0))


def _check_finite(X, *, allow_nan: bool) -> None:
    values = _numeric_values(X)
    if values is None:
        return
    bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if not bad.any():
        return
    names = _column_names(X, values.shape[1])
    rows = _row_ids(X, values.shape[0])
    j = int(np.flatnonzero(bad.any(axis=0))[0])
    ids = [rows[i] for i in np.flatnonzero(bad[:, j])]
    what = "infinite" if allow_nan else "missing (NaN) or infinite"
    columns = [names[k] for k in np.flatnonzero(bad.any(axis=0))]
    raise CohortError(
        f"Column {names[j]!r} has {what} values for patient(s) {describe_ids(ids)} "
        f"(columns affected: {describe_ids(columns)}). Impute or drop them first (e.g. "
        "mvikit.preprocessing.ClinicalPreprocessor imputes); infinite values usually come "
        "from a division by zero or a log of 0 upstream."
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


def _check_target_values(y, X, *, owner: str, continuous_ok: bool):
    values = np.asarray(y, dtype=object).ravel() if np.ndim(y) == 2 and 1 in np.shape(
        y) else np.asarray(y, dtype=object)
    missing = pd.isna(pd.Series(values, dtype=object)).to_numpy() if values.ndim == 1 else None
    if missing is not None and missing.any():
        rows = _row_ids(y if isinstance(y, pd.Series) else X, len(values))
        ids = [rows[i] for i in np.flatnonzero(missing)] if len(rows) == len(values) else \
            list(np.flatnonzero(missing))
        raise CohortError(
            f"{owner}: y is missing for patient(s) {describe_ids(ids)} ({int(missing.sum())} in "
            "all). Drop those patients from X and y; mvikit never drops patients silently."
        )
    if continuous_ok:
        return
    kind = type_of_target(np.asarray(y))
    if kind not in ("binary", "multiclass"):
        n_unique = len(pd.unique(pd.Series(values, dtype=object)))
        raise CohortError(
            f"{owner} is a classifier but y is {kind!r} ({n_unique} distinct values in "
            f"{len(values)} patients): a continuous or multi-output target would make one "
            "class per value. Pass class labels (e.g. y = (df['mvi'] == 1)), or binarise a "
            "continuous outcome at a pre-specified cut-off."
        )


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
        raise CohortError(f"{owner} needs y (the class labels) in fit; got None.")
    _check_target_values(y, X, owner=owner, continuous_ok=False)
    _check_finite(X, allow_nan=allow_nan)
    kwargs.setdefault("dtype", float)
    if allow_nan:
        kwargs.setdefault("ensure_all_finite", "allow-nan")
    return validate_data(estimator, X, y, **kwargs)
