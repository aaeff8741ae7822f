"""Writing a cohort to disk and reading it back: `write_cohort`, `load_cohort`.

On-disk layout of a cohort folder::

    clinical.csv    one row per patient: id, clinical columns, outcome columns
                    (y, survival fields, centre) and image path columns
                    (relative to the folder)
    images/         <patient>_<column>.nii.gz, with true spacing/origin/direction
    cohort.json     the sidecar: column dtypes, which columns are outcomes,
                    exact float64 geometry, the Bunch's other fields
    <key>.csv       other frames of the Bunch (e.g. the simulator's truth)

The sidecar makes the round trip exact; without one (a study's own CSV)
`load_cohort` infers dtypes like ``pandas.read_csv`` and the outcome columns
are named with ``target=``, ``survival=``, ``centers=``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..exceptions import (
    CohortError,
    ColumnRoleError,
    DataWarning,
    ImageFileNotFoundError,
    ImageReadError,
    OutputExistsError,
    PatientIdError,
    VolumeError,
)
from ..imaging._volume import IMAGE_SUFFIXES, Volume, as_volume
from ..utils._align import describe_ids
from ..utils._roles import _is_missing, check_cohort_frame, resolve_columns
from ._dtypes import decode, dtype_spec, encode, from_text, to_text

__all__ = ["write_cohort", "load_cohort"]

SIDECAR = "cohort.json"
CSV_NAME = "clinical.csv"
_FORMAT = 1
_OUTCOMES = ("X", "y", "survival", "centers")


# ------------------------------------------------------------------ writing
def _split_cohort(cohort):
    if isinstance(cohort, pd.DataFrame):
        return cohort, {}
    if isinstance(cohort, Mapping) and "X" in cohort:
        return cohort["X"], {k: v for k, v in cohort.items() if k != "X"}
    raise CohortError(
        f"write_cohort needs a cohort frame or a Bunch with an `X` frame (as returned by "
        f"make_hcc_cohort); got {type(cohort).__name__}."
    )


def _free_name(name: str, taken: set) -> str:
    candidate, k = name, 1
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    taken.add(candidate)
    return candidate


def _safe(text) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "x"


def _check_length(name: str, values, n: int) -> None:
    if len(values) != n:
        raise CohortError(f"`{name}` has {len(values)} entries but X has {n} patients.")


def _vector(name: str, values, X: pd.DataFrame, taken: set, csv: dict) -> dict:
    """Put a per-patient vector (y, centers) into the CSV; return its sidecar entry."""
    _check_length(name, values, len(X))
    if isinstance(values, pd.Series):
        if not values.index.equals(X.index):
            raise CohortError(f"`{name}`'s index differs from X's index (patient ids).")
        series, container = values, "series"
        series_name = values.name if values.name is None or isinstance(values.name, str) \
            else str(values.name)
    else:
        series, container, series_name = pd.Series(np.asarray(values), index=X.index), \
            "ndarray", None
    column = _free_name(series_name or name.rstrip("s"), taken)
    spec = dtype_spec(series, what=f"`{name}`")
    csv[column] = to_text(series).to_numpy()
    return {"column": column, "spec": spec, "container": container, "name": series_name}


def _survival(values, X: pd.DataFrame, taken: set, csv: dict) -> dict:
    values = np.asarray(values)
    _check_length("survival", values, len(X))
    if values.dtype.names is None:
        raise CohortError(
            "`survival` must be a structured array (event, time), as made by "
            "sksurv.util.Surv.from_arrays."
        )
    fields = []
    for field in values.dtype.names:
        column = _free_name(field, taken)
        series = pd.Series(values[field], index=X.index)
        csv[column] = to_text(series).to_numpy()
        fields.append({"field": field, "column": column,
                       "dtype": values.dtype[field].str})
    return {"fields": fields}


def _write_images(X: pd.DataFrame, image_columns, folder: Path, csv: dict,
                  compression_level: int) -> dict:
    import SimpleITK as sitk

    (folder / "images").mkdir()
    used: set = set()
    geometry = {}
    for column in image_columns:
        paths, geoms = [], []
        for patient_id, cell in X[column].items():
            if _is_missing(cell):
                paths.append("")
                geoms.append(None)
                continue
            volume = as_volume(cell, patient_id=patient_id, column=column)
            name = _free_name(f"{_safe(patient_id)}_{_safe(column)}", used)
            relative = f"images/{name}.nii.gz"
            sitk.WriteImage(volume.to_sitk(), str(folder / relative), True, compression_level)
            paths.append(relative)
            geoms.append([list(volume.spacing), list(volume.origin), list(volume.direction)])
        csv[column] = paths
        geometry[column] = geoms
    return geometry


def _write_frame_csv(frame: pd.DataFrame, path: Path, what: str) -> dict:
    """Write a frame (index = patient id) as CSV text; return its dtype specs."""
    index = frame.index.to_series()
    text = {"__index__": to_text(index).to_numpy()}
    specs = {}
    for column in frame.columns:
        specs[column] = dtype_spec(frame[column], what=f"{what} column {column!r}")
        text[column] = to_text(frame[column]).to_numpy()
    pd.DataFrame(text).to_csv(path, index=False)
    return {"index": dtype_spec(index, what=f"{what} index"), "index_name": frame.index.name,
            "columns": specs}


def _check_names(X: pd.DataFrame) -> None:
    bad = [c for c in X.columns if not isinstance(c, str)]
    if bad:
        raise ColumnRoleError(
            f"Column names must be strings to be written to CSV; got {bad[:5]}. Rename them "
            "(X.columns = X.columns.astype(str))."
        )


def _extras(meta: dict, X: pd.DataFrame, folder: Path, sidecar: dict) -> None:
    for key, value in meta.items():
        if key in _OUTCOMES or key == "missing_images":  # load_cohort's report, not data
            continue
        if isinstance(value, pd.DataFrame) and value.index.equals(X.index):
            # per-patient tables (the simulator's truth, outcomes) stay readable CSVs
            try:
                _check_names(value)
                info = _write_frame_csv(value, folder / f"{_safe(key)}.csv", key)
            except CohortError:
                pass
            else:
                sidecar["frames"][key] = {**info, "file": f"{_safe(key)}.csv"}
                continue
        try:
            sidecar["extra"][key] = encode(value)
        except TypeError:
            warnings.warn(
                f"write_cohort: the Bunch's field {key!r} ({type(value).__name__}) cannot be "
                "stored in JSON and is not written.", DataWarning, stacklevel=3)


def _fill_folder(X: pd.DataFrame, meta: dict, folder: Path, compression_level: int) -> None:
    roles = resolve_columns(X)
    image_columns = [*roles.volumes, *roles.masks]
    id_name = X.index.name if isinstance(X.index.name, str) else "patient_id"
    taken = set(map(str, X.columns))
    id_column = _free_name(id_name, taken)
    index = X.index.to_series()
    csv = {id_column: to_text(index).to_numpy()}
    specs = {}
    for column in X.columns:
        if column in image_columns:
            continue
        specs[column] = dtype_spec(X[column], what=f"Clinical column {column!r}")
        csv[column] = to_text(X[column]).to_numpy()
    sidecar = {
        "mvikit_cohort_format": _FORMAT, "csv": CSV_NAME, "id_column": id_column,
        "index": dtype_spec(index, what="The patient-id index"), "index_name": X.index.name,
        "x_columns": list(X.columns), "columns": specs, "image_columns": image_columns,
        "y": None, "survival": None, "centers": None, "frames": {}, "extra": {},
    }
    for key in ("y", "centers"):
        if meta.get(key) is not None:
            sidecar[key] = _vector(key, meta[key], X, taken, csv)
    if meta.get("survival") is not None:
        sidecar["survival"] = _survival(meta["survival"], X, taken, csv)
    sidecar["geometry"] = _write_images(X, image_columns, folder, csv, compression_level)
    _extras(meta, X, folder, sidecar)
    order = [id_column, *[c for c in X.columns if c not in image_columns],
             *[c for c in csv if c not in X.columns and c != id_column], *image_columns]
    pd.DataFrame(csv)[order].to_csv(folder / CSV_NAME, index=False)
    (folder / SIDECAR).write_text(json.dumps(sidecar, indent=1))


def write_cohort(cohort, directory, *, overwrite=False, compression_level=1) -> Path:
    """Write a cohort to a folder: ``clinical.csv`` + NIfTI images and masks.

    Everything is written into a temporary folder next to ``directory`` and
    renamed into place at the end, so an error (or a crash) never leaves a
    partial cohort behind, and an existing cohort is replaced only as a whole.
    A hidden temporary folder left by a write that was killed (SIGTERM) is
    removed by the next write of the same ``directory``.  Files and folders
    get the modes the process umask gives new files.

    Parameters
    ----------
    cohort : pandas.DataFrame or Bunch
        A cohort frame, or a Bunch with ``X`` and optionally ``y``,
        ``survival`` (structured array), ``centers``, other frames (e.g.
        ``truth``) and JSON-able fields (e.g. ``description``), as returned by
        `make_hcc_cohort` or `load_cohort`.
    directory : str or path-like
        The cohort folder to create.
    overwrite : bool, default=False
        Replace ``directory`` if it exists (otherwise `OutputExistsError`).
    compression_level : int, default=1
        gzip level of the ``.nii.gz`` files (1 = fast, 9 = small).

    Returns
    -------
    pathlib.Path
        ``directory``, ready for `load_cohort`.

    See Also
    --------
    load_cohort : read it back (exactly).

    Notes
    -----
    ``clinical.csv`` holds the id column (the index name, or ``patient_id``),
    the clinical columns, the outcome columns (``y`` under its Series name or
    ``"y"``, each survival field under its name, ``centers`` as ``"center"``;
    ``_1`` is appended on a name clash) and one path column per image/mask
    column (``images/<patient>_<column>.nii.gz``).  ``cohort.json`` records
    dtypes and the float64 geometry (NIfTI headers are float32).  A Bunch field
    that is neither a frame nor JSON-able is not written (`DataWarning`).

    Examples
    --------
    >>> import numpy as np, pandas as pd, tempfile, os
    >>> from mvikit import Volume
    >>> from mvikit.datasets import load_cohort, write_cohort
    >>> X = pd.DataFrame({"age": [61, 72], "HBV": [True, False],
    ...                   "HBP": [Volume(np.ones((2, 3, 3)), spacing=(3, .8, .8))] * 2},
    ...                  index=pd.Index(["p1", "p2"], name="patient_id"))
    >>> folder = write_cohort(X, os.path.join(tempfile.mkdtemp(), "study"))
    >>> back = load_cohort(folder)
    >>> back.X[["age", "HBV"]].equals(X[["age", "HBV"]]), back.X.loc["p2", "HBP"].spacing
    (True, (3.0, 0.8, 0.8))
    """
    X, meta = _split_cohort(cohort)
    check_cohort_frame(X)
    _check_names(X)
    target = Path(os.fspath(directory)).absolute()
    if target.exists() and not overwrite:
        raise OutputExistsError(
            f"{str(target)!r} already exists. Choose another folder, or pass overwrite=True "
            "to replace it."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _fill_folder(X, meta, tmp, compression_level)
        _replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _remove_stale(target: Path) -> None:
    """Hidden folders of an earlier write of ``target`` that was killed (SIGTERM, power
    loss) before it could clean up: ``.<name>.tmp-*`` and ``.<name>.old-*``."""
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):
        for stale in target.parent.glob(pattern):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


def _replace(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.replace(tmp, target)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


# ------------------------------------------------------------------ reading
def _locate(path) -> tuple[Path, dict | None]:
    path = Path(os.fspath(path))
    if path.is_dir():
        csv = path / CSV_NAME
        if not csv.exists():
            raise CohortError(
                f"Folder {str(path)!r} has no {CSV_NAME!r}. Pass the CSV file itself, or a "
                "folder written by write_cohort."
            )
    elif path.exists():
        csv = path
    else:
        raise FileNotFoundError(f"No cohort at {str(path)!r} (neither a folder nor a CSV file).")
    sidecar_path = csv.parent / SIDECAR
    sidecar = None
    if sidecar_path.exists():
        sidecar = json.loads(sidecar_path.read_text())
        if sidecar.get("csv") != csv.name:
            sidecar = None  # the sidecar describes another CSV of the folder
    return csv, sidecar


def _looks_like_image_column(values: pd.Series, base: Path) -> bool:
    present = [v for v in values if isinstance(v, str) and v != ""]
    return bool(present) and all(
        v.lower().endswith(IMAGE_SUFFIXES) or (base / v).is_dir() for v in present)


def _volume_cell(patient_id, cell, column, base: Path, geom):
    if geom is None:
        return as_volume(str(cell), patient_id=patient_id, column=column, base_dir=base)
    path = Path(str(cell))
    path = path if path.is_absolute() else base / path
    if not path.exists():  # as_volume's message names the patient and column
        as_volume(str(path), patient_id=patient_id, column=column)
    spacing, origin, direction = geom
    try:
        return Volume(path=path, spacing=spacing, origin=origin, direction=direction)
    except (ImageReadError, VolumeError) as exc:
        raise type(exc)(f"patient {patient_id!r}, column {column!r}: {exc}") from None


def _volume_column(X: pd.DataFrame, column, base: Path, problems: list,
                   geometry=None) -> pd.Series:
    """The column's cells as lazy volumes; unreadable cells become NaN and are
    recorded in ``problems`` (patient, column, path, error) for one report."""
    cells = []
    for i, (patient_id, cell) in enumerate(X[column].items()):
        if _is_missing(cell) or cell == "":
            cells.append(np.nan)
            continue
        geom = geometry[i] if geometry is not None else None
        try:
            cells.append(_volume_cell(patient_id, cell, column, base, geom))
        except (ImageFileNotFoundError, ImageReadError, VolumeError) as exc:
            problems.append((patient_id, column, str(cell), exc))
            cells.append(np.nan)
    return pd.Series(cells, index=X.index, dtype=object, name=column)


def _report_images(problems: list, on_missing: str, csv: Path) -> pd.DataFrame:
    """Every missing or unreadable image in one error (or one warning with "keep")."""
    table = pd.DataFrame(
        [(pid, column, path, type(exc).__name__, str(exc)) for pid, column, path, exc in problems],
        columns=["patient_id", "column", "path", "error", "message"])
    if not problems:
        return table
    lines = "\n  ".join(str(exc) for *_, exc in problems[:10])
    more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
    patients = table["patient_id"].unique()
    summary = (f"{len(problems)} image(s) of {len(patients)} patient(s) in {str(csv)!r} are "
               f"missing or unreadable:\n  {lines}{more}")
    if on_missing == "keep":
        warnings.warn(f"load_cohort: {summary}\nThey are kept as missing volumes (NaN); the "
                      "list is the Bunch's `missing_images`.", DataWarning, stacklevel=4)
        return table
    kinds = {type(exc) for *_, exc in problems}
    error = ImageFileNotFoundError if kinds == {ImageFileNotFoundError} else ImageReadError
    raise error(f"{summary}\nRestore or fix the files, or pass on_missing='keep' to keep these "
                "patients with missing volumes.")


def _read_text(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[])


def _frame_from_text(text: pd.DataFrame, info: dict, id_column) -> pd.DataFrame:
    index = pd.Index(from_text(text[id_column].astype(object), info["index"]),
                     name=info["index_name"])
    # `.array` keeps extension dtypes (categories, Int64, boolean, string).
    return pd.DataFrame({c: pd.Series(from_text(text[c].astype(object), spec).array, index=index)
                         for c, spec in info["columns"].items()}, index=index)


def _vector_back(entry: dict, text: pd.DataFrame, index: pd.Index):
    values = from_text(text[entry["column"]].astype(object), entry["spec"])
    if entry["container"] == "series":
        return pd.Series(values.array, index=index, name=entry["name"])
    return values.to_numpy()


def _load_with_sidecar(csv: Path, sidecar: dict, options: dict) -> Bunch:
    given = [k for k, v in options.items() if v is not None and k != "on_missing"]
    if given:
        raise ValueError(
            f"{str(csv)!r} was written by write_cohort; its outcome columns are recorded in "
            f"{SIDECAR!r}, so {given} must not be given. Delete the sidecar to read the CSV as "
            "a plain table."
        )
    text = _read_text(csv)
    X = _frame_from_text(text, sidecar, sidecar["id_column"])
    check_cohort_frame(X, what=f"{str(csv)!r}")
    problems: list = []
    for column in sidecar["image_columns"]:
        X[column] = _volume_column(text.set_index(X.index), column, csv.parent, problems,
                                   sidecar["geometry"][column])
    X = X[sidecar["x_columns"]]
    bunch = Bunch(X=X, y=None, survival=None, centers=None,
                  missing_images=_report_images(problems, options["on_missing"], csv))
    for key in ("y", "centers"):
        if sidecar[key] is not None:
            bunch[key] = _vector_back(sidecar[key], text, X.index)
    if sidecar["survival"] is not None:
        fields = sidecar["survival"]["fields"]
        survival = np.empty(len(X), dtype=[(f["field"], np.dtype(f["dtype"])) for f in fields])
        for f in fields:
            survival[f["field"]] = from_text(text[f["column"]].astype(object),
                                             {"dtype": np.dtype(f["dtype"]).name}).to_numpy()
        bunch.survival = survival
    for key, info in sidecar["frames"].items():
        frame_text = _read_text(csv.parent / info["file"])
        bunch[key] = _frame_from_text(frame_text, info, "__index__")
    bunch.update({key: decode(value) for key, value in sidecar["extra"].items()})
    return bunch


def _read_study_csv(csv: Path, id_column) -> pd.DataFrame:
    """A study's CSV with the id column read as text, exactly as written ("007" stays "007")."""
    try:
        header = pd.read_csv(csv, nrows=0)
        id_column = "patient_id" if id_column is None else id_column
        dtype = {id_column: str} if id_column in header.columns else None
        return pd.read_csv(csv, dtype=dtype)
    except pd.errors.EmptyDataError as exc:
        raise CohortError(f"{str(csv)!r} is empty (no header row); a cohort CSV needs a header "
                          "and one row per patient.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CohortError(f"{str(csv)!r} is not a readable CSV table ({exc}); save it as "
                          "comma-separated UTF-8 text with one row per patient.") from exc


def _check_id_cells(ids: pd.Series, csv: Path) -> None:
    """Missing ids are an error naming the CSV line (header = line 1)."""
    missing = ids.isna() | ids.astype(str).str.strip().eq("")
    if missing.any():
        lines = (np.flatnonzero(missing.to_numpy()) + 2).tolist()
        raise PatientIdError(
            f"{str(csv)!r}: the patient id ({ids.name!r}) is missing on line(s) "
            f"{describe_ids(lines).replace(chr(39), '')} ({len(lines)} in all). Every patient "
            "needs an id; fill it in or delete the line."
        )


def _load_plain(csv: Path, id_column, image_columns, options: dict) -> Bunch:
    table = _read_study_csv(csv, id_column)
    if id_column is None:
        if "patient_id" not in table.columns:
            raise ColumnRoleError(
                f"{str(csv)!r} has no 'patient_id' column; name the patient-id column with "
                f"id_column= (columns: {list(table.columns)[:10]})."
            )
        id_column = "patient_id"
    wanted = [id_column, options["target"], options["centers"],
              *(options["survival"] or ())]
    missing = [c for c in wanted if c is not None and c not in table.columns]
    if missing:
        raise ColumnRoleError(f"Column(s) {missing} not in {str(csv)!r}; it has "
                              f"{list(table.columns)[:20]}.")
    _check_id_cells(table[id_column], csv)
    X = table.set_index(id_column)
    check_cohort_frame(X, what=f"{str(csv)!r}")
    bunch = Bunch(y=None, survival=None, centers=None)
    if options["target"] is not None:
        bunch.y = X.pop(options["target"])
    if options["centers"] is not None:
        bunch.centers = X.pop(options["centers"])
    if options["survival"] is not None:
        from sksurv.util import Surv

        event, time = options["survival"]
        bunch.survival = Surv.from_dataframe(event, time, X)
        X = X.drop(columns=[event, time])
    if isinstance(image_columns, str) and image_columns == "auto":
        image_columns = [c for c in X.columns if X[c].dtype == object
                         and _looks_like_image_column(X[c], csv.parent)]
    elif image_columns is None:
        image_columns = []
    problems: list = []
    for column in ([image_columns] if isinstance(image_columns, str) else image_columns):
        if column not in X.columns:
            raise ColumnRoleError(f"Image column {column!r} not in {str(csv)!r}.")
        X[column] = _volume_column(X, column, csv.parent, problems)
    bunch.missing_images = _report_images(problems, options["on_missing"], csv)
    bunch.X = X
    return bunch


def load_cohort(path, *, id_column=None, image_columns="auto", target=None, survival=None,
                centers=None, on_missing="raise", return_X_y=False):
    """Read a cohort folder (or a study's CSV) into a cohort frame with lazy volumes.

    Parameters
    ----------
    path : str or path-like
        A folder written by `write_cohort` (or holding ``clinical.csv``), or a
        CSV file with one row per patient.  Image paths in the CSV are relative
        to the CSV's folder; a folder path is read as a DICOM series.
    id_column : str, default=None
        The patient-id column of a plain CSV (default ``"patient_id"``).  Ids
        are read as text, exactly as written (``"007"`` stays ``"007"``); a
        line without an id is an error naming the line.
    image_columns : "auto", list of str or None, default="auto"
        Columns of image/mask paths in a plain CSV.  ``"auto"``: text columns
        whose every non-empty value ends in an image suffix (``.nii.gz``,
        ``.nrrd``, ``.mha`` ...) or names a folder.
    target, centers : str, default=None
        For a plain CSV: the label column (becomes ``y``) and the centre column.
    survival : tuple of (str, str), default=None
        For a plain CSV: the ``(event, time)`` columns, turned into the
        scikit-survival structured array.
    on_missing : {"raise", "keep"}, default="raise"
        What to do with image cells whose file is missing or unreadable.
        Every such cell is found in one pass; ``"raise"`` reports them all in
        one error, ``"keep"`` keeps their patients with the volume missing
        (NaN), with one `DataWarning`, and lists them in ``missing_images``.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of the Bunch.

    Returns
    -------
    Bunch
        ``X`` (index = patient ids; image/mask cells are lazy `Volume`
        objects: a header is read now, voxels when used), ``y``, ``survival``,
        ``centers`` (None when not written/named), ``missing_images`` (one
        row per missing or unreadable image kept with ``on_missing="keep"``:
        patient, column, path, error, message), and for a `write_cohort`
        folder every other field it wrote (``truth``, ``description``, ...).

    Raises
    ------
    ImageFileNotFoundError, ImageReadError
        Images are missing or unreadable (every one is listed, with its
        patient and column), unless ``on_missing="keep"``.
    CohortError
        Duplicate patient ids, or a malformed folder.

    See Also
    --------
    write_cohort

    Examples
    --------
    >>> import numpy as np, pandas as pd, tempfile, os
    >>> from mvikit.imaging import write_image
    >>> from mvikit import Volume
    >>> from mvikit.datasets import load_cohort
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_image(Volume(np.zeros((2, 4, 4)), spacing=(5, 1, 1)),
    ...                 os.path.join(folder, "a.nii.gz"))
    >>> pd.DataFrame({"pid": ["a"], "mvi": [1], "T2": ["a.nii.gz"]}).to_csv(
    ...     os.path.join(folder, "study.csv"), index=False)
    >>> X, y = load_cohort(os.path.join(folder, "study.csv"), id_column="pid",
    ...                    target="mvi", return_X_y=True)
    >>> X.loc["a", "T2"].spacing, int(y["a"])
    ((5.0, 1.0, 1.0), 1)
    """
    if on_missing not in ("raise", "keep"):
        raise ValueError(f"on_missing must be 'raise' or 'keep'; got {on_missing!r}.")
    csv, sidecar = _locate(path)
    options = {"target": target, "survival": survival, "centers": centers,
               "on_missing": on_missing}
    if sidecar is not None:
        bunch = _load_with_sidecar(csv, sidecar, options)
    else:
        bunch = _load_plain(csv, id_column, image_columns, options)
    roles = resolve_columns(bunch.X)
    # Column lists written with the Bunch are kept as written; otherwise derived.
    bunch.setdefault("clinical_columns", roles.clinical)
    bunch.setdefault("volume_columns", roles.volumes)
    bunch.setdefault("mask_columns", roles.masks)
    if return_X_y:
        return bunch.X, bunch.y
    return bunch
