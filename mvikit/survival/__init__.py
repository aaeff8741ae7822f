"""Survival analysis: Cox models, risk groups, Kaplan-Meier summaries and metrics.

Survival targets are scikit-survival's structured arrays (``event`` bool, ``time``
float), built with :meth:`Surv.from_arrays` or :func:`make_survival_target`.

The deep Cox model and the torch loss (`DeepCoxSurvival`, `CoxPartialLikelihoodLoss`,
`cox_partial_likelihood_loss`) are imported on first use, so that a Cox or
Kaplan-Meier user does not import torch and skorch.
"""

from ._concordance import ConcordanceResult, concordance_index
from ._cox import CoxPHSurvival
from ._horizon import HorizonLabels, horizon_labels
from ._km import LogRankResult, hazard_ratio, km_summary, logrank_test
from ._metrics import (
    calibration_at_horizon,
    calibration_slope_at_horizon,
    km_at,
    smoothed_calibration_at_horizon,
    survival_decision_curve,
    time_dependent_auc_ci,
    time_dependent_roc,
    uno_c_ci,
)
from ._risk_groups import RiskGroupSummary, risk_group_summary
from ._scorers import SurvivalScorer, make_survival_scorer
from ._stratify import RiskStratifier
from ._target import Surv, check_survival_y, make_survival_target

__all__ = [
    "uno_c_ci",
    "time_dependent_roc",
    "time_dependent_auc_ci",
    "survival_decision_curve",
    "smoothed_calibration_at_horizon",
    "km_at",
    "calibration_slope_at_horizon",
    "ConcordanceResult",
    "CoxPHSurvival",
    "CoxPartialLikelihoodLoss",
    "DeepCoxSurvival",
    "HorizonLabels",
    "LogRankResult",
    "RiskStratifier",
    "Surv",
    "RiskGroupSummary",
    "SurvivalScorer",
    "calibration_at_horizon",
    "check_survival_y",
    "concordance_index",
    "risk_group_summary",
    "cox_partial_likelihood_loss",
    "hazard_ratio",
    "horizon_labels",
    "km_summary",
    "logrank_test",
    "make_survival_scorer",
    "make_survival_target",
]

#: Public names whose modules import torch: resolved on first access (PEP 562).
_LAZY = {"DeepCoxSurvival": "._deep_cox",
         "CoxPartialLikelihoodLoss": "._partial_likelihood",
         "cox_partial_likelihood_loss": "._partial_likelihood"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
