"""Variable selection for clinical logistic models, and `StepwiseSelector`.

The seeds choose clinical and radiological factors by a univariable screen
followed by multivariable logistic regression with backward elimination (seed
003 section 2.5; seed 004 section 3.6, "backward: LR"). Here the same
procedure - and forward, bidirectional and L1 alternatives - runs inside
``fit``, so it is repeated on every training fold of a cross-validation.

Variables, not columns, are selected: the one-hot dummies of one clinical
variable (columns named ``"<variable>=<level>"`` by
`mvikit.preprocessing.ClinicalPreprocessor`) enter and leave together, tested
jointly (Wald chi-square or likelihood ratio on as many df as dummies).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..exceptions import CohortError, DataWarning, MvikitError
from ..utils._data import check_classification_data
from ..utils._validation import Integral, Interval, Real, StrOptions, fit_context
from ._fitting import (
    coefficient_table,
    fit_model,
    logistic_llf,
    lr_pvalue,
    single_threaded_blas,
    slope_slice,
    wald_group_pvalue,
)

__all__ = ["StepwiseSelector", "EmptySelectionError"]


class EmptySelectionError(MvikitError, ValueError):
    """Variable selection kept no variable."""


SELECTION_PARAMETERS: dict = {
    "selection": [None, StrOptions({"univariable", "backward", "forward", "both", "l1"})],
    "criterion": [StrOptions({"wald", "lr", "aic"})],
    "screen": ["boolean"],
    "alpha_enter": [Interval(Real, 0, 1, closed="right")],
    "alpha_remove": [Interval(Real, 0, 1, closed="right")],
    "C": [None, Interval(Real, 0, None, closed="neither")],
    "groups": [StrOptions({"auto"}), "array-like"],
    "ordinal": ["boolean"],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
}


def encode_target(y, *, ordinal: bool, owner: str):
    """Classes (in order) and codes ``0..K-1``; checks binary/ordinal.

    Classes are sorted, except for an ordered pandas categorical ``y``, whose
    category order is kept (e.g. ``M0 < M1 < M2``).
    """
    if isinstance(getattr(y, "dtype", None), pd.CategoricalDtype) and y.dtype.ordered:
        present = set(pd.unique(np.asarray(y, dtype=object)))
        classes = np.asarray([c for c in y.dtype.categories if c in present])
        lookup = {c: k for k, c in enumerate(classes)}
        codes = np.asarray([lookup[v] for v in np.asarray(y, dtype=object)])
    else:
        check_classification_targets(y)
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
    if len(classes) < 2:
        raise CohortError(f"{owner} needs at least 2 classes in y; got only one class "
                         f"({classes.tolist()}).")
    if not ordinal and len(classes) != 2:
        raise CohortError(
            f"Only binary classification is supported. {owner} is binary but y has "
            f"{len(classes)} classes ({classes.tolist()}). Pass "
            "ordinal=True for a proportional-odds model of ordered grades (e.g. M0/M1/M2), "
            "or binarise y (e.g. MVI present = grade > M0)."
        )
    return classes, np.ravel(codes).astype(int)


def variable_groups(names, groups) -> dict:
    """``{variable: [column positions]}`` in column order.

    ``groups="auto"`` groups columns named ``"<variable>=<level>"`` by
    ``<variable>``; any other column is its own variable.
    """
    labels = ([str(n).split("=", 1)[0] for n in names] if isinstance(groups, str)
              else [str(g) for g in groups])
    if len(labels) != len(names):
        raise ValueError(f"groups has {len(labels)} labels but X has {len(names)} columns; "
                         "give one variable label per column.")
    out: dict = {}
    for j, label in enumerate(labels):
        out.setdefault(label, []).append(j)
    return out


def _null_llf(y: np.ndarray) -> float:
    """Log-likelihood of the intercept-only (or thresholds-only) model."""
    counts = np.bincount(y)
    counts = counts[counts > 0]
    return float(np.sum(counts * np.log(counts / counts.sum())))


class _ModelCache:
    """Fits of the model on subsets of variables, each fitted once.

    ``fit`` gives statsmodels results (Wald tests, tables); ``llf`` - all that
    AIC and likelihood-ratio steps need - is taken from a statsmodels fit when
    one exists, else (binary outcome, ``fast=True``) from `logistic_llf`,
    warm-started from a fitted model with one variable more or less.
    """

    def __init__(self, X, y, groups, *, ordinal, max_iter, fast=True):
        self.X, self.y, self.groups = X, y, groups
        self.ordinal, self.max_iter = ordinal, max_iter
        self.fast = fast and not ordinal
        self._fits: dict = {}
        self._quick: dict = {}  # frozenset of variables -> (llf, {column: coef}, intercept)
        self.n_base = len(np.unique(y)) - 1  # intercept or thresholds
        self._design = np.column_stack([np.ones(len(y)), X]) if self.fast else None

    def columns(self, variables) -> list:
        return sorted(j for v in variables for j in self.groups[v])

    def fit(self, variables):
        key = frozenset(variables)
        if key not in self._fits:
            with warnings.catch_warnings():
                # non-convergence is reported once, on the final model
                warnings.simplefilter("ignore")
                self._fits[key] = fit_model(self.X[:, self.columns(key)], self.y,
                                            ordinal=self.ordinal, max_iter=self.max_iter)
        return self._fits[key]

    def llf(self, variables) -> float:
        if not variables:
            return _null_llf(self.y)
        key = frozenset(variables)
        if key in self._fits or not self.fast:
            return float(self.fit(key).llf)
        if key not in self._quick:
            self._quick[key] = self._quick_fit(key)
        return self._quick[key][0]

    def _quick_fit(self, key):
        columns = self.columns(key)
        start = self._warm_start(key, columns)
        llf, beta, _ = logistic_llf(self._design[:, [0] + [j + 1 for j in columns]], self.y,
                                    start=start, max_iter=self.max_iter)
        if start is not None and not np.isfinite(llf):  # a bad warm start: start cold
            llf, beta, _ = logistic_llf(self._design[:, [0] + [j + 1 for j in columns]],
                                        self.y, max_iter=self.max_iter)
        return llf, dict(zip(columns, beta[1:])), beta[0]

    def _warm_start(self, key, columns):
        """Coefficients of a fitted neighbour (one variable more or less; new columns 0)."""
        neighbours = [key - {v} for v in key] + [key | {v} for v in self.groups if v not in key]
        for other in neighbours:
            if other in self._quick:
                _, coef, intercept = self._quick[other]
                return np.asarray([intercept] + [coef.get(j, 0.0) for j in columns])
        return None

    def aic(self, variables) -> float:
        k = len(self.columns(variables)) + self.n_base
        return -2.0 * self.llf(variables) + 2.0 * k

    def pvalue(self, variable, variables, test: str) -> float:
        """p-value of ``variable`` in the model holding ``variables``."""
        variables = list(variables)
        if test == "lr":
            rest = [v for v in variables if v != variable]
            return lr_pvalue(self.llf(variables), self.llf(rest), len(self.groups[variable]))
        columns = self.columns(variables)
        start = slope_slice(len(columns), self.ordinal).start
        positions = [start + columns.index(j) for j in self.groups[variable]]
        return wald_group_pvalue(self.fit(variables), positions)


def univariable_table(cache: _ModelCache, names, test: str) -> pd.DataFrame:
    """One univariable model per variable: per-column coefficients, OR, CI, p, and
    the variable's p-value (joint test of its dummies)."""
    tables = []
    for variable, columns in cache.groups.items():
        result = cache.fit([variable])
        table = coefficient_table(result, [names[j] for j in columns], ordinal=cache.ordinal,
                                  threshold_names=[f"threshold {k}"
                                                   for k in range(cache.n_base)])
        table = table.loc[[names[j] for j in columns]]
        table.insert(0, "variable", variable)
        table["p_variable"] = cache.pvalue(variable, [variable], test)
        tables.append(table)
    return pd.concat(tables)


def select_variables(X, y, names, params: dict, *, owner: str, fast: bool = True):
    """Run the selection; returns (support mask, selected variables, path, univariable table).

    ``params`` holds the estimator's selection parameters; ``fast=False``
    fits every candidate with statsmodels (the reference path of
    ``benchmarks/bench_stepwise.py`` and the tests).
    """
    groups = variable_groups(names, params["groups"])
    cache = _ModelCache(X, y, groups, ordinal=params["ordinal"], max_iter=params["max_iter"],
                        fast=fast)
    selection, criterion = params["selection"], params["criterion"]
    test = "lr" if criterion == "lr" else "wald"
    univariable = univariable_table(cache, names, test)
    path: list = []
    candidates = list(groups)
    if selection is not None and (params["screen"] or selection == "univariable"):
        p_of = univariable.groupby("variable", sort=False)["p_variable"].first()
        candidates = [v for v in candidates if p_of[v] < params["alpha_enter"]]
        path += [{"action": "screen out", "variable": v, "p_value": p_of[v], "aic": np.nan}
                 for v in groups if v not in candidates]
    if selection in ("backward", "forward", "both"):
        stepper = _AIC_STEPS if criterion == "aic" else _P_STEPS
        chosen = stepper[selection](cache, candidates, params, test, path)
    elif selection == "l1":
        chosen = _l1(cache, candidates, params, path)
    else:
        chosen = candidates
    if not chosen:
        # R's step() ends with the intercept-only model; an error here would sink every
        # cross-validation fold in which no variable happens to be significant.
        warnings.warn(
            f"{owner}: selection={selection!r} (criterion={criterion!r}, alpha_enter="
            f"{params['alpha_enter']}, alpha_remove={params['alpha_remove']}) kept no variable "
            "out of " + str(len(groups)) + "; the model is intercept-only (every patient gets "
            "the prevalence). Relax the thresholds, use screen=False, or selection=None to "
            "keep variables.", DataWarning, stacklevel=5)
    chosen = [v for v in groups if v in chosen]  # column order
    support = np.zeros(len(names), dtype=bool)
    support[cache.columns(chosen)] = True
    path_frame = pd.DataFrame(path, columns=["action", "variable", "p_value", "aic"])
    path_frame.index.name = "step"
    return support, chosen, path_frame, univariable


def _backward_p(cache, current, params, test, path):
    current = list(current)
    while current:
        pvalues = {v: cache.pvalue(v, current, test) for v in current}
        worst = max(pvalues, key=lambda v: (np.nan_to_num(pvalues[v], nan=2.0)))
        if not pvalues[worst] > params["alpha_remove"]:
            break
        current.remove(worst)
        path.append({"action": "remove", "variable": worst, "p_value": pvalues[worst],
                     "aic": cache.aic(current)})
    return current


def _forward_p(cache, candidates, params, test, path, *, both=False):
    current: list = []
    seen = {frozenset()}
    while True:
        remaining = [v for v in candidates if v not in current]
        if not remaining:
            break
        pvalues = {v: cache.pvalue(v, current + [v], test) for v in remaining}
        best = min(pvalues, key=lambda v: np.nan_to_num(pvalues[v], nan=2.0))
        if not pvalues[best] < params["alpha_enter"]:
            break
        current.append(best)
        path.append({"action": "add", "variable": best, "p_value": pvalues[best],
                     "aic": cache.aic(current)})
        if both:
            current = _backward_p(cache, current, params, test, path)
        if frozenset(current) in seen:  # a cycle of entries and removals: stop
            break
        seen.add(frozenset(current))
    return current


def _backward_aic(cache, current, params, test, path):
    current = list(current)
    while current:
        now = cache.aic(current)
        trials = {v: cache.aic([u for u in current if u != v]) for v in current}
        best = min(trials, key=trials.get)
        if not trials[best] < now:
            break
        current.remove(best)
        path.append({"action": "remove", "variable": best, "p_value": np.nan,
                     "aic": trials[best]})
    return current


def _forward_aic(cache, candidates, params, test, path, *, both=False):
    current: list = []
    seen = {frozenset()}
    while True:
        now = cache.aic(current)
        trials = {("add", v): cache.aic(current + [v]) for v in candidates if v not in current}
        if both:
            trials.update({("remove", v): cache.aic([u for u in current if u != v])
                           for v in current})
        if not trials:
            break
        (action, variable), best = min(trials.items(), key=lambda item: item[1])
        if not best < now:
            break
        current = current + [variable] if action == "add" else [
            u for u in current if u != variable]
        path.append({"action": action, "variable": variable, "p_value": np.nan, "aic": best})
        if frozenset(current) in seen:
            break
        seen.add(frozenset(current))
    return current


_P_STEPS = {
    "backward": _backward_p,
    "forward": _forward_p,
    "both": lambda *a: _forward_p(*a, both=True),
}
_AIC_STEPS = {
    "backward": _backward_aic,
    "forward": _forward_aic,
    "both": lambda *a: _forward_aic(*a, both=True),
}


def _l1(cache, candidates, params, path):
    """Variables with a non-zero coefficient in an L1-penalised logistic model.

    ``C=None`` picks the penalty by 5-fold CV (log-loss) inside fit. For an
    ordinal outcome, one L1 model per cumulative split ``y > k``; a variable
    is kept when any split keeps it.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    columns = cache.columns(candidates)
    if not columns:
        return []
    X = cache.X[:, columns]
    keep = np.zeros(len(columns), dtype=bool)
    for k in range(cache.n_base):
        target = (cache.y > k).astype(int)
        if params["C"] is None:
            model = LogisticRegressionCV(Cs=10, l1_ratios=(1.0,), cv=5, solver="saga",
                                         scoring="neg_log_loss", max_iter=5000,
                                         random_state=params["random_state"],
                                         use_legacy_attributes=False)
        else:
            model = LogisticRegression(C=params["C"], l1_ratio=1.0, solver="saga",
                                       max_iter=5000, random_state=params["random_state"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # saga convergence chatter on small data
            model.fit(X, target)
        keep |= np.abs(np.ravel(model.coef_)) > 0
    kept_columns = {columns[i] for i in np.flatnonzero(keep)}
    chosen = [v for v in candidates if any(j in kept_columns for j in cache.groups[v])]
    path += [{"action": "l1 drop", "variable": v, "p_value": np.nan, "aic": np.nan}
             for v in candidates if v not in chosen]
    return chosen


def input_names(estimator, n_columns: int) -> list:
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f"x{j}" for j in range(n_columns)]


def run_selection(estimator, X, y, *, owner):
    """Validate ``X``/``y`` for a selector or classifier and run the selection."""
    X, y = check_classification_data(estimator, X, y)
    classes, codes = encode_target(y, ordinal=estimator.ordinal, owner=owner)
    names = input_names(estimator, X.shape[1])
    params = {key: getattr(estimator, key) for key in SELECTION_PARAMETERS}
    with single_threaded_blas():
        support, chosen, path, univariable = select_variables(X, codes, names, params,
                                                              owner=owner)
    return X, classes, codes, names, support, chosen, path, univariable


class StepwiseSelector(SelectorMixin, BaseEstimator):
    """Select clinical variables by univariable screening and stepwise logistic regression.

    The variable selection of `NomogramClassifier`, as a transformer that can
    sit anywhere in a pipeline (e.g. before a deep model's clinical branch).

    Parameters
    ----------
    selection : {"backward", "forward", "both", "univariable", "l1"} or None, \
default="backward"
        ``"backward"``: start from all (screened) variables, remove the least
        significant one while its p-value exceeds ``alpha_remove`` (or while
        removing one lowers the AIC). ``"forward"``: add the most significant
        while its p-value is below ``alpha_enter`` (or while the AIC drops).
        ``"both"``: forward, with a backward check after every entry.
        ``"univariable"``: the screen alone. ``"l1"``: variables with a
        non-zero coefficient in an L1-penalised logistic model. ``None``: keep
        every variable.
    criterion : {"wald", "lr", "aic"}, default="wald"
        Wald test (R's ``summary``, SPSS "Backward: Wald"), likelihood-ratio
        test (SPSS "Backward: LR", seed 004) or Akaike's criterion (R's
        ``step``). The univariable screen uses the LR test when
        ``criterion="lr"``, the Wald test otherwise.
    screen : bool, default=True
        Keep only variables with univariable p-value < ``alpha_enter``
        before the multivariable step (seeds 003 and 004).
    alpha_enter : float, default=0.05
        Significance to pass the screen and to enter in forward steps.
    alpha_remove : float, default=0.05
        A variable whose p-value exceeds it is removed in backward steps.
    C : float, default=None
        Inverse L1 strength for ``selection="l1"``; ``None`` chooses it by
        5-fold cross-validated log-loss inside ``fit``.
    groups : "auto" or array-like of str, default="auto"
        Variable of each column. ``"auto"``: columns named
        ``"<variable>=<level>"`` (one-hot dummies from `ClinicalPreprocessor`
        with pandas output) form one variable; other columns stand alone.
    ordinal : bool, default=False
        ``y`` holds ordered grades (proportional-odds model) instead of a
        binary label.
    max_iter : int, default=100
        Newton iterations of each logistic fit.
    random_state : int, RandomState instance or None, default=None
        Seeds the L1 solver (``selection="l1"``).

    Attributes
    ----------
    support_ : ndarray of bool
        Selected columns.
    selected_features_ : list of str
        Names of the selected columns.
    selected_variables_ : list of str
        Names of the selected variables (groups).
    selection_path_ : pandas.DataFrame
        One row per step: ``action`` ("screen out", "add", "remove",
        "l1 drop"), ``variable``, its ``p_value`` and the model's ``aic`` after
        the step.
    univariable_summary_ : pandas.DataFrame
        Univariable coefficient, SE, z, p, CI and odds ratio of every column,
        with the variable's joint p-value ``p_variable``.
    classes_ : ndarray
        Outcome classes, in order.
    n_iter_ : int
        Newton (or BFGS) iterations of the model on the selected variables.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    NomogramClassifier : the same selection followed by the final logistic model.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.clinical import StepwiseSelector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> y = (X[:, 0] - X[:, 2] + rng.logistic(size=300) > 0).astype(int)
    >>> StepwiseSelector().fit(X, y).selected_features_
    ['x0', 'x2']
    """

    _parameter_constraints: dict = dict(SELECTION_PARAMETERS)

    def __init__(self, *, selection="backward", criterion="wald", screen=True,
                 alpha_enter=0.05, alpha_remove=0.05, C=None, groups="auto", ordinal=False,
                 max_iter=100, random_state=None):
        self.selection = selection
        self.criterion = criterion
        self.screen = screen
        self.alpha_enter = alpha_enter
        self.alpha_remove = alpha_remove
        self.C = C
        self.groups = groups
        self.ordinal = ordinal
        self.max_iter = max_iter
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Select variables on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_patients, n_features)
            Numeric design matrix without missing values (e.g. the output of
            `mvikit.preprocessing.ClinicalPreprocessor`).
        y : array-like of shape (n_patients,)
            Binary labels, or ordered grades when ``ordinal=True``.

        Returns
        -------
        self : StepwiseSelector
        """
        (X, self.classes_, codes, names, self.support_, self.selected_variables_,
         self.selection_path_, self.univariable_summary_) = run_selection(
            self, X, y, owner=type(self).__name__)
        with warnings.catch_warnings(), single_threaded_blas():
            warnings.simplefilter("ignore")  # the selected model itself is the user's to fit
            final = fit_model(X[:, self.support_], codes, ordinal=self.ordinal,
                              max_iter=self.max_iter)
        self.selected_features_ = [n for n, keep in zip(names, self.support_) if keep]
        self.n_iter_ = n_iterations(final)
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def n_iterations(result) -> int:
    """Iterations of a statsmodels maximum-likelihood fit."""
    retvals = getattr(result, "mle_retvals", {}) or {}
    # Newton reports "iterations"; BFGS (OrderedModel) reports gradient calls
    return int(retvals.get("iterations", retvals.get("gcalls", 1)) or 1)


def _warn_not_converged(result, owner) -> None:
    if not bool(getattr(result, "mle_retvals", {}).get("converged", True)):
        warnings.warn(f"{owner}: the final maximum-likelihood fit did not converge; "
                      "check the coefficients for separation.", DataWarning, stacklevel=4)
