"""Centre-wise validation: splitters and per-centre metrics of compare_models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
from sklearn.naive_bayes import GaussianNB

from mvikit.exceptions import CohortError, DataWarning, MetricInputError
from mvikit.metrics import calibration_stats, roc_auc_ci
from mvikit.model_selection import ExternalValidationSplit, LeaveOneCentreOut, compare_models


@pytest.fixture(scope="module")
def cohort():
    X, y = make_classification(n_samples=160, n_features=5, n_informative=3, flip_y=0.1,
                               random_state=2)
    centres = np.repeat(["C1", "C2", "C3", "C4"], [64, 40, 32, 24])
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)],
                     index=pd.Index([f"P{i:03d}" for i in range(160)], name="patient"))
    return X, y, centres


def _models():
    return {"logistic": LogisticRegression(), "nb": GaussianNB()}


def test_leave_one_centre_out_matches_leave_one_group_out(cohort):
    X, y, centres = cohort
    ours = list(LeaveOneCentreOut().split(X, y, centres))
    theirs = list(LeaveOneGroupOut().split(X, y, centres))
    assert len(ours) == LeaveOneCentreOut().get_n_splits(X, y, centres) == 4
    for (tr_a, te_a), (tr_b, te_b) in zip(ours, theirs):
        np.testing.assert_array_equal(tr_a, tr_b)
        np.testing.assert_array_equal(te_a, te_b)
    assert LeaveOneCentreOut().test_centres(centres) == ["C1", "C2", "C3", "C4"]
    # works as a plain scikit-learn splitter
    scores = cross_val_score(LogisticRegression(), X, y, groups=centres, cv=LeaveOneCentreOut(),
                             scoring="roc_auc")
    for score, centre in zip(scores, ["C1", "C2", "C3", "C4"]):
        model = LogisticRegression().fit(X[centres != centre], y[centres != centre])
        held = centres == centre
        assert score == pytest.approx(roc_auc_score(y[held], model.predict_proba(X[held])[:, 1]))


def test_small_centres_stay_in_training(cohort):
    X, y, centres = cohort
    loco = LeaveOneCentreOut(min_test_size=30)
    assert loco.test_centres(centres) == ["C1", "C2", "C3"]
    for train, _ in loco.split(X, y, centres):
        assert set(np.flatnonzero(centres == "C4")) <= set(train)
    with pytest.raises(CohortError, match="at least 2 centres with >= 50 patients"):
        LeaveOneCentreOut(min_test_size=50).get_n_splits(groups=centres)
    with pytest.raises(CohortError, match="pass groups=<centres>"):
        list(LeaveOneCentreOut().split(X, y))
    with pytest.raises(CohortError, match="missing centre label at row 2"):
        list(LeaveOneCentreOut().split(X, y, np.where(np.arange(160) == 2, None, centres)))


def test_external_validation_split(cohort):
    X, y, centres = cohort
    (train, test), = ExternalValidationSplit(external="C4").split(X, y, centres)
    np.testing.assert_array_equal(test, np.flatnonzero(centres == "C4"))
    np.testing.assert_array_equal(train, np.flatnonzero(centres != "C4"))
    (train, test), = ExternalValidationSplit(external=["C3", "C4"]).split(X, y, centres)
    assert set(centres[test]) == {"C3", "C4"} and set(centres[train]) == {"C1", "C2"}
    split = ExternalValidationSplit(external="C4", internal_test_size=0.25, random_state=0)
    (train, test), = split.split(X, y, centres)
    internal_test = test[centres[test] != "C4"]
    assert len(internal_test) == 34  # 25 % of the 136 internal patients
    assert abs(y[internal_test].mean() - y[centres != "C4"].mean()) < 0.03
    assert not set(train) & set(test)
    assert len(train) + len(test) == 160
    with pytest.raises(CohortError, match=r"external centre\(s\) \['C9'\] not found"):
        list(ExternalValidationSplit(external="C9").split(X, y, centres))
    with pytest.raises(CohortError, match="every centre is external"):
        list(ExternalValidationSplit(external=["C1", "C2", "C3", "C4"]).split(X, y, centres))


def test_compare_models_with_groups_runs_leave_one_centre_out(cohort):
    X, y, centres = cohort
    res = compare_models(_models(), X, y, groups=centres, threshold=0.5)
    assert res.splits["test_centre"].tolist() == ["C1", "C2", "C3", "C4"]
    assert res.splits["repeat"].eq(0).all()
    table = res.centre_metrics.set_index(["model", "centre"])
    for _fold, centre in enumerate(["C1", "C2", "C3", "C4"]):
        held = centres == centre
        model = LogisticRegression().fit(X[~held], y[~held])
        prob = model.predict_proba(X[held])[:, 1]
        row = table.loc[("logistic", centre)]
        auc = roc_auc_ci(y[held], prob)
        assert row["n"] == held.sum() and row["n_positive"] == y[held].sum()
        assert row["auc"] == pytest.approx(auc.auc)
        assert (row["auc_ci_low"], row["auc_ci_high"]) == pytest.approx(auc.ci)
        pred = prob >= 0.5
        assert row["sensitivity"] == pytest.approx(pred[y[held] == 1].mean())
        assert row["specificity"] == pytest.approx(1 - pred[y[held] == 0].mean())
        try:
            cal = calibration_stats(y[held], prob)
        except MetricInputError:  # a centre the model separates: no recalibration fit
            assert np.isnan(row["calibration_slope"])
        else:
            assert row["calibration_intercept"] == pytest.approx(cal.intercept)
            assert row["calibration_slope"] == pytest.approx(cal.slope)
        assert row["brier"] == pytest.approx(np.mean((prob - y[held]) ** 2))
        # with one centre per fold, the per-centre AUC is the fold AUC
        fold_auc = res.scores.query("model == 'logistic' and fold == @_fold and metric == 'auc'")
        assert fold_auc["value"].iloc[0] == pytest.approx(auc.auc)
    markdown = res.to_markdown()
    c4 = table.loc[("logistic", "C4")]
    assert f"| logistic | 0 | C4 | 24 | {int(c4['n_positive'])} | {c4['auc']:.3f} |" in markdown


def test_external_validation_reports_each_external_centre(cohort):
    X, y, centres = cohort
    split = ExternalValidationSplit(external=["C3", "C4"])
    res = compare_models(_models(), X, y, cv=split, groups=centres, threshold=0.5)
    assert len(res.splits) == 1
    # one split: no spread and no Wilcoxon test, but DeLong on the external patients
    assert np.isnan(res.summary.loc["nb", "auc_sd"])
    assert np.isnan(res.summary.loc["nb", "p_wilcoxon"])
    row = res.delong.iloc[0]
    assert row["n"] == 56
    assert set(res.centre_metrics["centre"]) == {"C3", "C4"}
    internal = np.isin(centres, ["C1", "C2"])
    model = GaussianNB().fit(X[internal], y[internal])
    c4 = centres == "C4"
    expected = roc_auc_score(y[c4], model.predict_proba(X[c4])[:, 1])
    got = res.centre_metrics.query("model == 'nb' and centre == 'C4'")["auc"].iloc[0]
    assert got == pytest.approx(expected)


def test_centre_with_one_class_gets_nan_auc_not_a_crash(cohort):
    X, y, centres = cohort
    y = y.copy()
    y[centres == "C4"] = 0
    with pytest.warns(DataWarning, match="auc is undefined on model 'logistic', repeat 0, fold 3"):
        res = compare_models(_models(), X, y, groups=centres, threshold=0.5)
    row = res.centre_metrics.query("model == 'logistic' and centre == 'C4'").iloc[0]
    assert np.isnan(row["auc"]) and np.isnan(row["sensitivity"])
    assert row["specificity"] == pytest.approx(
        res.scores.query("model == 'logistic' and fold == 3 and metric == 'specificity'")["value"]
        .iloc[0])


def test_groups_series_is_matched_to_patients_by_id(cohort):
    X, y, centres = cohort
    series = pd.Series(centres, index=X.index).sample(frac=1.0, random_state=0)
    by_id = compare_models(_models(), X, y, groups=series, threshold=0.5)
    in_order = compare_models(_models(), X, y, groups=centres, threshold=0.5)
    pd.testing.assert_frame_equal(by_id.centre_metrics, in_order.centre_metrics)
    with pytest.raises(CohortError, match=r"no centre for patient\(s\) 'P000'"):
        compare_models(_models(), X, y, groups=series.drop("P000"))


def test_centre_with_one_event_gets_auc_without_ci_not_a_crash(cohort):
    # DeLong's variance needs two patients of each class; one event in a centre still
    # has an AUC (the share of non-events ranked below it), only not its interval
    X, y, centres = cohort
    y = y.copy()
    c4 = np.flatnonzero(centres == "C4")
    y[c4] = 0
    y[c4[0]] = 1
    res = compare_models(_models(), X, y, groups=centres, threshold=0.5)
    row = res.centre_metrics.query("model == 'logistic' and centre == 'C4'").iloc[0]
    held_out = res.predictions.query("model == 'logistic' and centre == 'C4'")
    assert len(held_out) == len(c4)
    assert row["auc"] == pytest.approx(roc_auc_score(held_out["y_true"], held_out["score"]))
    assert np.isnan(row["auc_ci_low"]) and np.isnan(row["auc_ci_high"])
