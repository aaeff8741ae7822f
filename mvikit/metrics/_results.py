"""Result objects of :mod:`mvikit.metrics`: small frozen dataclasses.

Each result has named fields, a short readable ``repr`` (4 significant digits)
and ``to_dict()``; none is a bare tuple.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

__all__ = [
    "AUCResult",
    "AUCCovarianceResult",
    "DeLongTestResult",
    "BootstrapResult",
    "BootstrapTestResult",
    "ThresholdMetricsResult",
    "YoudenResult",
    "KappaResult",
    "McNemarResult",
    "CalibrationCurveResult",
    "HosmerLemeshowResult",
    "CalibrationStatsResult",
    "ReclassificationResult",
    "OptimismResult",
]


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    if isinstance(value, np.ndarray) and value.ndim > 1:
        return repr(np.round(value, 4).tolist())
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, separator=", ", threshold=12)
    if isinstance(value, pd.DataFrame):
        return f"<DataFrame {value.shape[0]}x{value.shape[1]}>"
    return repr(value)


def _plain(value):
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, _Result):
        return value.to_dict()
    return value


@dataclass(frozen=True, repr=False)
class _Result:
    """Base: readable repr of the ``repr=True`` fields and ``to_dict()``."""

    def __repr__(self):
        parts = [f"{f.name}={_fmt(getattr(self, f.name))}" for f in fields(self) if f.repr]
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self):
        """Every field as a plain Python value (nested results become dicts)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, repr=False)
class AUCResult(_Result):
    """AUC with its variance and confidence interval (see :func:`roc_auc_ci`)."""

    auc: float
    variance: float
    se: float
    ci: tuple
    method: str
    n_pos: int | None
    n_neg: int | None
    alpha: float = 0.05
    multi_class: str | None = None


@dataclass(frozen=True, repr=False)
class AUCCovarianceResult(_Result):
    """AUCs of k scores on the same patients and their DeLong covariance matrix."""

    auc: np.ndarray
    covariance: np.ndarray
    names: tuple

    def to_frame(self):
        """The covariance matrix as a labelled DataFrame."""
        return pd.DataFrame(self.covariance, index=list(self.names), columns=list(self.names))


@dataclass(frozen=True, repr=False)
class DeLongTestResult(_Result):
    """DeLong test of two AUCs (see :func:`delong_test`)."""

    auc_a: float
    auc_b: float
    difference: float
    variance: float
    se: float
    statistic: float
    p_value: float
    ci: tuple
    paired: bool
    alpha: float = 0.05
    df: float | None = None  # Welch-Satterthwaite df of the unpaired t-test (pROC); z: None


@dataclass(frozen=True, repr=False)
class BootstrapResult(_Result):
    """Bootstrap confidence interval of a metric (see :func:`bootstrap_ci`)."""

    estimate: float
    se: float
    ci: tuple
    method: str
    n_resamples: int
    alpha: float
    distribution: np.ndarray = field(repr=False, default=None)


@dataclass(frozen=True, repr=False)
class BootstrapTestResult(_Result):
    """Paired bootstrap test of a metric difference (see :func:`paired_bootstrap_test`)."""

    estimate_a: float
    estimate_b: float
    difference: float
    se: float
    ci: tuple
    p_value: float
    n_resamples: int
    alpha: float
    distribution: np.ndarray = field(repr=False, default=None)


@dataclass(frozen=True, repr=False)
class ThresholdMetricsResult(_Result):
    """Confusion counts and threshold metrics with Wilson CIs (see :func:`threshold_metrics`)."""

    threshold: float | None
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    accuracy: float
    f1: float
    ci: dict = field(repr=False, default=None)
    alpha: float = 0.05

    def to_frame(self):
        """One row per metric: estimate, lower and upper confidence limit."""
        names = ["sensitivity", "specificity", "ppv", "npv", "accuracy", "f1"]
        return pd.DataFrame(
            {
                "estimate": [getattr(self, n) for n in names],
                "lower": [self.ci[n][0] for n in names],
                "upper": [self.ci[n][1] for n in names],
            },
            index=pd.Index(names, name="metric"),
        )


@dataclass(frozen=True, repr=False)
class YoudenResult(_Result):
    """Threshold maximising Youden's J (see :func:`youden_threshold`)."""

    threshold: float
    sensitivity: float
    specificity: float
    j: float


@dataclass(frozen=True, repr=False)
class KappaResult(_Result):
    """Cohen's kappa with its asymptotic SE and CI (see :func:`kappa`)."""

    kappa: float
    se: float
    ci: tuple
    statistic: float
    p_value: float
    weights: str | None
    alpha: float = 0.05


@dataclass(frozen=True, repr=False)
class McNemarResult(_Result):
    """McNemar test of two paired classifiers (see :func:`mcnemar_test`)."""

    statistic: float
    p_value: float
    table: np.ndarray
    exact: bool
    correction: bool
    subset: str


@dataclass(frozen=True, repr=False)
class CalibrationCurveResult(_Result):
    """Observed against predicted risk (see :func:`calibration_curve`)."""

    prob_pred: np.ndarray
    prob_true: np.ndarray
    counts: np.ndarray | None
    ci_lower: np.ndarray | None
    ci_upper: np.ndarray | None
    method: str


@dataclass(frozen=True, repr=False)
class HosmerLemeshowResult(_Result):
    """Hosmer-Lemeshow goodness-of-fit test (see :func:`hosmer_lemeshow`)."""

    statistic: float
    df: int
    p_value: float
    grouping: str
    table: pd.DataFrame = field(repr=False, default=None)


@dataclass(frozen=True, repr=False)
class CalibrationStatsResult(_Result):
    """Calibration summary (see :func:`calibration_stats`)."""

    intercept: float
    intercept_ci: tuple
    slope: float
    slope_ci: tuple
    brier: float
    hosmer_lemeshow: HosmerLemeshowResult
    spiegelhalter_z: float
    spiegelhalter_p: float
    n: int


@dataclass(frozen=True, repr=False)
class ReclassificationResult(_Result):
    """NRI or IDI with event / non-event components (see :func:`nri`, :func:`idi`)."""

    estimate: float
    se: float
    ci: tuple
    statistic: float
    p_value: float
    event: float
    event_se: float
    nonevent: float
    nonevent_se: float
    kind: str
    alpha: float = 0.05


@dataclass(frozen=True, repr=False)
class OptimismResult(_Result):
    """Harrell's bootstrap optimism correction (see :func:`optimism_corrected`)."""

    table: pd.DataFrame
    n_bootstrap: int

    def __repr__(self):
        return f"OptimismResult(n_bootstrap={self.n_bootstrap})\n{self.table.round(4).to_string()}"

    def __getitem__(self, metric):
        """The row of one metric: apparent, optimism, corrected."""
        return self.table.loc[metric]
