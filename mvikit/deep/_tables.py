"""`mdnet_tables`: MD-Net's Tables III-IV (or II) on a cohort in one resumable call.

Every row of `mdnet_ablation_models` is fitted on the same repeated stratified folds
(the paper: 5-fold cross-validation with 5 seeds); each (row, fold) prediction is
written to a cache folder as soon as it is done, so an interrupted run continues
where it stopped.  The tables give mean +/- SD over the folds of F1, accuracy, AUC
and Cohen's kappa, in percent, as the paper prints them, and the Wilcoxon
signed-rank p-value of each row against "Our method" on the paired folds.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.stats import wilcoxon
from sklearn.base import clone
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from ..exceptions import OutputExistsError
from ._ablation import TABLES, mdnet_ablation_models

__all__ = ["MDNetTablesResult", "mdnet_tables"]

REFERENCE = "Our method"
METRICS = ("f1", "accuracy", "auc", "kappa")


@dataclass(frozen=True)
class MDNetTablesResult:
    """What `mdnet_tables` returns.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per (model, fold): ``model``, ``table``, ``fold``, ``f1``,
        ``accuracy``, ``auc``, ``kappa`` (fractions).
    tables : dict of str to pandas.DataFrame
        Per table ("III", "IV"...): rows = models, columns ``F1``, ``Acc``, ``AUC``,
        ``Kappa`` as "mean +/- SD" in percent and ``p (AUC)``, the Wilcoxon p-value
        against "Our method".
    predictions : pandas.DataFrame
        Out-of-fold class probabilities: ``model``, ``fold``, ``patient`` and one
        column per class.
    """

    scores: pd.DataFrame
    tables: dict
    predictions: pd.DataFrame

    def to_markdown(self) -> str:
        """The tables as Markdown (one section per table)."""
        parts = []
        for name, table in self.tables.items():
            header = "| model | " + " | ".join(table.columns) + " |"
            rule = "|" + "---|" * (len(table.columns) + 1)
            lines = [f"| {row} | " + " | ".join(
                f"{v:.3g}" if isinstance(v, float) else str(v) for v in values) + " |"
                for row, values in zip(table.index, table.to_numpy())]
            parts.append(f"## Table {name}\n\n" + "\n".join([header, rule, *lines]) + "\n")
        return "\n".join(parts)


def _fold_scores(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    predicted = classes[np.argmax(proba, axis=1)]
    if len(classes) == 2:
        auc = roc_auc_score(y, proba[:, 1])
    else:
        auc = roc_auc_score(y, proba, multi_class="ovo", average="macro", labels=classes)
    return {"f1": f1_score(y, predicted, average="macro"),
            "accuracy": accuracy_score(y, predicted), "auc": auc,
            "kappa": cohen_kappa_score(y, predicted)}


def _cache_key(name: str, model, fold: int, X: pd.DataFrame, y: np.ndarray) -> str:
    # the row's parameters, the fold and the data identify a prediction
    text = repr((name, sorted(model.get_params(deep=False).items(), key=str), fold,
                 list(map(str, X.index)), list(map(str, y))))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _fit_fold(name: str, model, X: pd.DataFrame, y: np.ndarray, train: np.ndarray,
              test: np.ndarray, fold: int, cache: Path | None) -> np.ndarray:
    """Out-of-fold probabilities of one row on one fold, from the cache when there."""
    path = None
    if cache is not None:
        path = cache / f"{_cache_key(name, model, fold, X, y)}.npy"
        if path.exists():
            return np.load(path)
    fitted = clone(model).fit(X.iloc[train], y[train])
    proba = np.asarray(fitted.predict_proba(X.iloc[test]), dtype=np.float64)
    if path is not None:
        # written under a temporary name and renamed: a killed run leaves no partial file
        handle, temporary = tempfile.mkstemp(dir=cache, suffix=".npy.part")
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, proba)
        os.replace(temporary, path)
    return proba


def _summary(scores: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    rows = {}
    reference = scores[scores["model"] == REFERENCE].set_index("fold")["auc"]
    for name in names:
        own = scores[scores["model"] == name].set_index("fold")
        row = {label: f"{100 * own[key].mean():.2f} +/- {100 * own[key].std(ddof=1):.2f}"
               for key, label in zip(METRICS, ("F1", "Acc", "AUC", "Kappa"))}
        paired = own["auc"].reindex(reference.index)
        differences = (paired - reference).dropna()
        p = np.nan
        if name != REFERENCE and len(differences) and np.any(differences != 0):
            p = float(wilcoxon(paired.loc[differences.index],
                               reference.loc[differences.index]).pvalue)
        row["p (AUC)"] = p
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def mdnet_tables(X, y, *, tables=("III", "IV"), preset: str = "cpu", n_splits: int = 5,
                 n_repeats: int = 5, random_state: int = 0, n_jobs=None,
                 cache_dir=None, out=None, overwrite: bool = False, verbose: int = 1,
                 **params) -> MDNetTablesResult:
    """Run MD-Net's ablation tables on a cohort: every row on the same folds, resumable.

    Parameters
    ----------
    X : pandas.DataFrame
        Cohort frame with the clinical columns and the PRE and HBP volumes (see
        `mdnet_ablation_models` for other names, via ``pre=``/``hbp=`` in ``params``).
    y : array-like of shape (n_patients,)
        Labels (the paper: M0/M1/M2).
    tables : sequence of {"II", "III", "IV"}, default=("III", "IV")
    preset : {"cpu", "demo", "paper"}, default="cpu"
        The deep rows' preset.
    n_splits, n_repeats : int, default=5, 5
        ``RepeatedStratifiedKFold`` (the paper: 5-fold CV with 5 seeds).
    random_state : int, default=0
        Seeds the folds and every deep row.
    n_jobs : int or None, default=None
        (row, fold) fits in parallel processes.
    cache_dir : path-like or None, default=None
        Folder for the per-(row, fold) predictions; an interrupted run with the
        same folder and settings reuses every finished fit.  None: no cache.
    out : path-like or None, default=None
        Folder to write ``table_<name>.csv``, ``scores.csv``, ``predictions.csv``
        and ``report.md`` (created; refused if it exists unless ``overwrite``).
    overwrite : bool, default=False
    verbose : int, default=1
        A progress bar of the fits when > 0.
    **params
        Passed to `mdnet_ablation_models` (``pre``, ``hbp``, ``max_epochs``...).

    Returns
    -------
    MDNetTablesResult

    Notes
    -----
    Predicted classes are the argmax of the probabilities (as the paper's F1,
    accuracy and kappa); AUC is the macro one-vs-one AUC for three classes.  The
    p-value is the two-sided Wilcoxon signed-rank test of each row's fold AUCs
    against "Our method"'s on the same folds (the paper's Tables III-IV).  Cost: the
    number of rows times ``n_splits * n_repeats`` fits (about 17 rows x 25 folds for
    Tables III-IV; with the cpu preset roughly 40 CPU-seconds per MD-Net fit on 216
    patients).

    Examples
    --------
    >>> from mvikit.datasets import make_hcc_cohort
    >>> from mvikit.deep import mdnet_tables
    >>> cohort = make_hcc_cohort(n_patients=40, random_state=0)
    >>> result = mdnet_tables(cohort.X, cohort.y, tables=["III"], n_splits=2, n_repeats=1,
    ...                       preset="demo", max_epochs=0, verbose=0)  # doctest: +SKIP
    >>> list(result.tables["III"].columns)  # doctest: +SKIP
    ['F1', 'Acc', 'AUC', 'Kappa', 'p (AUC)']
    """
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"Unknown table(s) {sorted(unknown)}; choose from {TABLES}.")
    if out is not None and Path(out).exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass overwrite=True or another folder.")
    y = np.asarray(y)
    classes = np.unique(y)
    by_table = {name: list(mdnet_ablation_models([name], preset=preset,
                                                 random_state=random_state, **params))
                for name in tables}
    models = mdnet_ablation_models(list(tables), preset=preset, random_state=random_state,
                                   **params)
    splits = list(RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats,
                                          random_state=random_state).split(X, y))
    cache = None if cache_dir is None else Path(cache_dir)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    tasks = [(name, fold) for fold in range(len(splits)) for name in models]
    jobs = (delayed(_fit_fold)(name, models[name], X, y, *splits[fold], fold, cache)
            for name, fold in tasks)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    probas = list(_progress(results, verbose, len(tasks)))
    scores, predictions = [], []
    for (name, fold), proba in zip(tasks, probas):
        test = splits[fold][1]
        scores.append({"model": name, "fold": fold, **_fold_scores(y[test], proba, classes)})
        frame = pd.DataFrame(proba, columns=[str(c) for c in classes])
        frame.insert(0, "patient", np.asarray(X.index)[test])
        frame.insert(0, "fold", fold)
        frame.insert(0, "model", name)
        predictions.append(frame)
    scores = pd.DataFrame(scores)
    result = MDNetTablesResult(
        scores=scores,
        tables={name: _summary(scores, rows) for name, rows in by_table.items()},
        predictions=pd.concat(predictions, ignore_index=True))
    if out is not None:
        _write(result, Path(out))
    return result


def _progress(results, verbose: int, total: int):
    if not verbose:
        return results
    from tqdm.auto import tqdm

    return tqdm(results, total=total, desc="MD-Net tables: (row, fold) fits")


def _write(result: MDNetTablesResult, out: Path) -> None:
    """Write every file into a temporary sibling folder, then rename it into place."""
    import shutil

    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent or "."))
    try:
        for name, table in result.tables.items():
            table.to_csv(staging / f"table_{name}.csv")
        result.scores.to_csv(staging / "scores.csv", index=False)
        result.predictions.to_csv(staging / "predictions.csv", index=False)
        (staging / "report.md").write_text("# MD-Net ablation tables\n\n" + result.to_markdown())
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
