"""`Volume`: geometry conventions, read-only arrays, lazy files, pickling, cache keys."""

import os
import pickle

import numpy as np
import pytest
import SimpleITK as sitk

from mvikit import Volume
from mvikit.exceptions import ImageFileNotFoundError, VolumeError
from mvikit.imaging import as_volume, write_image

# A proper rotation (det = +1): x -> y, y -> x, z -> -z.
ROTATION = (0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def test_in_memory_volume_is_a_read_only_copy():
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    volume = Volume(data, spacing=(3.0, 0.8, 0.7))
    data[0, 0, 0] = 99.0
    assert volume.array[0, 0, 0] == 0.0
    assert not volume.array.flags.writeable
    with pytest.raises(ValueError):
        volume.array[0, 0, 0] = 1.0
    assert volume.shape == (2, 3, 4) and volume.spacing == (3.0, 0.8, 0.7)
    assert Volume(np.ones((1, 2, 2), bool)).array.dtype == np.uint8


@pytest.mark.parametrize("kwargs, match", [
    ({"data": np.zeros((3, 3))}, "must be 3D"),
    ({"data": np.zeros((2, 2, 2)), "spacing": (1, 0, 1)}, "positive"),
    ({"data": np.zeros((2, 2, 2)), "spacing": (1, 1)}, "3 values"),
    ({"data": np.zeros((2, 2, 2)), "direction": (1, 0, 0)}, "9 values"),
    ({}, "exactly one"),
])
def test_invalid_volumes(kwargs, match):
    with pytest.raises(VolumeError, match=match):
        Volume(**kwargs)


def test_spacing_is_dhw_and_sitk_geometry_matches_physical_points():
    # Voxel [d, h, w] lies at origin + direction @ (w*sx, h*sy, d*sz): the ITK rule.
    volume = Volume(np.zeros((4, 5, 6)), spacing=(3.0, 0.8, 0.5), origin=(10.0, -5.0, 2.0),
                    direction=ROTATION)
    image = volume.to_sitk()
    assert image.GetSize() == (6, 5, 4)
    assert image.GetSpacing() == (0.5, 0.8, 3.0)
    d, h, w = 3, 2, 5
    expected = np.array(volume.origin) + np.reshape(ROTATION, (3, 3)) @ np.array(
        [w * 0.5, h * 0.8, d * 3.0])
    np.testing.assert_allclose(image.TransformIndexToPhysicalPoint((w, h, d)), expected)
    back = Volume.from_sitk(image)
    assert (back.spacing, back.origin, back.direction) == (
        volume.spacing, volume.origin, volume.direction)


def test_lazy_volume_reads_header_only_and_pickles_as_a_path(tmp_path, monkeypatch):
    data = np.random.default_rng(0).normal(size=(8, 32, 32)).astype(np.float32)
    path = write_image(Volume(data, spacing=(2.5, 0.75, 0.75)), tmp_path / "img.nii.gz")
    reads = []
    import mvikit.imaging._io as io

    real = io.read_image_array
    monkeypatch.setattr(io, "read_image_array", lambda *a, **k: reads.append(a) or real(*a, **k))
    lazy = Volume(path=path)
    assert lazy.is_lazy and lazy.shape == (8, 32, 32) and not reads
    np.testing.assert_allclose(lazy.spacing, (2.5, 0.75, 0.75), rtol=1e-7)
    blob = pickle.dumps(lazy)
    assert len(blob) < 600 < data.nbytes  # a path and a header, not 32 KB of voxels
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.array, data)
    assert len(reads) == 1
    loaded = lazy.load()
    assert not loaded.is_lazy and len(reads) == 2
    np.testing.assert_array_equal(loaded.array, data)


def test_in_memory_pickle_keeps_voxels_and_cache_key():
    volume = Volume(np.arange(8.0).reshape(2, 2, 2))
    clone = pickle.loads(pickle.dumps(volume))
    assert clone.cache_key == volume.cache_key
    assert not clone.array.flags.writeable
    np.testing.assert_array_equal(clone.array, volume.array)
    assert Volume(np.arange(8.0).reshape(2, 2, 2)).cache_key != volume.cache_key


def test_file_cache_key_changes_when_the_file_changes(tmp_path):
    path = write_image(Volume(np.zeros((2, 3, 3))), tmp_path / "a.nii")
    key = Volume(path=path).cache_key
    assert Volume(path=path).cache_key == key
    write_image(Volume(np.ones((2, 3, 4))), tmp_path / "a.nii")
    assert Volume(path=path).cache_key != key


def test_given_geometry_overrides_float32_header_only_when_consistent(tmp_path):
    spacing = (3.3, 0.71, 0.71)  # not representable in float32
    path = write_image(Volume(np.zeros((2, 3, 3)), spacing=spacing), tmp_path / "a.nii.gz")
    assert Volume(path=path).spacing != spacing
    assert Volume(path=path, spacing=spacing).spacing == spacing
    with pytest.raises(VolumeError, match="disagrees with the file header"):
        Volume(path=path, spacing=(3.0, 0.71, 0.71))


def test_as_volume_wraps_cells(tmp_path):
    write_image(Volume(np.ones((2, 2, 2)), spacing=(4, 1, 1)), tmp_path / "a.nrrd")
    assert as_volume("a.nrrd", base_dir=tmp_path).spacing == (4.0, 1.0, 1.0)
    volume = Volume(np.ones((1, 1, 1)))
    assert as_volume(volume) is volume
    with pytest.raises(ImageFileNotFoundError, match="patient 'p7', column 'HBP'"):
        as_volume(os.fspath(tmp_path / "missing.nii.gz"), patient_id="p7", column="HBP")
    with pytest.raises(VolumeError, match="patient 'p7', column 'HBP': .* must be 3D"):
        as_volume(np.zeros((2, 2)), patient_id="p7", column="HBP")
    with pytest.raises(VolumeError, match="patient 'p7', column 'HBP'.*got list"):
        as_volume([1, 2], patient_id="p7", column="HBP")
    assert sitk.GetArrayFromImage(volume.to_sitk()).shape == (1, 1, 1)
