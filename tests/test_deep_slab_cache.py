"""CohortTensorizer's slabs: cut patient by patient, cached, equal to normalise-then-cut.

The slabs of a full-layout cohort are cut one patient at a time (read, normalise,
cut, drop the full-size volumes) and only the slabs are kept, in the process-wide
volume cache; the reference is the frame-wide path (normalise every volume with
`IntensityNormalizer`, then cut without normalising).
"""

import numpy as np
import pytest
import torch

import mvikit.imaging._io as image_io
from mvikit import Volume
from mvikit.datasets import make_hcc_cohort
from mvikit.deep import CohortTensorizer
from mvikit.imaging import IntensityNormalizer, clear_volume_cache, volume_cache_info

pytestmark = pytest.mark.filterwarnings("ignore::mvikit.exceptions.DataWarning")
SMALL = {"full_shape": (16, 48, 48)}
K, SIZE = 4, 16


def _cohort(**kwargs):
    return make_hcc_cohort(3, task="tace", layout="full", sequences=("T2", "PV"),
                           params=SMALL, random_state=2, **kwargs).X


def _tensorizer(X, normalize="zscore"):
    return CohortTensorizer(input_kind="liver_tumor", n_slices=K, slice_size=SIZE,
                            normalize=normalize).fit(X)


def test_slabs_equal_normalise_then_cut():
    X = _cohort()
    clear_volume_cache()
    data = _tensorizer(X).transform(X)
    columns = ["T2", "PV"]
    normalized = IntensityNormalizer("zscore", region="roi", volumes=columns,
                                     masks=["tumor_mask", "liver_mask"]).fit_transform(X)
    reference = _tensorizer(normalized, normalize=None).transform(normalized)
    assert set(data) == set(reference)
    for name in data:
        assert torch.equal(data[name], reference[name]), name  # bit-identical
    assert data["liver_volumes"].shape == (3, 2, K, SIZE, SIZE)


def test_cache_holds_slabs_only_and_files_are_read_once(tmp_path, monkeypatch):
    X = _cohort(image_dir=tmp_path)
    reads = []
    original = image_io.read_image_array
    monkeypatch.setattr(image_io, "read_image_array",
                        lambda path, *a, **k: reads.append(path) or original(path, *a, **k))
    clear_volume_cache()
    tensorizer = _tensorizer(X)
    first = tensorizer.transform(X)
    # each of the 3 patients' 4 files (T2, PV, tumour and liver masks) read once
    assert len(reads) == len(set(reads)) == 12
    info = volume_cache_info()
    # 3 patients x 2 sequences x 2 structures, float32 image + uint8 mask slabs:
    # no full-size (16 x 48 x 48) normalised volume is kept
    assert info["n_items"] == 12 and info["nbytes"] == 12 * K * SIZE * SIZE * (4 + 1)
    second = tensorizer.transform(X.iloc[::-1])
    geometry = tensorizer.geometry(X)
    assert len(reads) == 12 and volume_cache_info()["misses"] == info["misses"]
    for name in first:
        assert torch.equal(second[name], first[name].flip(0)), name
    assert geometry.shape == (3, 2) and geometry.iloc[0, 0].spacing[0] == X["T2"].iloc[0].spacing[0]


def test_array_cells_are_not_cached():
    volumes = _cohort()[["T2", "PV", "tumor_mask", "liver_mask"]]
    arrays = volumes.map(lambda v: np.asarray(v.array))  # a new identity on every wrap
    clear_volume_cache()
    data = _tensorizer(arrays).transform(arrays)
    assert volume_cache_info()["n_items"] == 0
    wrapped = arrays.map(Volume)  # the same voxels and (unit) spacing, as Volume cells
    reference = _tensorizer(wrapped).transform(wrapped)
    assert volume_cache_info()["n_items"] == 12
    for name in data:
        assert torch.equal(data[name], reference[name]), name
