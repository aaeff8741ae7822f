"""Tests of the simulated HCC cohort (mvikit.datasets.make_hcc_cohort).

The numbers checked come from the generative model itself (design/simulator.md):
class mix, censoring and event rates, centre spacing and missingness, the
oracle AUC, calibration of the Bayes ceiling scores, rater error.
"""

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score
from sksurv.nonparametric import kaplan_meier_estimator

from mvikit import Volume
from mvikit.datasets import make_hcc_cohort
from mvikit.datasets._sim_clinical import CLINICAL_COLUMNS, ITEMS, clinical_mvi_probability
from mvikit.datasets._sim_latent import mvi_probability_given_a_sat
from mvikit.datasets._sim_params import CENTER_TEMPLATES, DEFAULT_PARAMS

SMALL = {"roi_shape": (8, 32, 32), "full_shape": (16, 48, 48)}


@pytest.fixture(scope="module")
def big():
    """A fast clinical-only cohort, large enough for rates (shared by tests)."""
    return make_hcc_cohort(3000, task="mvi", sequences=(), random_state=11)


def _assert_volumes_equal(col_a, col_b):
    for va, vb in zip(col_a, col_b):
        assert va.spacing == vb.spacing and va.origin == vb.origin
        np.testing.assert_array_equal(va.array, vb.array)


# ------------------------------------------------------------ reproducibility
def test_same_seed_same_cohort_and_other_seed_differs():
    a = make_hcc_cohort(6, random_state=3, params=SMALL)
    b = make_hcc_cohort(6, random_state=3, params=SMALL)
    c = make_hcc_cohort(6, random_state=4, params=SMALL)
    pd.testing.assert_frame_equal(a.X[CLINICAL_COLUMNS], b.X[CLINICAL_COLUMNS])
    _assert_volumes_equal(a.X["HBP"], b.X["HBP"])
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not np.allclose(a.truth["a"], c.truth["a"])
    assert not np.array_equal(a.X["PRE"].iloc[0].array, c.X["PRE"].iloc[0].array)


def test_prefix_property_voxel_exact():
    small = make_hcc_cohort(12, random_state=5, params=SMALL, layout="full")
    large = make_hcc_cohort(30, random_state=5, params=SMALL, layout="full")
    head = large.X.iloc[:12]
    pd.testing.assert_frame_equal(small.X[CLINICAL_COLUMNS], head[CLINICAL_COLUMNS])
    for column in small.volume_columns + small.mask_columns:
        _assert_volumes_equal(small.X[column], head[column])
    pd.testing.assert_frame_equal(small.truth, large.truth.iloc[:12])
    pd.testing.assert_frame_equal(small.outcomes, large.outcomes.iloc[:12])
    np.testing.assert_array_equal(small.y, large.y[:12])
    pd.testing.assert_series_equal(small.centers, large.centers.iloc[:12])


def test_images_do_not_change_the_clinical_table_or_other_sequences():
    no_images = make_hcc_cohort(8, random_state=2, sequences=())
    two = make_hcc_cohort(8, random_state=2, sequences=("PRE", "HBP"), params=SMALL)
    three = make_hcc_cohort(8, random_state=2, sequences=("PRE", "AP", "HBP"), params=SMALL)
    pd.testing.assert_frame_equal(no_images.X, two.X[CLINICAL_COLUMNS])
    pd.testing.assert_frame_equal(no_images.truth, two.truth)
    _assert_volumes_equal(two.X["HBP"], three.X["HBP"])


def test_parallel_generation_is_identical():
    serial = make_hcc_cohort(10, random_state=8, params=SMALL)
    parallel = make_hcc_cohort(10, random_state=8, params=SMALL, n_jobs=2)
    pd.testing.assert_frame_equal(serial.X[CLINICAL_COLUMNS], parallel.X[CLINICAL_COLUMNS])
    _assert_volumes_equal(serial.X["PRE"], parallel.X["PRE"])


# Voxels of the simulator as rendered before the issue-14 speed-up (commit 55b0916),
# so faster rendering must keep the same seed -> same voxels.  Per volume: the
# float64 sum and five voxels (a change of any random stream moves them by the
# noise level, ~1e-4 relative; the tolerance only absorbs last-bit differences
# of other BLAS/libm builds), and the SHA-256 prefix of each mask.
_GOLDEN_VOXELS = [(0, 0, 0), (10, 40, 40), (5, 20, 60), (19, 79, 79), (12, 55, 30)]
_GOLDEN_VOXELS_FULL = [(0, 0, 0), (24, 96, 96), (10, 50, 150), (47, 191, 191), (30, 120, 60)]
_GOLDEN = {
    "roi": ({"random_state": 3}, _GOLDEN_VOXELS, {
        "PRE": [(62379644.67127991, [456.02435302734375, 342.91253662109375, 481.3326110839844,
                                     572.5858154296875, 243.886962890625]),
                (61678788.53746033, [389.6460876464844, 341.7619323730469, 508.7214660644531,
                                     515.292724609375, 534.118896484375])],
        "HBP": [(101171064.71740723, [713.2045288085938, 389.5557556152344, 818.1689453125,
                                      823.0027465820312, 230.9076385498047]),
                (101234898.94096375, [921.4398803710938, 346.3426208496094, 898.3330078125,
                                      745.2879028320312, 358.9162902832031])],
        "tumor_mask": ["4e73e5f819b6abbc", "f9f09da8ec51e343"]}),
    "ct": ({"random_state": 6, "sequences": ("CT_PLAIN", "CT_AP", "CT_PV"), "modality": "ct"},
           _GOLDEN_VOXELS, {
        "CT_PLAIN": [(4937255.747516632, [61.39391326904297, 22.984569549560547,
                                          7.848200798034668, 63.73217010498047,
                                          43.566429138183594]),
                     (7850930.87005806, [60.32628631591797, 53.219276428222656,
                                         38.627830505371094, 47.241302490234375,
                                         24.36342430114746])],
        "CT_AP": [(10170548.730753899, [71.08687591552734, 19.192062377929688,
                                        30.601266860961914, 90.19139099121094,
                                        16.75063705444336]),
                  (11026916.638843536, [62.393470764160156, 94.35459899902344,
                                        90.11451721191406, 84.82742309570312,
                                        239.76736450195312])],
        "CT_PV": [(9366624.835721016, [113.5479507446289, 24.747371673583984,
                                       37.87336730957031, 115.62997436523438,
                                       17.19698143005371]),
                  (15644159.918395996, [131.6185760498047, 110.88031005859375,
                                        118.79496765136719, 113.865966796875,
                                        184.82403564453125])],
        "tumor_mask": ["8859fd7c9c23f63b", "cb6089a4c91e3b9f"]}),
    "full": ({"random_state": 7, "layout": "full"}, _GOLDEN_VOXELS_FULL, {
        "PRE": [(453919706.2136402, [41.69429016113281, 442.2589111328125, 345.3934631347656,
                                     50.27079772949219, 420.9456787109375])],
        "HBP": [(566153416.3809853, [68.95585632324219, 639.600830078125, 347.3066101074219,
                                     44.93470001220703, 666.5194702148438])],
        "tumor_mask": ["929b10629e7b713d"], "liver_mask": ["57282dc3e1fa4c37"]}),
}


@pytest.mark.parametrize("case", sorted(_GOLDEN))
def test_voxels_equal_the_pre_speedup_renderer(case):
    kwargs, voxels, expected = _GOLDEN[case]
    n = len(expected["tumor_mask"])
    cohort = make_hcc_cohort(n, **kwargs)
    for column, values in expected.items():
        for volume, want in zip(cohort.X[column], values):
            array = volume.array
            if column.endswith("_mask"):
                assert hashlib.sha256(array.tobytes()).hexdigest()[:16] == want, column
                continue
            total, samples = want
            np.testing.assert_allclose(array.sum(dtype=np.float64), total, rtol=1e-7)
            np.testing.assert_allclose([array[v] for v in voxels], samples, rtol=1e-6)


def test_random_state_none_draws_and_reports_a_seed():
    cohort = make_hcc_cohort(3, sequences=(), random_state=None)
    again = make_hcc_cohort(3, sequences=(), random_state=cohort.random_state)
    pd.testing.assert_frame_equal(cohort.X, again.X)


# ------------------------------------------------------------------- tasks
def test_task_targets():
    kw = dict(n_patients=40, sequences=(), random_state=1)
    grade = make_hcc_cohort(task="mvi_grade", **kw)
    assert grade.y.dtype.kind == "i" and set(grade.y) <= {0, 1, 2}
    np.testing.assert_array_equal(grade.y, grade.truth["grade"])
    assert grade.target_names == ["M0", "M1", "M2"]
    mvi = make_hcc_cohort(task="mvi", **kw)
    np.testing.assert_array_equal(mvi.y, (grade.y > 0).astype(int))
    tace = make_hcc_cohort(task="tace", **kw)
    np.testing.assert_array_equal(tace.y, tace.outcomes["progression_1y"])
    np.testing.assert_array_equal(tace.survival["time"], tace.outcomes["pfs_time"])
    for task, event, time in (("mavi", "mavi_event", "mavi_time"),
                              ("survival", "os_event", "os_time")):
        cohort = make_hcc_cohort(task=task, **kw)
        assert cohort.y.dtype.names == ("event", "time")
        np.testing.assert_array_equal(cohort.y["event"], cohort.outcomes[event])
        np.testing.assert_array_equal(cohort.y["time"], cohort.outcomes[time])
    np.testing.assert_array_equal(grade.survival["time"], grade.outcomes["os_time"])
    # a patient with a 1-year progression label has PFS <= 12 months
    assert (tace.outcomes.loc[tace.y == 1, "pfs_time"] <= 12.0).all()


# ------------------------------------------------------------------ rates
def test_grade_mix_matches_the_xmu_mix(big):
    mix = big.truth["grade"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(mix, DEFAULT_PARAMS["grade_mix"], atol=0.03)


def test_survival_censoring_median_and_mavi_rate(big):
    out = big.outcomes
    assert abs((1 - out["os_event"].mean()) - 0.40) < 0.04
    assert abs(out["mavi_event"].mean() - 0.12) < 0.03
    assert abs(out["progression_1y"].mean() - 0.51) < 0.05
    times, surv = kaplan_meier_estimator(out["os_event"].to_numpy(), out["os_time"].to_numpy())
    assert abs(times[np.argmax(surv <= 0.5)] - 24.0) < 3.0
    assert out["os_time"].max() <= DEFAULT_PARAMS["admin_censoring"]
    # survival worsens with both latents (Weibull PH linear predictor)
    assert spearmanr(big.truth["survival_lp"], out["os_time"])[0] < -0.2


def test_centres_sizes_and_missingness(big):
    info = big.center_info
    share = big.centers.value_counts(normalize=True).reindex(info.index)
    np.testing.assert_allclose(share, info["weight"], atol=0.03)
    assert info["external"].tolist() == [False, False, False, True]
    np.testing.assert_array_equal(big.is_external, big.centers == "C4")
    missable = [it["name"] for it in ITEMS if it["missable"]]
    fixed = [it["name"] for it in ITEMS if not it["missable"]]
    assert not big.X[fixed].isna().any().any()
    for name, row in info.iterrows():
        rate = big.X.loc[big.centers == name, missable].isna().to_numpy().mean()
        assert abs(rate - row["missing"]) < 0.015, (name, rate)
    complete = make_hcc_cohort(200, sequences=(), missing_rate=None, random_state=1)
    assert not complete.X.isna().any().any()
    flat = make_hcc_cohort(400, sequences=(), missing_rate=0.3, random_state=1)
    assert abs(flat.X[missable].isna().to_numpy().mean() - 0.3) < 0.02


def test_spacing_per_centre_and_layout_shapes():
    cohort = make_hcc_cohort(12, random_state=4)
    for pid, row in cohort.X.iterrows():
        spacing = cohort.center_info.loc[cohort.centers[pid], "spacing"]
        for column in cohort.volume_columns + cohort.mask_columns:
            volume = row[column]
            assert isinstance(volume, Volume)
            assert volume.shape == (20, 80, 80) and volume.spacing == tuple(spacing)
        assert row["PRE"].array.dtype == np.float32
        mask = row["tumor_mask"].array
        assert set(np.unique(mask)) == {0, 1}
    for template in CENTER_TEMPLATES:
        assert 2.0 <= template["spacing"][0] <= 5.0
        assert all(0.6 <= s <= 1.0 for s in template["spacing"][1:])
    full = make_hcc_cohort(2, layout="full", random_state=4)
    assert full.mask_columns == ["tumor_mask", "liver_mask"]
    for _, row in full.X.iterrows():
        assert row["HBP"].shape == (48, 192, 192)
        tumour, liver = row["tumor_mask"].array, row["liver_mask"].array
        assert tumour.sum() > 0 and np.all(liver[tumour > 0] == 1)
        assert 0.05 < liver.mean() < 0.5  # the liver is a part of the abdomen


def test_masks_follow_the_tumour_size():
    cohort = make_hcc_cohort(20, params=SMALL | {"roi_shape": (24, 96, 96)}, random_state=6)
    volume_mm3 = np.array([v.array.sum() * np.prod(v.spacing) for v in cohort.X["tumor_mask"]])
    sphere_mm3 = np.pi / 6 * cohort.truth["diameter_mm"].to_numpy() ** 3
    small = cohort.truth["diameter_mm"].to_numpy() < 40  # tumours inside the cube
    assert small.sum() >= 8
    ratio = volume_mm3[small] / sphere_mm3[small]
    assert np.all((ratio > 0.5) & (ratio < 1.6)), ratio


def test_ct_intensities_are_hounsfield_units():
    cohort = make_hcc_cohort(4, sequences=("CT_PLAIN", "CT_PV"), modality="ct", random_state=2)
    for _, row in cohort.X.iterrows():
        outside = row["tumor_mask"].array == 0
        assert 40 < np.median(row["CT_PLAIN"].array[outside]) < 75      # liver ~58 HU
        assert 95 < np.median(row["CT_PV"].array[outside]) < 135       # enhanced liver


# ------------------------------------------------------- latent structure
def test_oracle_auc_near_target_and_ceilings_ordered(big):
    mvi = big.outcomes["mvi"]
    assert big.oracle_auc == pytest.approx(roc_auc_score(mvi, big.truth["r"]))
    assert abs(big.oracle_auc - 0.90) < 0.025
    assert 0.75 < big.clinical_ceiling_auc < big.oracle_auc
    assert 0.75 < big.image_ceiling_auc < big.oracle_auc


@pytest.mark.parametrize("which", ["clinical", "image"])
def test_ceiling_scores_are_calibrated_probabilities(big, which):
    """The Bayes scores are P(MVI | ...): in each decile, mean score ~ observed rate."""
    params, thresholds = big.params, big.grade_thresholds
    if which == "clinical":
        score = clinical_mvi_probability(big.X[CLINICAL_COLUMNS], thresholds, params)
    else:
        score = mvi_probability_given_a_sat(big.truth["a"], big.truth["n_satellites"],
                                            thresholds, params)
    bins = pd.qcut(score, 10, labels=False)
    frame = pd.DataFrame({"score": score, "y": big.outcomes["mvi"], "bin": bins})
    by_bin = frame.groupby("bin").mean()
    assert np.abs(by_bin["score"] - by_bin["y"]).max() < 0.09
    assert abs(frame["score"].mean() - frame["y"].mean()) < 0.02


def test_readings_have_the_rater_error_and_labs_follow_s(big):
    truth, X = big.truth, big.X
    for column, sign in (("peritumoral_enhancement", "sign_peritumoral_enhancement"),
                         ("necrosis", "sign_necrosis")):
        seen = X[column].notna()
        agree = (X.loc[seen, column] == truth.loc[seen, sign].astype(float)).mean()
        assert abs(agree - (1 - DEFAULT_PARAMS["rater_error"])) < 0.025
    seen = X["alb"].notna()
    assert spearmanr(X.loc[seen, "alb"], truth.loc[seen, "s"])[0] < -0.35
    seen = X["afp"].notna()
    assert spearmanr(X.loc[seen, "afp"], truth.loc[seen, "a"])[0] > 0.3
    # AFP strata of a real HCC series: most < 400 ng/mL, a heavy tail above
    afp = X["afp"].dropna()
    assert 0.35 < (afp < 20).mean() < 0.6 and 0.08 < (afp > 400).mean() < 0.25
    # size in cm, median about 3 cm
    assert 2.5 < X["size"].median() < 3.5


def test_images_carry_a_but_not_s():
    """The label is not painted: tumour size on the image follows ``a``, not ``s``."""
    cohort = make_hcc_cohort(60, random_state=9, params={"roi_shape": (24, 96, 96)})
    log_volume = np.log([v.array.sum() * np.prod(v.spacing) for v in cohort.X["tumor_mask"]])
    assert spearmanr(log_volume, cohort.truth["a"])[0] > 0.3
    assert abs(spearmanr(log_volume, cohort.truth["s"])[0]) < 0.3


def test_columns_and_items_table():
    cohort = make_hcc_cohort(5, random_state=0, layout="roi", params=SMALL)
    assert cohort.clinical_columns == CLINICAL_COLUMNS and len(CLINICAL_COLUMNS) == 52
    assert list(cohort.X.columns) == CLINICAL_COLUMNS + ["PRE", "HBP", "tumor_mask"]
    info = cohort.item_info
    assert len(info) == 52 and info.loc["hbv_or_hcv", "paper_name"] == "HBV_OR_HCV"
    assert set(cohort.X["gender"]) <= {"M", "F"}
    assert cohort.X.index.name == "patient_id" and cohort.X.index[-1] == "HCC0005"
    assert "C4 (external)" in cohort.description


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("kwargs, match", [
    (dict(task="grade"), "Unknown task 'grade'"),
    (dict(sequences=("PRE", "DWI")), "Unknown sequence 'DWI'"),
    (dict(sequences=("CT_PV",)), "pass modality='ct'"),
    (dict(sequences=("PRE", "PRE")), "Duplicate sequence"),
    (dict(n_patients=0), "n_patients must be an integer >= 1"),
    (dict(n_patients=2.5), "n_patients must be an integer >= 1"),
    (dict(layout="abdomen"), "Unknown layout 'abdomen'"),
    (dict(modality="pet"), "modality must be 'mri' or 'ct'"),
    (dict(n_centers=0), r"n_centers must be an integer in \[1, 6\]"),
    (dict(missing_rate=1.5), "missing_rate must be 'default' or a rate"),
    (dict(missing_rate="high"), "missing_rate must be 'default' or a rate"),
    (dict(params={"b_x": 1.0}), r"Unknown simulator knob\(s\) \['b_x'\]"),
    (dict(params={"grade_mix": (0.5, 0.5, 0.5)}), "grade_mix"),
    (dict(params={"sigma": 0}), r"params\['sigma'\] must be a finite number > 0"),
    (dict(params={"roi_shape": (4, 80, 80)}), "roi_shape"),
    (dict(params=[("b_a", 1)]), "`params` must be a dict"),
    (dict(random_state=-1), "random_state must be >= 0"),
    (dict(n_jobs=0), "n_jobs must be None or a non-zero integer"),
])
def test_bad_arguments(kwargs, match):
    args = dict(n_patients=3, sequences=())
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_hcc_cohort(**args)


# ------------------------------------------------------ slow: the AUC bands
@pytest.mark.slow
def test_calibration_bands():
    """The documented bands on the default cohort (n = 270): a few minutes."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from calibrate_simulator import measure

    results = measure(range(3), repeats=2)
    assert abs(results["oracle"][0] - 0.90) < 0.03
    assert 0.75 <= results["clinical"][0] <= 0.85
    assert 0.65 <= results["image"][0] <= 0.78
