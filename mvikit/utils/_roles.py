"""Column roles of the cohort frame: clinical, volume and mask columns.

The one place where mvikit decides what a column is.  ``"auto"`` looks at the
cells: a column whose non-missing cells are all `Volume` objects, 3D arrays or
image paths is an image column, and it is a *mask* column when its name is
``tumor_mask``/``liver_mask`` or ends in ``_mask``; every other column is
clinical.  Explicit lists are checked against the frame.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import CohortError, ColumnRoleError
from ._align import check_patient_ids

__all__ = ["ColumnRoles", "resolve_columns", "check_cohort_frame", "mask_column_for",
           "is_image_cell"]

SHARED_MASKS = ("tumor_mask", "liver_mask")


@dataclass(frozen=True)
class ColumnRoles:
    """The resolved roles: lists of column names, in frame order."""

    clinical: list = field(default_factory=list)
    volumes: list = field(default_factory=list)
    masks: list = field(default_factory=list)


def is_image_cell(cell) -> bool:
    """True for a `Volume`, a 3D array or a string/path naming an image file."""
    from ..imaging._volume import Volume, _looks_like_image_path

    if isinstance(cell, Volume):
        return True
    if isinstance(cell, np.ndarray):
        return cell.ndim == 3
    return _looks_like_image_path(cell)


def _is_missing(cell) -> bool:
    if cell is None:
        return True
    try:
        return bool(pd.isna(cell))
    except (TypeError, ValueError):  # arrays and other containers are not missing
        return False


def _is_mask_name(name) -> bool:
    return isinstance(name, str) and (name in SHARED_MASKS or name.endswith("_mask"))


def check_cohort_frame(X, *, what: str = "X") -> pd.DataFrame:
    """Check that ``X`` is a cohort frame: a DataFrame with unique, present patient ids.

    Returns ``X`` unchanged.  Raises `CohortError` (`PatientIdError`) naming the
    duplicated ids or the rows without an id.
    """
    if not isinstance(X, pd.DataFrame):
        raise CohortError(
            f"{what} must be a pandas DataFrame with one row per patient (the cohort frame); "
            f"got {type(X).__name__}. See mvikit.datasets.load_cohort or make_hcc_cohort."
        )
    check_patient_ids(X.index, what=what)
    return X


def _column_kind(X: pd.DataFrame, column) -> str:
    """'image', 'clinical' or 'mixed' from the column's non-missing cells."""
    values = X[column]
    if values.dtype != object:
        return "clinical"
    present = [cell for cell in values if not _is_missing(cell)]
    if not present:
        return "clinical"
    image = [is_image_cell(cell) for cell in present]
    if all(image):
        return "image"
    if any(image):
        return "mixed"
    return "clinical"


def _suggest(name, X: pd.DataFrame, role: str):
    """The closest column name, preferring columns whose cells fit ``role``."""
    columns = [str(c) for c in X.columns]
    wants_image = role in ("Volume", "Mask")
    fitting = [str(c) for c in X.columns if (_column_kind(X, c) == "image") == wants_image]
    for pool in (fitting, columns):
        lower = {c.lower(): c for c in pool}
        if str(name).lower() in lower:
            return lower[str(name).lower()]
        close = difflib.get_close_matches(str(name), pool, n=1)
        if close:
            return close[0]
    return None


def _check_named(X: pd.DataFrame, names, role: str) -> list:
    if isinstance(names, str):
        names = [names]
    names = list(names)
    missing = [name for name in names if name not in X.columns]
    if missing:
        hints = []
        for name in missing:
            close = _suggest(name, X, role)
            hints.append(f"{name!r}" + (f" (did you mean {close!r}?)" if close else ""))
        raise ColumnRoleError(
            f"{role} column(s) not in the cohort frame: {', '.join(hints)}. "
            f"Available columns: {', '.join(map(repr, X.columns[:20]))}"
            + (" ..." if len(X.columns) > 20 else "")
        )
    return names


def resolve_columns(X, clinical="auto", volumes="auto", masks="auto") -> ColumnRoles:
    """Resolve which columns of a cohort frame are clinical, volumes and masks.

    Parameters
    ----------
    X : pandas.DataFrame
        The cohort frame.
    clinical, volumes, masks : "auto", None, str or list of str, default="auto"
        ``"auto"`` infers the role from the cells (see the module notes);
        ``None`` or ``[]`` means no column has that role; a list names them.

    Returns
    -------
    ColumnRoles

    Raises
    ------
    ColumnRoleError
        A named column does not exist, a column is given two roles, or a
        column mixes image cells with other values.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"age": [60, 70], "HBP": [np.zeros((2, 2, 2))] * 2,
    ...                   "tumor_mask": [np.ones((2, 2, 2))] * 2}, index=["p1", "p2"])
    >>> resolve_columns(X)
    ColumnRoles(clinical=['age'], volumes=['HBP'], masks=['tumor_mask'])
    """
    check_cohort_frame(X)
    auto = {"clinical": [], "volumes": [], "masks": []}
    needs_auto = any(isinstance(v, str) and v == "auto" for v in (clinical, volumes, masks))
    if needs_auto:
        for column in X.columns:
            kind = _column_kind(X, column)
            if kind == "mixed":
                bad = [idx for idx, cell in X[column].items()
                       if not _is_missing(cell) and not is_image_cell(cell)][:3]
                raise ColumnRoleError(
                    f"Column {column!r} mixes image cells with other values (e.g. patient(s) "
                    f"{', '.join(map(repr, bad))}); its role is ambiguous. Make every cell a "
                    "Volume/array/path (or missing), or name the roles explicitly."
                )
            if kind == "image":
                auto["masks" if _is_mask_name(column) else "volumes"].append(column)
            else:
                auto["clinical"].append(column)

    def pick(value, role):
        if isinstance(value, str) and value == "auto":
            return None
        return [] if value is None else _check_named(X, value, role)

    given = {"clinical": pick(clinical, "Clinical"), "volumes": pick(volumes, "Volume"),
             "masks": pick(masks, "Mask")}
    explicit = {role: cols for role, cols in given.items() if cols is not None}
    taken = {c for cols in explicit.values() for c in cols}
    roles = {}
    for role in ("clinical", "volumes", "masks"):
        if given[role] is not None:
            roles[role] = given[role]
        else:  # auto, minus columns explicitly given another role
            roles[role] = [c for c in auto[role] if c not in taken]
    seen: dict = {}
    for role, cols in roles.items():
        for column in cols:
            if column in seen and seen[column] != role:
                raise ColumnRoleError(
                    f"Column {column!r} is given two roles ({seen[column]} and {role}); "
                    "name it in one list only."
                )
            seen[column] = role
    for role in ("volumes", "masks"):
        for column in roles[role]:
            if _column_kind(X, column) == "clinical" and X[column].notna().any():
                raise ColumnRoleError(
                    f"Column {column!r} is named as a {role[:-1]} column but holds no image "
                    "cells (Volume, 3D array or image path)."
                )
    return ColumnRoles(**roles)


def mask_column_for(volume_column: str, masks, *, mask_kind: str = "tumor") -> str:
    """The mask column of a volume column: ``"<SEQ>_mask"`` when present,
    otherwise the shared ``"<mask_kind>_mask"``.

    Raises `ColumnRoleError` when neither exists.
    """
    own = f"{volume_column}_mask"
    if own in masks:
        return own
    shared = f"{mask_kind}_mask"
    if shared in masks:
        return shared
    raise ColumnRoleError(
        f"No mask for volume column {volume_column!r}: expected a column {own!r} or "
        f"{shared!r} among the mask columns {list(masks)}."
    )
