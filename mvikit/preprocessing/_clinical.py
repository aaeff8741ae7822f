"""`ClinicalPreprocessor`: the clinical columns of a cohort frame -> a numeric design matrix.

Steps, each fitted on the training rows only (so the transformer is fold-safe
inside ``cross_val_score``):

1. select the clinical columns (volume and mask columns are dropped);
2. impute: median for numeric columns, most frequent value for booleans and
   categories (optionally adding missing-value indicators);
3. log-transform skewed, strictly positive numeric columns (natural log);
4. standardise numeric columns;
5. encode booleans as 0/1 and categories one-hot (or as ordinal codes).

Every output feature is described by one row of ``feature_map_`` (source
column, kind, category, log, imputed value, centre, scale), so a model fitted
on the output can be mapped back to the clinician's original units
(`mvikit.clinical.Nomogram` relies on it).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from ..exceptions import CohortError, ColumnRoleError, DataWarning
from ..utils._data import check_features
from ..utils._roles import check_cohort_frame, resolve_columns
from ..utils._validation import Interval, Real, StrOptions, fit_context
from ._types import (
    apply_spellings,
    category_spellings,
    check_not_dates,
    numeric_reading,
    to_numbers,
    warn_converted,
    warn_merged,
)

__all__ = ["ClinicalPreprocessor"]

FEATURE_MAP_COLUMNS = ["feature", "column", "kind", "category", "log", "fill", "center",
                       "scale"]


def _first_ids(index, mask, n=3) -> str:
    return ", ".join(repr(i) for i in index[np.asarray(mask)][:n])


def _is_bool_like(series: pd.Series) -> bool:
    """Bool dtype, pandas ``boolean``, or object cells that are all True/False."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return True
    if series.dtype == object:
        present = series.dropna()
        return len(present) > 0 and all(isinstance(v, (bool, np.bool_)) for v in present)
    return False


def _column_kind(series: pd.Series) -> str:
    if _is_bool_like(series):
        return "binary"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    return "categorical"


def _as_float(series: pd.Series, column) -> np.ndarray:
    """Numeric cells as float64 (missing -> NaN); a clear error for text cells."""
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        raise CohortError(
            f"Column {column!r} was numeric during fit but holds non-numeric values for "
            f"patient(s) {_first_ids(series.index, bad)} (e.g. {series[bad].iloc[0]!r}). "
            "Fix or blank these cells."
        )
    values = converted.to_numpy(dtype=float, na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        raise CohortError(
            f"Column {column!r} has infinite values for patient(s) "
            f"{_first_ids(series.index, infinite)} ({int(infinite.sum())} in all); usually a "
            "division by zero or a log of 0 upstream. Fix them, or blank them to be imputed."
        )
    return values


def _check_scalable(values: np.ndarray, columns, index) -> None:
    """A value so large that the column's variance overflows (1e308) would make the
    whole scaled column NaN for every patient: name it instead."""
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.nanstd(values, axis=0)
        mean = np.nanmean(values, axis=0)
    for j in np.flatnonzero(~(np.isfinite(spread) & np.isfinite(mean))):
        column = values[:, j]
        huge = np.abs(column) >= np.nanmax(np.abs(column)) / 1e3
        raise CohortError(
            f"Column {columns[j]!r} holds values too large to scale (e.g. "
            f"{column[huge][0]:.6g} for patient(s) {_first_ids(index, huge)}): its variance "
            "overflows and every patient's value would become NaN. Check the units or a typo "
            "in these cells, or log-transform the column."
        )


def _as_binary(series: pd.Series, column) -> np.ndarray:
    present = series.notna()
    values = series[present]
    ok = values.map(lambda v: isinstance(v, (bool, np.bool_)) or v in (0, 1))
    if not ok.all():
        bad = present.copy()
        bad[present] = ~ok.to_numpy(dtype=bool)
        raise CohortError(
            f"Column {column!r} was boolean during fit but holds other values for patient(s) "
            f"{_first_ids(series.index, bad)} (e.g. {series[bad].iloc[0]!r}). Use True/False."
        )
    out = np.full(len(series), np.nan)
    out[present.to_numpy()] = values.astype(float).to_numpy()
    return out


def _as_object(series: pd.Series) -> np.ndarray:
    values = series.astype(object).to_numpy(copy=True)
    values[pd.isna(series).to_numpy()] = np.nan
    return values


class ClinicalPreprocessor(TransformerMixin, BaseEstimator):
    """Impute, log-transform, scale and encode the clinical columns of a cohort frame.

    Volume and mask columns are ignored (left out of the output); plain
    numeric DataFrames and arrays are accepted too (every column numeric).

    Parameters
    ----------
    clinical : "auto" or list of str, default="auto"
        The clinical columns. ``"auto"`` takes every column that does not hold
        images (`mvikit.utils.resolve_columns`).
    add_indicator : bool, default=False
        Append one 0/1 column ``"<column>_missing"`` per clinical column that
        had missing values during fit (a column complete in fit but with
        gaps later is imputed, without an indicator).
    log_transform : None, "auto" or list of str, default=None
        Numeric columns to replace by their natural logarithm (after
        imputation, before scaling). ``"auto"`` picks, in ``fit``, the numeric
        columns whose observed values are all strictly positive and whose
        sample skewness exceeds ``skew_threshold``. A listed column must be
        strictly positive.
    skew_threshold : float, default=1.0
        Skewness (adjusted Fisher-Pearson, as ``pandas.Series.skew``) above
        which ``log_transform="auto"`` logs a column.
    scale : bool, default=True
        Standardise numeric columns (zero mean, unit variance, as
        `sklearn.preprocessing.StandardScaler`). Booleans, one-hot columns,
        ordinal codes and indicators stay 0/1 or integer codes.
    encode : {"onehot", "ordinal"}, default="onehot"
        Categorical columns (strings, objects, pandas categoricals): one 0/1
        column per category (named ``"<column>=<category>"``, the
        `sklearn.feature_extraction.DictVectorizer` convention, so later steps
        can group the dummies of one variable), or one column of integer codes (ordered pandas
        categoricals in their own order, other columns in sorted order).
    drop : {"first", "if_binary"} or None, default="first"
        Passed to `sklearn.preprocessing.OneHotEncoder`. ``"first"`` leaves out
        the first category (the reference level, as R's treatment contrasts),
        so an unpenalised logistic model with an intercept stays identifiable.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns of ``X`` seen in fit (volume columns included).
    feature_names_in_ : ndarray of str
        Column names of ``X`` (only when ``X`` is a DataFrame with string names).
    clinical_columns_ : list
        The clinical columns used, in frame order.
    text_numeric_columns_ : dict
        Text columns whose every cell is a number (``"12,5"``, ``"61 y"``),
        read as numbers (with a `DataWarning`), and how.
    category_spellings_ : dict
        Per categorical column whose spellings differ only in case or blanks
        (merged with a `DataWarning`): the canonical spelling of each
        ``strip().casefold()`` key, applied again at transform.
    numeric_columns_, binary_columns_, categorical_columns_ : list
        The clinical columns by kind.
    log_columns_ : list
        Numeric columns that are log-transformed.
    statistics_ : dict
        Imputed value per clinical column, in original units.
    categories_ : dict
        Categories per categorical column (in code order).
    data_range_ : dict
        ``(min, max)`` of the observed values of each numeric column in fit
        (original units; the nomogram's axis range).
    skewness_ : dict
        Skewness of each numeric column in fit (before any log).
    scaler_ : StandardScaler or None
        Fitted on the (imputed, logged) numeric columns.
    encoder_ : OneHotEncoder, OrdinalEncoder or None
        Fitted on the imputed categorical columns.
    indicator_ : MissingIndicator or None
        Fitted when ``add_indicator=True``.
    feature_map_ : pandas.DataFrame
        One row per output feature: ``feature`` (name), ``column`` (source
        column), ``kind`` ("numeric", "binary", "onehot", "ordinal",
        "indicator"), ``category`` (the category of a one-hot column),
        ``log`` (bool), ``fill`` (value imputed for a missing cell, original
        units), ``center`` and ``scale``: a numeric output equals
        ``(g(x) - center) / scale`` with ``g = log`` when ``log`` else identity.

    See Also
    --------
    mvikit.clinical.NomogramClassifier : the logistic model usually fitted next.
    sklearn.compose.ColumnTransformer : the generic tool this specialises.

    Notes
    -----
    Hospital exports are read as a careful analyst would: a text column of
    numbers (decimal commas, one unit after a space) becomes numeric, spellings
    of one category that differ in case or blanks are merged, both with a
    `DataWarning` naming the column; a date column, numbers in several units,
    and mostly-numeric text with a few other cells (``"<5"``) are errors naming
    the column and patients.

    A missing value is replaced by the training median (numeric, in original
    units, before the log) or by the most frequent value (booleans,
    categories); with ``add_indicator=True`` the indicator carries the
    missingness itself. A column with no observed value in fit raises an
    error naming it. An unseen category at transform time is encoded as all
    zeros by the one-hot encoder (i.e. as the reference level when
    ``drop="first"``) with a warning; for ordinal codes it is treated as
    missing (imputed) with a `DataWarning`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.preprocessing import ClinicalPreprocessor
    >>> X = pd.DataFrame({"age": [50.0, 60.0, np.nan, 70.0],
    ...                   "sex": ["F", "M", "M", "F"],
    ...                   "HBP": [Volume(np.zeros((2, 4, 4)))] * 4},
    ...                  index=["p1", "p2", "p3", "p4"])
    >>> pre = ClinicalPreprocessor().set_output(transform="pandas").fit(X)
    >>> pre.transform(X).round(3)
          age  sex=M
    p1 -1.414    0.0
    p2  0.000    1.0
    p3  0.000    1.0
    p4  1.414    0.0
    """

    _parameter_constraints: dict = {
        "clinical": [StrOptions({"auto"}), list, tuple],
        "add_indicator": ["boolean"],
        "log_transform": [None, StrOptions({"auto"}), list, tuple],
        "skew_threshold": [Interval(Real, None, None, closed="neither")],
        "scale": ["boolean"],
        "encode": [StrOptions({"onehot", "ordinal"})],
        "drop": [None, StrOptions({"first", "if_binary"})],
    }

    def __init__(self, *, clinical="auto", add_indicator=False, log_transform=None,
                 skew_threshold=1.0, scale=True, encode="onehot", drop="first"):
        self.clinical = clinical
        self.add_indicator = add_indicator
        self.log_transform = log_transform
        self.skew_threshold = skew_threshold
        self.scale = scale
        self.encode = encode
        self.drop = drop

    # ------------------------------------------------------------------ input
    def _frame(self, X, *, reset: bool) -> pd.DataFrame:
        """The input as a DataFrame; arrays get sklearn's ``x0, x1, ...`` names."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=reset)
            return check_cohort_frame(X)
        array = check_features(self, X, reset=reset, allow_nan=True, dtype="numeric")
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def _select_clinical(self, frame: pd.DataFrame) -> list:
        if isinstance(self.clinical, str):
            columns = resolve_columns(frame, clinical="auto").clinical
        else:
            columns = resolve_columns(frame, clinical=list(self.clinical), volumes=None,
                                      masks=None).clinical
        if not columns:
            raise ColumnRoleError(
                "No clinical column found in X: every column holds images. Pass a frame "
                "with clinical columns or name them with clinical=[...]."
            )
        return columns

    def _read_types(self, frame: pd.DataFrame, columns) -> pd.DataFrame:
        """Decide (in fit) how text columns are read; see `mvikit.preprocessing._types`."""
        self.text_numeric_columns_, self.category_spellings_ = {}, {}
        frame = frame.copy(deep=False)
        for c in columns:
            series = frame[c]
            check_not_dates(series, c)
            how = numeric_reading(series, c)
            if how is not None:
                warn_converted(series, c, how)
                self.text_numeric_columns_[c] = how
                frame[c] = to_numbers(series, c)
            elif _column_kind(series) == "categorical":
                canonical, merges = category_spellings(series)
                warn_merged(series, c, merges)
                if merges:
                    self.category_spellings_[c] = canonical
                    frame[c] = apply_spellings(series, canonical)
        return frame

    def _reapply_types(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not (self.text_numeric_columns_ or self.category_spellings_):
            return frame
        frame = frame.copy(deep=False)
        for c in self.text_numeric_columns_:
            frame[c] = to_numbers(frame[c], c)
        for c, canonical in self.category_spellings_.items():
            frame[c] = apply_spellings(frame[c], canonical)
        return frame

    # -------------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn imputation values, log columns, scaling and categories.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_patients, n_columns)
            The cohort frame (or a numeric matrix).
        y : ignored

        Returns
        -------
        self : ClinicalPreprocessor
        """
        frame = self._frame(X, reset=True)
        self._input_names = np.asarray(frame.columns, dtype=object)
        columns = self._select_clinical(frame)
        frame = self._read_types(frame, columns)
        empty = [c for c in columns if frame[c].isna().all()]
        if empty:
            raise CohortError(
                f"Clinical column(s) {empty} have no observed value in the training data, so "
                "nothing can be imputed. Drop them or list the clinical columns explicitly "
                "with clinical=[...]."
            )
        kinds = {c: _column_kind(frame[c]) for c in columns}
        self.clinical_columns_ = list(columns)
        self.numeric_columns_ = [c for c in columns if kinds[c] == "numeric"]
        self.binary_columns_ = [c for c in columns if kinds[c] == "binary"]
        self.categorical_columns_ = [c for c in columns if kinds[c] == "categorical"]
        numeric = self._fit_numeric(frame)
        binary = self._fit_binary(frame)
        categorical = self._fit_categorical(frame)
        self.statistics_ = {**numeric, **binary, **categorical}
        self.statistics_ = {c: self.statistics_[c] for c in columns}
        if self.add_indicator:
            self.indicator_ = MissingIndicator(features="missing-only",
                                             error_on_new=False).fit(
                self._missing(frame))
        else:
            self.indicator_ = None
        self.feature_map_ = self._build_feature_map()
        return self

    def _fit_numeric(self, frame) -> dict:
        cols = self.numeric_columns_
        self.skewness_ = {c: float(frame[c].astype(float).skew()) for c in cols}
        self.data_range_ = {c: (float(frame[c].min()), float(frame[c].max())) for c in cols}
        self.log_columns_ = self._choose_log_columns(frame)
        if not cols:
            self.numeric_imputer_, self.scaler_ = None, None
            return {}
        values = np.column_stack([_as_float(frame[c], c) for c in cols])
        self.numeric_imputer_ = SimpleImputer(strategy="median").fit(values)
        filled = self._log(self.numeric_imputer_.transform(values))
        _check_scalable(filled, cols, frame.index)
        self.scaler_ = StandardScaler().fit(filled) if self.scale else None
        return dict(zip(cols, self.numeric_imputer_.statistics_.tolist()))

    def _choose_log_columns(self, frame) -> list:
        if self.log_transform is None:
            return []
        if isinstance(self.log_transform, str):  # "auto"
            return [c for c in self.numeric_columns_
                    if (frame[c].dropna() > 0).all() and self.skewness_[c] > self.skew_threshold]
        listed = list(self.log_transform)
        for c in listed:
            if c not in self.numeric_columns_:
                raise ColumnRoleError(
                    f"log_transform names {c!r}, which is not a numeric clinical column; "
                    f"numeric columns: {self.numeric_columns_}."
                )
            bad = frame[c] <= 0
            if bad.any():
                raise CohortError(
                    f"log_transform names {c!r}, but patient(s) {_first_ids(frame.index, bad)} "
                    f"have values <= 0 (e.g. {frame[c][bad].iloc[0]!r}); the log needs strictly "
                    "positive values. Leave the column out of log_transform."
                )
        return [c for c in self.numeric_columns_ if c in listed]

    def _fit_binary(self, frame) -> dict:
        cols = self.binary_columns_
        if not cols:
            self.binary_imputer_ = None
            return {}
        values = np.column_stack([_as_binary(frame[c], c) for c in cols])
        self.binary_imputer_ = SimpleImputer(strategy="most_frequent").fit(values)
        return {c: bool(v) for c, v in zip(cols, self.binary_imputer_.statistics_)}

    def _categories(self, series: pd.Series, column) -> list:
        present = series.dropna()
        if isinstance(series.dtype, pd.CategoricalDtype):
            if self.encode == "onehot" or series.dtype.ordered:
                seen = set(present.unique())
                return [c for c in series.dtype.categories if c in seen]
        try:
            return sorted(present.unique().tolist())
        except TypeError:
            types = sorted({type(v).__name__ for v in present})
            raise CohortError(
                f"Categorical column {column!r} mixes value types ({', '.join(types)}); "
                "categories cannot be ordered. Convert the column to one type (e.g. str)."
            ) from None

    def _fit_categorical(self, frame) -> dict:
        cols = self.categorical_columns_
        self.categories_ = {c: self._categories(frame[c], c) for c in cols}
        if not cols:
            self.categorical_imputer_, self.encoder_ = None, None
            return {}
        values = np.column_stack([_as_object(frame[c]) for c in cols])
        self.categorical_imputer_ = SimpleImputer(strategy="most_frequent",
                                                  missing_values=np.nan).fit(values)
        categories = [self.categories_[c] for c in cols]
        if self.encode == "onehot":
            self.encoder_ = OneHotEncoder(categories=categories, drop=self.drop,
                                          handle_unknown="ignore", sparse_output=False,
                                          dtype=float)
        else:
            self.encoder_ = OrdinalEncoder(categories=categories, dtype=float)
        self.encoder_.fit(self.categorical_imputer_.transform(values))
        return dict(zip(cols, self.categorical_imputer_.statistics_.tolist()))

    # ---------------------------------------------------------- feature map
    def _build_feature_map(self) -> pd.DataFrame:
        rows = []
        for i, c in enumerate(self.numeric_columns_):
            center = float(self.scaler_.mean_[i]) if self.scaler_ is not None else 0.0
            scale = float(self.scaler_.scale_[i]) if self.scaler_ is not None else 1.0
            rows.append((c, "numeric", None, c in self.log_columns_, center, scale))
        for c in self.binary_columns_:
            rows.append((c, "binary", None, False, 0.0, 1.0))
        for i, c in enumerate(self.categorical_columns_):
            if self.encode == "ordinal":
                rows.append((c, "ordinal", None, False, 0.0, 1.0))
                continue
            dropped = (self.encoder_.drop_idx_[i]
                       if self.encoder_.drop_idx_ is not None else None)
            for j, category in enumerate(self.categories_[c]):
                if dropped is None or j != dropped:
                    rows.append((c, "onehot", category, False, 0.0, 1.0))
        if self.indicator_ is not None:
            for j in self.indicator_.features_:
                rows.append((self.clinical_columns_[j], "indicator", None, False, 0.0, 1.0))
        position = {c: k for k, c in enumerate(self.clinical_columns_)}
        # frame order of the source columns; indicators after every other feature
        order = sorted(range(len(rows)), key=lambda k: (rows[k][1] == "indicator",
                                                        position[rows[k][0]]))
        self._output_order = np.asarray(order, dtype=int)
        table = pd.DataFrame(
            [(None, c, kind, cat, log, self.statistics_[c] if kind != "indicator" else None,
              center, scale) for c, kind, cat, log, center, scale in (rows[k] for k in order)],
            columns=FEATURE_MAP_COLUMNS,
        )
        table["feature"] = self._names(self._input_names, table)
        return table

    def _names(self, input_names, table) -> list:
        position = {c: k for k, c in enumerate(self._input_names)}
        names = []
        for column, kind, category in zip(table["column"], table["kind"], table["category"]):
            name = str(input_names[position[column]])
            if kind == "onehot":
                name = f"{name}={category}"
            elif kind == "indicator":
                name = f"{name}_missing"
            names.append(name)
        return names

    # ------------------------------------------------------------- transform
    def transform(self, X):
        """Impute, log, scale and encode the clinical columns.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_patients, n_columns)
            Same columns as in fit.

        Returns
        -------
        ndarray of shape (n_patients, n_features_out)
            Columns in the order of ``get_feature_names_out()``.
        """
        check_is_fitted(self, "feature_map_")
        frame = self._reapply_types(self._frame(X, reset=False))
        blocks = []
        if self.numeric_columns_:
            values = np.column_stack([_as_float(frame[c], c) for c in self.numeric_columns_])
            values = self._log(self.numeric_imputer_.transform(values), frame)
            blocks.append(self.scaler_.transform(values) if self.scaler_ is not None else values)
        if self.binary_columns_:
            values = np.column_stack([_as_binary(frame[c], c) for c in self.binary_columns_])
            blocks.append(self.binary_imputer_.transform(values))
        if self.categorical_columns_:
            blocks.append(self._encode(frame))
        if self.indicator_ is not None:
            blocks.append(self.indicator_.transform(self._missing(frame)).astype(float))
        return np.hstack(blocks)[:, self._output_order]

    def _missing(self, frame) -> np.ndarray:
        """NaN where a clinical cell is missing, 0 elsewhere (MissingIndicator's input)."""
        return np.where(frame[self.clinical_columns_].isna().to_numpy(), np.nan, 0.0)

    def _log(self, values: np.ndarray, frame=None) -> np.ndarray:
        if not self.log_columns_:
            return values
        values = values.copy()
        for c in self.log_columns_:
            j = self.numeric_columns_.index(c)
            bad = values[:, j] <= 0
            if bad.any():
                ids = _first_ids(frame.index, bad) if frame is not None else "?"
                raise CohortError(
                    f"Column {c!r} is log-transformed (fitted on positive values) but patient(s) "
                    f"{ids} have values <= 0 (e.g. {values[bad, j][0]!r}). Check the units, or "
                    "refit without logging this column."
                )
            values[:, j] = np.log(values[:, j])
        return values

    def _encode(self, frame) -> np.ndarray:
        cols = self.categorical_columns_
        values = np.column_stack([_as_object(frame[c]) for c in cols])
        for j, c in enumerate(cols):
            known = set(self.categories_[c])
            unseen = np.array([not pd.isna(v) and v not in known for v in values[:, j]])
            if not unseen.any():
                continue
            effect = ("encoded as all zeros (the reference level when drop='first')"
                      if self.encode == "onehot" else "treated as missing and imputed")
            warnings.warn(
                f"Column {c!r}: categories unseen in fit for patient(s) "
                f"{_first_ids(frame.index, unseen)} (e.g. {values[unseen, j][0]!r}); {effect}.",
                DataWarning, stacklevel=3)
            if self.encode == "ordinal":
                values[unseen, j] = np.nan
        with warnings.catch_warnings():
            # the DataWarning above already names the column and the patients
            warnings.filterwarnings("ignore", message="Found unknown categories",
                                    category=UserWarning)
            return self.encoder_.transform(self.categorical_imputer_.transform(values))

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        Numeric, boolean and ordinal columns keep their name; one-hot columns
        are ``"<column>=<category>"``; indicators ``"<column>_missing"``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input names (defaults to ``feature_names_in_`` or ``x0, x1, ...``).

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "feature_map_")
        names = _check_feature_names_in(self, input_features)
        return np.asarray(self._names(names, self.feature_map_), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
