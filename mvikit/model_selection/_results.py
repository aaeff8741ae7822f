"""`ModelComparison`: the tables of a `compare_models` run and their rendering."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import FitFailedWarning

from ..exceptions import TrainingError
from ..utils._repr import _SectionedResult
from ._scoring import compute_metric
from ._stats import centre_table, delong_table, wilcoxon_table

__all__ = ["ModelComparison"]

DISPLAY_NAMES = {
    "auc": "AUC", "auc_ovr": "AUC (OvR)", "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy", "f1": "F1", "sensitivity": "Sensitivity",
    "specificity": "Specificity", "ppv": "PPV", "npv": "NPV", "kappa": "Kappa",
    "kappa_quadratic": "Weighted kappa", "brier": "Brier",
}


@dataclass
class _Fold:
    """What a metric sees of one (model, split): test labels and predictions."""

    y_true: np.ndarray
    proba: np.ndarray | None
    score: np.ndarray | None
    y_pred: np.ndarray
    classes: np.ndarray
    pos_index: int
    is_probability: bool
    label: str

    @property
    def n_classes(self) -> int:
        return len(self.classes)


class ModelComparison(_SectionedResult):
    """Result of :func:`compare_models`: scores, tests, predictions, failures.

    Built by :func:`compare_models`; not meant to be created by hand.  All tables
    are pandas DataFrames.

    Attributes
    ----------
    models : list of str
        Model names, in the order given.
    reference : str
        The model the others are tested against.
    metrics : list of str
        Metric names, in order; ``primary_metric`` (``"auc"`` when present) is
        the one the summary's p-values refer to.
    primary_metric : str
        Metric of the summary's Wilcoxon p-value.
    classes : ndarray
        Sorted class labels; ``pos_label`` is the positive one (binary).
    pos_label : object
        Positive class of a binary task (the last class otherwise).
    task : {"binary", "multiclass"}
        Kind of outcome.
    cv : str
        ``repr`` of the splitter used.
    splits : DataFrame
        One row per split: ``split, repeat, fold, n_train, n_test, test_centre``
        and the ``train_indices`` / ``test_indices`` (positions in ``X``) - the
        very same for every model.
    scores : DataFrame
        Tidy per-fold scores: ``model, repeat, fold, metric, value``.
    summary : DataFrame
        Index ``model``; ``<metric>_mean`` and ``<metric>_sd`` (SD with
        ``ddof=1`` over all folds of all repeats), ``n_folds``, ``p_wilcoxon``
        (primary metric vs the reference) and ``p_delong`` (AUC, pooled
        predictions of repeat 0).
    wilcoxon : DataFrame
        ``model, reference, metric, n_pairs, statistic, p_value`` for every metric.
    delong : DataFrame
        ``model, reference, repeat, n, auc, auc_reference, difference, ci_low,
        ci_high, statistic, p_value`` for every repeat (binary tasks).
    predictions : DataFrame
        Out-of-fold predictions: ``model, repeat, fold, sample`` (patient id),
        ``position`` (row of ``X``), ``y_true``, ``y_pred`` (at the training-fold
        threshold), ``score`` (binary: positive-class probability) or
        ``proba_<class>`` columns (multiclass), and ``centre`` when groups were given.
    centre_metrics : DataFrame or None
        Per model, repeat and centre: ``n``, AUC with its DeLong 95 % CI,
        sensitivity, specificity, accuracy, calibration intercept and slope,
        Brier score (binary); ``None`` without groups.
    fits : DataFrame
        ``model, repeat, fold, status, threshold, fit_time, predict_time,
        is_probability`` (scores are ``predict_proba`` rather than ``decision_function``).
    probability_models : list of str
        Models whose scores are probabilities (calibration and net benefit need them).
    failures : DataFrame
        ``model, repeat, fold, error, message, traceback`` of every failed fit.

    See Also
    --------
    compare_models : Produces this object.
    mvikit.report.write_report : Writes it as a Markdown/HTML report with figures.
    """

    # ------------------------------------------------------------------ building
    @classmethod
    def _from_folds(cls, *, names, reference, splits, outputs, y, sample_ids, groups, classes,
                    pos_index, metric_specs, splitter, threshold):
        split_table = _split_table(splits, groups)
        records, predictions, fits, failures = [], [], [], []
        for (name, s), out in outputs.items():
            repeat, fold = split_table.loc[s, ["repeat", "fold"]]
            key = {"model": name, "repeat": repeat, "fold": fold}
            if out["error"] is not None:
                failures.append({**key, "error": out["error"], "message": out["message"],
                                 "traceback": out["traceback"]})
                fits.append({**key, "status": "failed", "threshold": np.nan,
                             "fit_time": np.nan, "predict_time": np.nan})
                continue
            test = splits[s][1]
            fold_view = _Fold(y[test], out["proba"], out["score"], out["y_pred"], classes,
                              pos_index, out["is_probability"],
                              f"model {name!r}, repeat {repeat}, fold {fold}")
            for metric, (kind, spec) in metric_specs.items():
                value = (compute_metric(spec, fold_view) if kind == "mvikit"
                         else out["sklearn_scores"][metric])
                records.append({**key, "metric": metric, "value": value})
            predictions.append(_prediction_frame(key, test, sample_ids, y, out, classes,
                                                 pos_index, groups))
            fits.append({**key, "status": "ok", "threshold": out["threshold"],
                         "fit_time": out["fit_time"], "predict_time": out["predict_time"],
                         "is_probability": out["is_probability"]})
        failures = pd.DataFrame(failures, columns=["model", "repeat", "fold", "error", "message",
                                                   "traceback"])
        _check_failures(failures, names, len(splits))
        metrics = list(metric_specs)
        scores = pd.DataFrame(records, columns=["model", "repeat", "fold", "metric", "value"])
        predictions = pd.concat(predictions, ignore_index=True)
        fits = pd.DataFrame(fits)
        probability_models = set(fits.loc[fits["is_probability"].eq(True), "model"])
        primary = "auc" if "auc" in metrics else metrics[0]
        positive = classes[pos_index]
        # DeLong needs only the ranking, so decision_function scores qualify too
        delong = delong_table(predictions, names, reference, positive, len(classes))
        wilcoxon = wilcoxon_table(scores, names, reference, metrics)
        result = cls(
            models=list(names), reference=reference, metrics=metrics, primary_metric=primary,
            classes=classes, pos_label=positive,
            task="binary" if len(classes) == 2 else "multiclass",
            cv=repr(splitter), threshold=threshold, splits=split_table, scores=scores,
            wilcoxon=wilcoxon, delong=delong, predictions=predictions,
            fits=fits, failures=failures,
            probability_models=[m for m in names if m in probability_models],
            centre_metrics=(centre_table(predictions, classes, positive, probability_models)
                            if groups is not None else None),
        )
        result.summary = result._summary()
        return result

    def _summary(self) -> pd.DataFrame:
        stats = self.scores.groupby(["model", "metric"], sort=False)["value"].agg(["mean", "std"])
        summary = pd.DataFrame(index=pd.Index(self.models, name="model"))
        for metric in self.metrics:
            for stat, suffix in (("mean", "mean"), ("std", "sd")):
                summary[f"{metric}_{suffix}"] = [
                    stats[stat].get((m, metric), np.nan) for m in self.models]
        ok = self.fits[self.fits["status"] == "ok"].groupby("model").size()
        summary["n_folds"] = [int(ok.get(m, 0)) for m in self.models]
        primary = self.wilcoxon[self.wilcoxon["metric"] == self.primary_metric].set_index("model")
        summary["p_wilcoxon"] = [primary["p_value"].get(m, np.nan) for m in self.models]
        first = self.delong[self.delong["repeat"] == 0].set_index("model")
        summary["p_delong"] = [first["p_value"].get(m, np.nan) for m in self.models]
        return summary

    # ------------------------------------------------------------------ access
    def oof_predictions(self, model, repeat=0) -> pd.DataFrame:
        """Pooled out-of-fold predictions of one model in one repeat, in ``X`` row order.

        Parameters
        ----------
        model : str
            Model name.
        repeat : int, default=0
            Repeat index (a repeat is one full partition of the patients).

        Returns
        -------
        DataFrame
            Rows of :attr:`predictions`, indexed by patient id.
        """
        return _oof_rows(self, model, repeat)

    # ------------------------------------------------------------------ rendering
    def table(self, digits=3) -> pd.DataFrame:
        """The summary formatted like seed 000's Table II: "mean ± SD" strings and p-values.

        Parameters
        ----------
        digits : int, default=3
            Decimals of means and SDs.

        Returns
        -------
        DataFrame
            One row per model.
        """
        out = pd.DataFrame(index=self.summary.index)
        for metric in self.metrics:
            mean, sd = self.summary[f"{metric}_mean"], self.summary[f"{metric}_sd"]
            out[DISPLAY_NAMES.get(metric, metric)] = [
                _mean_sd(m, s, digits) for m, s in zip(mean, sd)]
        label = DISPLAY_NAMES.get(self.primary_metric, self.primary_metric)
        out[f"p Wilcoxon ({label})"] = [_p(p) if m != self.reference else "ref."
                                        for m, p in zip(self.models, self.summary["p_wilcoxon"])]
        if self.task == "binary":
            out["p DeLong (AUC, repeat 0)"] = [
                _p(p) if m != self.reference else "ref."
                for m, p in zip(self.models, self.summary["p_delong"])]
        return out.rename_axis("Model").reset_index()

    def _sections(self, digits):
        """(title, DataFrame) pairs shown by the Markdown and HTML renderings."""
        sections = [("Summary (mean ± SD over folds)", self.table(digits))]
        if not self.delong.empty:
            sections.append(("DeLong tests on pooled out-of-fold predictions",
                             _format_delong(self.delong, digits)))
        if self.centre_metrics is not None:
            sections.append(("Per-centre metrics (pooled test predictions)",
                             _fixed_decimals(self.centre_metrics, digits)))
        if not self.failures.empty:
            sections.append(("Failed fits", self.failures.drop(columns="traceback")))
        return sections

    def _header(self) -> str:
        n_repeats = self.splits["repeat"].nunique()
        return (f"{len(self.models)} models, {len(self.splits)} splits ({n_repeats} repeat(s)) of "
                f"{self.cv}; reference: {self.reference}; threshold: {self.threshold}.")


def _split_table(splits, groups) -> pd.DataFrame:
    """Number repeats and folds: a new repeat starts when a test set reuses a covered patient."""
    rows, covered, repeat, fold = [], set(), 0, 0
    for s, (train, test) in enumerate(splits):
        if covered.intersection(test.tolist()):
            repeat, fold, covered = repeat + 1, 0, set()
        covered.update(test.tolist())
        centre = None
        if groups is not None:
            held = pd.unique(pd.Series(groups[test]))
            centre = held[0] if len(held) == 1 else None
        rows.append({"split": s, "repeat": repeat, "fold": fold, "n_train": len(train),
                     "n_test": len(test), "test_centre": centre, "train_indices": train,
                     "test_indices": test})
        fold += 1
    return pd.DataFrame(rows)


def _prediction_frame(key, test, sample_ids, y, out, classes, pos_index, groups) -> pd.DataFrame:
    frame = pd.DataFrame({**key, "sample": sample_ids[test], "position": test, "y_true": y[test],
                          "y_pred": out["y_pred"]})
    if len(classes) == 2:
        frame["score"] = out["score"]
    else:
        for j, label in enumerate(classes):
            frame[f"proba_{label}"] = out["proba"][:, j]
    if groups is not None:
        frame["centre"] = groups[test]
    return frame


def _oof_rows(result, model, repeat) -> pd.DataFrame:
    """One model's out-of-fold prediction rows of one repeat, in patient order (shared by
    the classification and survival comparisons)."""
    if model not in result.models:
        raise KeyError(f"Unknown model {model!r}; the models are {result.models}.")
    rows = result.predictions[(result.predictions["model"] == model)
                              & (result.predictions["repeat"] == repeat)]
    return rows.sort_values("position").set_index("sample")


def _check_failures(failures, names, n_splits):
    if failures.empty:
        return
    if len(failures) == len(names) * n_splits:
        first = failures.iloc[0]
        raise TrainingError(
            f"Every fit failed. First: model {first['model']!r}, repeat {first['repeat']}, fold "
            f"{first['fold']}: {first['error']}: {first['message']}"
        )
    counts = failures.groupby("model").size()
    detail = "; ".join(
        f"{m}: {n} of {n_splits} fits ({failures[failures['model'] == m].iloc[0]['error']}: "
        f"{failures[failures['model'] == m].iloc[0]['message'][:120]})" for m, n in counts.items())
    warnings.warn(f"Some fits failed and are listed in result.failures - {detail}. The other "
                  "models' results are kept; paired tests use the folds both models completed.",
                  FitFailedWarning, stacklevel=4)


def _mean_sd(mean, sd, digits) -> str:
    if np.isnan(mean):
        return ""
    return f"{mean:.{digits}f}" if np.isnan(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _p(p) -> str:
    if p is None or np.isnan(p):
        return ""
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def _format_delong(delong, digits) -> pd.DataFrame:
    return pd.DataFrame({
        "Model": delong["model"], "Reference": delong["reference"], "Repeat": delong["repeat"],
        "n": delong["n"], "AUC": [f"{v:.{digits}f}" for v in delong["auc"]],
        "AUC reference": [f"{v:.{digits}f}" for v in delong["auc_reference"]],
        "Difference (95% CI)": [f"{d:+.{digits}f} ({lo:+.{digits}f}, {hi:+.{digits}f})"
                                for d, lo, hi in zip(delong["difference"], delong["ci_low"],
                                                     delong["ci_high"])],
        "Z": [f"{v:.2f}" for v in delong["statistic"]], "p": [_p(p) for p in delong["p_value"]],
    })


def _fixed_decimals(frame: pd.DataFrame, digits) -> pd.DataFrame:
    """Float columns as strings with ``digits`` decimals (blank for NaN)."""
    out = frame.copy()
    for column in out.columns[out.dtypes.map(pd.api.types.is_float_dtype)]:
        out[column] = [("" if np.isnan(v) else f"{v:.{digits}f}") for v in out[column]]
    return out
