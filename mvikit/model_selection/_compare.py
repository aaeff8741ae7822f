"""`compare_models`: several models, the same folds, the same statistics.

Every model is fitted on exactly the same (train, test) index pairs, drawn once
before any fit.  Each (model, split) pair is one joblib task, so the folds run
in parallel with ``n_jobs`` or on a ``dask.distributed`` cluster under
``joblib.parallel_backend("dask")``; results do not depend on the backend.
"""

from __future__ import annotations

import time
import traceback
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    StratifiedKFold,
    check_cv,
    cross_val_predict,
)
from sklearn.utils import _safe_indexing, check_random_state

from ..exceptions import CohortError
from ..utils._align import align_to_rows
from ._compare_survival import check_model_kinds, compare_survival_models, is_survival_target
from ._parallel import task_runner
from ._results import ModelComparison
from ._scoring import resolve_scoring
from ._splitters import ExternalValidationSplit, LeaveOneCentreOut, _check_groups

__all__ = ["compare_models"]


def compare_models(models, X, y, *, cv=None, scoring=None, groups=None, reference=None,
                   threshold="youden", threshold_cv=3, pos_label=None, n_jobs=None,
                   random_state=None, verbose=0, progress=False):
    """Cross-validate several classifiers on the same folds and compare them.

    Parameters
    ----------
    models : dict of str -> estimator
        Named unfitted classifiers (pipelines welcome).  Each is cloned for
        every fold.  Each needs ``predict_proba`` (or, binary only,
        ``decision_function``; probability-based metrics are then NaN).
    X : DataFrame or array-like of shape (n_samples, n_features)
        The cohort frame (index = patient id) or a feature matrix.
    y : array-like of shape (n_samples,)
        Class labels: binary MVI or graded M0/M1/M2. A survival target (structured
        event/time array) with survival models runs :func:`compare_survival_models`
        (its defaults; call it directly for horizons, ``tau`` and risk groups) and
        returns a :class:`SurvivalComparison`; classifiers and survival models cannot
        be mixed.
    cv : int, cross-validation generator, iterable or None, default=None
        ``None``: ``RepeatedStratifiedKFold(n_splits=5, n_repeats=5)`` (seed 000's
        5-fold CV x 5 seeds), or :class:`LeaveOneCentreOut` when ``groups`` is
        given.  An int is ``StratifiedKFold(n_splits=cv)``.  Anything else is
        used as a scikit-learn splitter and receives ``groups``.
    scoring : None, str, list of str or dict, default=None
        Metric names.  ``None``: ``auc, accuracy, f1, sensitivity, specificity,
        kappa`` (binary) or ``auc`` (one-vs-one macro), ``accuracy``, ``f1``
        (macro), ``kappa``, ``kappa_quadratic`` (multiclass).  mvikit's names
        (``auc``, ``auc_ovr``, ``accuracy``, ``balanced_accuracy``, ``f1``,
        ``sensitivity``, ``specificity``, ``ppv``, ``npv``, ``kappa``,
        ``kappa_quadratic``, ``brier``) use the training-fold threshold; any
        other string is a scikit-learn scorer name; a dict maps display names
        to such names or to scorer callables.
    groups : array-like of shape (n_samples,), default=None
        Centre of each patient (a Series indexed by patient id is matched to
        ``X`` by id).  Enables per-centre metrics in the result.
    reference : str, default=None
        The model the others are tested against; default: the first in ``models``.
    threshold : {"youden", "predict"} or float, default="youden"
        Binary operating point for the threshold metrics.  ``"youden"``
        maximises Youden's J on training-fold predictions (see
        ``threshold_cv``); a float is a fixed probability cut-off;
        ``"predict"`` uses the model's own ``predict``.  Multiclass tasks
        always use ``predict``.
    threshold_cv : int or "train", default=3
        Where the Youden threshold comes from: the out-of-fold predictions of a
        stratified inner ``threshold_cv``-fold CV on the training fold (one
        extra fit per inner fold), or ``"train"``, the training fold's own
        (resubstitution) predictions.  The test fold is never used.
    pos_label : label, default=None
        The positive class of a binary task; default: the larger label.
    n_jobs : int, default=None
        Parallel (model, split) fits; ``None`` follows the active joblib backend.
    random_state : int, RandomState instance or None, default=None
        Seeds the default splitter and the inner threshold CV.  Set the models'
        own ``random_state`` too for a reproducible comparison.
    verbose : int, default=0
        joblib verbosity.
    progress : bool or None, default=False
        A tqdm progress bar over the (model, fold) fits on stderr; None shows it
        only when stderr is a terminal.  Classification only (survival models
        ignore it).

    Returns
    -------
    ModelComparison
        Per-fold scores, Table II-style summary, Wilcoxon and DeLong tests,
        pooled out-of-fold predictions, per-centre metrics and failures.

    Raises
    ------
    ValueError
        Fewer than two splits (except :class:`ExternalValidationSplit`), an
        unknown metric or reference, a model without probabilities.
    CohortError
        Missing labels, one class only, or ``X``/``y``/``groups`` of different lengths.
    TrainingError
        Every fit of every model failed (the first error is quoted).

    See Also
    --------
    ModelComparison : The result and its tables.
    LeaveOneCentreOut, ExternalValidationSplit : Centre-wise splitters.
    mvikit.report.write_report : Markdown/HTML report of the result.

    Notes
    -----
    The summary is mean +/- SD (``ddof=1``) over all folds of all repeats, as
    seed 000 Tables II-IV report over 5 folds x 5 seeds.  The Wilcoxon p-values
    are two-sided signed-rank tests on the paired per-fold scores (25 pairs by
    default).  DeLong's paired test (:func:`mvikit.metrics.delong_test`) runs on
    the pooled out-of-fold predictions of each repeat; the summary shows repeat 0
    and :attr:`ModelComparison.delong` lists every repeat.  A model that fails on
    a fold is reported in ``failures`` with its error; the other models keep
    their results and paired statistics use the folds both models completed.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.model_selection import RepeatedStratifiedKFold
    >>> from mvikit.model_selection import compare_models
    >>> X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    >>> result = compare_models(
    ...     {"logistic": LogisticRegression(), "naive Bayes": GaussianNB()}, X, y,
    ...     cv=RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=0),
    ...     scoring=["auc", "accuracy"], threshold=0.5)
    >>> print(result.table().to_string(index=False))
          Model           AUC      Accuracy p Wilcoxon (AUC) p DeLong (AUC, repeat 0)
       logistic 0.966 ± 0.019 0.913 ± 0.014             ref.                     ref.
    naive Bayes 0.964 ± 0.019 0.921 ± 0.010            0.469                    0.186
    """
    names, models = _check_models(models)
    if is_survival_target(y):  # survival models: their own metrics (_compare_survival.py)
        return compare_survival_models(models, X, y, cv=cv, groups=groups, reference=reference,
                                       n_jobs=n_jobs, random_state=random_state, verbose=verbose)
    check_model_kinds(models, survival=False)
    sample_ids = X.index.to_numpy() if isinstance(X, pd.DataFrame) else np.arange(_n_rows(X))
    y = _check_target(align_to_rows(y, X), sample_ids)
    classes = np.unique(y)
    pos_index = _positive_index(classes, pos_label)
    reference = names[0] if reference is None else reference
    if reference not in names:
        raise ValueError(f"reference={reference!r} is not one of the models {names}.")
    metric_specs = resolve_scoring(scoring, len(classes))
    _check_threshold(threshold, threshold_cv)
    if groups is not None:
        groups = _check_groups(_align_groups(groups, X), len(y))
    _check_scores_available(models, len(classes))

    rng = check_random_state(random_state)
    splitter = _make_splitter(cv, y, groups, rng)
    splits = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y, groups)]
    if len(splits) < 2 and not isinstance(splitter, ExternalValidationSplit):
        raise ValueError(
            f"The cross-validation {splitter!r} produced {len(splits)} split(s); comparing models "
            "needs at least 2 folds (SD, Wilcoxon). Use cv>=2, more centres, or "
            "ExternalValidationSplit for a single external test set."
        )
    inner_seed = rng.randint(np.iinfo(np.int32).max)
    sklearn_scorers = {k: v[1] for k, v in metric_specs.items() if v[0] == "sklearn"}
    fold_kwargs = dict(classes=classes, pos_index=pos_index, threshold=threshold,
                       threshold_cv=threshold_cv, inner_seed=inner_seed, scorers=sklearn_scorers)
    # One task per (model, split); what runs inside a task stays in it (_parallel.py).
    fit_predict = task_runner(_fit_predict, n_jobs)
    tasks = (delayed(fit_predict)(clone(models[name]), X, y, train, test, **fold_kwargs)
             for name in names for train, test in splits)
    outputs = _run_tasks(tasks, len(names) * len(splits), n_jobs, verbose, progress)
    by_task = {(name, s): out for (name, s), out in
               zip(((n, s) for n in names for s in range(len(splits))), outputs)}
    return ModelComparison._from_folds(
        names=names, reference=reference, splits=splits, outputs=by_task, y=y,
        sample_ids=sample_ids, groups=groups, classes=classes, pos_index=pos_index,
        metric_specs=metric_specs, splitter=splitter, threshold=threshold,
    )


def _run_tasks(tasks, n_tasks: int, n_jobs, verbose, progress) -> list:
    """The fits' outputs in task order, counted on a tqdm bar unless ``progress`` is False."""
    if progress is False:
        return Parallel(n_jobs=n_jobs, verbose=verbose)(tasks)
    import sys

    from tqdm.auto import tqdm

    # ordered generator: the bar moves as fits finish, the outputs keep the task order
    results = Parallel(n_jobs=n_jobs, verbose=verbose, return_as="generator")(tasks)
    return list(tqdm(results, total=n_tasks, desc="fold fits", unit="fit", file=sys.stderr,
                     disable=None if progress is None else False))


def _n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _check_models(models):
    if not isinstance(models, dict) or not models:
        raise ValueError(
            "models must be a non-empty dict of name -> unfitted classifier, e.g. "
            "{'logistic': LogisticRegression()}."
        )
    for name, model in models.items():
        if not isinstance(name, str):
            raise ValueError(f"Model names must be strings; got {name!r}.")
        if not hasattr(model, "fit"):
            raise ValueError(f"models[{name!r}] is not an estimator (no fit method): {model!r}.")
    return list(models), models


def _check_target(y, sample_ids) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        y = y.ravel() if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or y.shape[0] != len(sample_ids):
        raise CohortError(
            f"y must hold one label per patient: got shape {np.shape(y)} for {len(sample_ids)} "
            "patients in X."
        )
    missing = pd.isna(pd.Series(y)).to_numpy()
    if missing.any():
        shown = ", ".join(repr(i) for i in sample_ids[missing][:10])
        raise CohortError(
            f"y is missing for patient(s) {shown} ({int(missing.sum())} in all). Drop them from X "
            "and y before comparing models; mvikit never drops patients silently."
        )
    if np.unique(y).size < 2:
        raise CohortError(f"y holds one class only ({np.unique(y)[0]!r}); nothing to discriminate.")
    return y


def _align_groups(groups, X):
    """A Series of centres indexed by patient id is matched to ``X``'s rows by id."""
    if not (isinstance(groups, pd.Series) and isinstance(X, pd.DataFrame)):
        return groups
    if groups.index.equals(X.index):
        return groups.to_numpy()
    unknown = X.index.difference(groups.index)
    if len(unknown):
        shown = ", ".join(repr(i) for i in unknown[:10])
        raise CohortError(
            f"groups has no centre for patient(s) {shown} ({len(unknown)} in all); pass one centre "
            "per row of X (a Series indexed by patient id, or an array in X's row order)."
        )
    return groups.loc[X.index].to_numpy()


def _positive_index(classes, pos_label) -> int:
    if len(classes) != 2:
        return len(classes) - 1
    if pos_label is None:
        return 1
    matches = np.flatnonzero(classes == pos_label)
    if matches.size == 0:
        raise ValueError(f"pos_label={pos_label!r} is not a label of y ({list(classes)}).")
    return int(matches[0])


def _check_threshold(threshold, threshold_cv):
    ok = threshold in ("youden", "predict") if isinstance(threshold, str) else (
        isinstance(threshold, Real) and 0 <= threshold <= 1)
    if not ok:
        raise ValueError(
            f"threshold must be 'youden', 'predict' or a probability in [0, 1]; got {threshold!r}."
        )
    if not (threshold_cv == "train" or (isinstance(threshold_cv, Integral) and threshold_cv >= 2)):
        raise ValueError(f"threshold_cv must be an int >= 2 or 'train'; got {threshold_cv!r}.")


def _check_scores_available(models, n_classes):
    for name, model in models.items():
        if hasattr(model, "predict_proba"):
            continue
        if n_classes == 2 and hasattr(model, "decision_function"):
            continue
        raise ValueError(
            f"models[{name!r}] has no predict_proba{' or decision_function' * (n_classes == 2)}; "
            "AUC needs scores. Use a probabilistic classifier or wrap it in "
            "sklearn.calibration.CalibratedClassifierCV."
        )


def _make_splitter(cv, y, groups, rng):
    if cv is None and groups is not None:
        return LeaveOneCentreOut()
    if cv is None:
        return RepeatedStratifiedKFold(n_splits=5, n_repeats=5,
                                       random_state=rng.randint(np.iinfo(np.int32).max))
    if isinstance(cv, Integral) and cv < 2:
        raise ValueError(
            f"cv={cv} gives fewer than 2 folds; comparing models needs at least 2 (SD, Wilcoxon). "
            "Use ExternalValidationSplit for a single external test set."
        )
    return check_cv(cv, y, classifier=True)


def _fit_predict(estimator, X, y, train, test, *, classes, pos_index, threshold, threshold_cv,
                 inner_seed, scorers):
    """Fit on ``train``, predict ``test``; any exception is returned, not raised."""
    try:
        X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
        start = time.perf_counter()
        estimator.fit(X_train, y[train])
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        proba, score, is_probability = _predict_scores(estimator, X_test, classes, pos_index)
        cut = _training_threshold(estimator, X_train, y[train], classes, pos_index, threshold,
                                  threshold_cv, inner_seed)
        if np.isnan(cut):
            y_pred = np.asarray(estimator.predict(X_test))
        else:
            y_pred = np.where(score >= cut, classes[pos_index], classes[1 - pos_index])
        extra = {name: float(scorer(estimator, X_test, y[test]))
                 for name, scorer in scorers.items()}
        predict_time = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - a failing model must not sink the comparison
        return {"error": type(exc).__name__, "message": str(exc),
                "traceback": traceback.format_exc()}
    return {"error": None, "proba": proba, "score": score, "y_pred": y_pred, "threshold": cut,
            "is_probability": is_probability, "sklearn_scores": extra,
            "fit_time": fit_time, "predict_time": predict_time}


def _predict_scores(estimator, X, classes, pos_index):
    """Class probabilities aligned to ``classes`` and the binary positive-class score."""
    fitted_classes = np.asarray(estimator.classes_)
    if hasattr(estimator, "predict_proba"):
        raw = np.asarray(estimator.predict_proba(X), dtype=float)
        proba = np.zeros((raw.shape[0], len(classes)))
        # a training fold lacking a class gives fewer columns: that class gets probability 0
        for j, label in enumerate(fitted_classes):
            proba[:, np.flatnonzero(classes == label)[0]] = raw[:, j]
        score = proba[:, pos_index] if len(classes) == 2 else None
        return proba, score, True
    decision = np.asarray(estimator.decision_function(X), dtype=float).ravel()
    # decision_function is positive for fitted_classes[1]
    sign = 1.0 if fitted_classes[1] == classes[pos_index] else -1.0
    return None, sign * decision, False


def _training_threshold(estimator, X_train, y_train, classes, pos_index, threshold, threshold_cv,
                        inner_seed) -> float:
    """The binary cut-off, chosen on the training fold only; NaN means use ``predict``."""
    if len(classes) != 2 or threshold == "predict":
        return np.nan
    if not isinstance(threshold, str):
        return float(threshold)
    from ..metrics import youden_threshold

    method = "predict_proba" if hasattr(estimator, "predict_proba") else "decision_function"
    if threshold_cv == "train":
        _, scores, _ = _predict_scores(estimator, X_train, classes, pos_index)
    else:
        inner = StratifiedKFold(n_splits=threshold_cv, shuffle=True, random_state=inner_seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitFailedWarning)
            raw = cross_val_predict(clone(estimator), X_train, y_train, cv=inner, method=method)
        scores = _positive_column(raw, np.unique(y_train), classes[pos_index])
    return float(youden_threshold(y_train == classes[pos_index], scores).threshold)


def _positive_column(raw, fitted_classes, positive):
    raw = np.asarray(raw, dtype=float)
    if raw.ndim == 1:  # decision_function: positive for the larger fitted label
        return raw if fitted_classes[1] == positive else -raw
    return raw[:, np.flatnonzero(fitted_classes == positive)[0]]
