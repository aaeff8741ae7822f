"""Issue 12, class 3: truncated NIfTI files and NaN voxels are seen, not read as zeros."""

import numpy as np
import pandas as pd
import pytest

from mvikit import Volume
from mvikit.exceptions import ImageReadError, VolumeError
from mvikit.imaging import validate_cohort, write_image


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return Volume(rng.random((6, 12, 10)).astype(np.float32) + 1.0, spacing=(3, 0.8, 0.8))


@pytest.mark.parametrize("name", ["a.nii.gz", "a.nii"])
@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_nifti_is_an_error_naming_the_file(tmp_path, image, name, keep):
    path = write_image(image, tmp_path / name)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])  # an interrupted copy
    volume = Volume(path=path)                       # the header is intact
    with pytest.raises(ImageReadError, match=rf"{name}.*(truncated|corrupt)"):
        _ = volume.array
    X = pd.DataFrame({"HBP": [volume]}, index=["P-001"])
    with pytest.raises(ImageReadError, match=name):
        validate_cohort(X, read_voxels=True)


@pytest.mark.parametrize("name", ["a.nii.gz", "a.nii"])
def test_nan_voxels_of_nifti_survive_reading(tmp_path, image, name):
    array = image.array.copy()
    array[2, 3, 4] = np.nan
    array[5, 0, 9] = np.nan
    path = write_image(image.with_array(array), tmp_path / name)
    back = Volume(path=path).array
    # SimpleITK alone returns 0 at these voxels
    np.testing.assert_array_equal(np.argwhere(np.isnan(back)), [[2, 3, 4], [5, 0, 9]])
    np.testing.assert_array_equal(back[~np.isnan(back)], array[~np.isnan(array)])
    X = pd.DataFrame({"HBP": [Volume(path=path)]}, index=["P-002"])
    with pytest.raises(VolumeError, match="'P-002', column 'HBP': 2 voxel"):
        validate_cohort(X, read_voxels=True)


def test_intact_integer_nifti_reads_unchanged(tmp_path):
    labels = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    path = write_image(Volume(labels), tmp_path / "m.nii.gz")
    np.testing.assert_array_equal(Volume(path=path).array, labels)
