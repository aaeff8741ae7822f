"""Tests of the intra-tumour heterogeneity score (MTnet's H-score, seed 004)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from mvikit import Volume
from mvikit.exceptions import ColumnRoleError, EmptyMaskError, GeometryMismatchError
from mvikit.imaging import HeterogeneityScore
from mvikit.imaging._heterogeneity import heterogeneity_score, largest_slice
from mvikit.survival import RiskStratifier


def _stripes(n_stripes: int, size: int = 12) -> np.ndarray:
    """Vertical stripes alternating 0 and 100, ``n_stripes`` of equal width."""
    width = size // n_stripes
    return np.tile((np.arange(size) // width % 2) * 100.0, (size, 1))


def test_one_cluster_of_one_region_scores_zero():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(10, 10))
    mask = np.zeros((10, 10)); mask[2:8, 1:9] = 1
    assert heterogeneity_score(image, mask, n_clusters=1) == 0.0
    # a constant tumour has one distinct value: one cluster whatever n_clusters
    assert heterogeneity_score(np.ones((10, 10)), mask, n_clusters=4, random_state=0) == 0.0


@pytest.mark.parametrize("n_stripes, expected", [
    # equal pieces: each cluster's term is 1 / (its number of regions)
    (2, 0.0),                         # 1 + 1 regions
    (3, 1 - (1 / 2 + 1) / 2),         # 2 + 1
    (4, 1 - (1 / 2 + 1 / 2) / 2),     # 2 + 2
    (6, 1 - (1 / 3 + 1 / 3) / 2),     # 3 + 3
    (12, 1 - (1 / 6 + 1 / 6) / 2),    # 6 + 6
])
def test_rises_with_fragmentation(n_stripes, expected):
    score = heterogeneity_score(_stripes(n_stripes), np.ones((12, 12)), n_clusters=2,
                                random_state=0)
    assert score == pytest.approx(expected, abs=1e-12)


def test_unequal_regions_count_by_size():
    # Cluster 0: a 5x5 block (25 px) and one speck (1 px) -> share 25/26;
    # cluster 1: the rest, one region -> share 1.  H = 1 - (25/26 + 1) / 2.
    image = np.full((8, 8), 100.0)
    image[:5, :5] = 0.0
    image[7, 7] = 0.0
    score = heterogeneity_score(image, np.ones((8, 8)), n_clusters=2, random_state=0)
    assert score == pytest.approx(1 - (25 / 26 + 1) / 2, abs=1e-12)


def test_connectivity_decides_whether_diagonals_join():
    checkerboard = (np.add.outer(np.arange(6), np.arange(6)) % 2) * 100.0
    mask = np.ones((6, 6))
    # edges only: every pixel is its own region (18 per cluster)
    edges = heterogeneity_score(checkerboard, mask, n_clusters=2, connectivity=1,
                                random_state=0)
    assert edges == pytest.approx(1 - 1 / 18)
    # with corners each colour is one diagonal lattice: one region each
    assert heterogeneity_score(checkerboard, mask, n_clusters=2, connectivity=2,
                               random_state=0) == 0.0


def test_only_the_tumour_counts():
    image = _stripes(12)                   # fragmented everywhere ...
    image[3:9, 3:9] = 50.0                 # ... except a homogeneous tumour
    mask = np.zeros((12, 12)); mask[3:9, 3:9] = 1
    assert heterogeneity_score(image, mask, n_clusters=3, random_state=0) == 0.0


def test_scores_lie_in_unit_interval_and_are_reproducible():
    rng = np.random.default_rng(1)
    mask = np.zeros((20, 20)); mask[2:18, 3:17] = 1
    for _ in range(5):
        image = rng.normal(size=(20, 20))
        score = heterogeneity_score(image, mask, n_clusters=4, random_state=3)
        assert 0.0 < score < 1.0
        assert score == heterogeneity_score(image, mask, n_clusters=4, random_state=3)


def test_largest_slice_is_the_first_of_maximal_area():
    mask = np.zeros((4, 5, 5)); mask[0, :2, :2] = 1; mask[1, :3, :3] = 1; mask[3, :3, :3] = 1
    assert largest_slice(mask) == 1


# ----------------------------------------------------------- the transformer
def _cohort(images: list, masks: list, column: str = "CT_PV") -> pd.DataFrame:
    ids = [f"p{i + 1}" for i in range(len(images))]
    return pd.DataFrame({column: [Volume(a) if a is not None else np.nan for a in images],
                         "tumor_mask": [Volume(m) for m in masks]}, index=ids)


def _volume_with(slice_image: np.ndarray, depth: int = 3, at: int = 1) -> np.ndarray:
    volume = np.zeros((depth, *slice_image.shape))
    volume[at] = slice_image
    return volume


def test_transformer_scores_the_largest_slice_and_groups_at_training_median():
    mask = np.zeros((3, 12, 12)); mask[1] = 1; mask[0, 4:6, 4:6] = 1  # slice 1 is largest
    images = [_volume_with(_stripes(n)) for n in (2, 3, 4, 12)]
    images[0][0] = _stripes(12)  # fragmentation on a smaller slice is not read
    X = _cohort(images, [mask] * 4)
    scorer = HeterogeneityScore(n_clusters=2, smoothing_mm=0, random_state=0)
    out = scorer.fit_transform(X)
    expected = [0.0, 0.25, 0.5, 1 - 1 / 6]  # see test_rises_with_fragmentation
    np.testing.assert_allclose(out["CT_PV_heterogeneity"], expected, atol=1e-12)
    assert list(out.index) == ["p1", "p2", "p3", "p4"]
    assert list(scorer.get_feature_names_out()) == ["CT_PV_heterogeneity"]
    pd.testing.assert_frame_equal(scorer.transform(X), out)
    # MTnet's groups: split at the training median (H <= median is low)
    groups = make_pipeline(clone(scorer), RiskStratifier(method="median")).fit(X)
    assert groups[-1].cutoffs_ == pytest.approx([np.median(expected)])
    new = _cohort([_volume_with(_stripes(n)) for n in (6, 2)], [mask] * 2)
    assert list(groups.predict(new)) == [1, 0]


def test_missing_image_stays_missing_and_own_mask_is_used():
    mask = np.zeros((3, 12, 12)); mask[1] = 1
    own = np.zeros((3, 12, 12)); own[1, :, :6] = 1  # covers the first stripe only
    X = _cohort([_volume_with(_stripes(2)), None, _volume_with(_stripes(4))], [mask] * 3)
    X["HBP"] = [Volume(_volume_with(_stripes(4)))] * 3
    X["HBP_mask"] = [Volume(own)] * 3
    out = HeterogeneityScore(n_clusters=2, smoothing_mm=0, random_state=0).fit_transform(X)
    assert np.isnan(out.loc["p2", "CT_PV_heterogeneity"])
    # HBP is read inside HBP_mask: columns 0-5 hold stripes 0 (0) and 1 (100), one region each
    assert list(out["HBP_heterogeneity"]) == [0.0, 0.0, 0.0]


def test_smoothing_is_in_mm_and_removes_pixel_noise():
    rng = np.random.default_rng(2)
    halves = np.zeros((24, 24)); halves[:, 12:] = 100.0
    noisy = halves + rng.normal(0, 60, size=halves.shape)
    mask = np.zeros((24, 24)); mask[2:22, 2:22] = 1
    raw = heterogeneity_score(noisy, mask, n_clusters=2, random_state=0)
    smooth = heterogeneity_score(noisy, mask, n_clusters=2, smoothing=2.0, random_state=0)
    assert raw > 0.1 and smooth == 0.0  # two clean halves once smoothed
    # the transformer converts mm to pixels with the in-plane spacing (here 0.5 x 2 mm)
    X = pd.DataFrame({"CT_PV": [Volume(noisy[None], spacing=(3.0, 0.5, 2.0))],
                      "tumor_mask": [Volume(mask[None], spacing=(3.0, 0.5, 2.0))]}, index=["p1"])
    out = HeterogeneityScore(n_clusters=2, smoothing_mm=2.0, random_state=0).fit_transform(X)
    expected = heterogeneity_score(noisy, mask, n_clusters=2, smoothing=(4.0, 1.0),
                                   random_state=0)
    assert out.loc["p1", "CT_PV_heterogeneity"] == pytest.approx(expected, abs=1e-12)


def test_clone_and_get_params():
    scorer = HeterogeneityScore(n_clusters=4, connectivity=2, random_state=7, mask="tumor_mask")
    params = clone(scorer).get_params()
    assert params == {"volumes": "auto", "mask": "tumor_mask", "n_clusters": 4,
                      "connectivity": 2, "smoothing_mm": 1.5, "random_state": 7}
    assert not hasattr(clone(scorer), "volume_columns_")


def test_missing_mask_column_is_named():
    X = pd.DataFrame({"CT_PV": [Volume(np.zeros((3, 4, 4)))]}, index=["p1"])
    with pytest.raises(ColumnRoleError, match=r"mask column 'tumor_mask' .* 'CT_PV'"):
        HeterogeneityScore().fit(X)
    X["tumor_mask"] = [Volume(np.ones((3, 4, 4)))]
    with pytest.raises(ColumnRoleError, match="mask column 'liver_mask'"):
        HeterogeneityScore(mask="liver_mask").fit(X)


def test_empty_mask_names_the_patient():
    good = np.zeros((3, 6, 6)); good[1, 1:5, 1:5] = 1
    X = _cohort([np.ones((3, 6, 6))] * 2, [good, np.zeros((3, 6, 6))])
    with pytest.raises(EmptyMaskError, match=r"patient 'p2', column 'tumor_mask'"):
        HeterogeneityScore().fit_transform(X)


def test_mask_off_the_image_grid_and_bad_parameters():
    X = _cohort([np.ones((3, 6, 6))], [np.ones((3, 6, 5))])
    with pytest.raises(GeometryMismatchError, match="patient 'p1'"):
        HeterogeneityScore().fit_transform(X)
    X = _cohort([np.ones((3, 6, 6))], [np.ones((3, 6, 6))])
    with pytest.raises(InvalidParameterError, match="n_clusters"):
        HeterogeneityScore(n_clusters=0).fit(X)
    fitted = HeterogeneityScore().fit(X)
    with pytest.raises(ColumnRoleError, match="lacks column"):
        fitted.transform(X.drop(columns="tumor_mask"))
