"""write_cohort / load_cohort: exact round trips, atomic writes, plain CSVs, bad input."""

import os
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from mvikit import Volume
from mvikit.datasets import load_cohort, write_cohort
from mvikit.exceptions import (
    CohortError,
    ColumnRoleError,
    DataWarning,
    ImageFileNotFoundError,
    OutputExistsError,
)
from mvikit.imaging import write_image

ROTATION = (0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
# Not representable in float32: NIfTI headers alone would not give them back.
SPACING, ORIGIN = (3.3, 0.71, 0.71), (1.1, -2.2, 3.3)


def _cohort(n=5, seed=0):
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"HCC-{i:03d}" for i in range(n)], name="patient_id")

    def volume(dtype=np.float32, mask=False):
        data = rng.random((3, 5, 6)) > 0.5 if mask else rng.normal(100, 30, (3, 5, 6))
        return Volume(data.astype(dtype), spacing=SPACING, origin=ORIGIN, direction=ROTATION)

    X = pd.DataFrame({
        "age": rng.normal(60, 8, n),
        "AFP": np.where(rng.random(n) < 0.3, np.nan, rng.lognormal(3, 2, n)),
        "PLT": rng.integers(50, 300, n),
        "HBV": rng.random(n) < 0.5,
        "gender": pd.Series(rng.choice(["M", "F"], n)).where(rng.random(n) > 0.2).to_numpy(),
        "BCLC": pd.Categorical(rng.choice(["0", "A", "B"], n), categories=["0", "A", "B"],
                               ordered=True),
        "LI_RADS": pd.Categorical([3, 4, 5, None, 4][:n] * (n // 5) or [3] * n),
        "ALT_flag": pd.array([True, None, False, True, False][:n] * (n // 5), dtype="boolean"),
        "PRE": [volume() for _ in range(n)],
        "HBP": [volume(np.float64) for _ in range(n)],
        "tumor_mask": [volume(np.uint8, mask=True) for _ in range(n)],
    }, index=ids)
    X.loc[ids[2], "HBP"] = np.nan  # a patient without HBP
    survival = np.array([(bool(e), t) for e, t in zip(rng.random(n) < 0.6,
                                                        rng.exponential(24, n))],
                        dtype=[("event", bool), ("time", float)])
    return Bunch(X=X, y=rng.integers(0, 3, n), survival=survival,
                 centers=pd.Series(rng.choice(["A", "B", "C"], n), index=ids, name="center"),
                 truth=pd.DataFrame({"a": rng.normal(size=n), "sign": rng.random(n) < 0.5},
                                    index=ids),
                 description="A test cohort.", clinical_columns=list(X.columns[:8]),
                 # non-patient fields: kept in the sidecar as tagged JSON
                 center_info=pd.DataFrame({"spacing": [(3.0, 0.7, 0.7), (2.0, 0.78, 0.78)],
                                           "weight": [0.6, 0.4], "external": [False, True]},
                                          index=pd.Index(["C1", "C2"], name="center")),
                 params={"b_a": 1.2, "thresholds": (-0.1, 0.9), "sequences": ["PRE", "HBP"]},
                 oracle_auc=np.float64(0.9), weights=np.arange(6.0).reshape(2, 3))


def _assert_volumes_equal(left, right):
    for column in ("PRE", "HBP", "tumor_mask"):
        for pid in left.index:
            a, b = left.at[pid, column], right.at[pid, column]
            if not isinstance(a, Volume):
                assert pd.isna(a) and pd.isna(b)
                continue
            assert b.is_lazy
            np.testing.assert_array_equal(b.array, a.array)
            assert b.array.dtype == a.array.dtype
            assert (b.spacing, b.origin, b.direction) == (a.spacing, a.origin, a.direction)


def test_bunch_round_trip_is_exact(tmp_path):
    cohort = _cohort()
    folder = write_cohort(cohort, tmp_path / "study")
    back = load_cohort(folder)
    clinical = cohort.clinical_columns
    pd.testing.assert_frame_equal(back.X[clinical], cohort.X[clinical], check_exact=True)
    assert list(back.X.columns) == list(cohort.X.columns)
    _assert_volumes_equal(cohort.X, back.X)
    np.testing.assert_array_equal(back.y, cohort.y)
    assert back.y.dtype == cohort.y.dtype
    assert back.survival.dtype == cohort.survival.dtype
    np.testing.assert_array_equal(back.survival, cohort.survival)
    pd.testing.assert_series_equal(back.centers, cohort.centers)
    pd.testing.assert_frame_equal(back.truth, cohort.truth, check_exact=True)
    assert back.description == cohort.description
    pd.testing.assert_frame_equal(back.center_info, cohort.center_info, check_exact=True)
    assert back.params == cohort.params and isinstance(back.params["thresholds"], tuple)
    assert back.oracle_auc == cohort.oracle_auc and type(back.oracle_auc) is np.float64
    np.testing.assert_array_equal(back.weights, cohort.weights)
    assert back.volume_columns == ["PRE", "HBP"] and back.mask_columns == ["tumor_mask"]
    # Lazy cells: the whole frame pickles as paths (a few hundred bytes per cell).
    assert len(pickle.dumps(back.X)) < 1500 * back.X.size / 4
    # and writing the loaded cohort again reproduces it
    again = load_cohort(write_cohort(back, tmp_path / "again"))
    pd.testing.assert_frame_equal(again.X[clinical], cohort.X[clinical], check_exact=True)
    _assert_volumes_equal(cohort.X, again.X)


def test_csv_layout_is_readable(tmp_path):
    folder = write_cohort(_cohort(), tmp_path / "study")
    table = pd.read_csv(folder / "clinical.csv")
    assert list(table.columns[:3]) == ["patient_id", "age", "AFP"]
    assert {"y", "center", "event", "time", "PRE", "tumor_mask"} <= set(table.columns)
    assert table.loc[0, "PRE"] == "images/HCC-000_PRE.nii.gz"
    assert pd.isna(table.loc[2, "HBP"])
    assert (folder / "images" / "HCC-000_PRE.nii.gz").exists()


def test_bare_frame_round_trip(tmp_path):
    X = _cohort().X
    back = load_cohort(write_cohort(X, tmp_path / "c"))
    assert back.y is None and back.survival is None and back.centers is None
    pd.testing.assert_frame_equal(back.X[X.columns[:8]], X[X.columns[:8]], check_exact=True)


def test_outcome_name_clash_gets_a_suffix(tmp_path):
    cohort = _cohort()
    cohort.X["center"] = "clinic"  # a clinical column named like the centres
    back = load_cohort(write_cohort(cohort, tmp_path / "c"))
    assert (back.X["center"] == "clinic").all()
    pd.testing.assert_series_equal(back.centers, cohort.centers)
    assert "center_1" in pd.read_csv(tmp_path / "c" / "clinical.csv").columns


def test_refuses_to_overwrite_and_replaces_whole(tmp_path):
    cohort = _cohort()
    folder = write_cohort(cohort, tmp_path / "c")
    with pytest.raises(OutputExistsError, match="already exists.*overwrite=True"):
        write_cohort(cohort, folder)
    (folder / "stray.txt").write_text("old")
    small = Bunch(X=cohort.X.iloc[:2], y=cohort.y[:2])
    write_cohort(small, folder, overwrite=True)
    assert not (folder / "stray.txt").exists()
    assert len(load_cohort(folder).X) == 2
    assert sorted(os.listdir(tmp_path)) == ["c"]


def test_failure_leaves_nothing_partial(tmp_path, monkeypatch):
    import SimpleITK as sitk

    cohort = _cohort()
    calls = []
    real = sitk.WriteImage

    def failing(*args):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(sitk, "WriteImage", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        write_cohort(cohort, tmp_path / "c")
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(sitk, "WriteImage", real)
    write_cohort(cohort, tmp_path / "c")
    monkeypatch.setattr(sitk, "WriteImage", failing)
    calls.clear()
    with pytest.raises(RuntimeError, match="disk full"):
        write_cohort(Bunch(X=cohort.X.iloc[:2]), tmp_path / "c", overwrite=True)
    assert os.listdir(tmp_path) == ["c"]  # the old cohort is intact
    assert len(load_cohort(tmp_path / "c").X) == 5


def test_write_errors(tmp_path):
    cohort = _cohort()
    with pytest.raises(CohortError, match="`y` has 2 entries but X has 5"):
        write_cohort(Bunch(X=cohort.X, y=[0, 1]), tmp_path / "a")
    X = cohort.X.copy()
    X["mixed"] = [1, "a", 2.0, np.nan, 3]
    with pytest.raises(CohortError, match="column 'mixed' mixes cell types"):
        write_cohort(X, tmp_path / "b")
    with pytest.raises(CohortError, match="Duplicate patient ids"):
        write_cohort(cohort.X.iloc[[0, 0]], tmp_path / "c")
    with pytest.raises(CohortError, match="needs a cohort frame or a Bunch"):
        write_cohort([1, 2], tmp_path / "d")
    assert os.listdir(tmp_path) == []
    with pytest.warns(DataWarning, match="field 'model'"):
        write_cohort(Bunch(X=cohort.X, model=object()), tmp_path / "e")


def _plain_study(tmp_path):
    for pid in ("a", "b", "c"):
        write_image(Volume(np.full((2, 4, 4), ord(pid), np.int16), spacing=(5, 1, 1)),
                    tmp_path / f"{pid}_t2.nii.gz")
    table = pd.DataFrame({"pid": ["a", "b", "c"], "age": [50, 60, np.nan],
                          "sex": ["F", "M", "F"], "mvi": [0, 1, 1], "event": [1, 0, 1],
                          "months": [3.5, 60.0, 12.0], "site": ["X", "Y", "X"],
                          "T2": ["a_t2.nii.gz", "b_t2.nii.gz", "c_t2.nii.gz"]})
    table.to_csv(tmp_path / "study.csv", index=False)
    return table


def test_plain_csv(tmp_path):
    _plain_study(tmp_path)
    cohort = load_cohort(tmp_path / "study.csv", id_column="pid", target="mvi",
                         survival=("event", "months"), centers="site")
    assert list(cohort.X.columns) == ["age", "sex", "T2"]
    assert cohort.X.loc["b", "T2"].array[0, 0, 0] == ord("b")
    assert cohort.y.tolist() == [0, 1, 1] and cohort.centers.tolist() == ["X", "Y", "X"]
    assert cohort.survival.dtype.names == ("event", "months")
    np.testing.assert_array_equal(cohort.survival["months"], [3.5, 60.0, 12.0])
    assert cohort.volume_columns == ["T2"] and cohort.clinical_columns == ["age", "sex"]


def test_plain_csv_errors(tmp_path):
    table = _plain_study(tmp_path)
    with pytest.raises(ColumnRoleError, match="no 'patient_id' column; name .* id_column="):
        load_cohort(tmp_path / "study.csv")
    with pytest.raises(ColumnRoleError, match=r"\['MVI'\] not in"):
        load_cohort(tmp_path / "study.csv", id_column="pid", target="MVI")
    os.remove(tmp_path / "b_t2.nii.gz")
    with pytest.raises(ImageFileNotFoundError, match="patient 'b', column 'T2'.*does not exist"):
        load_cohort(tmp_path / "study.csv", id_column="pid")
    table.assign(pid=["a", "a", "c"]).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(CohortError, match="Duplicate patient ids.*'a'"):
        load_cohort(tmp_path / "dup.csv", id_column="pid", image_columns=None)
    with pytest.raises(FileNotFoundError, match="No cohort at"):
        load_cohort(tmp_path / "nothing")


def test_written_cohort_errors(tmp_path):
    folder = write_cohort(_cohort(), tmp_path / "c")
    with pytest.raises(ValueError, match="written by write_cohort.*\\['target'\\]"):
        load_cohort(folder, target="y")
    os.remove(folder / "images" / "HCC-001_HBP.nii.gz")
    with pytest.raises(ImageFileNotFoundError, match="patient 'HCC-001', column 'HBP'"):
        load_cohort(folder)
