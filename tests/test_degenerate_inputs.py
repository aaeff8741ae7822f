"""Issue 12, classes 5 (extreme values, degenerate inputs), 7 (targets) and 9 (errors of
the wrong kind): each gets an mvikit error or a warning naming the cause."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mvikit.clinical import NomogramClassifier, StepwiseSelector
from mvikit.exceptions import CohortError, DataWarning, MetricInputError, MvikitError
from mvikit.metrics import (
    calibration_stats,
    hosmer_lemeshow,
    idi,
    kappa,
    nri,
    threshold_metrics,
    youden_threshold,
)
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.radiomics import RadScore, UnivariateFilter

IDS = [f"P-{i:03d}" for i in range(20)]
Y = np.array([0, 1] * 10)


def _frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"afp": rng.lognormal(3, 1, 20), "size": rng.normal(4, 1, 20)},
                        index=IDS)


# ------------------------------------------------------------------------ class 5
def test_one_huge_value_is_named_instead_of_a_column_of_nan():
    X = _frame()
    X.loc["P-007", "afp"] = 1e308  # was: the whole scaled column NaN for every patient
    with pytest.raises(CohortError, match=r"'afp' holds values too large.*'P-007'"):
        ClinicalPreprocessor().fit(X)
    with pytest.raises(CohortError, match=r"'afp' has implausibly large.*'P-007'"):
        NomogramClassifier(selection=None).fit(X, Y)


def test_infinite_cell_is_named_with_its_column_and_patient():
    X = _frame()
    X.loc["P-003", "size"] = np.inf  # was: scikit-learn's "Input X contains infinity"
    with pytest.raises(CohortError, match=r"'size' has infinite values.*'P-003'"):
        ClinicalPreprocessor().fit(X)
    with pytest.raises(CohortError, match=r"'size' has missing \(NaN\) or infinite.*'P-003'"):
        NomogramClassifier(selection=None).fit(X, Y)


def test_constant_scores_give_a_finite_youden_threshold_and_a_warning():
    with pytest.warns(DataWarning, match="y_score is constant"):
        res = youden_threshold(Y, np.full(20, 0.3))
    assert res.threshold == 0.3 and res.j == 0.0  # was: threshold inf


def test_degenerate_statistics_warn_or_refuse():
    perfect = np.r_[np.full(10, 0.2), np.full(10, 0.8)]
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    with pytest.raises(MetricInputError, match="separates the outcomes perfectly"):
        calibration_stats(y, perfect)  # was: numpy's LinAlgError
    with pytest.raises(MetricInputError, match="y_prob is constant"):
        calibration_stats(Y, np.full(20, 0.4))
    with pytest.warns(DataWarning, match="only 2 risk groups"), \
            pytest.raises(MetricInputError, match="at least 3 risk groups"):
        hosmer_lemeshow(y, perfect)
    other = np.r_[np.full(10, 0.3), np.full(10, 0.7)]
    for statistic in (nri, idi):  # was: z = -inf silently
        with pytest.warns(DataWarning, match="standard error is 0"):
            assert np.isinf(statistic(y, perfect, other).statistic)
    with pytest.warns(DataWarning, match="ppv undefined"):
        assert np.isnan(threshold_metrics(Y, np.full(20, 0.1), threshold=0.5).ppv)
    with pytest.warns(DataWarning, match="y2 uses a single category"):
        assert np.isnan(kappa(Y, np.zeros(20, int)).p_value)


# ------------------------------------------------------------------------ class 7
@pytest.mark.parametrize("make", [lambda: NomogramClassifier(selection=None),
                                  lambda: StepwiseSelector(), lambda: RadScore(cv=3),
                                  lambda: UnivariateFilter()])
def test_classifiers_refuse_a_continuous_target(make):
    X = _frame()
    continuous = np.random.default_rng(1).normal(size=20)
    with pytest.raises(CohortError, match="continuous.*20 distinct values in 20 patients"):
        make().fit(X, continuous)
    with pytest.raises(CohortError, match="8 distinct values in 8 patients"):
        make().fit(X.iloc[:8], np.arange(8))  # an 8-class model on 8 patients
    with pytest.raises(CohortError, match="y has 19 labels but X has 20 rows"):
        make().fit(X, Y[:19])
    with pytest.raises(CohortError, match=r"y is missing for patient\(s\) 'P-004'"):
        make().fit(X, pd.Series(Y, index=IDS, dtype=float).mask(lambda s: s.index == "P-004"))


# ------------------------------------------------------------------------ class 9
def test_upstream_errors_become_mvikit_errors_of_the_builtin_kind(tmp_path):
    from mvikit import Volume
    from mvikit.datasets import load_cohort

    X = _frame()
    X.loc["P-002", "afp"] = np.nan
    calls = [
        # scikit-learn's "Input X contains NaN"
        (lambda: NomogramClassifier(selection=None).fit(X, Y), ValueError, "'afp'.*'P-002'"),
        # SimpleITK's RuntimeError for a bad direction
        (lambda: Volume(np.zeros((2, 2, 2)), direction=(1, 0, 0, 1, 0, 0, 0, 0, 1)).to_sitk(),
         ValueError, "not orthonormal"),
        # pandas' EmptyDataError for an empty CSV
        (lambda: load_cohort(tmp_path / "empty.csv"), ValueError, "is empty"),
        # numpy's LinAlgError
        (lambda: calibration_stats([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), ValueError,
         "separates"),
    ]
    (tmp_path / "empty.csv").write_text("")
    for call, builtin, match in calls:
        with pytest.raises(MvikitError, match=match) as info:
            call()
        assert isinstance(info.value, builtin)


def test_text_numbers_in_a_numeric_estimator_warn_naming_the_column():
    X = _frame().astype({"afp": str})
    with pytest.warns(DataWarning, match="Column 'afp' holds numbers stored as text"):
        NomogramClassifier(selection=None).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        NomogramClassifier(selection=None).fit(_frame(), Y)  # a clean frame stays silent
