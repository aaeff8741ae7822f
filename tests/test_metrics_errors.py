"""Bad inputs give clear MetricInputError messages (also a ValueError)."""

import numpy as np
import pandas as pd
import pytest

from mvikit.exceptions import MetricInputError, MvikitError
from mvikit.metrics import (
    calibration_stats,
    decision_curve,
    delong_test,
    hosmer_lemeshow,
    nri,
    optimism_corrected,
    roc_auc_ci,
    threshold_metrics,
)

Y = np.array([0, 1, 0, 1, 1, 0])
P = np.array([0.1, 0.8, 0.3, 0.6, 0.7, 0.2])


def test_error_class_is_both_mvikit_and_value_error():
    assert issubclass(MetricInputError, MvikitError) and issubclass(MetricInputError, ValueError)


@pytest.mark.parametrize("func", [roc_auc_ci, calibration_stats, decision_curve, threshold_metrics])
def test_one_class_only(func):
    with pytest.raises(MetricInputError,
                       match="only one class .* needs both events and non-events"):
        func(np.ones(6), P)


def test_nan_and_inf_scores_name_the_patient():
    y = pd.Series(Y, index=[f"P{i:03d}" for i in range(6)])
    score = pd.Series([0.1, np.nan, 0.3, 0.6, np.inf, 0.2], index=y.index)
    with pytest.raises(
        MetricInputError,
        match=r"y_score has NaN or infinite values at patient ids 'P001', 'P004'",
    ):
        roc_auc_ci(y, score)
    with pytest.raises(MetricInputError,
                       match="y_score_b has NaN or infinite values at position 2"):
        delong_test(Y, P, [0.1, 0.2, np.nan, 0.4, 0.5, 0.6])


def test_missing_outcome_names_the_patient():
    y = pd.Series([0, 1, None, 1, 1, 0], index=list("abcdef"))
    with pytest.raises(MetricInputError, match="missing outcomes at patient id 'c'"):
        roc_auc_ci(y, P)


def test_length_mismatch():
    with pytest.raises(MetricInputError, match="y_score has 5 values but y_true has 6"):
        roc_auc_ci(Y, P[:5])
    with pytest.raises(MetricInputError, match="p_new has 4 values but y_true has 6"):
        nri(Y, P, P[:4])


@pytest.mark.parametrize("func", [calibration_stats, decision_curve, hosmer_lemeshow])
def test_probabilities_outside_unit_interval(func):
    with pytest.raises(MetricInputError,
                       match=r"must be probabilities in \[0, 1\].*position 1.*predict_proba"):
        func(Y, np.array([0.1, 1.7, 0.3, 0.6, 0.7, 0.2]))


@pytest.mark.parametrize("grid", [[0.0, 0.5], [0.2, 1.0], [-0.1], [np.nan]])
def test_threshold_grid_outside_open_unit_interval(grid):
    with pytest.raises(MetricInputError, match=r"thresholds must lie strictly between 0 and 1"):
        decision_curve(Y, P, thresholds=grid)


def test_other_bad_options():
    with pytest.raises(MetricInputError, match="has 3 classes .* multi_class='ovr' or 'ovo'"):
        roc_auc_ci([0, 1, 2, 0, 1, 2], P)
    with pytest.raises(MetricInputError, match="DeLong's variance is defined for a binary AUC"):
        roc_auc_ci([0, 1, 2, 0, 1, 2], np.eye(3)[[0, 1, 2, 0, 1, 2]], multi_class="ovo",
                   method="delong")
    with pytest.raises(MetricInputError, match="at least 2 events and 2 non-events"):
        roc_auc_ci([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(MetricInputError, match="cannot be paired; pass paired=False"):
        delong_test(Y, P, P, y_true_b=Y)
    with pytest.raises(MetricInputError, match="alpha must lie strictly between 0 and 1"):
        roc_auc_ci(Y, P, alpha=5)
    with pytest.raises(MetricInputError, match="must hold predicted labels"):
        threshold_metrics(Y, [0, 1, 2, 1, 1, 0], threshold=None)
    with pytest.raises(MetricInputError, match="cutoffs must be strictly increasing"):
        nri(Y, P, P, cutoffs=[0.5, 0.2])
    with pytest.raises(MetricInputError, match="unknown scoring"):
        optimism_corrected(None, np.zeros((6, 1)), Y, scoring=("auc", "c_index"))
