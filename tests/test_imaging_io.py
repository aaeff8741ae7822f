"""Image reading/writing: geometry round trips per format, DICOM series, bad files."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from _helpers import SERIES_A, SERIES_B, rotated_volume, write_dicom_series

from mvikit import Volume
from mvikit.exceptions import ImageFileNotFoundError, ImageReadError
from mvikit.imaging import as_volume, read_image, write_image


def _assert_same(volume, back, tol):
    np.testing.assert_array_equal(back.array, volume.array)
    assert back.array.dtype == volume.array.dtype
    np.testing.assert_allclose(back.spacing, volume.spacing, rtol=tol)
    np.testing.assert_allclose(back.origin, volume.origin, atol=tol)
    np.testing.assert_allclose(back.direction, volume.direction, atol=tol)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint8])
def test_round_trip_per_format(tmp_path, suffix, dtype):
    volume = rotated_volume(dtype)
    path = write_image(volume, tmp_path / f"img{suffix}")
    # NIfTI stores geometry as float32 (relative error ~6e-8); the others as text/double.
    _assert_same(volume, Volume(path=path), 1e-6)
    assert sorted(os.listdir(tmp_path)) == [f"img{suffix}"]  # no temporary file left


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        write_image(rotated_volume(), tmp_path / "img.unknownformat")
    assert os.listdir(tmp_path) == []




def test_dicom_series_folder(tmp_path):
    volume = rotated_volume(np.int16)
    write_dicom_series(volume, tmp_path, SERIES_A)
    back = Volume(path=tmp_path)
    # DICOM writes positions/orientation as decimal strings: 1e-4 mm.
    _assert_same(volume, back, 1e-4)
    assert back.shape == (5, 12, 10)


def test_dicom_io_keeps_the_process_locale(tmp_path):
    # GDCM's first DICOM write sets LC_ALL to "C" and leaves it there; Python's
    # open() would then default to ASCII for the rest of the session.  A fresh
    # interpreter, so this is GDCM's first call.
    script = (
        "import locale, sys, numpy as np\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from _helpers import write_dicom_series, rotated_volume, SERIES_A\n"
        "from mvikit import Volume\n"
        "before = locale.setlocale(locale.LC_ALL)\n"
        "write_dicom_series(rotated_volume(np.int16), Path(sys.argv[1]), SERIES_A)\n"
        "assert locale.setlocale(locale.LC_ALL) == before, 'write'\n"
        "Volume(path=sys.argv[1]).array\n"
        "assert locale.setlocale(locale.LC_ALL) == before, 'read'\n"
    )
    completed = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_dicom_folder_with_two_series(tmp_path):
    first, second = rotated_volume(np.int16, seed=1), rotated_volume(np.int16, seed=2)
    write_dicom_series(first, tmp_path, SERIES_A)
    write_dicom_series(second, tmp_path, SERIES_B)
    with pytest.raises(ImageReadError, match=rf"holds 2 series:(.|\n)*{SERIES_A} \(5 files\)"
                                             rf"(.|\n)*{SERIES_B}(.|\n)*series_uid="):
        Volume(path=tmp_path)
    with pytest.raises(ImageReadError, match=r"patient 'p3', column 'AP'.*2 series"):
        as_volume(os.fspath(tmp_path), patient_id="p3", column="AP")
    np.testing.assert_array_equal(Volume(path=tmp_path, series_uid=SERIES_B).array, second.array)
    np.testing.assert_array_equal(Volume(path=tmp_path, series_uid=SERIES_A).array, first.array)
    with pytest.raises(ImageReadError, match="has no series '1.2.3'"):
        Volume(path=tmp_path, series_uid="1.2.3")


def test_missing_empty_and_corrupt_files(tmp_path):
    with pytest.raises(ImageFileNotFoundError, match="does not exist"):
        read_image(tmp_path / "nope.nii.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="No DICOM series"):
        Volume(path=tmp_path / "empty")
    (tmp_path / "bad.nii.gz").write_bytes(b"this is not an image")
    with pytest.raises(ImageReadError, match=r"patient 'p1', column 'HBP': Cannot read image"):
        as_volume(os.fspath(tmp_path / "bad.nii.gz"), patient_id="p1", column="HBP")


def test_single_2d_file_becomes_one_slice_volume(tmp_path):
    image = sitk.GetImageFromArray(np.arange(12, dtype=np.int16).reshape(3, 4))
    image.SetSpacing((0.5, 0.6))
    sitk.WriteImage(image, os.fspath(tmp_path / "slice.nrrd"))
    volume = Volume(path=tmp_path / "slice.nrrd")
    assert volume.shape == (1, 3, 4) and volume.spacing == (1.0, 0.6, 0.5)
    np.testing.assert_array_equal(volume.array[0], np.arange(12).reshape(3, 4))
