"""Data and settings shared by several test modules.

Not a test module (pytest collects ``test_*.py`` only): test modules import from here
and never from each other, so that a test module is never imported twice (once as a
library) and one module's fixtures or marks never leak into another.  The ``tests``
folder is on ``sys.path`` (pytest's rootdir-relative "prepend" import mode, no
``__init__.py``), hence ``from _helpers import ...``.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import SimpleITK as sitk

from mvikit import Volume
from mvikit.imaging._io import _keeps_locale

__all__ = ["TINY", "make_frame", "FIRSTORDER", "RADIOMICS_SHAPE", "RADIOMICS_SPACING",
           "tiny_cohort", "ROTATION", "SERIES_A", "SERIES_B", "rotated_volume",
           "write_dicom_series"]

# ------------------------------------------------------------------ deep estimators
#: Tiny deep-estimator settings: 8x16x16 cubes, 8x12x12 crops, width 1/16, two epochs.
TINY = dict(cube=(8, 16, 16), downsample=1, crop_size=(8, 12, 12), width=0.0625, max_epochs=2,
            batch_size=8, random_state=0)


def make_frame(n: int = 20, labels=("M0", "M1"), seed: int = 0, signal: float = 1.5):
    """A cohort frame with PRE/HBP volumes whose tumour is brighter when the label
    is not the first one, a shared tumour mask and three clinical columns."""
    rng = np.random.default_rng(seed)
    y = np.array([labels[i % len(labels)] for i in range(n)])
    mask = np.zeros((10, 20, 20), np.uint8)
    mask[4:6, 8:12, 8:12] = 1

    def volume(i, k):
        array = rng.normal(size=(10, 20, 20))
        array[mask > 0] += signal * (k + 1) * (y[i] != labels[0])
        return Volume(array, spacing=(3.0, 1.0, 1.0))

    X = pd.DataFrame({
        "age": rng.normal(60, 10, n),
        "AFP": rng.lognormal(3, 1, n),
        "HBV": rng.random(n) < 0.5,
        "PRE": [volume(i, 0) for i in range(n)],
        "HBP": [volume(i, 1) for i in range(n)],
        "tumor_mask": [Volume(mask, spacing=(3.0, 1.0, 1.0))] * n,
    }, index=[f"p{i:02d}" for i in range(n)])
    X.loc["p01", "AFP"] = np.nan
    return X, y


# ------------------------------------------------------------------ radiomics
#: A few first-order features: fast to extract, enough to separate `tiny_cohort`'s labels.
FIRSTORDER = {"firstorder": ["Mean", "Median", "Variance", "Entropy"]}
#: `tiny_cohort`'s image grid and voxel spacing (mm).
RADIOMICS_SHAPE = (10, 22, 22)
RADIOMICS_SPACING = (2.0, 1.0, 1.0)


def tiny_cohort(n=8, seed=0, volumes=("HBP",), effect=25.0):
    """Ellipsoid tumours whose intensity depends on the label (MVI = 1 brighter)."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(RADIOMICS_SHAPE)
    rows, labels = [], []
    for i in range(n):
        label = i % 2
        radius = rng.uniform(3.0, 4.5)
        centre = np.array(RADIOMICS_SHAPE) / 2 + rng.uniform(-1, 1, 3)
        mask = ((((zz - centre[0]) * RADIOMICS_SPACING[0]) ** 2 + (yy - centre[1]) ** 2
                 + (xx - centre[2]) ** 2) <= radius ** 2).astype(np.uint8)
        row = {"tumor_mask": Volume(mask, spacing=RADIOMICS_SPACING)}
        for v in volumes:
            image = rng.normal(100, 10, RADIOMICS_SHAPE) + mask * (20 + effect * label)
            row[v] = Volume(image.astype(np.float32), spacing=RADIOMICS_SPACING)
        rows.append(row)
        labels.append(label)
    X = pd.DataFrame(rows, index=[f"p{i}" for i in range(n)])
    X.insert(0, "age", rng.normal(60, 8, n))
    return X, np.asarray(labels)


# ------------------------------------------------------------------ image files
#: A direction matrix that is not the identity (axes swapped, one flipped).
ROTATION = (0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
SERIES_A = "1.2.826.0.1.3680043.2.1125.10"
SERIES_B = "1.2.826.0.1.3680043.2.1125.20"


def rotated_volume(dtype=np.float32, seed=0):
    """A 5x12x10 volume with anisotropic spacing, an origin and the `ROTATION` direction."""
    rng = np.random.default_rng(seed)
    data = (rng.normal(size=(5, 12, 10)) * 100).astype(dtype)
    return Volume(data, spacing=(2.5, 0.75, 0.7), origin=(10.5, -20.25, 30.0), direction=ROTATION)


@_keeps_locale  # GDCM's writer resets the process locale to "C"
def write_dicom_series(volume, folder, series_uid, study_uid="1.2.826.0.1.3680043.2.1125.1"):
    """One file per slice, with the tags a series reader needs (ImageSeriesWriter style)."""
    image = sitk.Cast(volume.to_sitk(), sitk.sitkInt16)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    direction = image.GetDirection()
    orientation = "\\".join(f"{v:.6f}" for v in (direction[0], direction[3], direction[6],
                                                  direction[1], direction[4], direction[7]))
    for k in range(image.GetDepth()):
        slice_ = image[:, :, k]
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        tags = {
            "0008|0060": "MR",
            "0020|000d": study_uid,
            "0020|000e": series_uid,
            "0008|0018": f"{series_uid}.{k + 1}",
            "0020|0013": str(k + 1),
            "0020|0032": "\\".join(f"{p:.6f}" for p in position),
            "0020|0037": orientation,
            "0018|0050": f"{volume.spacing[0]:.6f}",
        }
        for tag, value in tags.items():
            slice_.SetMetaData(tag, value)
        writer.SetFileName(os.fspath(folder / f"{series_uid}_{k:03d}.dcm"))
        writer.Execute(slice_)
