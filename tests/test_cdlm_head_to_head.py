"""Seed 003's head-to-head design: the same simulated patients for MRI and CT, and the paired
statistics (DeLong, McNemar at training-fold thresholds, decision curves, subgroups)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.naive_bayes import GaussianNB

from mvikit.datasets import make_hcc_cohort, make_paired_cohort
from mvikit.datasets._paired import check_same_patients
from mvikit.deep import CDLM_PHASES
from mvikit.exceptions import CohortError
from mvikit.metrics import decision_curve, delong_test, mcnemar_test
from mvikit.model_selection import compare_models, head_to_head, subgroup_labels


def test_mri_and_ct_cohorts_of_one_seed_hold_the_same_patients():
    mri = make_hcc_cohort(10, "mvi", sequences=CDLM_PHASES["mri"], modality="mri",
                          random_state=7)
    ct = make_hcc_cohort(10, "mvi", sequences=CDLM_PHASES["ct"], modality="ct",
                         random_state=7)
    pd.testing.assert_frame_equal(mri.X[mri.clinical_columns], ct.X[ct.clinical_columns])
    pd.testing.assert_frame_equal(mri.truth, ct.truth)  # latents, tumour, true signs
    pd.testing.assert_frame_equal(mri.outcomes, ct.outcomes)  # MVI, PFS, OS
    pd.testing.assert_series_equal(mri.centers, ct.centers)
    np.testing.assert_array_equal(mri.y, ct.y)
    for pid in mri.X.index:
        a, b = mri.X.at[pid, "tumor_mask"], ct.X.at[pid, "tumor_mask"]
        np.testing.assert_array_equal(a.array, b.array)
        assert a.spacing == b.spacing and a.origin == b.origin
        assert not np.allclose(mri.X.at[pid, "AP"].array, ct.X.at[pid, "CT_AP"].array)
    check_same_patients(mri, ct)
    other = make_hcc_cohort(10, "mvi", sequences=CDLM_PHASES["ct"], modality="ct",
                            random_state=8)
    with pytest.raises(CohortError, match="differ in their clinical items for patient"):
        check_same_patients(mri, other)


def test_paired_cohort_joins_both_modalities():
    pair = make_paired_cohort(6, mri_sequences=("AP", "HBP"), ct_sequences=("CT_PV",),
                              random_state=3)
    alone = make_hcc_cohort(6, "mvi", sequences=("CT_PV",), modality="ct", random_state=3)
    assert pair.volume_columns == ["AP", "HBP", "CT_PV"]
    for pid in pair.X.index:
        np.testing.assert_array_equal(pair.X.at[pid, "CT_PV"].array,
                                      alone.X.at[pid, "CT_PV"].array)
    np.testing.assert_array_equal(pair.y, alone.y)


def test_subgroup_labels():
    X = pd.DataFrame({"age": [59.9, 60, np.nan], "gender": ["M", "F", "M"],
                      "afp": [19.9, 20, 400], "size": [5.0, 5.1, 2]}, index=list("abc"))
    labels = subgroup_labels(X)
    assert labels["age"].tolist()[:2] == ["< 60", ">= 60"] and pd.isna(labels.at["c", "age"])
    assert labels["AFP"].tolist() == ["< 20", "20-400", ">= 400"]
    assert labels["size"].tolist() == ["<= 5 cm", "> 5 cm", "<= 5 cm"]


@pytest.fixture(scope="module")
def comparison():
    rng = np.random.default_rng(0)
    n = 160
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)},
                     index=[f"p{i}" for i in range(n)])
    y = (X["x1"] + 0.5 * X["x2"] + rng.logistic(size=n) > 0).astype(int).to_numpy()
    groups = pd.DataFrame({"half": np.where(np.arange(n) < 80, "first", "second")},
                          index=X.index)
    result = compare_models({"logistic": LogisticRegression(), "bayes": GaussianNB()}, X, y,
                            cv=4, random_state=0)
    return result, y, groups


def test_head_to_head_equals_the_metrics_on_pooled_oof_predictions(comparison):
    result, y, groups = comparison
    h2h = head_to_head(result, "logistic", "bayes", subgroups=groups)
    a, b = result.oof_predictions("logistic"), result.oof_predictions("bayes")
    expected = delong_test(y, a["score"], b["score"])
    assert h2h.delong.p_value == pytest.approx(expected.p_value, rel=1e-12)
    assert h2h.auc.at["logistic", "auc"] == pytest.approx(roc_auc_score(y, a["score"]))
    # the labels are the scores cut at each fold's training-fold threshold
    fits = result.fits[result.fits["model"] == "logistic"].set_index("fold")["threshold"]
    cut = (a["score"] >= a["fold"].map(fits)).astype(int)
    np.testing.assert_array_equal(cut.to_numpy(), a["y_pred"].to_numpy())
    sens = a["y_pred"][y == 1].mean()
    assert h2h.auc.at["logistic", "sensitivity"] == pytest.approx(sens)
    test = mcnemar_test(y, a["y_pred"], b["y_pred"], subset="positives")
    assert h2h.mcnemar.at["sensitivity", "p_value"] == pytest.approx(test.p_value)
    assert h2h.mcnemar.at["sensitivity", "logistic"] == pytest.approx(sens)
    curve = h2h.decision_curve[h2h.decision_curve["model"] == "bayes"]
    np.testing.assert_allclose(curve["net_benefit"],
                               decision_curve(y, b["score"])["net_benefit"])
    table = h2h.subgroups.set_index("level")
    first = np.arange(160) < 80
    assert table.at["first", "n"] == 80 and table.at["first", "events"] == y[first].sum()
    assert table.at["second", "auc bayes"] == pytest.approx(
        roc_auc_score(y[~first], b["score"][~first]))
    assert table.at["first", "p_delong"] == pytest.approx(
        delong_test(y[first], a["score"][first], b["score"][first]).p_value)


def test_risk_group_summary_of_the_cdlm_score_matches_km_logrank_and_cox():
    from lifelines import CoxPHFitter

    from mvikit.survival import Surv, hazard_ratio, km_summary, logrank_test, risk_group_summary

    cohort = make_hcc_cohort(120, "mvi", sequences=None, random_state=2)
    out = cohort.outcomes
    pfs = Surv.from_arrays(out["pfs_event"].astype(bool), out["pfs_time"])
    os_ = Surv.from_arrays(out["os_event"].astype(bool), out["os_time"])
    score = cohort.truth["r"].to_numpy()  # the true MVI risk drives progression and death
    result = risk_group_summary(score, {"PFS": pfs, "OS": os_}, cutoff="median")
    high = score > np.median(score)
    assert (result.groups == "high").to_numpy().tolist() == high.tolist()
    labels = np.where(high, "high", "low")
    row = result.tests.loc["PFS"]
    assert row["p"] == pytest.approx(logrank_test(pfs, labels).p_value)
    assert row["HR"] == pytest.approx(hazard_ratio(pfs, labels, reference="low").at["high",
                                                                                    "HR"])
    assert result.km.at[("PFS", "high"), "median"] == km_summary(pfs, labels).at["high",
                                                                                 "median"]
    frame = pd.DataFrame({"z": (score - score.mean()) / score.std(ddof=1), "t": os_["time"],
                          "e": os_["event"]})
    hr = CoxPHFitter().fit(frame, "t", "e").summary.at["z", "exp(coef)"]
    assert result.tests.loc["OS", "HR per SD"] == pytest.approx(hr, rel=1e-5)
    assert row["HR"] > 1
    # the groups of compare_models (training-fold thresholds), the score for the HR per SD
    given = risk_group_summary((score > 0).astype(int), {"PFS": pfs}, score=score)
    assert given.km.at[("PFS", "high"), "n"] == (score > 0).sum()
    assert given.tests.loc["PFS", "HR per SD"] == pytest.approx(
        result.tests.loc["PFS", "HR per SD"])


def test_subgroups_too_small_for_delong_get_an_auc_without_interval():
    from mvikit.model_selection import paired_statistics

    y = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    a = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.3, 0.4])
    b = a[::-1].copy()
    groups = pd.DataFrame({"g": ["x"] * 5 + ["y"] * 3})
    out = paired_statistics(y, {"a": a, "b": b}, {"a": a > 0.5, "b": b > 0.5},
                            subgroups=groups)
    row = out.subgroups.set_index("level").loc["x"]  # 4 events, 1 non-event
    assert row["auc a"] == roc_auc_score(y[:5], a[:5]) and np.isnan(row["ci_low a"])
    assert np.isnan(row["p_delong"])
    assert np.isnan(out.subgroups.set_index("level").at["y", "auc a"])  # one class only
