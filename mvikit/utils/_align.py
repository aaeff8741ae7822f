"""Pair outcomes, scores and features by patient id, never silently by position.

A pandas Series or DataFrame carries its patients in its index.  Two such
inputs in different orders (a score Series sorted by risk, an outcome column
read from another file) must be matched by id: pairing them by position puts a
wrong number in a paper (an AUC of 0.0 for pairs whose true AUC is 1.0).  The
helpers here reorder pandas inputs onto one index and refuse ids that do not
match, naming them.  Plain arrays and lists carry no ids; they are paired by
position, as in scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import PatientIdError

__all__ = ["align_by_patient", "align_to_rows", "check_patient_ids", "describe_ids"]

_MAX_NAMED = 5


def describe_ids(ids, *, max_named: int = _MAX_NAMED) -> str:
    """``"'P-001', 'P-007' and 3 more"``: the first few ids and a count of the rest."""
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:max_named])
    more = f" and {len(ids) - max_named} more" if len(ids) > max_named else ""
    return shown + more


def _is_pandas(values) -> bool:
    return isinstance(values, (pd.Series, pd.DataFrame))


def _is_missing_id(value) -> bool:
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # tuples of a MultiIndex and other containers
        return False


def check_patient_ids(index, *, what: str = "X") -> pd.Index:
    """Refuse missing (NaN, None, empty) and duplicate patient ids.

    Parameters
    ----------
    index : pandas.Index
        The patient ids (a cohort frame's index).
    what : str, default="X"
        How the input is called in the message.

    Returns
    -------
    pandas.Index
        ``index`` unchanged.

    Raises
    ------
    PatientIdError
        Naming the rows (0-based positions) without an id, or the duplicated ids.

    Examples
    --------
    >>> import pandas as pd
    >>> from mvikit.utils import check_patient_ids
    >>> check_patient_ids(pd.Index(["P-001", None]))
    Traceback (most recent call last):
    ...
    mvikit.exceptions.PatientIdError: X has no patient id at row 1 ...
    """
    missing = np.array([_is_missing_id(v) for v in index], dtype=bool)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise PatientIdError(
            f"{what} has no patient id at row{'s' if len(rows) > 1 else ''} "
            f"{describe_ids(rows.tolist()).replace(chr(39), '')} (0-based; {len(rows)} in all): "
            "the id is missing (NaN, None or empty). Every patient needs an id; fill it in "
            "or drop the row."
        )
    _check_unique(index, what)
    return index


def _check_unique(index: pd.Index, name: str) -> None:
    if not index.is_unique:
        duplicated = index[index.duplicated()].unique()
        raise PatientIdError(
            f"Duplicate patient ids in {name}'s index: {describe_ids(duplicated)} "
            f"({len(duplicated)} in all). Each patient must appear once; drop or merge the "
            "duplicated rows."
        )


def _type_hint(missing, extra) -> str:
    """Hint when ids differ only in type (``7`` vs ``'7'``/``'007'``)."""
    as_text = {str(i).lstrip("0") for i in missing}
    if missing and extra and as_text & {str(i).lstrip("0") for i in extra}:
        return (" Some ids differ only in type or leading zeros (e.g. 7 vs '007'): read the "
                "id column as text (mvikit.datasets.load_cohort does) in every file.")
    return ""


def _check_same_ids(index: pd.Index, reference: pd.Index, name: str, against: str) -> None:
    check_patient_ids(index, what=name)
    missing = reference.difference(index, sort=False)
    extra = index.difference(reference, sort=False)
    if len(missing) == 0 and len(extra) == 0:
        return
    parts = []
    if len(missing):
        parts.append(f"{len(missing)} patient id(s) of {against} are missing from {name}: "
                     f"{describe_ids(missing)}")
    if len(extra):
        parts.append(f"{len(extra)} patient id(s) of {name} are not in {against}: "
                     f"{describe_ids(extra)}")
    raise PatientIdError(
        f"{name} and {against} are indexed by different patient ids; "
        + "; ".join(parts) + ". mvikit pairs pandas inputs by patient id, never by position: "
        f"select the same patients in both (e.g. {name}.loc[{against}.index]), or pass plain "
        "arrays (.to_numpy()) to pair them by position." + _type_hint(list(missing), list(extra))
    )


def align_to_rows(values, rows, *, name: str = "y", against: str = "X"):
    """Reorder a pandas ``values`` onto the index of the pandas ``rows``.

    Parameters
    ----------
    values : Series, DataFrame, array-like or None
        Per-patient values (e.g. the outcome ``y``).  Returned unchanged unless
        both it and ``rows`` are pandas objects.
    rows : DataFrame, Series or array-like
        The inputs that fix the patient order (e.g. the cohort frame ``X``).
    name, against : str, default="y", "X"
        How the two inputs are called in the error message.

    Returns
    -------
    Series, DataFrame or the input
        ``values`` in the row order of ``rows``.

    Raises
    ------
    PatientIdError
        Duplicate ids in ``values``, or ids present in one input only (the
        first few are named, with a count).

    Examples
    --------
    >>> import pandas as pd
    >>> from mvikit.utils import align_to_rows
    >>> X = pd.DataFrame({"afp": [1.0, 2.0, 3.0]}, index=["P1", "P2", "P3"])
    >>> y = pd.Series([0, 1, 1], index=["P3", "P1", "P2"])
    >>> align_to_rows(y, X).tolist()
    [1, 1, 0]
    """
    if values is None or not (_is_pandas(values) and _is_pandas(rows)):
        return values
    if values.index.equals(rows.index):
        return values
    _check_same_ids(values.index, rows.index, name, against)
    return values.loc[rows.index]


def align_by_patient(*values, names=None):
    """Reorder every pandas input onto the index of the first pandas input.

    Parameters
    ----------
    *values : Series, DataFrame or array-like
        E.g. ``y_true`` and one or more score vectors.  Inputs without an
        index (arrays, lists) are paired by position and returned unchanged.
    names : list of str, default=None
        Names used in error messages; default ``arg0``, ``arg1``, ...

    Returns
    -------
    list
        The inputs, pandas ones reordered by patient id.

    Raises
    ------
    PatientIdError
        A pandas input holds duplicate ids, or ids differ between pandas inputs.

    Examples
    --------
    >>> import pandas as pd
    >>> from mvikit.utils import align_by_patient
    >>> truth = pd.Series([0, 1], index=["P-001", "P-002"])
    >>> score = pd.Series([0.9, 0.2], index=["P-002", "P-001"])
    >>> [s.tolist() for s in align_by_patient(truth, score)]
    [[0, 1], [0.2, 0.9]]
    """
    names = list(names) if names is not None else [f"arg{i}" for i in range(len(values))]
    first = next((i for i, v in enumerate(values) if _is_pandas(v)), None)
    if first is None:
        return list(values)
    reference = values[first]
    check_patient_ids(reference.index, what=names[first])
    return [align_to_rows(v, reference, name=n, against=names[first]) if i != first else v
            for i, (v, n) in enumerate(zip(values, names))]

