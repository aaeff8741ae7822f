"""`SurvivalComparison`: the tables of a survival `compare_models` run and their rendering."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..exceptions import MetricInputError
from ._results import _check_failures, _oof_rows, _SectionedResult
from ._stats import wilcoxon_table

_GROUP_LABELS = {2: ["low risk", "high risk"], 3: ["low risk", "intermediate risk", "high risk"]}

__all__ = ["SurvivalComparison"]

DISPLAY_NAMES = {"harrell_c": "Harrell C", "uno_c": "Uno C", "mean_auc": "mean td-AUC",
                 "ibs": "IBS"}
PAIRED_COLUMNS = ["model", "reference", "repeat", "n", "c", "c_reference", "difference", "se",
                  "ci_low", "ci_high", "statistic", "p_value"]


class SurvivalComparison(_SectionedResult):
    """Result of :func:`compare_models` on a survival target.

    Built by :func:`compare_models` (through :func:`compare_survival_models`); all tables
    are pandas DataFrames.

    Attributes
    ----------
    models : list of str
        Model names, in the order given.
    reference : str
        The model the others are tested against.
    metrics : list of str
        ``harrell_c``, ``uno_c``, ``auc@<t>`` per horizon, ``mean_auc``, ``ibs`` (lower is
        better).
    times : ndarray
        Horizons of the time-dependent AUC and grid of the integrated Brier score.
    cv : str
        ``repr`` of the splitter.
    splits : DataFrame
        One row per split: ``split, repeat, fold, n_train, n_test``, indices and ``tau``.
    scores : DataFrame
        Tidy per-fold scores: ``model, repeat, fold, metric, value``.
    summary : DataFrame
        Index ``model``: ``<metric>_mean``, ``<metric>_sd``, ``n_folds``, ``p_wilcoxon``
        (Harrell C vs the reference), pooled ``c``/``c_low``/``c_high`` and ``p_paired``
        (repeat 0).
    wilcoxon : DataFrame
        ``model, reference, metric, n_pairs, statistic, p_value`` for every metric.
    pooled : DataFrame
        Harrell's C of the pooled out-of-fold risk of each model and repeat: ``model,
        repeat, n, c, se, ci_low, ci_high``.
    paired : DataFrame
        Paired comparison of each model's pooled C with the reference's, per repeat
        (infinitesimal-jackknife covariance): ``model, reference, repeat, n, c,
        c_reference, difference, se, ci_low, ci_high, statistic, p_value``.
    risk_groups : DataFrame
        Held-out risk groups pooled per repeat: ``model, repeat, n_low, n_high, logrank,
        p_logrank, HR, HR_low, HR_high`` (high vs low risk; with tertiles, the highest vs
        the lowest group).
    fold_risk_groups : DataFrame
        The same per test fold: ``model, repeat, fold, n_low, n_high, logrank, p_logrank,
        HR, HR_low, HR_high`` (NaN where a fold's test patients fall in one group or a
        group of one): DMMGNet's per-fold HR (seed 002, Table 1).
    predictions : DataFrame
        ``model, repeat, fold, sample, position, time, event, risk, risk_group`` (``-1``
        where the training fold's risks could not be cut) and ``survival@<t>``, the
        predicted survival at each horizon (NaN without ``predict_survival_function``).
    task : str
        ``"survival"``.
    fits : DataFrame
        ``model, repeat, fold, status, fit_time, predict_time, cutoffs``.
    failures : DataFrame
        ``model, repeat, fold, error, message, traceback`` of every failed fit.
    """

    _title = "Survival model comparison"

    @classmethod
    def _from_folds(cls, *, names, reference, splits, split_table, outputs, y, sample_ids,
                    times, taus, splitter, alpha):
        from ._compare_survival import _warn_group_errors

        _warn_group_errors(outputs, split_table)
        split_table = split_table.assign(tau=taus)
        records, predictions, fits, failures = [], [], [], []
        for (name, s), out in outputs.items():
            repeat, fold = split_table.loc[s, ["repeat", "fold"]]
            key = {"model": name, "repeat": repeat, "fold": fold}
            if out["error"] is not None:
                failures.append({**key, "error": out["error"], "message": out["message"],
                                 "traceback": out["traceback"]})
                fits.append({**key, "status": "failed"})
                continue
            records += [{**key, "metric": m, "value": v} for m, v in out["metrics"].items()]
            test = splits[s][1]
            frame = pd.DataFrame({
                **key, "sample": sample_ids[test], "position": test, "time": y["time"][test],
                "event": y["event"][test], "risk": out["risk"], "risk_group": out["groups"]})
            for k, t in enumerate(times):
                frame[f"survival@{t:g}"] = (np.nan if out["survival"] is None
                                            else out["survival"][:, k])
            predictions.append(frame)
            fits.append({**key, "status": "ok", "fit_time": out["fit_time"],
                         "predict_time": out["predict_time"], "cutoffs": out["cutoffs"]})
        failures = pd.DataFrame(failures, columns=["model", "repeat", "fold", "error", "message",
                                                   "traceback"])
        _check_failures(failures, names, len(splits))
        scores = pd.DataFrame(records, columns=["model", "repeat", "fold", "metric", "value"])
        metrics = list(dict.fromkeys(scores["metric"]))
        predictions = pd.concat(predictions, ignore_index=True)
        pooled, paired = _pooled_tables(predictions, names, reference, alpha)
        result = cls(
            task="survival", models=list(names), reference=reference, metrics=metrics,
            times=times,
            cv=repr(splitter), alpha=alpha, splits=split_table, scores=scores,
            wilcoxon=wilcoxon_table(scores, names, reference, metrics), pooled=pooled,
            paired=paired, risk_groups=_risk_group_table(predictions, alpha),
            fold_risk_groups=_risk_group_table(predictions, alpha,
                                               by=("model", "repeat", "fold")),
            predictions=predictions, fits=pd.DataFrame(fits), failures=failures)
        result.summary = result._summary()
        return result

    def _summary(self):
        stats = self.scores.groupby(["model", "metric"], sort=False)["value"].agg(["mean", "std"])
        summary = pd.DataFrame(index=pd.Index(self.models, name="model"))
        for metric in self.metrics:
            for stat, suffix in (("mean", "mean"), ("std", "sd")):
                summary[f"{metric}_{suffix}"] = [stats[stat].get((m, metric), np.nan)
                                                 for m in self.models]
        ok = self.fits[self.fits["status"] == "ok"].groupby("model").size()
        summary["n_folds"] = [int(ok.get(m, 0)) for m in self.models]
        harrell = self.wilcoxon[self.wilcoxon["metric"] == "harrell_c"].set_index("model")
        summary["p_wilcoxon"] = [harrell["p_value"].get(m, np.nan) for m in self.models]
        first = self.pooled[self.pooled["repeat"] == 0].set_index("model")
        for column, name in (("c", "c"), ("ci_low", "c_low"), ("ci_high", "c_high")):
            summary[name] = [first[column].get(m, np.nan) for m in self.models]
        paired = self.paired[self.paired["repeat"] == 0].set_index("model")
        summary["p_paired"] = [paired["p_value"].get(m, np.nan) for m in self.models]
        return summary

    def oof_predictions(self, model, repeat=0):
        """Pooled out-of-fold risk of one model in one repeat, in ``X`` row order.

        Parameters
        ----------
        model : str
        repeat : int, default=0

        Returns
        -------
        DataFrame
            Rows of :attr:`predictions`, indexed by patient id.
        """
        return _oof_rows(self, model, repeat)

    def table(self, digits=3):
        """The summary as printed in papers: "mean ± SD" per metric, pooled C [CI], p-values.

        Parameters
        ----------
        digits : int, default=3

        Returns
        -------
        DataFrame
            One row per model.
        """
        out = pd.DataFrame(index=self.summary.index)
        for metric in self.metrics:
            mean, sd = self.summary[f"{metric}_mean"], self.summary[f"{metric}_sd"]
            label = DISPLAY_NAMES.get(metric, metric.replace("auc@", "AUC t="))
            out[label] = [f"{m:.{digits}f} ± {s:.{digits}f}" if np.isfinite(m) else ""
                          for m, s in zip(mean, sd)]
        out["p Wilcoxon (Harrell C)"] = self._p_column("p_wilcoxon")
        out["pooled C [95% CI], repeat 0"] = [
            f"{c:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if np.isfinite(c) else ""
            for c, lo, hi in zip(self.summary["c"], self.summary["c_low"],
                                 self.summary["c_high"])]
        out["p paired C, repeat 0"] = self._p_column("p_paired")
        return out.rename_axis("Model").reset_index()

    def fold_summary(self, digits=3):
        """Harrell's C and the held-out risk groups' HR, mean ± SD (``ddof=1``) over folds.

        The PFS columns of DMMGNet's Table 1 (seed 002): per test fold the C-index of the
        risk and the hazard ratio of high vs low risk, cut at the training fold's own
        risks (``risk_groups``); folds without a hazard ratio are left out of its mean.

        Parameters
        ----------
        digits : int, default=3

        Returns
        -------
        DataFrame
            ``Model``, ``C-index``, ``HR``, ``n folds with HR``.
        """
        harrell = self.scores[self.scores["metric"] == "harrell_c"]
        rows = []
        for model in self.models:
            c = harrell.loc[harrell["model"] == model, "value"]
            hr = self.fold_risk_groups.loc[self.fold_risk_groups["model"] == model, "HR"]
            rows.append({"Model": model, "C-index": _mean_sd(c, digits),
                         "HR": _mean_sd(hr, digits), "n folds with HR": int(hr.notna().sum())})
        return pd.DataFrame(rows)

    def plot_km(self, model, repeat=0, **kwargs):
        """Kaplan-Meier curves of the held-out risk groups, one panel per test fold.

        DMMGNet's Figure 6 (seed 002): the test patients of each fold, grouped at the
        cut-offs chosen on that fold's training risks.

        Parameters
        ----------
        model : str
        repeat : int, default=0
        **kwargs
            Passed to :func:`mvikit.plotting.plot_km` (e.g. ``xlabel="months"``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        from ..plotting import plot_km

        if model not in self.models:
            raise KeyError(f"Unknown model {model!r}; the models are {self.models}.")
        rows = self.predictions[(self.predictions["model"] == model)
                                & (self.predictions["repeat"] == repeat)]
        folds = sorted(rows["fold"].unique())
        n_groups = int(self.predictions["risk_group"].max()) + 1
        names = dict(enumerate(_GROUP_LABELS.get(n_groups,
                                                 [f"group {k}" for k in range(n_groups)])))
        figure, axes = plt.subplots(1, len(folds), figsize=(4.5 * len(folds), 4), squeeze=False)
        for ax, fold in zip(axes[0], folds):
            test = rows[(rows["fold"] == fold) & (rows["risk_group"] >= 0)]
            groups = test["risk_group"].to_numpy()
            if np.unique(groups).size >= 2:
                options = {"group_names": names, "at_risk": False, **kwargs}
                plot_km(_target(test), groups, ax=ax, **options)
                ax.legend(loc="lower left")  # the log-rank and HR text sits top right
            ax.set_title(f"{model}, fold {fold + 1}")
        figure.tight_layout()
        return figure

    def _p_column(self, column):
        return ["ref." if m == self.reference else _p(p)
                for m, p in zip(self.models, self.summary[column])]

    def _sections(self, digits):
        sections = [("Summary (mean ± SD over folds)", self.table(digits)),
                    ("Paired comparison of pooled C-indices (infinitesimal jackknife)",
                     self.paired.round(digits)),
                    ("Held-out risk groups (cut-offs from the training folds)",
                     self.risk_groups.round(digits))]
        if not self.failures.empty:
            sections.append(("Failed fits", self.failures.drop(columns="traceback")))
        return sections

    def _header(self):
        n_repeats = self.splits["repeat"].nunique()
        horizons = ", ".join(f"{t:g}" for t in self.times)
        return (f"{len(self.models)} survival models, {len(self.splits)} splits ({n_repeats} "
                f"repeat(s)) of {self.cv}; reference: {self.reference}; horizons: {horizons}.")



def _p(p):
    if not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _target(rows):
    y = np.empty(len(rows), dtype=[("event", bool), ("time", float)])
    y["event"], y["time"] = rows["event"].to_numpy(), rows["time"].to_numpy()
    return y


def _pooled_tables(predictions, names, reference, alpha):
    """Pooled C per model and repeat, and the paired jackknife test against the reference."""
    from ..survival._concordance import concordance_index

    z = norm.ppf(1 - alpha / 2)
    pooled, paired, results = [], [], {}
    for (name, repeat), rows in predictions.groupby(["model", "repeat"], sort=False):
        rows = rows.sort_values("position")
        result = concordance_index(_target(rows), rows["risk"].to_numpy())
        results[name, repeat] = (rows["position"].to_numpy(), result)
        low, high = result.confidence_interval(alpha)
        pooled.append({"model": name, "repeat": repeat, "n": result.n, "c": result.c,
                       "se": result.se, "ci_low": low, "ci_high": high})
    for (name, repeat), (positions, result) in results.items():
        if name == reference or (reference, repeat) not in results:
            continue
        ref_positions, ref = results[reference, repeat]
        if not np.array_equal(positions, ref_positions):
            continue  # a failed fold leaves the two models on different patients
        paired.append({"model": name, "reference": reference, "repeat": repeat,
                       **_paired_c(result, ref, z)})
    return pd.DataFrame(pooled), pd.DataFrame(paired, columns=PAIRED_COLUMNS)


def _paired_c(result, ref, z):
    """z-test of C_a - C_b with the jackknife variance of the difference (R concordance(f1, f2))."""
    difference = result.c - ref.c
    se = float(np.sqrt(np.sum((result.influence - ref.influence) ** 2)))
    statistic = difference / se if se > 0 else np.nan
    p_value = 2 * norm.sf(abs(statistic)) if se > 0 else (1.0 if difference == 0 else 0.0)
    return {"n": result.n, "c": result.c, "c_reference": ref.c, "difference": difference,
            "se": se, "ci_low": difference - z * se, "ci_high": difference + z * se,
            "statistic": statistic, "p_value": p_value}


def _mean_sd(values, digits):
    values = values.dropna()
    if values.empty:
        return ""
    sd = values.std(ddof=1) if len(values) > 1 else np.nan
    return f"{values.mean():.{digits}f} ± {sd:.{digits}f}"


def _risk_group_table(predictions, alpha, by=("model", "repeat")):
    """Log-rank test and HR (highest vs lowest group) of the held-out risk groups, pooled
    per ``by`` (per repeat, or per fold)."""
    from ..survival._km import hazard_ratio, logrank_test

    rows = []
    n_groups = int(predictions["risk_group"].max()) + 1
    for key, frame in predictions.groupby(list(by), sort=False):
        frame = frame[frame["risk_group"] >= 0]
        groups = frame["risk_group"].to_numpy()
        row = {**dict(zip(by, key)), "n_low": int(np.sum(groups == 0)),
               "n_high": int(np.sum(groups == n_groups - 1)),
               "logrank": np.nan, "p_logrank": np.nan, "HR": np.nan, "HR_low": np.nan,
               "HR_high": np.nan}
        if np.unique(groups).size >= 2:
            y = _target(frame)
            try:
                test = logrank_test(y, groups)
                hr = hazard_ratio(y, groups, alpha=alpha).iloc[-1]
            except (ValueError, MetricInputError):
                pass  # a held-out group of one patient: no test (the row keeps NaN)
            else:
                row.update(logrank=test.statistic, p_logrank=test.p_value, HR=hr["HR"],
                           HR_low=hr["HR lower"], HR_high=hr["HR upper"])
        rows.append(row)
    return pd.DataFrame(rows)
