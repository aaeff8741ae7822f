"""`Nomogram`: points, axes and a risk calculator for a fitted logistic or Cox model.

The nomogram of Harrell's ``rms::nomogram``: each variable's contribution to
the linear predictor ``lp = b0 + sum_c f_c(x_c)`` is rescaled to points so that
the variable with the widest effect over its range spans 0-100 points; total
points map back linearly to ``lp`` and then to the probability ``expit(lp)``
(binary) or ``P(Y >= k) = expit(lp - theta_{k-1})`` (proportional odds). For a Cox
model (:class:`mvikit.survival.CoxPHSurvival`) the linear predictor gives the survival
probability ``S(t) = S0(t) ** exp(lp)`` at chosen times and the median survival, as
``rms::nomogram(cph, fun=list(surv(t1), surv(t2), med))``.

The contributions ``f_c`` are read through the pipeline's own transforms
(`mvikit.preprocessing.ClinicalPreprocessor`'s imputation, log, scaling and
one-hot coding; feature selectors; `StandardScaler`; the branches of a
`FeatureUnion`/`ColumnTransformer`, e.g. the rad-score of the combined
radiomics nomogram; see `mvikit.clinical._terms` for the protocol), so the
axes are in the original units of the cohort frame and the points reproduce
``predict_proba`` exactly.
"""

from __future__ import annotations

import difflib
import warnings

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from sksurv.functions import StepFunction

from ..exceptions import CohortError, DataWarning
from ._classifier import probabilities_from_lp
from ._terms import _as_frame, read_terms

__all__ = ["Nomogram"]


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

    def __init__(self, terms, intercept, classes, *, ordinal=False, thresholds=None,
                 baseline_survival=None, times=None):
        self.terms = list(terms)
        self.baseline_survival = baseline_survival
        self.times = None if times is None else np.atleast_1d(np.asarray(times, dtype=float))
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
    def from_estimator(cls, estimator, X=None, *, times=None):
        """The nomogram of a fitted model or pipeline.

        Parameters
        ----------
        estimator : Pipeline, classifier or Cox model
            Fitted. The last step is a `NomogramClassifier` (binary or ordinal),
            any binary linear classifier with ``coef_``/``intercept_``
            (e.g. `sklearn.linear_model.LogisticRegression`), or a
            :class:`~mvikit.survival.CoxPHSurvival` without strata; earlier steps may
            be a `ClinicalPreprocessor` (first), a `FeatureUnion` or
            `ColumnTransformer` (first; e.g. `mvikit.radiomics.radiomics_nomogram`)
            whose branches follow the same rules, feature selectors,
            `StandardScaler`, and a step with one output column (a score such
            as `mvikit.radiomics.RadScore`: one axis in its own units).
        X : pandas.DataFrame, default=None
            Sets the range of each numeric axis (observed min/max; a score's
            range from its values in ``X``, given or computed). Default: the
            ranges the `ClinicalPreprocessor` (and `RadScore`) saw in fit, or
            those a `NomogramClassifier` fitted on a plain frame stored
            (``datadist_``); required otherwise for columns used without a
            `ClinicalPreprocessor`.
        times : array-like of float, default=None
            Cox models only: the times of the survival-probability axes (e.g. 12, 36,
            60 months); ``None``: the quartiles of the training event times.

        Returns
        -------
        Nomogram
        """
        steps = list(estimator) if isinstance(estimator, Pipeline) else [estimator]
        final = steps[-1]
        check_is_fitted(final)
        names = None if len(steps) > 1 else getattr(final, "feature_names_in_", None)
        if getattr(final, "_estimator_kind", None) == "survival":
            return cls._from_cox(steps, final, X, times, names)
        coef = np.asarray(final.coef_, dtype=float)
        if coef.ndim == 2 and coef.shape[0] != 1:
            raise ValueError("Nomogram needs a binary or ordinal model (one coefficient row); "
                             f"{type(final).__name__} has {coef.shape[0]}.")
        beta, b0 = coef.ravel(), float(np.ravel(final.intercept_)[0])
        datadist = getattr(final, "datadist_", None) if len(steps) == 1 else None
        terms, b0 = read_terms(steps[:-1], beta, b0, X, final_names=names, datadist=datadist)
        ordinal = bool(getattr(final, "ordinal", False))
        thresholds = getattr(final, "thresholds_", None) if ordinal else None
        nomogram = cls(terms, b0, final.classes_, ordinal=ordinal, thresholds=thresholds)
        # columns the pipeline read but selection left out: accepted, worth no points
        nomogram.input_columns = [str(c) for c in getattr(steps[0], "feature_names_in_", [])]
        return nomogram

    @classmethod
    def _from_cox(cls, steps, final, X, times, names):
        if not hasattr(final, "baseline_survival_") or not hasattr(final, "feature_means_"):
            raise TypeError(f"Nomogram reads Cox models with a baseline survival "
                            f"(CoxPHSurvival); {type(final).__name__} has none.")
        if getattr(final, "strata_", None):
            raise ValueError(f"Nomogram: the Cox model is stratified on {final.strata_}; each "
                             f"stratum has its own baseline survival. Fit one nomogram per "
                             f"stratum or a model without strata.")
        beta = np.asarray(final.coef_, dtype=float)
        # predict() is the linear predictor centred at the training means
        b0 = -float(np.asarray(final.feature_means_, dtype=float) @ beta)
        terms, b0 = read_terms(steps[:-1], beta, b0, X, final_names=names)
        baseline = StepFunction(final.unique_times_, final.baseline_survival_.to_numpy())
        if times is None:
            y = final.survival_train_
            times = np.unique(np.quantile(y["time"][y["event"]], [0.25, 0.5, 0.75]))
        return cls(terms, b0, np.array([]), baseline_survival=baseline, times=times)

    # ------------------------------------------------------------ reading
    def points(self, X) -> pd.DataFrame:
        """Per-variable and total points of each patient.

        Parameters
        ----------
        X : pandas.DataFrame
            Raw cohort frame (original units, missing values allowed). A
            derived variable (the rad-score of a combined radiomics nomogram)
            is read from its column (``rad_score``) where that holds a
            number, and otherwise computed from the patient's row by the
            fitted branch (the volumes and masks).

        Returns
        -------
        pandas.DataFrame
            Index = patient ids; one column per nomogram row, then ``total_points``.
        """
        X = _as_frame(X)
        columns = {}
        for term, low in zip(self.terms, self._lows):
            try:
                values = term.raw_values(X)
            except KeyError:
                raise CohortError(f"Nomogram: X has no column {term.column!r}; it needs "
                                  f"{sorted({str(t.column) for t in self.terms})}.") from None
            columns[term.name] = (term.contribution(values) - low) * self.points_per_unit
        table = pd.DataFrame(columns, index=X.index)
        table["total_points"] = table.sum(axis=1)
        return table

    def linear_predictor(self, total_points) -> np.ndarray:
        """Linear predictor read from total points."""
        return self.intercept + np.asarray(total_points, dtype=float) / self.points_per_unit

    @property
    def is_survival(self) -> bool:
        """True for the nomogram of a Cox model."""
        return self.baseline_survival is not None

    def probability(self, total_points) -> np.ndarray:
        """Probabilities read from total points, shape ``(n, k)``.

        Classifiers: class probabilities in the order of ``classes`` (as
        ``predict_proba``). Cox models: survival probabilities at ``times``
        (see :meth:`survival_probability`).
        """
        if self.is_survival:
            return self.survival_probability(total_points)
        return probabilities_from_lp(np.atleast_1d(self.linear_predictor(total_points)), self)

    def survival_probability(self, total_points, times=None) -> np.ndarray:
        """Cox nomogram: ``S(t) = S0(t) ** exp(lp)`` at ``times``, shape ``(n, n_times)``.

        Parameters
        ----------
        total_points : array-like of shape (n,)
        times : array-like of float, default=None
            Times within the training follow-up; ``None``: the nomogram's ``times``.

        Returns
        -------
        ndarray
            Equal to the model's ``predict_survival_function`` at those times.
        """
        self._check_survival()
        times = self.times if times is None else np.atleast_1d(np.asarray(times, dtype=float))
        lp = np.atleast_1d(self.linear_predictor(total_points))
        return self.baseline_survival(times)[None, :] ** np.exp(lp)[:, None]

    def median_survival(self, total_points) -> np.ndarray:
        """Cox nomogram: the first time at which ``S(t) <= 0.5`` (NaN if never, as R's
        ``survfit`` median)."""
        self._check_survival()
        lp = np.atleast_1d(self.linear_predictor(total_points))
        grid, base = self.baseline_survival.x, self.baseline_survival.y
        below = base[None, :] ** np.exp(lp)[:, None] <= 0.5
        first = np.argmax(below, axis=1)
        return np.where(below.any(axis=1), grid[first], np.nan)

    def _check_survival(self):
        if not self.is_survival:
            raise TypeError("survival_probability and median_survival need the nomogram of a "
                            "Cox model; this one is a classifier's (use probability).")

    def risk_calculator(self):
        """A function ``row -> probability``: seed 004's bedside "applet".

        The row is a dict or a one-row Series/DataFrame in original units
        (missing or absent entries are imputed as in the pipeline, with a
        `DataWarning` naming the absent ones). A dict key that is not a
        variable of the nomogram (a misspelt name) is an error listing the
        expected ones; a value <= 0 on a log axis is an error. A derived
        variable (``rad_score``) is taken as given when the row holds it, and
        otherwise computed from the row's volumes by the fitted branch. It
        returns the probability of ``classes[1]`` (binary), the array of
        class probabilities (ordinal), or for a Cox model a dict
        ``{"S(t)": probability for each time, "median survival": time}``.
        """
        expected = sorted({str(t.column) for t in self.terms})

        def risk(row):
            if isinstance(row, pd.DataFrame):
                frame = row.copy()
            elif isinstance(row, pd.Series):  # a cohort frame row: keep the patient id
                frame = pd.DataFrame([row.to_dict()], index=[row.name])
            else:
                row = dict(row)
                _check_keys(row, expected, getattr(self, "input_columns", []))
                frame = pd.DataFrame([row])
            absent = list(dict.fromkeys(t.column for t in self.terms if t.source is None and (
                t.column not in frame.columns or frame[t.column].isna().any())))
            if absent:
                warnings.warn(
                    f"risk calculator: no value for {absent}; imputed as in the pipeline "
                    f"(expected variables: {expected}).", DataWarning, stacklevel=2)
            for column in absent:
                if column not in frame.columns:
                    frame[column] = np.nan
            total = self.points(frame)["total_points"]
            if self.is_survival:
                out = {f"S({t:g})": float(p)
                       for t, p in zip(self.times, self.survival_probability(total)[0])}
                out["median survival"] = float(self.median_survival(total)[0])
                return out
            proba = self.probability(total)[0]
            return proba if self.ordinal else float(proba[1])

        risk.__doc__ = "Risk from a patient's values: " + ", ".join(expected) + "."
        return risk

    def plot(self, ax=None, **kwargs):
        """Draw the nomogram (see `mvikit.plotting.plot_nomogram`); returns the Axes."""
        from ..plotting._nomogram import plot_nomogram

        return plot_nomogram(self, ax=ax, **kwargs)

    def __repr__(self):
        rows = ", ".join(t.name for t in self.terms)
        return f"Nomogram({len(self.terms)} rows: {rows})"


def _check_keys(row: dict, expected: list, inputs: list) -> None:
    """A misspelt variable must not be ignored (and its value silently imputed)."""
    unknown = [key for key in row if str(key) not in expected and str(key) not in inputs]
    if unknown:
        hints = []
        for key in unknown:
            lower = {name.lower(): name for name in expected}
            close = ([lower[str(key).strip().lower()]] if str(key).strip().lower() in lower
                     else difflib.get_close_matches(str(key), expected, n=1))
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        unused = sorted(set(inputs) - set(expected))
        also = f" (the model also read {unused}, which carry no points)" if unused else ""
        raise CohortError(
            f"risk calculator: unknown variable(s) {', '.join(hints)}; the nomogram's "
            f"variables are {expected}{also}."
        )
