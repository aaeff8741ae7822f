"""Issue 12, class 2: image/mask geometry beyond shape and spacing; what a Volume accepts."""

import numpy as np
import pandas as pd
import pytest

from mvikit import Volume
from mvikit.exceptions import GeometryMismatchError, ImageReadError, VolumeError
from mvikit.imaging import ROICropper, resample_mask, validate_cohort
from mvikit.imaging._checks import mask_foreground
from mvikit.radiomics._plan import _checked_pair

MIRROR_X = (-1, 0, 0, 0, 1, 0, 0, 0, 1)


def _tumour_and_liver(shape=(6, 10, 10)):
    """An image with a bright tumour at the right of the grid, and its true mask."""
    image = np.zeros(shape, np.float32)
    mask = np.zeros(shape, np.uint8)
    mask[2:4, 4:6, 7:9] = 1
    image[mask == 1] = 100.0
    return Volume(image, spacing=(2.0, 1.0, 1.0)), mask


def test_mirrored_mask_is_refused_then_resampled_onto_the_tumour():
    image, mask = _tumour_and_liver()
    # the same labels written with a mirrored x axis: the mask's voxel [.., w] is at x = 9 - w
    mirrored = Volume(mask[:, :, ::-1], spacing=(2.0, 1.0, 1.0), origin=(9, 0, 0),
                      direction=MIRROR_X)
    X = pd.DataFrame({"HBP": [image], "tumor_mask": [mirrored]}, index=["P-001"])
    with pytest.raises(GeometryMismatchError, match="'P-001'.*direction.*mirrored"):
        validate_cohort(X)
    with pytest.raises(GeometryMismatchError, match="'P-001'.*mirrored"):
        ROICropper(size=(2, 2, 2)).fit(X)
    fixed = validate_cohort(X, resample_masks=True)
    assert fixed is not X and X.at["P-001", "tumor_mask"] is mirrored
    np.testing.assert_array_equal(fixed.at["P-001", "tumor_mask"].array, mask)
    crop = ROICropper(size=(2, 2, 2)).fit_transform(fixed).at["P-001", "HBP"].array
    assert crop.min() == 100.0  # the crop is the tumour, not background


def test_shifted_origin_is_refused_naming_the_shift():
    image, mask = _tumour_and_liver()
    shifted = Volume(mask, spacing=(2.0, 1.0, 1.0), origin=(0, 0, 4.0))
    X = pd.DataFrame({"HBP": [image], "tumor_mask": [shifted]}, index=["P-002"])
    with pytest.raises(GeometryMismatchError, match=r"shifted \(0.0, 0.0, 4.0\) mm"):
        validate_cohort(X)
    moved = resample_mask(shifted, image)  # z = 4 mm is two slices at 2 mm
    np.testing.assert_array_equal(moved.array[4:6], mask[2:4])


@pytest.mark.parametrize("data, match", [
    (np.zeros((0, 4, 4)), "empty array"),
    (np.zeros((2, 2, 2), complex), "complex"),
    (np.full((2, 2, 2), "a"), "real numbers"),
    (np.zeros((2, 2, 2), object), "real numbers"),
])
def test_volume_refuses_arrays_that_are_not_images(data, match):
    with pytest.raises(VolumeError, match=match):
        Volume(data)


@pytest.mark.parametrize("direction, match", [
    ((np.nan, 0, 0, 0, 1, 0, 0, 0, 1), "finite"),
    ((0, 0, 0, 0, 1, 0, 0, 0, 1), "not orthonormal"),
    ((2, 0, 0, 0, 1, 0, 0, 0, 1), "not orthonormal"),
    ((1, 1, 0, 0, 1, 0, 0, 0, 1), "not orthonormal"),
])
def test_volume_refuses_bad_directions(direction, match):
    with pytest.raises(VolumeError, match=match):
        Volume(np.zeros((2, 2, 2)), direction=direction)
    with pytest.raises(VolumeError, match="origin.*finite"):
        Volume(np.zeros((2, 2, 2)), origin=(0, np.inf, 0))


def test_bad_header_direction_names_the_file(tmp_path):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.zeros((2, 3, 4), np.float32))
    path = tmp_path / "bad.nrrd"
    sitk.WriteImage(image, str(path))
    text = path.read_bytes().replace(b"space directions: (1,0,0) (0,1,0) (0,0,1)",
                                     b"space directions: (1,0,0) (1,0,0) (0,0,1)")
    path.write_bytes(text)
    with pytest.raises((ImageReadError, VolumeError), match="bad.nrrd"):
        Volume(path=path)


def test_negative_or_multi_labels_are_read_the_same_everywhere():
    image, mask = _tumour_and_liver()
    labelled = mask.astype(np.int16) * 2  # label 2
    labelled[0, 0, 0] = 1                 # a second label elsewhere
    expected = labelled > 0
    np.testing.assert_array_equal(mask_foreground(labelled), expected)
    job = type("Job", (), {"volume": "HBP", "mask": "tumor_mask"})()
    _, binary = _checked_pair("P-1", job, image, image.with_array(labelled))
    np.testing.assert_array_equal(binary.array, expected)  # radiomics: union of labels
    negative = mask.astype(np.int16)
    negative[negative == 0] = -1          # a -1 background, as some tools write
    X = pd.DataFrame({"HBP": [image], "tumor_mask": [image.with_array(negative)]}, index=["P-3"])
    with pytest.raises(VolumeError, match="'P-3'.*negative labels"):
        ROICropper(size=(2, 2, 2)).fit_transform(X)
    with pytest.raises(VolumeError, match="'P-3'.*negative labels"):
        _checked_pair("P-3", job, image, image.with_array(negative))
    with pytest.raises(VolumeError, match="'P-3'.*negative labels"):
        validate_cohort(X, read_voxels=True)
