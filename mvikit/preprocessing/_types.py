"""Clinical column types as a hospital export writes them.

A lab value exported as text ("12,5", "61 y", "0.8 ng/mL") or a number read as
a string would be one-hot encoded (one dummy per patient); a date column
likewise; and "HBV+" next to "hbv+ " would be two categories, one of them
silently the reference level of an odds ratio.  This module decides, once in
``fit``, how such columns are read, and applies the same reading at
``transform``:

* text whose every cell is a number (decimal comma, a unit written after a
  space, surrounding blanks) becomes numeric, with a `DataWarning` naming the
  column and what was done;
* text that is mostly numbers but has a few other cells ("<5", "n/a") with
  many distinct values is an error naming the patients;
* dates are an error saying how to derive a number from them;
* category spellings that differ only in case or surrounding blanks are merged
  into the most frequent spelling, with a `DataWarning`.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from ..exceptions import CohortError, DataWarning
from ..utils._align import describe_ids

__all__: list[str] = []

# a number (decimal point or comma, optional exponent), then optionally a unit after blanks
_NUMBER = re.compile(
    r"^\s*(?P<number>[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?)"
    r"(?:\s+(?P<unit>[^\d\s][^\d]*?)|(?P<percent>%))?\s*$"
)
_DATE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})"
                   r"([ T]\d{1,2}:\d{2}(:\d{2})?)?\s*$")
# Mostly-numeric text with fewer distinct values may be a real category ("1", "2", "3a").
_MIN_LEVELS_TO_REFUSE = 10


def _is_text_column(series: pd.Series) -> bool:
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype)


def _parse_number(cell):
    """``(value, unit)`` of a numeric-looking text cell, or ``None``."""
    if not isinstance(cell, str):
        return (float(cell), None) if isinstance(cell, (int, float, np.number)) and not \
            isinstance(cell, bool) else None
    match = _NUMBER.match(cell)
    if match is None:
        return None
    number = match["number"]
    if "," in number:  # a decimal comma; "1,234.5" (two separators) matches nothing above
        number = number.replace(",", ".")
    unit = match["unit"] or match["percent"]
    return float(number), (unit.strip().lower() if unit else None)


def _ids(series: pd.Series, mask) -> str:
    return describe_ids(series.index[np.asarray(mask, dtype=bool)], max_named=3)


def check_not_dates(series: pd.Series, column) -> None:
    """A date column is an error saying how to derive a number from it."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(
            series.dtype, pd.PeriodDtype):
        is_date = True
    else:
        present = series.dropna()
        is_date = _is_text_column(series) and len(present) > 0 and all(
            isinstance(v, str) and _DATE.match(v) for v in present)
        is_date = is_date or (len(present) > 0 and all(
            isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat")
            for v in present))
    if is_date:
        raise CohortError(
            f"Clinical column {column!r} holds dates; as a category it would give one dummy per "
            "patient. Derive a number from it (e.g. days since surgery: "
            f"(X[{column!r}] - X['surgery_date']).dt.days) or drop it."
        )


def numeric_reading(series: pd.Series, column):
    """How a text column is read as numbers: ``None`` (it is a category) or a
    description of the conversion; an error when it is mostly but not all numbers."""
    if not _is_text_column(series):
        return None
    present = series.dropna()
    present = present[present.map(lambda v: not (isinstance(v, str) and not v.strip()))]
    if present.empty:
        return None
    parsed = present.map(_parse_number)
    ok = parsed.notna().to_numpy()
    if ok.all():
        units = sorted({u for _, u in parsed if u is not None})
        if len(units) > 1:
            raise CohortError(
                f"Clinical column {column!r} holds numbers in several units {units}; convert "
                "them to one unit before fitting."
            )
        kinds = []
        if any("," in str(v) for v in present):
            kinds.append("decimal commas")
        if units:
            kinds.append(f"the unit {units[0]!r} stripped")
        return "read as numbers" + (f" ({', '.join(kinds)})" if kinds else "")
    if ok.mean() >= 0.8 and present.nunique() >= _MIN_LEVELS_TO_REFUSE:
        bad = ~ok
        raise CohortError(
            f"Clinical column {column!r} is text, mostly numbers, but patient(s) "
            f"{_ids(present, bad)} hold {present[bad].iloc[0]!r} ({int(bad.sum())} in all). "
            "Fix or blank these cells (e.g. '<5' -> 5 or NaN) so the column is numeric, or "
            "convert it to a pandas Categorical if it is a category."
        )
    return None


def to_numbers(series: pd.Series, column) -> pd.Series:
    """Apply the fitted numeric reading (cells that do not parse are an error)."""
    values = np.full(len(series), np.nan)
    bad = np.zeros(len(series), dtype=bool)
    for i, cell in enumerate(series):
        if cell is None or (not isinstance(cell, str) and pd.isna(cell)) or (
                isinstance(cell, str) and not cell.strip()):
            continue
        parsed = _parse_number(cell)
        if parsed is None:
            bad[i] = True
        else:
            values[i] = parsed[0]
    if bad.any():
        raise CohortError(
            f"Clinical column {column!r} was read as numbers in fit but patient(s) "
            f"{_ids(series, bad)} hold {series[bad].iloc[0]!r}. Fix or blank these cells."
        )
    return pd.Series(values, index=series.index, name=series.name)


def _spelling_key(value):
    return value.strip().casefold() if isinstance(value, str) else value


def category_spellings(series: pd.Series) -> tuple[dict, dict]:
    """``(canonical_by_key, merges)`` of the string categories of ``series``.

    Spellings with the same ``strip().casefold()`` key are one category, spelt
    as its most frequent variant (ties: the first sorted), without blanks.
    ``merges`` maps every variant that changes to its canonical spelling.
    """
    present = series.dropna()
    counts = present[present.map(lambda v: isinstance(v, str))].value_counts()
    groups: dict = {}
    for value, count in counts.items():
        groups.setdefault(_spelling_key(value), []).append((-count, value))
    canonical_by_key = {key: min(variants)[1].strip() for key, variants in groups.items()}
    merges = {v: canonical_by_key[key] for key, variants in groups.items()
              for _, v in variants if v != canonical_by_key[key]}
    return canonical_by_key, merges


def apply_spellings(series: pd.Series, canonical_by_key: dict) -> pd.Series:
    """Spell every known category as in fit; unknown values are left as they are."""
    if isinstance(series.dtype, pd.CategoricalDtype) or not canonical_by_key:
        return series
    return series.map(lambda v: canonical_by_key.get(_spelling_key(v), v)
                      if isinstance(v, str) else v)


def warn_merged(series: pd.Series, column, merges: dict) -> None:
    if not merges:
        return
    changed = series.isin(list(merges)).to_numpy()
    pairs = ", ".join(f"{v!r} -> {c!r}" for v, c in list(merges.items())[:5])
    warnings.warn(
        f"Clinical column {column!r}: category spellings that differ only in case or blanks "
        f"were merged ({pairs}) for {int(changed.sum())} patient(s) ({_ids(series, changed)}). "
        "Clean the column to silence this warning.", DataWarning, stacklevel=4)


def warn_converted(series: pd.Series, column, how: str) -> None:
    warnings.warn(
        f"Clinical column {column!r} is text but every value is a number: {how} for "
        f"{int(series.notna().sum())} patient(s). Store it as numbers to silence this "
        "warning.", DataWarning, stacklevel=4)
