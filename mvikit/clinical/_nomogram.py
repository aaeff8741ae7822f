"""`Nomogram`: points, axes and a risk calculator for a fitted logistic model.

The nomogram of Harrell's ``rms::nomogram``: each variable's contribution to
the linear predictor ``lp = b0 + sum_c f_c(x_c)`` is rescaled to points so that
the variable with the widest effect over its range spans 0-100 points; total
points map back linearly to ``lp`` and then to the probability ``expit(lp)``
(binary) or ``P(Y >= k) = expit(lp - theta_{k-1})`` (proportional odds).

The contributions ``f_c`` are read through the pipeline's own transforms
(`mvikit.preprocessing.ClinicalPreprocessor`'s imputation, log, scaling and
one-hot coding; feature selectors; `StandardScaler`), so the axes are in the
original units of the cohort frame and the points reproduce ``predict_proba``
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.feature_selection import SelectorMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from ..exceptions import CohortError
from ._classifier import probabilities_from_lp

__all__ = ["Nomogram"]


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
            return np.asarray([self.effects.get(v, default) for v in values], dtype=float)
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if np.isnan(x).any():
            bad = values[np.isnan(x)].iloc[0]
            raise CohortError(f"Nomogram: column {self.column!r} needs numbers, got {bad!r}.")
        if self.log:
            x = np.log(x)
        return self.slope * x + self.offset

    def extremes(self) -> tuple:
        if self.kind == "categorical":
            return min(self.effects.values()), max(self.effects.values())
        if self.kind == "indicator":
            return min(0.0, self.slope), max(0.0, self.slope)
        ends = self.contribution(list(self.value_range))
        return float(ends.min()), float(ends.max())


class Nomogram:
    """Points nomogram of a fitted binary or proportional-odds logistic model.

    Build it with `Nomogram.from_estimator`. Each variable gets points from 0
    to at most 100 (100 for the variable with the widest effect over its
    range); the total points give the linear predictor and the risk.

    Attributes
    ----------
    terms : list
        One row per variable (and per missing-value indicator) with a non-zero
        effect, in the order of the design matrix.
    intercept : float
        Linear predictor at 0 points in every row.
    points_per_unit : float
        Points per unit of linear predictor (100 / widest effect).
    classes : ndarray
        Outcome classes of the model.

    See Also
    --------
    NomogramClassifier : the model usually drawn.
    mvikit.plotting.plot_nomogram : the figure.

    Notes
    -----
    A missing value is imputed exactly as the pipeline does (training median
    or most frequent level) and gets that value's points; when the pipeline
    adds missing indicators, a row "<column> missing" adds the indicator's
    points. Values outside the training range extrapolate the axis (points
    below 0 or above 100), as the linear predictor does.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.pipeline import make_pipeline
    >>> from mvikit.clinical import Nomogram, NomogramClassifier
    >>> from mvikit.preprocessing import ClinicalPreprocessor
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"AFP": np.exp(rng.normal(3, 2, 300)),
    ...                   "size": rng.normal(4, 1.5, 300).clip(0.5)})
    >>> y = (0.5 * np.log(X["AFP"]) + 0.4 * X["size"] + rng.logistic(size=300) > 3.2)
    >>> model = make_pipeline(ClinicalPreprocessor(log_transform=["AFP"]),
    ...                       NomogramClassifier(selection=None)).fit(X, y)
    >>> nomogram = Nomogram.from_estimator(model)
    >>> points = nomogram.points(X.iloc[:2])
    >>> np.allclose(nomogram.probability(points["total_points"])[:, 1],
    ...             model.predict_proba(X.iloc[:2])[:, 1])
    True
    """

    def __init__(self, terms, intercept, classes, *, ordinal=False, thresholds=None):
        self.terms = list(terms)
        self.classes = np.asarray(classes)
        self.ordinal = bool(ordinal)
        self.thresholds_ = None if thresholds is None else np.asarray(thresholds, float)
        lows, highs = zip(*(t.extremes() for t in self.terms))
        self._lows = np.asarray(lows)
        span = float(np.max(np.asarray(highs) - self._lows))
        if not span > 0:
            raise ValueError("Nomogram: the model has no variable with a non-zero effect.")
        self.points_per_unit = 100.0 / span
        self.intercept = float(intercept) + float(self._lows.sum())

    # ----------------------------------------------------------- building
    @classmethod
    def from_estimator(cls, estimator, X=None):
        """The nomogram of a fitted model or pipeline.

        Parameters
        ----------
        estimator : Pipeline or classifier
            Fitted. The last step is a `NomogramClassifier` (binary or ordinal)
            or any binary linear classifier with ``coef_``/``intercept_``
            (e.g. `sklearn.linear_model.LogisticRegression`); earlier steps may
            be a `ClinicalPreprocessor` (first), feature selectors and
            `StandardScaler`.
        X : pandas.DataFrame, default=None
            Sets the range of each numeric axis (observed min/max). Default:
            the ranges the `ClinicalPreprocessor` saw in fit; required when
            the pipeline has no `ClinicalPreprocessor`.

        Returns
        -------
        Nomogram
        """
        steps = list(estimator) if isinstance(estimator, Pipeline) else [estimator]
        final = steps[-1]
        check_is_fitted(final)
        coef = np.asarray(final.coef_, dtype=float)
        if coef.ndim == 2 and coef.shape[0] != 1:
            raise ValueError("Nomogram needs a binary or ordinal model (one coefficient row); "
                             f"{type(final).__name__} has {coef.shape[0]}.")
        beta, b0 = coef.ravel(), float(np.ravel(final.intercept_)[0])
        preprocessor = None
        for step in reversed(steps[:-1]):
            if step is None or step == "passthrough":
                continue
            if isinstance(step, SelectorMixin):
                full = np.zeros(len(step.get_support()))
                full[step.get_support()] = beta
                beta = full
            elif isinstance(step, StandardScaler):
                scale = step.scale_ if step.scale_ is not None else np.ones_like(beta)
                mean = step.mean_ if step.with_mean else np.zeros_like(beta)
                beta = beta / scale
                b0 -= float(np.sum(beta * mean))
            elif hasattr(step, "feature_map_") and step is steps[0]:
                preprocessor = step
            else:
                raise TypeError(
                    f"Nomogram cannot map a model back through {type(step).__name__}: "
                    "supported steps are ClinicalPreprocessor (first), feature selectors "
                    "and StandardScaler.")
        ordinal = bool(getattr(final, "ordinal", False))
        thresholds = getattr(final, "thresholds_", None) if ordinal else None
        if preprocessor is None:
            terms = _plain_terms(beta, final, X)
        else:
            terms = _preprocessor_terms(beta, preprocessor, X)
        return cls(terms, b0, final.classes_, ordinal=ordinal, thresholds=thresholds)

    # ------------------------------------------------------------ reading
    def points(self, X) -> pd.DataFrame:
        """Per-variable and total points of each patient.

        Parameters
        ----------
        X : pandas.DataFrame
            Raw cohort frame (original units, missing values allowed).

        Returns
        -------
        pandas.DataFrame
            Index = patient ids; one column per nomogram row, then ``total_points``.
        """
        X = _as_frame(X, self)
        columns = {}
        for term, low in zip(self.terms, self._lows):
            if term.column not in X.columns:
                raise CohortError(f"Nomogram: X has no column {term.column!r}; it needs "
                                  f"{sorted({str(t.column) for t in self.terms})}.")
            columns[term.name] = (term.contribution(X[term.column]) - low) * self.points_per_unit
        table = pd.DataFrame(columns, index=X.index)
        table["total_points"] = table.sum(axis=1)
        return table

    def linear_predictor(self, total_points) -> np.ndarray:
        """Linear predictor read from total points."""
        return self.intercept + np.asarray(total_points, dtype=float) / self.points_per_unit

    def probability(self, total_points) -> np.ndarray:
        """Class probabilities read from total points, shape ``(n, n_classes)``,
        columns in the order of ``classes`` (as ``predict_proba``)."""
        return probabilities_from_lp(np.atleast_1d(self.linear_predictor(total_points)), self)

    def risk_calculator(self):
        """A function ``row -> probability``: seed 004's bedside "applet".

        The row is a dict or a one-row Series/DataFrame in original units
        (missing or absent entries are imputed as in the pipeline). It
        returns the probability of ``classes[1]`` (binary) or the array of
        class probabilities (ordinal).
        """
        def risk(row):
            frame = (row if isinstance(row, pd.DataFrame)
                     else pd.DataFrame([dict(row)]))
            for term in self.terms:
                if term.column not in frame.columns:
                    frame[term.column] = np.nan
            proba = self.probability(self.points(frame)["total_points"])[0]
            return proba if self.ordinal else float(proba[1])

        risk.__doc__ = ("Risk from a patient's values: " + ", ".join(
            sorted({str(t.column) for t in self.terms})) + ".")
        return risk

    def plot(self, ax=None, **kwargs):
        """Draw the nomogram (see `mvikit.plotting.plot_nomogram`); returns the Axes."""
        from ..plotting._nomogram import plot_nomogram

        return plot_nomogram(self, ax=ax, **kwargs)

    def __repr__(self):
        rows = ", ".join(t.name for t in self.terms)
        return f"Nomogram({len(self.terms)} rows: {rows})"


# ---------------------------------------------------------------- terms
def _as_frame(X, nomogram) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.atleast_2d(np.asarray(X, dtype=float))
    return pd.DataFrame(array, columns=[f"x{j}" for j in range(array.shape[1])])


def _plain_terms(beta, final, X) -> list:
    """Terms of a model on numeric columns (no ClinicalPreprocessor)."""
    if X is None:
        raise ValueError("Nomogram.from_estimator needs X (the training frame) to set the "
                         "axis ranges when the pipeline has no ClinicalPreprocessor.")
    names = getattr(final, "feature_names_in_", None)
    frame = _as_frame(X, None)
    names = list(frame.columns) if names is None else list(names)
    terms = []
    for j, name in enumerate(names):
        if beta[j] != 0:
            values = frame[name].astype(float)
            terms.append(_Term(str(name), name, "numeric", slope=beta[j],
                               fill=float(values.median()),
                               value_range=(float(values.min()), float(values.max()))))
    return terms


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
