"""`compare_survival_models`: survival models on the same folds, with what survival papers print.

Every model is fitted on the same (train, test) index pairs, drawn once before any fit (the
default splitter stratifies on the event indicator). Each (model, split) pair is one joblib
task, as in :func:`compare_models`, which hands survival targets over to this function.
Per fold: Harrell's C, Uno's C truncated at ``tau``, the cumulative/dynamic AUC at each
horizon and the integrated Brier score over the horizons; the risk-group cut-offs come
from the training fold's own risk scores.

``mvikit.survival`` is imported inside the functions: importing the package loads its
deep Cox model (torch), which a classifier comparison does not need.
"""

from __future__ import annotations

import time
import traceback
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, check_random_state
from sksurv.metrics import concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score

from ..exceptions import CohortError, DataWarning, MetricInputError
from ._results import _split_table
from ._splitters import ExternalValidationSplit, LeaveOneCentreOut, _check_groups
from ._survival_results import SurvivalComparison

__all__ = ["compare_survival_models", "is_survival_target", "check_model_kinds"]

# Default horizons: these quantiles of all event times; default Uno truncation: this
# quantile of each training fold's times (as make_survival_scorer("uno_c")).
_DEFAULT_TIME_QUANTILES = (0.25, 0.5, 0.75)
_DEFAULT_TAU_QUANTILE = 0.9


def is_survival_target(y):
    """True for a structured survival array (two fields: event, time)."""
    dtype = getattr(y, "dtype", None)
    return dtype is not None and dtype.names is not None and len(dtype.names) == 2


def _is_survival_model(model):
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if getattr(final, "_estimator_kind", None) == "survival":
        return True
    return type(final).__module__.startswith("sksurv.") or hasattr(
        final, "predict_survival_function")


def check_model_kinds(models, *, survival):
    """Refuse classifiers in a survival comparison and survival models in a classifier one."""
    wrong = [name for name, model in models.items()
             if (_is_survival_model(model) != survival)
             or (survival and is_classifier(model))]
    if not wrong:
        return
    kinds = {name: "survival" if _is_survival_model(m) else "classifier"
             for name, m in models.items()}
    target = "a survival target (structured event/time array)" if survival else "class labels"
    raise ValueError(
        f"compare_models got {target}, but model(s) {wrong} are not "
        f"{'survival models' if survival else 'classifiers'} (kinds: {kinds}). Survival and "
        f"classification models cannot be compared in one call: call compare_models once with "
        f"the classifiers and y = labels, once with the survival models and y = "
        f"Surv.from_arrays(event=..., time=...)."
    )


def compare_survival_models(models, X, y, *, times=None, tau=None, cv=None, groups=None,
                            reference=None, risk_groups="median", alpha=0.05, n_jobs=None,
                            random_state=None, verbose=0):
    """Cross-validate several survival models on the same folds and compare them.

    Parameters
    ----------
    models : dict of str -> estimator
        Named unfitted survival models (e.g. :class:`~mvikit.survival.CoxPHSurvival`, a
        Pipeline ending in one, scikit-survival's models). ``predict`` is the risk score;
        the integrated Brier score also needs ``predict_survival_function`` (NaN without).
    X : DataFrame or array-like of shape (n_patients, n_features)
    y : structured ndarray of shape (n_patients,)
        Survival target (``Surv.from_arrays(event=..., time=...)``).
    times : array-like of float, default=None
        Horizons of the time-dependent AUC (one column each) and the grid of the
        integrated Brier score. ``None``: the 25th, 50th and 75th percentiles of the event
        times. Every horizon must lie before the last follow-up of every training and test
        fold (otherwise an error names the fold and its last time).
    tau : float, default=None
        Truncation time of Uno's C. ``None``: the 90th percentile of each training fold's
        times.
    cv : int, cross-validation generator, iterable or None, default=None
        ``None``: ``RepeatedStratifiedKFold(n_splits=5, n_repeats=5)`` stratified on the
        event indicator, or :class:`LeaveOneCentreOut` with ``groups``. An int is
        ``StratifiedKFold(n_splits=cv)`` on the event indicator.
    groups : array-like of shape (n_patients,), default=None
        Centre of each patient (passed to the splitter).
    reference : str, default=None
        The model the others are tested against; default: the first.
    risk_groups : {"median", "tertiles"}, float or list of float, default="median"
        Cut-offs of the held-out risk groups, chosen on each training fold's own risk scores
        (:class:`~mvikit.survival.RiskStratifier`), applied to its test fold.
    alpha : float, default=0.05
        Level of the confidence intervals (``1 - alpha``).
    n_jobs : int, default=None
        Parallel (model, split) fits.
    random_state : int, RandomState instance or None, default=None
        Seeds the default splitter.
    verbose : int, default=0
        joblib verbosity.

    Returns
    -------
    SurvivalComparison
        Per-fold scores, mean +/- SD table, Wilcoxon tests, pooled out-of-fold C-indices
        with CIs and paired tests, held-out risk groups with log-rank tests and HRs,
        pooled per repeat (``risk_groups``) and per fold (``fold_risk_groups``,
        ``fold_summary()``, the per-fold Kaplan-Meier figure ``plot_km(model)``).

    Raises
    ------
    ValueError
        A classifier among the models, an unknown reference, fewer than two splits.
    MetricInputError
        A horizon (or ``tau``) at or beyond the last follow-up of a fold, or a test fold
        without events (both name the repeat and fold).
    TrainingError
        Every fit of every model failed.

    See Also
    --------
    compare_models : The same for classifiers; dispatches here for a survival ``y``.
    mvikit.survival.concordance_index : Harrell's C with its standard error.

    Notes
    -----
    Per-fold metrics: Harrell's C (:func:`~mvikit.survival.concordance_index`), Uno's C
    (:func:`sksurv.metrics.concordance_index_ipcw`), the cumulative/dynamic AUC at each
    horizon and its mean (:func:`sksurv.metrics.cumulative_dynamic_auc`) and the integrated
    Brier score over ``times`` (:func:`sksurv.metrics.integrated_brier_score`); the
    censoring distribution of the IPCW metrics is the training fold's Kaplan-Meier. The
    summary is mean +/- SD (``ddof=1``) over every fold of every repeat; Wilcoxon
    signed-rank tests pair the folds.

    The out-of-fold risk scores of one repeat are pooled and Harrell's C is computed on
    all patients with its infinitesimal-jackknife standard error (R's
    ``survival::concordance``). Two models' pooled C-indices on the same patients are
    compared with the same jackknife: ``var(C_a - C_b) = sum_k (I_ak - I_bk)^2`` where
    ``I_k`` is patient k's influence on each C (R's ``concordance(fit1, fit2)`` and a
    contrast), a z-test. Scores of different folds come from different fits, so a pooled
    C mixes fold-specific scales; it is what papers report as "cross-validated C".

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> from sklearn.model_selection import RepeatedStratifiedKFold
    >>> from mvikit.model_selection import compare_models
    >>> from mvikit.survival import CoxPHSurvival, make_survival_target
    >>> rossi = load_rossi()
    >>> y = make_survival_target(rossi, time="week", event="arrest")
    >>> X = rossi.drop(columns=["week", "arrest"])
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.pipeline import make_pipeline
    >>> age_prio = make_pipeline(make_column_transformer(("passthrough", ["age", "prio"])),
    ...                          CoxPHSurvival())
    >>> result = compare_models({"all": CoxPHSurvival(), "age + prio": age_prio}, X, y,
    ...     cv=RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=0))
    >>> print(result.table()[["Model", "Harrell C", "pooled C [95% CI], repeat 0",
    ...                       "p paired C, repeat 0"]].to_string(index=False))
         Model     Harrell C pooled C [95% CI], repeat 0 p paired C, repeat 0
           all 0.618 ± 0.066        0.613 [0.559, 0.667]                 ref.
    age + prio 0.634 ± 0.049        0.628 [0.573, 0.682]                0.415
    """
    names = _check_models(models)
    check_model_kinds(models, survival=True)
    sample_ids = X.index.to_numpy() if isinstance(X, pd.DataFrame) else np.arange(len(y))
    y = _check_survival_y(y, sample_ids)
    reference = names[0] if reference is None else reference
    if reference not in names:
        raise ValueError(f"reference={reference!r} is not one of the models {names}.")
    if groups is not None:
        groups = _check_groups(np.asarray(groups), len(y))
    times = _default_times(y) if times is None else np.atleast_1d(np.asarray(times, float))
    rng = check_random_state(random_state)
    splitter = _make_splitter(cv, y, groups, rng)
    splits = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y["event"], groups)]
    if len(splits) < 2 and not isinstance(splitter, ExternalValidationSplit):
        raise ValueError(f"The cross-validation {splitter!r} produced {len(splits)} split(s); "
                         f"comparing models needs at least 2 folds.")
    split_table = _split_table(splits, groups)
    taus = _check_folds(y, splits, split_table, times, tau)
    outputs = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_evaluate)(clone(models[name]), X, y, train, test, times=times, tau=tau_s,
                               risk_groups=risk_groups)
        for name in names for (train, test), tau_s in zip(splits, taus)
    )
    keys = [(name, s) for name in names for s in range(len(splits))]
    return SurvivalComparison._from_folds(
        names=names, reference=reference, splits=splits, split_table=split_table,
        outputs=dict(zip(keys, outputs)), y=y, sample_ids=sample_ids, times=times, taus=taus,
        splitter=splitter, alpha=alpha)


def _check_models(models):
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict of name -> unfitted survival model, "
                         "e.g. {'cox': CoxPHSurvival()}.")
    for name, model in models.items():
        if not isinstance(name, str) or not hasattr(model, "fit"):
            raise ValueError(f"models[{name!r}] must be a named estimator, got {model!r}.")
    return list(models)


def _check_survival_y(y, sample_ids):
    from ..survival._target import check_survival_y

    event, time_ = check_survival_y(y, patient_ids=sample_ids)
    if event.shape[0] != len(sample_ids):
        raise CohortError(f"y holds {event.shape[0]} patients but X has {len(sample_ids)} rows.")
    out = np.empty(event.shape[0], dtype=[("event", bool), ("time", float)])
    out["event"], out["time"] = event, time_
    return out


def _default_times(y):
    return np.unique(np.quantile(y["time"][y["event"]], _DEFAULT_TIME_QUANTILES))


def _make_splitter(cv, y, groups, rng):
    if cv is None and groups is not None:
        return LeaveOneCentreOut()
    if cv is None:
        return RepeatedStratifiedKFold(n_splits=5, n_repeats=5,
                                       random_state=rng.randint(np.iinfo(np.int32).max))
    if isinstance(cv, Integral):
        if cv < 2:
            raise ValueError(f"cv={cv} gives fewer than 2 folds; comparing models needs 2.")
        return StratifiedKFold(n_splits=cv, shuffle=True,
                               random_state=rng.randint(np.iinfo(np.int32).max))
    return check_cv(cv, y["event"], classifier=True)


def _check_folds(y, splits, split_table, times, tau):
    """Refuse horizons past a fold's follow-up and test folds without events; return taus."""
    taus = []
    for s, (train, test) in enumerate(splits):
        where = f"repeat {split_table.loc[s, 'repeat']}, fold {split_table.loc[s, 'fold']}"
        if not y["event"][test].any():
            raise MetricInputError(
                f"The test fold of {where} ({len(test)} patients) has no event: its C-index and "
                f"time-dependent AUC are undefined. Use fewer folds or a splitter stratified on "
                f"the event (the default).")
        for part, index in (("test", test), ("training", train)):
            last = float(y["time"][index].max())
            if times.max() >= last:
                raise MetricInputError(
                    f"The horizon {float(times.max()):g} is at or beyond the last follow-up of the "
                    f"{part} fold of {where} (last time {last:g}); the censoring-weighted AUC and "
                    f"Brier score are undefined there. Choose horizons below {last:g}.")
        fold_tau = float(np.quantile(y["time"][train], _DEFAULT_TAU_QUANTILE)) if tau is None \
            else float(tau)
        last = float(y["time"][train].max())
        if fold_tau > last:
            raise MetricInputError(f"tau={fold_tau:g} is beyond the last follow-up of the "
                                   f"training fold of {where} ({last:g}); choose a smaller tau.")
        taus.append(fold_tau)
    return taus


def _risk(estimator, X):
    risk = np.asarray(estimator.predict(X), dtype=float).ravel()
    # scikit-survival's models predicting a time rank the other way
    return risk if getattr(estimator, "_predict_risk_score", True) else -risk


def _survival_at(estimator, X_test, times):
    """Predicted survival at the horizons, shape (n_test, n_times); None without a model of it."""
    if not hasattr(estimator, "predict_survival_function"):
        return None
    return np.vstack([fn(times) for fn in estimator.predict_survival_function(X_test)])


def _fold_metrics(y_train, y_test, risk, survival, times, tau):
    from ..survival._concordance import concordance_index
    from ..survival._scorers import _truncate

    metrics = {"harrell_c": concordance_index(y_test, risk).c,
               "uno_c": float(concordance_index_ipcw(y_train, y_test, risk, tau=tau)[0])}
    # follow-up censored just after the last horizon: the AUC and Brier score up to it are
    # unchanged, and a test time beyond the training fold's last one needs no G(t) there
    y_test = _truncate(y_test, times.max())
    auc, mean_auc = cumulative_dynamic_auc(y_train, y_test, risk, times)
    metrics.update({f"auc@{t:g}": float(a) for t, a in zip(times, auc)})
    metrics["mean_auc"] = float(mean_auc)
    metrics["ibs"] = np.nan
    if survival is not None and times.size >= 2:
        metrics["ibs"] = float(integrated_brier_score(y_train, y_test, survival, times))
    return metrics


def _risk_groups(risk_train, risk_test, y_train, method):
    from ..survival._stratify import RiskStratifier

    stratifier = RiskStratifier(method=method).fit(risk_train[:, None], y_train)
    return stratifier.predict(risk_test[:, None]), stratifier.cutoffs_


def _fit_transform(estimator, X_train, y_train, X_test):
    """Fit; return the final model and the training and test data as it sees them.

    A Pipeline is fitted as ``Pipeline.fit`` does (``fit_transform`` of each transform, then
    the final step), so that its transforms run once per data set: the training risk (for
    the risk-group cut-off), the test risk and the test survival curves all come from the
    same transformed data (a cohort preprocessor is the slow part of a Cox pipeline).
    """
    if not isinstance(estimator, Pipeline) or len(estimator) < 2:
        estimator.fit(X_train, y_train)
        return estimator, X_train, X_test
    head, final = estimator[:-1], estimator[-1]  # the slice shares the fitted steps
    Xt_train = head.fit_transform(X_train, y_train)
    final.fit(Xt_train, y_train)
    return final, Xt_train, head.transform(X_test)


def _fit_evaluate(estimator, X, y, train, test, *, times, tau, risk_groups):
    """Fit on ``train`` and evaluate on ``test``; an exception is returned, not raised."""
    try:
        X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
        start = time.perf_counter()
        final, X_train, X_test = _fit_transform(estimator, X_train, y[train], X_test)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        risk = _risk(final, X_test)
        survival = _survival_at(final, X_test, times)
        metrics = _fold_metrics(y[train], y[test], risk, survival, times, tau)
        try:
            groups, cutoffs = _risk_groups(_risk(final, X_train), risk, y[train], risk_groups)
            group_error = None
        except ValueError as exc:  # tied training risks can leave a group empty
            groups, cutoffs, group_error = np.full(len(test), -1), np.array([np.nan]), str(exc)
        predict_time = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - a failing model must not sink the comparison
        return {"error": type(exc).__name__, "message": str(exc),
                "traceback": traceback.format_exc()}
    return {"error": None, "risk": risk, "survival": survival, "metrics": metrics,
            "groups": groups, "cutoffs": cutoffs, "group_error": group_error,
            "fit_time": fit_time, "predict_time": predict_time}


def _warn_group_errors(outputs, split_table):
    bad = [(name, s, out["group_error"]) for (name, s), out in outputs.items()
           if out["error"] is None and out["group_error"]]
    if bad:
        shown = "; ".join(f"{name!r} repeat {split_table.loc[s, 'repeat']} fold "
                          f"{split_table.loc[s, 'fold']}: {msg}" for name, s, msg in bad[:3])
        warnings.warn(f"Risk groups could not be cut in {len(bad)} fit(s) (their patients are "
                      f"left out of the risk-group tests): {shown}", DataWarning, stacklevel=3)
