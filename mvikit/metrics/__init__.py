"""Statistics for comparing and validating clinical prediction models.

Plain functions returning small result objects (named fields, readable
``repr``, ``to_dict()``): AUC with DeLong CIs and tests, bootstrap intervals,
threshold metrics with Wilson CIs, calibration, decision curves, NRI/IDI,
Harrell's optimism correction, and scorers for ``GridSearchCV``.
"""

from ._bootstrap import bootstrap_ci, paired_bootstrap_test
from ._calibration import calibration_curve, calibration_stats, hosmer_lemeshow
from ._decision_curve import decision_curve, net_benefit_difference
from ._reclassification import idi, nri
from ._results import (
    AUCCovarianceResult,
    AUCResult,
    BootstrapResult,
    BootstrapTestResult,
    CalibrationCurveResult,
    CalibrationStatsResult,
    DeLongTestResult,
    HosmerLemeshowResult,
    KappaResult,
    McNemarResult,
    OptimismResult,
    ReclassificationResult,
    ThresholdMetricsResult,
    YoudenResult,
)
from ._roc import delong_covariance, delong_test, roc_auc_ci
from ._scorers import (
    calibration_intercept_scorer,
    calibration_slope_scorer,
    make_net_benefit_scorer,
    roc_auc_ovo_scorer,
)
from ._threshold import kappa, mcnemar_test, threshold_metrics, youden_threshold
from ._validation import optimism_corrected

__all__ = [
    "AUCCovarianceResult",
    "AUCResult",
    "BootstrapResult",
    "BootstrapTestResult",
    "CalibrationCurveResult",
    "CalibrationStatsResult",
    "DeLongTestResult",
    "HosmerLemeshowResult",
    "KappaResult",
    "McNemarResult",
    "OptimismResult",
    "ReclassificationResult",
    "ThresholdMetricsResult",
    "YoudenResult",
    "bootstrap_ci",
    "calibration_curve",
    "calibration_intercept_scorer",
    "calibration_slope_scorer",
    "calibration_stats",
    "decision_curve",
    "delong_covariance",
    "delong_test",
    "hosmer_lemeshow",
    "idi",
    "kappa",
    "make_net_benefit_scorer",
    "mcnemar_test",
    "net_benefit_difference",
    "nri",
    "optimism_corrected",
    "paired_bootstrap_test",
    "roc_auc_ci",
    "roc_auc_ovo_scorer",
    "threshold_metrics",
    "youden_threshold",
]
