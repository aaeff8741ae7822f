"""How `Nomogram.from_estimator` maps a model's coefficients back to the cohort frame.

The final model's linear predictor is ``lp = b0 + beta' z`` on its design
``z``; the steps before it made ``z`` from the cohort frame.  Walking the steps
from the last to the first, each one is read by this *branch protocol*:

* feature selectors (`SelectorMixin`) put zeros back for the dropped columns;
* `StandardScaler` is folded into the coefficients
  (``beta' (x - m) / s = (beta / s)' x - (beta / s)' m``);
* a step with a ``feature_map_`` (`mvikit.preprocessing.ClinicalPreprocessor`),
  first in its chain, maps each output column to its source clinical column
  (log, centring and scaling, one-hot and ordinal codes, missing indicators);
* `FeatureUnion` and `ColumnTransformer`, first in their chain, hand each
  branch its slice of the coefficients (times the union's weight) and read
  every branch by these same rules; ``"passthrough"`` columns are plain
  numeric axes;
* any other step whose output is a single column is a *derived variable*
  (e.g. `mvikit.radiomics.RadScore`, ending the radiomics signature): one
  numeric axis in that column's own units.  Its value for a patient is the
  column of that name in the frame when given, else it is computed from the
  patient's row by the fitted branch up to that step (the rad-score from the
  volumes).  The axis is labelled by the step's ``nomogram_label`` when it
  has one, and spans the values of ``X`` or the step's training range
  ``score_range_``;
* reaching the input with no such step: plain numeric columns.

Every rule is exact, so total points reproduce ``decision_function``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectorMixin
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from ..exceptions import CohortError, DataWarning, MvikitError

__all__ = ["read_terms"]


@dataclass
class _Term:
    """One nomogram row: ``f(x) = slope * g(x) + offset`` (numeric) or a value per level."""

    name: str
    column: object
    kind: str  # "numeric", "binary", "categorical", "indicator"
    slope: float = 0.0
    offset: float = 0.0
    log: bool = False
    fill: object = None
    value_range: tuple = (0.0, 1.0)
    levels: list = field(default_factory=list)
    effects: dict = field(default_factory=dict)  # level -> contribution
    ordinal_codes: dict = field(default_factory=dict)  # level -> code (encode="ordinal")
    source: object = None  # _ScoreSource of a derived variable (rad-score)

    def contribution(self, values) -> np.ndarray:
        """Exact contribution to the linear predictor of raw cells ``values``."""
        values = pd.Series(values, dtype=object).reset_index(drop=True)
        missing = values.isna().to_numpy()
        if self.kind == "indicator":
            return np.where(missing, self.slope, 0.0)
        values = values.where(~values.isna(), self.fill)
        if self.kind == "categorical":
            # an unseen level: all-zero dummies (one-hot) or the imputed code (ordinal)
            default = self.effects.get(self.fill, 0.0) if self.ordinal_codes else 0.0
            unseen = sorted({str(v) for v in values if v not in self.effects})
            if unseen:
                warnings.warn(
                    f"Nomogram: column {self.column!r} has levels unseen in fit {unseen[:5]}; "
                    f"scored as {'the imputed level' if self.ordinal_codes else 'the reference'}"
                    f". Known levels: {list(self.effects)}.", DataWarning, stacklevel=4)
            return np.asarray([self.effects.get(v, default) for v in values], dtype=float)
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if np.isnan(x).any():
            bad = values[np.isnan(x)].iloc[0]
            raise CohortError(f"Nomogram: column {self.column!r} needs numbers, got {bad!r}.")
        if self.log:
            if (x <= 0).any():
                raise CohortError(
                    f"Nomogram: column {self.column!r} is on a log axis, so it needs values "
                    f"> 0; got {float(x[x <= 0][0])!r}. Check the value and its units.")
            x = np.log(x)
        return self.slope * x + self.offset

    def extremes(self) -> tuple:
        if self.kind == "categorical":
            return min(self.effects.values()), max(self.effects.values())
        if self.kind == "indicator":
            return min(0.0, self.slope), max(0.0, self.slope)
        ends = self.contribution(list(self.value_range))
        return float(ends.min()), float(ends.max())

    def raw_values(self, X: pd.DataFrame) -> pd.Series:
        """This row's cells of the cohort frame ``X`` (a derived variable given or computed)."""
        if self.source is not None:
            return self.source.values(X)
        if self.column not in X.columns:
            raise KeyError(self.column)
        return X[self.column]


class _ScoreSource:
    """Computes a derived variable (one output column) from cohort rows with its fitted branch."""

    def __init__(self, transformer, column, inputs=None):
        self.transformer = transformer  # the branch up to and including the score step
        self.column = column
        self.inputs = inputs  # ColumnTransformer column selection, None = the whole frame

    def compute(self, X: pd.DataFrame) -> np.ndarray:
        frame = X if self.inputs is None else X[self.inputs]
        return np.asarray(self.transformer.transform(frame), dtype=float).reshape(len(X), -1)[:, 0]

    def values(self, X: pd.DataFrame) -> pd.Series:
        """The given column where it holds a number, the computed score elsewhere."""
        if self.column in X.columns:
            given = pd.to_numeric(X[self.column], errors="coerce")
            bad = X[self.column].notna() & given.isna()
            if bad.any():
                raise CohortError(
                    f"Nomogram: column {self.column!r} needs numbers; patient "
                    f"{X.index[bad.to_numpy()][0]!r} has {X[self.column][bad].iloc[0]!r}.")
        else:
            given = pd.Series(np.nan, index=X.index)
        given = given.astype(float).copy()
        todo = given.isna().to_numpy()
        if todo.any():
            given.iloc[np.flatnonzero(todo)] = self._computed(X.iloc[np.flatnonzero(todo)])
        return given

    def _computed(self, rows: pd.DataFrame) -> np.ndarray:
        try:
            return self.compute(rows)
        except (MvikitError, KeyError, ValueError, TypeError) as exc:
            ids = ", ".join(repr(i) for i in rows.index[:3])
            raise CohortError(
                f"Nomogram: patient(s) {ids} have no {self.column!r} value and the fitted "
                f"{_describe(self.transformer)} could not compute it from their row ({exc}). "
                f"Give {self.column!r} as a number, or the columns the branch needs "
                "(e.g. the volumes and masks of a radiomics signature)."
            ) from exc


def _describe(transformer) -> str:
    if isinstance(transformer, Pipeline):
        return "branch " + " -> ".join(type(s).__name__ for _, s in transformer.steps
                                       if s not in (None, "passthrough"))
    return type(transformer).__name__


def _as_frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.atleast_2d(np.asarray(X, dtype=float))
    return pd.DataFrame(array, columns=[f"x{j}" for j in range(array.shape[1])])


# ------------------------------------------------------------------- reading
def read_terms(steps, beta, b0, X, *, final_names=None, datadist=None):
    """Terms and intercept of ``b0 + beta' z``, ``z`` made from the frame by ``steps``.

    ``datadist`` (min, median, max of each column at fit, as rms's ``datadist``)
    stands in for ``X`` for columns used without a preprocessor.
    """
    frame = None if X is None else _as_frame(X)
    return _Reader(frame, datadist).chain(list(steps), np.asarray(beta, dtype=float),
                                          float(b0), inputs=None, names=final_names)


class _Reader:
    def __init__(self, X, datadist=None):
        self.X = X
        self.datadist = datadist

    def chain(self, steps, beta, b0, *, inputs, names=None):
        """Read ``steps`` (applied in order to ``inputs`` of the frame) from the last one."""
        for i in reversed(range(len(steps))):
            step = steps[i]
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            if isinstance(step, SelectorMixin):
                beta = _expand(beta, step.get_support())
            elif isinstance(step, StandardScaler):
                beta, b0 = _unscale(beta, b0, step)
            elif hasattr(step, "feature_map_") or isinstance(step, (FeatureUnion,
                                                                    ColumnTransformer)):
                if i != 0:
                    raise TypeError(
                        f"Nomogram cannot map a model back through {type(step).__name__} "
                        f"after {type(steps[i - 1]).__name__}: it must be the first step of its "
                        "pipeline (or union branch), reading the cohort frame.")
                if hasattr(step, "feature_map_"):
                    return _preprocessor_terms(beta, step, self.X), b0
                return self.union(step, beta, b0, inputs=inputs)
            elif beta.size == 1:
                return [self.score_term(steps, i, beta[0], inputs)], b0
            else:
                raise TypeError(
                    f"Nomogram cannot map a model back through {type(step).__name__} "
                    f"({beta.size} output columns): supported steps are ClinicalPreprocessor, "
                    "FeatureUnion/ColumnTransformer (first in their chain), feature selectors, "
                    "StandardScaler, and steps with a single output column (a score such as "
                    "RadScore).")
        if names is None and steps and hasattr(steps[0], "feature_names_in_"):
            names = list(steps[0].feature_names_in_)
        return self.plain_terms(beta, names), b0

    # --------------------------------------------------------------- unions
    def union(self, union, beta, b0, *, inputs):
        if inputs is not None:
            raise TypeError("Nomogram cannot read a FeatureUnion/ColumnTransformer nested in a "
                            "ColumnTransformer branch.")
        branches = (_column_transformer_branches(union) if isinstance(union, ColumnTransformer)
                    else _feature_union_branches(union))
        width = sum(stop - start for *_, (start, stop), _ in branches)
        if width != beta.size:
            raise ValueError(f"Nomogram: {type(union).__name__} outputs {width} columns but the "
                             f"model has {beta.size} coefficients.")
        terms = []
        for _name, transformer, columns, (start, stop), weight in branches:
            sub = beta[start:stop] * weight
            if not np.any(sub):  # a branch the model does not use adds no row
                continue
            if isinstance(transformer, str):  # "passthrough"
                terms += self.plain_terms(sub, list(columns))
                continue
            steps = list(transformer) if isinstance(transformer, Pipeline) else [transformer]
            branch_terms, b0 = self.chain(steps, sub, b0, inputs=columns)
            terms += branch_terms
        return terms, b0

    # --------------------------------------------------------------- scores
    def score_term(self, steps, i, slope, inputs):
        step = steps[i]
        prefix = Pipeline([(f"step{k}", s) for k, s in enumerate(steps[:i + 1])]) if i else step
        try:
            column = str(np.asarray(step.get_feature_names_out())[0])
        except (AttributeError, ValueError, TypeError):
            column = "score"
        source = _ScoreSource(prefix, column, inputs)
        name = str(getattr(step, "nomogram_label", column))
        return _Term(name, column, "numeric", slope=float(slope),
                     value_range=self._score_range(source, step), source=source)

    def _score_range(self, source, step) -> tuple:
        trained = getattr(step, "score_range_", None)
        if self.X is not None:
            try:
                values = source.values(self.X)
                return float(values.min()), float(values.max())
            except CohortError:
                if trained is None:
                    raise
        if trained is None:
            raise ValueError(
                f"Nomogram.from_estimator needs X (a frame the {_describe(source.transformer)} "
                f"can score, or with a {source.column!r} column) to set the range of the "
                f"{source.column!r} axis: {type(step).__name__} has no score_range_.")
        return float(trained[0]), float(trained[1])

    # ---------------------------------------------------------------- plain
    def plain_terms(self, beta, names):
        """Terms of a model on numeric columns of the frame (no preprocessing)."""
        if self.X is None and self.datadist is None:
            raise ValueError("Nomogram.from_estimator needs X (the training frame) to set the "
                             "axis ranges of columns used without a ClinicalPreprocessor.")
        if self.X is not None:
            summary = self.X.astype(float).agg(["min", "median", "max"]).T
        else:
            summary = self.datadist
        names = list(summary.index) if names is None else list(names)
        terms = []
        for j, name in enumerate(names):
            if beta[j] != 0:
                low, middle, high = (float(v) for v in summary.loc[name, ["min", "median", "max"]])
                terms.append(_Term(str(name), name, "numeric", slope=beta[j], fill=middle,
                                   value_range=(low, high)))
        return terms


def _expand(beta, support) -> np.ndarray:
    full = np.zeros(len(support))
    full[np.asarray(support)] = beta
    return full


def _unscale(beta, b0, scaler):
    scale = scaler.scale_ if scaler.scale_ is not None else np.ones_like(beta)
    mean = scaler.mean_ if scaler.with_mean else np.zeros_like(beta)
    beta = beta / scale
    return beta, b0 - float(np.sum(beta * mean))


def _feature_union_branches(union) -> list:
    """``(name, transformer, None, (start, stop), weight)`` per FeatureUnion branch."""
    weights = union.transformer_weights or {}
    branches, start = [], 0
    for name, transformer in union.transformer_list:
        if transformer is None or (isinstance(transformer, str) and transformer == "drop"):
            continue
        if isinstance(transformer, str):  # "passthrough": the frame's own columns
            columns = list(union.feature_names_in_)
            width = len(columns)
        else:
            columns = None
            try:
                width = len(transformer.get_feature_names_out())
            except (AttributeError, ValueError, TypeError) as exc:
                raise TypeError(
                    f"Nomogram needs the output width of FeatureUnion branch {name!r} "
                    f"({type(transformer).__name__}.get_feature_names_out failed: {exc})."
                ) from exc
        branches.append((name, transformer, columns, (start, start + width),
                         float(weights.get(name, 1.0))))
        start += width
    return branches


def _column_transformer_branches(ct) -> list:
    """``(name, transformer, input columns, (start, stop), 1.0)`` per ColumnTransformer branch."""
    names_in = getattr(ct, "feature_names_in_", None)
    branches = []
    for name, transformer, spec in ct.transformers_:
        piece = ct.output_indices_.get(name, slice(0, 0))
        if piece.stop == piece.start or (isinstance(transformer, str) and transformer == "drop"):
            continue
        indices = ct._transformer_to_input_indices[name]  # resolved column selection
        if isinstance(spec, str):
            columns = spec  # one column, passed 1-D as ColumnTransformer does
        elif names_in is not None:
            columns = [names_in[j] for j in indices]
        else:
            columns = [f"x{j}" for j in indices]
        branches.append((name, transformer, columns, (piece.start, piece.stop), 1.0))
    return branches


# ------------------------------------------------------ ClinicalPreprocessor
def _preprocessor_terms(beta, pre, X) -> list:
    """Terms of a model after a ClinicalPreprocessor, one per source column."""
    fmap = pre.feature_map_.assign(beta=beta)
    terms = []
    for column in pre.clinical_columns_:
        rows = fmap[(fmap["column"] == column) & (fmap["kind"] != "indicator")]
        term = _column_term(column, rows, pre, X)
        if term is not None:
            terms.append(term)
    for _, row in fmap[fmap["kind"] == "indicator"].iterrows():
        if row["beta"] != 0:
            terms.append(_Term(f"{row['column']} missing", row["column"], "indicator",
                               slope=float(row["beta"])))
    return terms


def _column_term(column, rows, pre, X):
    if not (rows["beta"] != 0).any():
        return None
    row = rows.iloc[0]
    kind, fill = row["kind"], pre.statistics_[column]
    if kind == "numeric":
        slope = row["beta"] / row["scale"]
        low, high = pre.data_range_[column]
        if X is not None and column in X:
            low, high = float(X[column].min()), float(X[column].max())
        return _Term(str(column), column, "numeric", slope=slope,
                     offset=-slope * row["center"], log=bool(row["log"]), fill=fill,
                     value_range=(low, high))
    if kind == "binary":
        return _Term(str(column), column, "categorical", fill=fill, levels=[False, True],
                     effects={False: 0.0, True: float(row["beta"])})
    levels = list(pre.categories_[column])
    if kind == "ordinal":
        codes = {level: k for k, level in enumerate(levels)}
        return _Term(str(column), column, "categorical", fill=fill, levels=levels,
                     effects={level: float(row["beta"]) * k for level, k in codes.items()},
                     ordinal_codes=codes)
    effects = dict.fromkeys(levels, 0.0)  # the dropped reference level stays at 0
    effects.update(zip(rows["category"], rows["beta"].astype(float)))
    return _Term(str(column), column, "categorical", fill=fill, levels=levels,
                 effects=effects)
