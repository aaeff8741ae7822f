"""ROI transformers: numbers against direct numpy/SimpleITK references, caching, bad input."""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from joblib import Memory
from scipy import ndimage
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import mvikit.imaging._io as io
from mvikit import Volume
from mvikit.exceptions import (
    CohortError,
    ColumnRoleError,
    DataWarning,
    EmptyMaskError,
    GeometryMismatchError,
    VolumeError,
)
from mvikit.imaging import (
    IntensityNormalizer,
    PeritumoralShell,
    ROICropper,
    VolumeDownsampler,
    VolumeResampler,
    clear_volume_cache,
    validate_cohort,
    volume_cache_info,
    write_image,
)

ROTATION = (0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
SPACING = (3.0, 0.8, 0.7)


def _ball(shape, center, radius_vox):
    grid = np.indices(shape)
    dist2 = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, center, radius_vox))
    return (dist2 <= 1).astype(np.uint8)


def _frame(n=4, shape=(12, 40, 36), seed=0):
    rng = np.random.default_rng(seed)
    rows = {"age": [], "PRE": [], "HBP": [], "tumor_mask": [], "liver_mask": []}
    for i in range(n):
        center = (5 + i % 3, 15 + 2 * i, 18 - i)
        tumor = _ball(shape, center, (2, 5, 6))
        liver = np.zeros(shape, np.uint8)
        liver[1:11, 5:38, 3:34] = 1
        liver |= tumor
        geometry = {"spacing": SPACING, "origin": (10.0 * i, -5.0, 2.0), "direction": ROTATION}
        for column, base in (("PRE", 100.0), ("HBP", 300.0)):
            image = base + 50 * liver - 80 * tumor + rng.normal(0, 10, shape)
            rows[column].append(Volume(image.astype(np.float32), **geometry))
        rows["tumor_mask"].append(Volume(tumor, **geometry))
        rows["liver_mask"].append(Volume(liver, **geometry))
        rows["age"].append(50.0 + i)
    X = pd.DataFrame(rows, index=[f"p{i}" for i in range(n)])
    X["HBV"] = [i % 2 == 0 for i in range(n)]
    return X


@pytest.fixture(autouse=True)
def _empty_cache():
    clear_volume_cache()
    yield
    clear_volume_cache()


def _reference_crop(array, mask, size, fill=0.0):
    found = np.argwhere(mask)
    center = (found.min(0) + found.max(0)) / 2
    start = np.floor(center - (np.array(size) - 1) / 2 + 0.5).astype(int)
    padded = np.pad(array, [(s, s) for s in size], constant_values=fill)
    sl = tuple(slice(a + s, a + s + s_) for a, s, s_ in zip(start, size, size))
    return padded[sl], start


def test_cropper_matches_reference_and_keeps_physical_position():
    X = _frame()
    out = ROICropper(size=(6, 20, 20)).fit_transform(X)
    for pid in X.index:
        image, mask = X.at[pid, "HBP"], X.at[pid, "tumor_mask"]
        expected, start = _reference_crop(image.array, mask.array, (6, 20, 20))
        crop = out.at[pid, "HBP"]
        np.testing.assert_array_equal(crop.array, expected)
        # the crop's voxel [0,0,0] sits where the original's voxel `start` sits
        original = image.to_sitk().TransformContinuousIndexToPhysicalPoint(
            [float(v) for v in start[::-1]])
        np.testing.assert_allclose(crop.to_sitk().TransformIndexToPhysicalPoint((0, 0, 0)),
                                   original)
        # the whole tumour (bbox <= crop) is inside the cropped mask
        assert out.at[pid, "tumor_mask"].array.sum() == mask.array.sum()
        assert crop.spacing == image.spacing and crop.direction == image.direction
    pd.testing.assert_series_equal(out["age"], X["age"])
    pd.testing.assert_series_equal(out["HBV"], X["HBV"])


@pytest.mark.parametrize("padding", ["constant", "edge"])
def test_cropper_pads_where_the_box_leaves_the_image(padding):
    X = _frame(n=2)
    out = ROICropper(size=(20, 60, 60), padding=padding, fill_value=-7.0).fit_transform(X)
    image, mask = X.at["p0", "PRE"].array, X.at["p0", "tumor_mask"].array
    _, start = _reference_crop(image, mask, (20, 60, 60))
    margin = 60  # pad the whole image generously, then cut the box out of it
    reference = np.pad(image, margin, mode=padding,
                       **({"constant_values": -7.0} if padding == "constant" else {}))
    box = tuple(slice(a + margin, a + margin + s) for a, s in zip(start, (20, 60, 60)))
    assert (start < 0).any()  # the box does leave the image
    np.testing.assert_array_equal(out.at["p0", "PRE"].array, reference[box])
    assert set(np.unique(out.at["p0", "tumor_mask"].array)) == {0, 1}  # masks pad with 0


def test_cropper_size_in_mm_and_per_sequence_masks():
    X = _frame(n=2)
    out = ROICropper(size=(15.0, 16.0, 14.0), units="mm").fit_transform(X)
    assert out.at["p0", "PRE"].shape == (5, 20, 20)
    # HBP has its own (shifted) mask: HBP and HBP_mask are centred on it, PRE on tumor_mask
    X["HBP_mask"] = [Volume(np.roll(m.array, 3, axis=2), spacing=m.spacing, origin=m.origin,
                            direction=m.direction) for m in X["tumor_mask"]]
    out = ROICropper(size=(6, 20, 20)).fit_transform(X)
    expected, _ = _reference_crop(X.at["p1", "HBP"].array, X.at["p1", "HBP_mask"].array,
                                  (6, 20, 20))
    np.testing.assert_array_equal(out.at["p1", "HBP"].array, expected)
    np.testing.assert_array_equal(out.at["p1", "HBP_mask"].array,
                                  out.at["p1", "tumor_mask"].array)


def test_resampler_interpolates_a_linear_field_exactly():
    # f = physical x + 2 y - z is reproduced exactly by linear interpolation.
    shape, spacing = (8, 20, 18), (3.0, 0.8, 0.7)
    volume = Volume(np.zeros(shape), spacing=spacing, origin=(5, -3, 1), direction=ROTATION)
    d, h, w = np.indices(shape)
    direction = np.reshape(ROTATION, (3, 3))
    xyz = np.asarray(volume.origin)[:, None] + direction @ np.stack(
        [w.ravel() * spacing[2], h.ravel() * spacing[1], d.ravel() * spacing[0]])
    field = (xyz[0] + 2 * xyz[1] - xyz[2]).reshape(shape)
    mask = _ball(shape, (4, 10, 9), (2, 6, 6))
    X = pd.DataFrame({"CT_PV": [volume.with_array(field)], "tumor_mask": [volume.with_array(mask)]},
                     index=["p1"])
    out = VolumeResampler(spacing=(1.5, 1.6, None)).fit_transform(X)
    result = out.at["p1", "CT_PV"]
    assert result.shape == (16, 10, 18) and result.spacing == (1.5, 1.6, 0.7)
    assert result.origin == volume.origin and result.array.dtype == np.float32
    new = result.to_sitk()
    for index in [(0, 0, 0), (5, 3, 7), (17, 9, 14)]:  # (w, h, d) inside the old extent
        point = new.TransformIndexToPhysicalPoint(index)
        value = point[0] + 2 * point[1] - point[2]
        assert result.array[index[::-1]] == pytest.approx(value, abs=1e-3)
    resampled_mask = out.at["p1", "tumor_mask"].array
    assert resampled_mask.dtype == np.uint8 and set(np.unique(resampled_mask)) == {0, 1}
    # nearest neighbour keeps the tumour volume (mm^3) within a few percent
    ratio = resampled_mask.sum() * 1.5 * 1.6 * 0.7 / (mask.sum() * np.prod(spacing))
    assert ratio == pytest.approx(1.0, abs=0.06)


def test_downsampler_block_means_masks_and_physical_position():
    # an image linear in physical space keeps its values at the coarse voxel
    # centres (block mean of a linear field = value at the block centre)
    shape, spacing = (6, 20, 18), (3.0, 0.8, 0.7)
    volume = Volume(np.zeros(shape), spacing=spacing, origin=(5, -3, 1), direction=ROTATION)
    d, h, w = np.indices(shape)
    direction = np.reshape(ROTATION, (3, 3))
    xyz = np.asarray(volume.origin)[:, None] + direction @ np.stack(
        [w.ravel() * spacing[2], h.ravel() * spacing[1], d.ravel() * spacing[0]])
    field = (xyz[0] + 2 * xyz[1] - xyz[2]).reshape(shape)
    mask = np.zeros(shape, np.uint8)
    mask[2, 7, 5] = 1  # one voxel: must survive
    X = pd.DataFrame({"CT_PV": [volume.with_array(field)], "tumor_mask": [volume.with_array(mask)]},
                     index=["p1"])
    out = VolumeDownsampler((1, 2, 3)).fit_transform(X)
    result = out.at["p1", "CT_PV"]
    assert result.shape == (6, 10, 6) and result.spacing == pytest.approx((3.0, 1.6, 2.1))
    assert result.array.dtype == np.float32
    reference = field.reshape(6, 10, 2, 6, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(result.array, reference, rtol=1e-6)
    image = result.to_sitk()
    for index in [(0, 0, 0), (5, 9, 3), (2, 4, 5)]:  # (w, h, d)
        point = image.TransformIndexToPhysicalPoint(index)
        assert result.array[index[::-1]] == pytest.approx(point[0] + 2 * point[1] - point[2],
                                                          abs=1e-3)
    coarse_mask = out.at["p1", "tumor_mask"].array
    assert coarse_mask.dtype == np.uint8 and coarse_mask.sum() == 1 and coarse_mask[2, 3, 1] == 1
    # factor 1 is the identity, and partial blocks average the voxels they have
    assert np.array_equal(VolumeDownsampler(1).fit_transform(X).at["p1", "CT_PV"].array, field)
    partial = VolumeDownsampler((4, 1, 1)).fit_transform(X).at["p1", "CT_PV"]
    assert partial.shape == (2, 20, 18)
    np.testing.assert_allclose(partial.array[1], field[4:].mean(axis=0), rtol=1e-6)
    uneven = VolumeDownsampler((4, 3, 4)).fit_transform(X).at["p1", "CT_PV"].array
    brute = [[[field[4 * i:4 * i + 4, 3 * j:3 * j + 3, 4 * k:4 * k + 4].mean()
               for k in range(5)] for j in range(7)] for i in range(2)]
    np.testing.assert_allclose(uneven, np.asarray(brute), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="positive integer"):
        VolumeDownsampler((1, 0, 2)).fit(X)


def test_resampler_bspline_matches_simpleitk():
    X = _frame(n=1)
    out = VolumeResampler(spacing=2.0, interpolation="bspline").fit_transform(X)
    image = sitk.Cast(X.at["p0", "PRE"].to_sitk(), sitk.sitkFloat32)
    reference = sitk.Resample(image, out.at["p0", "PRE"].to_sitk(), sitk.Transform(),
                              sitk.sitkBSpline, 0.0, sitk.sitkFloat32)
    np.testing.assert_allclose(out.at["p0", "PRE"].array, sitk.GetArrayFromImage(reference),
                               rtol=1e-6)


@pytest.mark.parametrize("region", ["tumor", "liver", "image", "roi"])
def test_zscore_normalizer_regions(region):
    X = _frame(n=2)
    out = IntensityNormalizer(region=region, roi_margin_mm=4.0).fit_transform(X)
    image = X.at["p1", "PRE"]
    tumor = X.at["p1", "tumor_mask"].array > 0
    if region == "roi":  # brute force: voxels within 4 mm of a tumour voxel (physical)
        distance = ndimage.distance_transform_edt(~tumor, sampling=image.spacing)
        selected = distance <= 4.0
    else:
        selected = {"tumor": tumor, "liver": X.at["p1", "liver_mask"].array > 0,
                    "image": np.ones(image.shape, bool)}[region]
    values = image.array[selected].astype(np.float64)
    expected = (image.array - values.mean()) / values.std()
    np.testing.assert_allclose(out.at["p1", "PRE"].array, expected, rtol=1e-5, atol=1e-5)
    assert out.at["p1", "tumor_mask"] is X.at["p1", "tumor_mask"]  # masks pass through


def test_percentile_normalizer():
    X = _frame(n=1)
    out = IntensityNormalizer("percentile", region="liver", percentiles=(1, 99)).fit_transform(X)
    image = X.at["p0", "HBP"].array
    lo, hi = np.percentile(image[X.at["p0", "liver_mask"].array > 0].astype(float), [1, 99])
    np.testing.assert_allclose(out.at["p0", "HBP"].array,
                               (np.clip(image, lo, hi) - lo) / (hi - lo), rtol=1e-5, atol=1e-6)


def test_peritumoral_shell_against_brute_force():
    X = _frame(n=2)
    # distances off the voxel lattice's exact values (no rounding ties)
    out = PeritumoralShell(distance_mm=[2, 4.95]).fit_transform(X)
    assert list(out.columns[-2:]) == ["peritumoral_2mm_mask", "peritumoral_4.95mm_mask"]
    tumor = X.at["p1", "tumor_mask"].array
    liver = X.at["p1", "liver_mask"].array
    found = np.argwhere(tumor) * SPACING  # brute force over every voxel near the tumour
    near = ndimage.binary_dilation(tumor, ndimage.generate_binary_structure(3, 3), iterations=8)
    for d in (2.0, 4.95):
        shell = out.at["p1", f"peritumoral_{d:g}mm_mask"].array
        expected = np.zeros_like(shell)
        for index in np.argwhere(near & (tumor == 0)):
            nearest = np.sqrt(((found - index * SPACING) ** 2).sum(1)).min()
            expected[tuple(index)] = nearest <= d and liver[tuple(index)] > 0
        np.testing.assert_array_equal(shell, expected)
    ring_5 = out.at["p1", "peritumoral_4.95mm_mask"].array
    assert not (ring_5 & tumor).any() and (ring_5 <= liver).all()


def test_peritumoral_shell_without_liver_and_errors():
    X = _frame(n=2).drop(columns="liver_mask")
    shell = PeritumoralShell(distance_mm=1.0).fit(X)
    assert shell.liver_mask_ is None
    assert list(shell.get_feature_names_out())[-1] == "peritumoral_1mm_mask"
    # the whole image is tumour: no shell
    full = X.copy()
    full["tumor_mask"] = [m.with_array(np.ones(m.shape, np.uint8)) for m in X["tumor_mask"]]
    with pytest.raises(EmptyMaskError, match="patient 'p0', column 'peritumoral_1mm_mask'.*empty"):
        PeritumoralShell(distance_mm=1.0).fit_transform(full)
    # a tumour touching the border warns
    edge = X.copy()
    edge["tumor_mask"] = [m.with_array(np.roll(m.array, -5, axis=0)) for m in X["tumor_mask"]]
    with pytest.warns(DataWarning, match=r"cut there \(column 'tumor_mask'\) for 2 "
                                         r"patient\(s\): 'p0', 'p1'"):
        PeritumoralShell(distance_mm=3.0).fit_transform(edge)
    with pytest.raises(ColumnRoleError, match="'liver' is not among the mask columns"):
        PeritumoralShell(liver_mask="liver").fit(X)
    with pytest.raises(ValueError, match="`distance_mm` must be positive"):
        PeritumoralShell(distance_mm=[-1.0]).fit(X)


def test_pipeline_chain_clone_and_feature_names():
    X = _frame(n=2)
    pipe = make_pipeline(VolumeResampler(spacing=(3.0, 1.0, 1.0)), ROICropper(size=(4, 16, 16)),
                         IntensityNormalizer(region="tumor"))
    out = pipe.fit_transform(X)
    assert out.at["p0", "PRE"].shape == (4, 16, 16)
    tumor = out.at["p0", "tumor_mask"].array > 0
    values = out.at["p0", "PRE"].array[tumor]
    assert values.mean() == pytest.approx(0, abs=1e-5) and values.std() == pytest.approx(1, 1e-4)
    pd.testing.assert_frame_equal(out[["age", "HBV"]], X[["age", "HBV"]])
    assert list(pipe.get_feature_names_out()) == list(X.columns)
    assert clone(pipe[1]).get_params() == pipe[1].get_params()


def _lazy_frame(tmp_path, n=6):
    X = _frame(n=n)
    for column in ("PRE", "HBP", "tumor_mask"):
        X[column] = [str(write_image(v, tmp_path / f"{pid}_{column}.nii"))
                     for pid, v in X[column].items()]
    return X.drop(columns="liver_mask")


def _count_reads(monkeypatch):
    reads = []
    real = io.read_image_array
    monkeypatch.setattr(io, "read_image_array",
                        lambda path, *a, **k: reads.append(str(path)) or real(path, *a, **k))
    return reads


def _mean_features(frame):
    return np.stack([[frame.at[i, c].array.mean() for c in ("PRE", "HBP")] for i in frame.index])


def test_each_file_is_read_once_across_cross_validation(tmp_path, monkeypatch):
    X = _lazy_frame(tmp_path)
    y = np.array([0, 1] * 3)
    reads = _count_reads(monkeypatch)
    pipe = make_pipeline(ROICropper(size=(4, 16, 16)), FunctionTransformer(_mean_features),
                         LogisticRegression())
    cross_val_score(pipe, X, y, cv=KFold(3))
    assert len(reads) == 6 * 3 and len(set(reads)) == 18  # PRE, HBP, tumor_mask per patient
    cross_val_score(pipe, X, y, cv=KFold(2))
    assert len(reads) == 18
    assert volume_cache_info()["n_items"] == 18


def test_disk_memory_survives_a_cleared_cache(tmp_path, monkeypatch):
    X = _lazy_frame(tmp_path, n=2)
    reads = _count_reads(monkeypatch)
    cropper = ROICropper(size=(4, 16, 16), memory=Memory(tmp_path / "cache", verbose=0))
    first = cropper.fit_transform(X)
    clear_volume_cache()
    second = cropper.fit_transform(X)
    assert len(reads) == 6
    np.testing.assert_array_equal(first.at["p1", "HBP"].array, second.at["p1", "HBP"].array)


def test_bad_input_errors_name_patient_and_column():
    X = _frame(n=2)
    bad = X.copy()
    bad.at["p1", "tumor_mask"] = Volume(np.ones((12, 40, 35), np.uint8), spacing=SPACING)
    with pytest.raises(GeometryMismatchError, match="patient 'p1'.*'tumor_mask' has shape "
                                                    r"\(12, 40, 35\).*'PRE'"):
        ROICropper().fit(bad)
    bad.at["p1", "tumor_mask"] = Volume(np.ones((12, 40, 36), np.uint8), spacing=(2, 0.8, 0.7))
    with pytest.raises(GeometryMismatchError, match="patient 'p1'.*spacing"):
        VolumeResampler().fit(bad)
    bad = X.copy()
    bad.at["p0", "tumor_mask"] = X.at["p0", "tumor_mask"].with_array(
        np.zeros((12, 40, 36), np.uint8))
    with pytest.raises(EmptyMaskError,
                       match="patient 'p0', column 'tumor_mask': the mask is empty"):
        ROICropper(size=(4, 8, 8)).fit_transform(bad)
    with pytest.raises(EmptyMaskError, match="patient 'p0', column 'tumor_mask'"):
        validate_cohort(bad, read_voxels=True)
    bad = X.copy()
    array = X.at["p1", "HBP"].array.copy()
    array[3, 4, 5] = np.nan
    bad.at["p1", "HBP"] = X.at["p1", "HBP"].with_array(array)
    with pytest.raises(VolumeError, match="patient 'p1', column 'HBP': 1 voxel.*NaN or infinite"):
        IntensityNormalizer().fit_transform(bad)
    bad = X.copy()
    bad.at["p1", "tumor_mask"] = np.nan
    with pytest.raises(VolumeError, match="patient 'p1': column 'tumor_mask' is missing"):
        ROICropper(size=(4, 8, 8)).fit_transform(bad)
    with pytest.raises(ColumnRoleError, match="'hbp' .*did you mean 'HBP'"):
        ROICropper(volumes=["hbp"]).fit(X)
    with pytest.raises(ColumnRoleError, match="centres .* on mask column 'lesion_mask'"):
        ROICropper(mask="lesion_mask").fit(X)
    with pytest.raises(ColumnRoleError, match=r"region='liver'.*'liver_mask'"):
        IntensityNormalizer(region="liver").fit(X.drop(columns="liver_mask"))
    fitted = ROICropper(size=(4, 8, 8)).fit(X)
    with pytest.raises(CohortError, match=r"other columns than at fit time \(missing: \['age'\]"):
        fitted.transform(X.drop(columns="age"))
    with pytest.raises(CohortError, match="no volume or mask column"):
        ROICropper().fit(X[["age"]])
    with pytest.raises(CohortError, match="Duplicate patient ids.*'p0'"):
        ROICropper().fit(X.iloc[[0, 0]])
    with pytest.raises(ValueError, match="`size` must be 3 positive"):
        ROICropper(size=(4, 8)).fit(X)


def test_missing_sequence_stays_missing():
    X = _frame(n=2)
    X.at["p1", "HBP"] = np.nan
    out = ROICropper(size=(4, 8, 8)).fit_transform(X)
    assert pd.isna(out.at["p1", "HBP"]) and out.at["p1", "PRE"].shape == (4, 8, 8)
