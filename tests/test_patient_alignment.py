"""Issue 12, class 1: outcomes, scores and features are paired by patient id, not position."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB

from mvikit.clinical import NomogramClassifier
from mvikit.exceptions import CohortError, MetricInputError, PatientIdError
from mvikit.metrics import (
    bootstrap_ci,
    calibration_stats,
    decision_curve,
    delong_test,
    mcnemar_test,
    roc_auc_ci,
    threshold_metrics,
)
from mvikit.model_selection import compare_models
from mvikit.utils import align_by_patient, align_to_rows

IDS = [f"P-{i:03d}" for i in range(40)]


@pytest.fixture
def cohort():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"afp": rng.normal(size=40), "size": rng.normal(size=40)}, index=IDS)
    y = pd.Series((X["afp"] + rng.logistic(size=40) > 0).astype(int), index=IDS, name="mvi")
    return X, y


def test_reversed_score_series_gives_the_true_auc_not_its_mirror():
    # the example: pairs whose true AUC is 1.0 came back as 0.0
    truth = pd.Series([0, 0, 0, 1, 1, 1], index=list("abcdef"))
    score = pd.Series([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], index=list("abcdef"))
    assert roc_auc_ci(truth, score[::-1]).auc == 1.0
    # plain arrays carry no ids and are still paired by position
    assert roc_auc_ci(truth.to_numpy(), score[::-1].to_numpy()).auc == 0.0


def test_every_metric_family_aligns_on_the_index(cohort):
    X, y = cohort
    p = pd.Series(LogisticRegression().fit(X, y).predict_proba(X)[:, 1], index=IDS)
    q = pd.Series(GaussianNB().fit(X, y).predict_proba(X)[:, 1], index=IDS)
    shuffled = p.sample(frac=1.0, random_state=0)
    assert roc_auc_ci(y, shuffled).auc == roc_auc_ci(y, p).auc
    assert delong_test(y, shuffled, q[::-1]).p_value == delong_test(y, p, q).p_value
    assert calibration_stats(y, shuffled).slope == pytest.approx(calibration_stats(y, p).slope)
    pd.testing.assert_frame_equal(decision_curve(y, shuffled, thresholds=[0.2, 0.5]),
                                  decision_curve(y, p, thresholds=[0.2, 0.5]))
    assert threshold_metrics(y, shuffled, threshold=0.5).sensitivity == \
        threshold_metrics(y, p, threshold=0.5).sensitivity
    pred = (p > 0.5).astype(int)
    assert mcnemar_test(y, pred[::-1], (q > 0.5).astype(int)).table.tolist() == \
        mcnemar_test(y, pred, (q > 0.5).astype(int)).table.tolist()
    from sklearn.metrics import roc_auc_score

    from mvikit.metrics import delong_covariance
    both = pd.DataFrame({"p": p, "q": q})
    np.testing.assert_allclose(delong_covariance(y, both.iloc[::-1]).covariance,
                               delong_covariance(y, both).covariance)
    a = bootstrap_ci(roc_auc_score, y, shuffled, n_resamples=50, random_state=0)
    b = bootstrap_ci(roc_auc_score, y, p, n_resamples=50, random_state=0)
    assert a.estimate == b.estimate and a.ci == b.ci


def test_unmatched_ids_are_refused_naming_them(cohort):
    X, y = cohort
    score = pd.Series(np.linspace(0, 1, 40), index=IDS).rename({"P-003": "P-999"})
    with pytest.raises(PatientIdError, match=r"missing from y_score: 'P-003'.*not in y_true: "
                                             r"'P-999'") as info:
        roc_auc_ci(y, score)
    # catchable as the metric error and as the builtin it means
    assert isinstance(info.value, MetricInputError) and isinstance(info.value, ValueError)
    with pytest.raises(PatientIdError, match="Duplicate patient ids.*'P-001'"):
        roc_auc_ci(y, pd.Series(0.5, index=["P-001"] * 40))


def test_ids_differing_only_in_type_get_a_hint():
    y = pd.Series([0, 1, 0, 1], index=["007", "008", "009", "010"])
    score = pd.Series([0.1, 0.9, 0.2, 0.8], index=[7, 8, 9, 10])
    with pytest.raises(PatientIdError, match="leading zeros"):
        roc_auc_ci(y, score)


def test_fit_pairs_y_with_x_by_patient_id(cohort):
    X, y = cohort
    reference = NomogramClassifier(selection=None).fit(X, y)
    shuffled = NomogramClassifier(selection=None).fit(X, y.sample(frac=1.0, random_state=1))
    np.testing.assert_allclose(shuffled.coef_, reference.coef_)
    with pytest.raises(PatientIdError, match=r"NomogramClassifier|y and X.*'P-000'"):
        NomogramClassifier(selection=None).fit(X, y.rename({"P-000": "Q-000"}))


def test_compare_models_pairs_y_with_x_by_patient_id(cohort):
    X, y = cohort
    kwargs = dict(cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring=["auc"],
                  threshold=0.5)
    models = {"logistic": LogisticRegression(), "nb": GaussianNB()}
    aligned = compare_models(models, X, y, **kwargs)
    shuffled = compare_models(models, X, y.sample(frac=1.0, random_state=2), **kwargs)
    pd.testing.assert_frame_equal(aligned.scores, shuffled.scores)
    with pytest.raises(CohortError, match="'P-039'"):
        compare_models(models, X, y.drop("P-039"), **kwargs)


def test_alignment_helpers_reorder_and_leave_arrays_alone():
    X = pd.DataFrame({"a": [1, 2, 3]}, index=["x", "y", "z"])
    y = pd.Series([30, 10, 20], index=["z", "x", "y"])
    assert align_to_rows(y, X).tolist() == [10, 20, 30]
    array = np.array([1, 2, 3])
    assert align_to_rows(array, X) is array
    first, second = align_by_patient(array, y)
    assert first is array and second is y
