"""Survival analysis: Cox models, risk groups, Kaplan-Meier summaries and metrics.

Survival targets are scikit-survival's structured arrays (``event`` bool, ``time``
float), built with :meth:`Surv.from_arrays` or :func:`make_survival_target`.
"""

from ._cox import CoxPHSurvival
from ._target import Surv, check_survival_y, make_survival_target

__all__ = [
    "CoxPHSurvival",
    "Surv",
    "check_survival_y",
    "make_survival_target",
]
