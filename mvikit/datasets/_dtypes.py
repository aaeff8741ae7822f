"""Exact CSV round trips of pandas columns: a JSON dtype spec per column.

A CSV keeps text only, so ``write_cohort`` stores each column's dtype (with
categories and their order, or the Python type of object cells) in the cohort
sidecar, and ``load_cohort`` reads every CSV field as text and converts it
back with the spec.  Floats are written with Python's shortest round-trip
``repr``, so they come back bit for bit.  Missing values are empty fields.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..exceptions import CohortError

__all__ = ["dtype_spec", "to_text", "from_text"]

_PYTYPES = {"bool": (bool, np.bool_), "int": (int, np.integer), "float": (float, np.floating),
            "str": (str,)}


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and math.isnan(value))


def _pytype(value) -> str | None:
    # bool before int: a Python bool is an int.
    for name, types in _PYTYPES.items():
        if isinstance(value, types):
            return name
    return None


def dtype_spec(series: pd.Series, *, what: str) -> dict:
    """The JSON-able description of ``series``' dtype."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = pd.Series(dtype.categories)
        return {"dtype": "category", "ordered": bool(dtype.ordered),
                "categories": list(to_text(categories)),
                "categories_spec": dtype_spec(categories, what=what)}
    if dtype != np.dtype(object):
        return {"dtype": str(dtype)}
    kinds = {_pytype(v) for v in series if not _is_missing(v)}
    if None in kinds or len(kinds) > 1:
        raise CohortError(
            f"{what} mixes cell types ({sorted(map(str, kinds))}); a CSV cannot keep them "
            "apart. Convert the column to one type (e.g. .astype(str) or pd.to_numeric)."
        )
    missing = {"None" if v is None else "nan" for v in series if _is_missing(v)}
    return {"dtype": "object", "pytype": kinds.pop() if kinds else "str",
            "missing": missing.pop() if len(missing) == 1 else "nan"}


def _float_text(value) -> str:
    return "" if _is_missing(value) else repr(float(value))


def to_text(series: pd.Series) -> pd.Series:
    """``series`` as CSV text: exact for floats, empty for missing."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return to_text(pd.Series(np.asarray(series.astype(object)), index=series.index,
                                 dtype=object, name=series.name))
    if series.dtype.kind == "f" or str(series.dtype).startswith("Float"):
        return series.map(_float_text).astype(object)
    if series.dtype == object:
        return series.map(lambda v: "" if _is_missing(v) else
                          (repr(float(v)) if _pytype(v) == "float" else str(v)))
    return series.astype(object).map(lambda v: "" if _is_missing(v) else str(v))


def _parse(text: pd.Series, pytype: str, missing):
    parse = {"bool": lambda v: v == "True", "int": int, "float": float, "str": str}[pytype]
    return text.map(lambda v: missing if v == "" else parse(v))


def from_text(text: pd.Series, spec: dict) -> pd.Series:
    """Convert CSV text (``""`` = missing) back with ``spec``."""
    return _from_text(text, spec).rename(text.name)


def _from_text(text: pd.Series, spec: dict) -> pd.Series:
    dtype = spec["dtype"]
    if dtype == "category":
        categories = from_text(pd.Series(spec["categories"], dtype=object),
                               spec["categories_spec"])
        # Values were written with the categories' own text form: look them up.
        lookup = dict(zip(spec["categories"], categories))
        unknown = sorted({v for v in text if v != "" and v not in lookup})
        if unknown:
            raise CohortError(
                f"Column {text.name!r} holds values {unknown[:5]} that are not among its "
                f"categories {spec['categories']}. Fix the CSV or the cohort sidecar."
            )
        values = [lookup[v] if v != "" else np.nan for v in text]
        return pd.Series(pd.Categorical(values, categories=categories, ordered=spec["ordered"]),
                         index=text.index)
    if dtype == "object":
        missing = None if spec.get("missing") == "None" else np.nan
        return _parse(text, spec["pytype"], missing).astype(object)
    if dtype == "bool":
        return text.map({"True": True, "False": False}).astype(bool)
    if dtype.startswith(("float", "Float")):
        values = text.map(lambda v: np.nan if v == "" else float(v))
        return values.astype(dtype) if dtype.startswith("float") else \
            pd.Series(pd.array([pd.NA if v == "" else float(v) for v in text], dtype=dtype),
                      index=text.index)
    if dtype.startswith(("datetime", "timedelta")):
        converter = pd.to_datetime if dtype.startswith("datetime") else pd.to_timedelta
        return pd.Series(converter(text.replace("", None)), index=text.index).astype(dtype)
    if dtype == "boolean":
        return pd.Series(pd.array([pd.NA if v == "" else v == "True" for v in text],
                                  dtype="boolean"), index=text.index)
    if dtype in ("string", "str") or dtype.startswith("string"):
        return pd.Series(pd.array([pd.NA if v == "" else v for v in text], dtype=dtype),
                         index=text.index)
    if dtype.startswith(("Int", "UInt")):
        return pd.Series(pd.array([pd.NA if v == "" else int(v) for v in text], dtype=dtype),
                         index=text.index)
    return text.astype(dtype)


# ---------------------------------------------------------------- tagged JSON
# Bunch fields that are not per-patient columns (centre tables, parameters,
# thresholds) go into the sidecar as JSON with type tags, so tuples, numpy
# scalars/arrays and small frames come back as they were.
_TAG = "__mvikit__"


def _encode_frame(frame: pd.DataFrame) -> dict:
    return {_TAG: "frame", "columns": [encode(c) for c in frame.columns],
            "index": encode(list(frame.index)), "index_name": encode(frame.index.name),
            "data": [encode(list(frame[c])) for c in frame.columns],
            "dtypes": [str(frame[c].dtype) for c in frame.columns]}


def encode(value):
    """``value`` as JSON-able data with type tags; raises TypeError when impossible."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if isinstance(value, np.generic):
        return {_TAG: "np", "dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "items": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {_TAG: "dict", "items": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.dtype.names is None and value.dtype != object:
        return {_TAG: "ndarray", "dtype": value.dtype.str, "shape": list(value.shape),
                "data": value.ravel().tolist()}
    if isinstance(value, pd.DataFrame):
        return _encode_frame(value)
    if isinstance(value, pd.Series):
        return {_TAG: "series", "frame": _encode_frame(value.to_frame(name="v")),
                "name": encode(value.name)}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _decode_frame(data: dict) -> pd.DataFrame:
    index = pd.Index(decode(data["index"]), name=decode(data["index_name"]))
    frame = pd.DataFrame({i: pd.Series(decode(values), index=index, dtype=object)
                          for i, values in enumerate(data["data"])}, index=index)
    for i, dtype in enumerate(data["dtypes"]):
        if dtype != "object":
            frame[i] = frame[i].astype(dtype)
    frame.columns = [decode(c) for c in data["columns"]]
    return frame


def decode(data):
    """Inverse of `encode`."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict) or _TAG not in data:
        return data
    kind = data[_TAG]
    if kind == "np":
        return np.dtype(data["dtype"]).type(data["value"])
    if kind == "tuple":
        return tuple(decode(v) for v in data["items"])
    if kind == "dict":
        return {decode(k): decode(v) for k, v in data["items"]}
    if kind == "ndarray":
        return np.asarray(data["data"], dtype=np.dtype(data["dtype"])).reshape(data["shape"])
    if kind == "frame":
        return _decode_frame(data)
    return _decode_frame(data["frame"])["v"].rename(decode(data["name"]))
