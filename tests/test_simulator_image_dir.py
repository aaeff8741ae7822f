"""make_hcc_cohort(image_dir=...): images written as rendered, lazy cells, same voxels."""

import numpy as np
import pytest

from mvikit.datasets import make_hcc_cohort
from mvikit.datasets._sim_params import SimulationParameterError

SMALL = {"full_shape": (16, 48, 48)}
IMAGES = ["T2", "PV", "tumor_mask", "liver_mask"]


def test_written_cohort_equals_the_in_memory_cohort(tmp_path):
    kwargs = dict(task="tace", layout="full", sequences=("T2", "PV"), params=SMALL,
                  random_state=4)
    memory = make_hcc_cohort(3, **kwargs)
    disk = make_hcc_cohort(3, image_dir=tmp_path / "images", **kwargs)
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == sorted(
        f"HCC000{i}_{c}.nii" for i in (1, 2, 3) for c in IMAGES)
    for column in IMAGES:
        for a, b in zip(memory.X[column], disk.X[column]):
            assert b.is_lazy and not a.is_lazy
            assert b.array.dtype == a.array.dtype  # float32 images, uint8 masks
            np.testing.assert_array_equal(b.array, a.array)
            # the exact float64 geometry, not the NIfTI header's float32
            assert (b.spacing, b.origin, b.direction) == (a.spacing, a.origin, a.direction)
    clinical = memory.X.columns.difference(IMAGES)
    assert disk.X[clinical].equals(memory.X[clinical])
    np.testing.assert_array_equal(disk.survival, memory.survival)


def test_image_dir_needs_images(tmp_path):
    with pytest.raises(SimulationParameterError, match="image_dir.*no images"):
        make_hcc_cohort(3, layout=None, image_dir=tmp_path)
    with pytest.raises(SimulationParameterError, match="image_dir must be a folder"):
        make_hcc_cohort(3, image_dir=3)
