"""Survival analysis: Cox models, risk groups, Kaplan-Meier summaries and metrics.

Survival targets are scikit-survival's structured arrays (``event`` bool, ``time``
float), built with :meth:`Surv.from_arrays` or :func:`make_survival_target`.

The deep Cox model and the torch loss (`DeepCoxSurvival`, `CoxPartialLikelihoodLoss`,
`cox_partial_likelihood_loss`) are imported on first use, so that a Cox or
Kaplan-Meier user does not import torch and skorch.
"""

from ._compare import SurvivalComparison, compare_survival_models
from ._cox import CoxPHSurvival
from ._horizon import HorizonLabels, horizon_labels
from ._km import LogRankResult, hazard_ratio, km_summary, logrank_test
from ._metrics import calibration_at_horizon
from ._scorers import SurvivalScorer, make_survival_scorer
from ._stratify import RiskStratifier
from ._target import Surv, check_survival_y, make_survival_target

__all__ = [
    "CoxPHSurvival",
    "CoxPartialLikelihoodLoss",
    "DeepCoxSurvival",
    "HorizonLabels",
    "LogRankResult",
    "RiskStratifier",
    "Surv",
    "SurvivalComparison",
    "SurvivalScorer",
    "calibration_at_horizon",
    "check_survival_y",
    "compare_survival_models",
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
