"""Figures of a survival comparison report, drawn by :mod:`mvikit.plotting`.

Kaplan-Meier curves of the held-out risk groups (one panel per model), time-dependent ROC
curves (one panel per horizon, every model), calibration at the middle horizon (one panel
per model, so that many models stay readable) and the decision curve at that horizon, all
on the pooled out-of-fold predictions of one repeat.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure

from ..plotting import (
    plot_km,
    plot_survival_calibration,
    plot_survival_decision_curve,
    plot_time_roc,
)

__all__ = ["survival_caption", "survival_figure_names", "make_survival_figure"]

_GROUP_NAMES = {2: ["low", "high"], 3: ["low", "intermediate", "high"]}


def _title(ax, text):
    ax.set_title(textwrap.fill(text, 32), fontsize=9)  # long model names wrap, never overlap


def _panels(n_panels, width=4.2, height=4.6, max_columns=3):
    ncols = min(n_panels, max_columns)
    nrows = int(np.ceil(n_panels / ncols))
    figure = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return figure, [figure.add_subplot(nrows, ncols, k + 1) for k in range(n_panels)]


def _target(frame):
    y = np.empty(len(frame), dtype=[("event", bool), ("time", float)])
    y["event"], y["time"] = frame["event"].to_numpy(), frame["time"].to_numpy(float)
    return y


def _horizon(result):
    return float(result.times[len(result.times) // 2])


def _with_survival(result, repeat):
    column = f"survival@{_horizon(result):g}"
    frames = {m: result.oof_predictions(m, repeat) for m in result.models}
    return {m: f for m, f in frames.items() if len(f) and f[column].notna().all()}


def survival_figure_names(result) -> list:
    """Names of the figures of a survival comparison."""
    names = ["km", "time_roc"]
    if _with_survival(result, 0):
        names += ["calibration", "decision_curve"]
    return names


def km_figure(result, repeat=0) -> Figure:
    frames = {m: result.oof_predictions(m, repeat) for m in result.models}
    frames = {m: f[f["risk_group"] >= 0] for m, f in frames.items()}
    frames = {m: f for m, f in frames.items() if f["risk_group"].nunique() >= 2}
    figure, axes = _panels(max(len(frames), 1), height=5.2)
    for ax, (name, frame) in zip(axes, frames.items()):
        groups = frame["risk_group"].to_numpy()
        names = _GROUP_NAMES.get(np.unique(groups).size)
        plot_km(_target(frame), groups, ax=ax, group_names=names)
        _title(ax, name)
    return figure


def time_roc_figure(result, repeat=0) -> Figure:
    frames = {m: result.oof_predictions(m, repeat) for m in result.models}
    frames = {m: f for m, f in frames.items() if len(f)}
    y = _target(next(iter(frames.values())))
    risks = {m: f["risk"].to_numpy() for m, f in frames.items()}
    figure, axes = _panels(len(result.times))
    for ax, horizon in zip(axes, result.times):
        plot_time_roc(y, risks, horizon, ax=ax)
        _title(ax, f"time-dependent ROC at {horizon:g}")
    return figure


def calibration_figure(result, repeat=0) -> Figure:
    horizon = _horizon(result)
    frames = _with_survival(result, repeat)
    figure, axes = _panels(len(frames))
    for ax, (name, frame) in zip(axes, frames.items()):
        predicted = 1 - frame[f"survival@{horizon:g}"].to_numpy(float)
        plot_survival_calibration(_target(frame), {name: predicted}, horizon, ax=ax)
        _title(ax, name)
    return figure


def decision_curve_figure(result, repeat=0) -> Figure:
    horizon = _horizon(result)
    frames = _with_survival(result, repeat)
    figure, axes = _panels(1, width=6.0, height=5.0)
    y = _target(next(iter(frames.values())))
    risks = {m: 1 - f[f"survival@{horizon:g}"].to_numpy(float) for m, f in frames.items()}
    plot_survival_decision_curve(y, risks, horizon, ax=axes[0])
    _title(axes[0], f"decision curve at {horizon:g}")
    return figure


def make_survival_figure(name, result, repeat=0) -> Figure:
    """The survival report figure ``name`` of ``result``."""
    builders = {"km": km_figure, "time_roc": time_roc_figure,
                "calibration": calibration_figure, "decision_curve": decision_curve_figure}
    return builders[name](result, repeat)


def survival_caption(name, result, repeat=0) -> str:
    """Caption of a survival report figure."""
    pooled = f"pooled out-of-fold predictions of repeat {repeat}"
    horizon = _horizon(result)
    captions = {
        "km": (f"Kaplan-Meier curves of the held-out risk groups of the {pooled} (cut-offs "
               "chosen on each training fold), one panel per model, with the log-rank p and "
               "the hazard ratio against the low-risk group."),
        "time_roc": (f"Cumulative/dynamic ROC curves of the {pooled} risk scores at each "
                     "horizon (IPCW; censoring distribution of all patients)."),
        "calibration": (f"Calibration at {horizon:g} of the {pooled}: Kaplan-Meier observed "
                        "risk (log-log 95% CI) in quintiles of predicted risk, the smoothed "
                        "curve of a Cox model on a spline of cloglog(predicted risk), the "
                        "calibration slope and the integrated calibration index."),
        "decision_curve": (f"Decision curves at {horizon:g} of the {pooled}: net benefit with "
                           "the Kaplan-Meier event rate among treated patients (Vickers et "
                           "al. 2008), treat-all and treat-none."),
    }
    return captions[name]
