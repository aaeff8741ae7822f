"""Reading the user's own cohort for the command line, and checking its images.

A study cohort is a CSV (or a folder holding ``clinical.csv``) with one row
per patient: the id, clinical columns, the outcome and image/mask paths
relative to the CSV (a folder path is a DICOM series).  `read_study_cohort`
reads the clinical part without touching images unless they are needed;
`scan_images` lists every missing or unreadable image, mask-grid mismatch
and empty mask, by patient and column, instead of stopping at the first.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..exceptions import ColumnRoleError, DataWarning, MvikitError
from ..imaging._volume import IMAGE_SUFFIXES
from ..utils._roles import check_cohort_frame

__all__ = ["read_study_cohort", "scan_images"]


def _csv_and_sidecar(path) -> tuple[Path, dict | None]:
    path = Path(os.fspath(path))
    csv = path / "clinical.csv" if path.is_dir() else path
    if not csv.is_file():
        raise FileNotFoundError(f"No cohort CSV at {str(csv)!r}: pass a CSV file or a folder "
                                "holding clinical.csv.")
    sidecar = csv.parent / "cohort.json"
    info = json.loads(sidecar.read_text()) if sidecar.is_file() else None
    if info is not None and info.get("csv") != csv.name:
        info = None
    return csv, info


def _image_columns(table: pd.DataFrame, base: Path, sidecar) -> list:
    """Columns of image paths: every non-empty cell ends in an image suffix or is a folder."""
    if sidecar is not None:
        return list(sidecar["image_columns"])
    columns = []
    for column in table.columns:
        cells = [v for v in table[column] if isinstance(v, str) and v.strip()]
        if cells and all(v.lower().endswith(IMAGE_SUFFIXES) or (base / v).is_dir()
                         for v in cells):
            columns.append(column)
    return columns


def _id_column(table: pd.DataFrame, id_column, sidecar, csv) -> str:
    if sidecar is not None:
        return sidecar["id_column"]
    id_column = id_column or "patient_id"
    if id_column not in table.columns:
        raise ColumnRoleError(f"{str(csv)!r} has no {id_column!r} column; name the patient-id "
                              f"column with --id-column (columns: {list(table.columns)[:12]}).")
    return id_column


def _outcome(X: pd.DataFrame, bunch, outcome, sidecar):
    """Pop the outcome column; patients without an outcome are dropped with a warning."""
    if outcome is None:
        return X, None
    if outcome in X.columns:
        y = X.pop(outcome)
    elif sidecar is not None and sidecar.get("y") and sidecar["y"]["column"] == outcome:
        y = pd.Series(np.asarray(bunch.y), index=X.index, name=outcome)
    else:
        recorded = (f" (its recorded outcome column is {sidecar['y']['column']!r})"
                    if sidecar is not None and sidecar.get("y") else "")
        raise ColumnRoleError(f"Outcome column {outcome!r} is not in the cohort{recorded}; its "
                              f"columns are {list(X.columns)[:20]}.")
    missing = y.index[y.isna()]
    if len(missing):
        shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        warnings.warn(f"Outcome {outcome!r} is missing for {len(missing)} patient(s) ({shown}); "
                      "they are left out.", DataWarning, stacklevel=3)
        X, y = X.loc[y.notna()], y[y.notna()]
    if y.nunique() < 2:
        raise ColumnRoleError(f"Outcome column {outcome!r} has one class only "
                              f"({y.iloc[0]!r}); a model needs events and non-events.")
    if pd.api.types.is_float_dtype(y) and np.all(y == np.round(y)):
        y = y.astype(int)  # a 0/1 column read with missing values comes back as float
    return X, y


def read_study_cohort(path, *, id_column=None, outcome=None, centre=None, images=False):
    """Read a study cohort: clinical columns, outcome, centres, and images when asked.

    Parameters
    ----------
    path : str or path-like
        A CSV file, or a folder holding ``clinical.csv`` (e.g. written by
        ``mvikit simulate`` / `write_cohort`).
    id_column : str, default=None
        The patient-id column of a plain CSV (default ``"patient_id"``).
    outcome, centre : str, default=None
        The outcome and centre columns.
    images : bool, default=False
        Read image headers too (lazy `Volume` cells); otherwise the image
        columns are left out, so a clinical model runs even when an image is
        missing.

    Returns
    -------
    Bunch
        ``X`` (index = patient ids), ``y``, ``centers`` (None when not named),
        ``image_columns`` (the image/mask path columns of the CSV).

    Raises
    ------
    ColumnRoleError
        Unknown id, outcome or centre column, or an outcome with one class.
    ImageFileNotFoundError, ImageReadError
        With ``images=True``: an image is missing or unreadable (named).

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> from mvikit.study import read_study_cohort
    >>> folder = tempfile.mkdtemp()
    >>> pd.DataFrame({"patient_id": ["P-001", "P-002", "P-003"], "age": [61, 70, 55],
    ...               "mvi": [1, 0, None], "HBP": ["a.nii.gz", "b.nii.gz", "c.nii.gz"]}
    ...              ).to_csv(os.path.join(folder, "study.csv"), index=False)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     cohort = read_study_cohort(os.path.join(folder, "study.csv"), outcome="mvi")
    >>> list(cohort.X.columns), cohort.y.tolist(), cohort.image_columns
    (['age'], [1, 0], ['HBP'])
    >>> print(caught[0].message)
    Outcome 'mvi' is missing for 1 patient(s) ('P-003'); they are left out.
    """
    from ..datasets import load_cohort

    csv, sidecar = _csv_and_sidecar(path)
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    image_columns = _image_columns(table, csv.parent, sidecar)
    if sidecar is not None:
        bunch = load_cohort(csv)
        X = bunch.X.copy()
        centers = bunch.centers if centre is None else X.pop(centre)
    else:
        id_name = _id_column(table, id_column, sidecar, csv)
        if images:
            bunch = load_cohort(csv, id_column=id_name, image_columns=image_columns)
            X = bunch.X.copy()
        else:  # the clinical part only: image paths are never looked at
            X = pd.read_csv(csv).drop(columns=image_columns).set_index(id_name)
            check_cohort_frame(X, what=repr(str(csv)))
            bunch = Bunch(X=X, y=None)
        if centre is not None and centre not in X.columns:
            raise ColumnRoleError(f"Centre column {centre!r} is not in the cohort; its columns "
                                  f"are {list(X.columns)[:20]}.")
        centers = None if centre is None else X.pop(centre)
    if not images:
        X = X.drop(columns=[c for c in image_columns if c in X.columns])
    X, y = _outcome(X, bunch, outcome, sidecar)
    if centers is not None:
        centers = pd.Series(np.asarray(centers), index=bunch.X.index, name="centre").loc[X.index]
    return Bunch(X=X, y=y, centers=centers, image_columns=image_columns, csv=csv)


def _problem(rows, patient, column, kind, message):
    where = f"patient {patient!r}, column {column!r}: "
    detail = message if message.startswith(where) else where + message
    rows.append({"patient": patient, "column": column, "problem": kind, "detail": detail})


def _scan_cell(rows, patient, column, cell, base):
    from ..imaging._volume import as_volume

    if not isinstance(cell, str) or not cell.strip():
        _problem(rows, patient, column, "missing", "no image path in the CSV")
        return None
    path = Path(cell) if Path(cell).is_absolute() else base / cell
    if not path.exists():
        _problem(rows, patient, column, "missing", f"no file or folder {cell!r}")
        return None
    try:
        return as_volume(str(path), patient_id=patient, column=column)
    except MvikitError as exc:
        _problem(rows, patient, column, "unreadable", str(exc))
        return None


def scan_images(path, *, id_column=None, read_masks=True, progress=False) -> pd.DataFrame:
    """Every image problem of a study cohort, one row per patient and column.

    Checks that each image/mask path exists and can be read, that each mask
    is on its image's grid (shape and spacing), and, with ``read_masks``, that
    tumour masks are not empty.

    Parameters
    ----------
    path : str or path-like
        The cohort CSV or folder.
    id_column : str, default=None
        The patient-id column of a plain CSV (default ``"patient_id"``).
    read_masks : bool, default=True
        Read mask voxels to find empty masks.
    progress : bool, default=False
        Show a progress bar over patients (on stderr).

    Returns
    -------
    pandas.DataFrame
        ``patient, column, problem (missing, unreadable, geometry, empty mask),
        detail``; empty when every image is fine.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> from mvikit.study import scan_images
    >>> folder = tempfile.mkdtemp()
    >>> pd.DataFrame({"patient_id": ["P-001"], "HBP": ["missing.nii.gz"]}).to_csv(
    ...     os.path.join(folder, "study.csv"), index=False)
    >>> scan_images(os.path.join(folder, "study.csv"))[["patient", "column", "problem"]]
      patient column  problem
    0   P-001    HBP  missing
    """
    from tqdm.auto import tqdm

    from ..imaging._checks import check_mask_matches, check_mask_nonempty, mask_pairs
    from ..utils._roles import _is_mask_name

    csv, sidecar = _csv_and_sidecar(path)
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    ids = table[_id_column(table, id_column, sidecar, csv)]
    columns = _image_columns(table, csv.parent, sidecar)
    masks = [c for c in columns if _is_mask_name(c)]
    pairs = mask_pairs([c for c in columns if c not in masks], masks)
    rows: list = []
    for i in tqdm(range(len(table)), desc="images", unit="patient", disable=not progress):
        patient = ids.iloc[i]
        cells = {c: _scan_cell(rows, patient, c, table[c].iloc[i], csv.parent) for c in columns}
        for image_column, mask_column in pairs.items():
            image, mask = cells[image_column], cells.get(mask_column)
            if image is None or mask is None:
                continue
            try:
                check_mask_matches(image, mask, patient_id=patient, image_column=image_column,
                                   mask_column=mask_column)
            except MvikitError as exc:
                _problem(rows, patient, mask_column, "geometry", str(exc))
        for column in masks:
            if read_masks and cells[column] is not None and column != "liver_mask":
                try:
                    check_mask_nonempty(cells[column].array, patient_id=patient, column=column)
                except MvikitError as exc:
                    _problem(rows, patient, column, "empty mask", str(exc))
    return pd.DataFrame(rows, columns=["patient", "column", "problem", "detail"])
