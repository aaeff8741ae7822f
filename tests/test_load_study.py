"""Issue 12, class 10: loading a real study (every problem in one pass, keeping patients,
interrupted writes, file modes)."""

import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from mvikit import Volume
from mvikit.datasets import load_cohort, write_cohort
from mvikit.exceptions import DataWarning, ImageFileNotFoundError, ImageReadError
from mvikit.imaging import write_image


@pytest.fixture
def study(tmp_path):
    """Four patients; P2's image is missing, P3's is damaged, P4's mask is missing."""
    for pid in ("P1", "P2", "P3", "P4"):
        write_image(Volume(np.ones((2, 4, 4)), spacing=(3, 1, 1)), tmp_path / f"{pid}.nii.gz")
        write_image(Volume(np.ones((2, 4, 4), np.uint8), spacing=(3, 1, 1)),
                    tmp_path / f"{pid}_mask.nii.gz")
    (tmp_path / "P2.nii.gz").unlink()
    (tmp_path / "P3.nii.gz").write_bytes(b"not an image")
    (tmp_path / "P4_mask.nii.gz").unlink()
    pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"], "mvi": [0, 1, 0, 1],
                  "HBP": [f"P{i}.nii.gz" for i in range(1, 5)],
                  "tumor_mask": [f"P{i}_mask.nii.gz" for i in range(1, 5)]}).to_csv(
        tmp_path / "study.csv", index=False)
    return tmp_path / "study.csv"


def test_every_missing_or_unreadable_image_is_reported_in_one_pass(study):
    with pytest.raises(ImageReadError) as info:
        load_cohort(study, target="mvi")
    message = str(info.value)
    assert "3 image(s) of 3 patient(s)" in message
    for where in ("patient 'P2', column 'HBP'", "patient 'P3', column 'HBP'",
                  "patient 'P4', column 'tumor_mask'"):
        assert where in message
    assert "on_missing='keep'" in message


def test_only_missing_files_raise_the_file_not_found_error(study):
    (study.parent / "P3.nii.gz").unlink()
    with pytest.raises(ImageFileNotFoundError, match="3 image"):
        load_cohort(study)


def test_on_missing_keep_keeps_the_patients_and_counts_them(study):
    with pytest.warns(DataWarning, match="(?s)3 image.*kept as missing volumes"):
        bunch = load_cohort(study, target="mvi", on_missing="keep")
    assert bunch.X.index.tolist() == ["P1", "P2", "P3", "P4"]
    assert pd.isna(bunch.X.at["P2", "HBP"]) and pd.isna(bunch.X.at["P4", "tumor_mask"])
    assert isinstance(bunch.X.at["P1", "HBP"], Volume)
    table = bunch.missing_images
    assert table[["patient_id", "column", "error"]].values.tolist() == [
        ["P2", "HBP", "ImageFileNotFoundError"], ["P3", "HBP", "ImageReadError"],
        ["P4", "tumor_mask", "ImageFileNotFoundError"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewriting the bunch stores no report field
        write_cohort(bunch, study.parent / "copy")


def test_a_killed_write_leaves_nothing_after_the_next_write(tmp_path):
    target = tmp_path / "cohort"
    script = (
        "import time, numpy as np, pandas as pd, mvikit.datasets._cohort_io as io\n"
        "from mvikit import Volume\n"
        "def slow(*a, **k):\n"
        "    open({!r}, 'w').close(); time.sleep(60)\n"
        "io._write_images = slow\n"
        "X = pd.DataFrame({{'age': [1.0]}}, index=['p1'])\n"
        "io.write_cohort(X, {!r})\n".format(str(tmp_path / "started"), str(target)))
    child = subprocess.Popen([sys.executable, "-c", script],
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        for _ in range(300):
            if (tmp_path / "started").exists():
                break
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert list(tmp_path.glob(".cohort.tmp-*"))  # the killed write left its folder
    write_cohort(pd.DataFrame({"age": [2.0]}, index=["p1"]), target)
    assert not list(tmp_path.glob(".cohort.*"))
    assert load_cohort(target).X.at["p1", "age"] == 2.0


def test_written_files_and_folders_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        image = write_image(Volume(np.zeros((2, 2, 2))), tmp_path / "a.nii.gz")
        folder = write_cohort(pd.DataFrame({"age": [1.0], "HBP": [Volume(np.zeros((2, 2, 2)))]},
                                           index=["p1"]), tmp_path / "c")
    finally:
        os.umask(old)
    assert image.stat().st_mode & 0o777 == 0o640
    assert folder.stat().st_mode & 0o777 == 0o750
    assert (folder / "clinical.csv").stat().st_mode & 0o777 == 0o640
