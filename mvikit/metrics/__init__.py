"""Statistics for comparing and validating clinical prediction models.

Plain functions returning small result objects (named fields, readable
``repr``, ``to_dict()``): AUC with DeLong CIs and tests, bootstrap intervals,
threshold metrics with Wilson CIs, calibration, decision curves, NRI/IDI and
Harrell's optimism correction.
"""

from ._bootstrap import bootstrap_ci, paired_bootstrap_test
from ._calibration import calibration_curve, calibration_stats, hosmer_lemeshow
from ._roc import delong_covariance, delong_test, roc_auc_ci
from ._threshold import kappa, mcnemar_test, threshold_metrics, youden_threshold

__all__ = [
    "bootstrap_ci",
    "calibration_curve",
    "calibration_stats",
    "delong_covariance",
    "delong_test",
    "hosmer_lemeshow",
    "kappa",
    "mcnemar_test",
    "paired_bootstrap_test",
    "roc_auc_ci",
    "threshold_metrics",
    "youden_threshold",
]
