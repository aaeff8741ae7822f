"""Comparing models on the same folds, and centre-wise validation.

:func:`compare_models` cross-validates several classifiers on identical splits
(repeated stratified K-fold by default, as MD-Net's 5-fold CV x 5 seeds) and
returns a :class:`ModelComparison` with per-fold scores, a Table II-style
summary, Wilcoxon and DeLong tests and the pooled out-of-fold predictions.
:class:`LeaveOneCentreOut` and :class:`ExternalValidationSplit` are the
multi-centre designs of seed 001.
"""

from ._centre_performance import centre_performance
from ._compare import compare_models
from ._compare_survival import compare_survival_models
from ._head_to_head import head_to_head, paired_statistics, subgroup_labels
from ._results import ModelComparison
from ._splitters import ExternalValidationSplit, LeaveOneCentreOut
from ._survival_results import SurvivalComparison

__all__ = ["compare_models", "compare_survival_models", "ModelComparison", "SurvivalComparison",
           "LeaveOneCentreOut", "ExternalValidationSplit", "centre_performance", "head_to_head",
           "paired_statistics", "subgroup_labels"]
