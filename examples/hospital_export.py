"""A hospital-like export, read safely.

Builds a small study as a hospital exports it -- ids with leading zeros, lab
values as text with decimal commas, a category spelt two ways, one image file
missing, one copy interrupted, one mask written mirrored -- and shows what
mvikit does with each: read the ids as written, report every bad file in one
pass (or keep those patients), convert the text columns with one warning per
column, resample the mirrored mask onto its image, and pair scores with
outcomes by patient id.  Runs in a few seconds.
"""

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mvikit import Volume
from mvikit.datasets import load_cohort
from mvikit.exceptions import ImageFileNotFoundError, ImageReadError
from mvikit.imaging import validate_cohort, write_image
from mvikit.metrics import roc_auc_ci
from mvikit.preprocessing import ClinicalPreprocessor

rng = np.random.default_rng(0)
folder = Path(tempfile.mkdtemp())
ids = [f"{i:03d}" for i in range(1, 9)]  # "001" ... "008": text, not numbers
mvi = np.array([0, 1, 0, 1, 1, 0, 1, 0])

# 1. Images and masks; patient 003's image is missing, 005's copy was interrupted, and
#    007's mask was written with a mirrored x axis (the same anatomy, another header).
for pid in ids:
    image = rng.normal(100, 10, (4, 16, 16)).astype(np.float32)
    mask = np.zeros((4, 16, 16), np.uint8)
    mask[1:3, 4:8, 10:14] = 1
    image[mask == 1] += 80
    write_image(Volume(image, spacing=(3, 1, 1)), folder / f"{pid}_HBP.nii.gz")
    if pid == "007":
        mirrored = Volume(mask[:, :, ::-1], spacing=(3, 1, 1), origin=(15, 0, 0),
                          direction=(-1, 0, 0, 0, 1, 0, 0, 0, 1))
        write_image(mirrored, folder / f"{pid}_mask.nii.gz")
    else:
        write_image(Volume(mask, spacing=(3, 1, 1)), folder / f"{pid}_mask.nii.gz")
(folder / "003_HBP.nii.gz").unlink()
damaged = (folder / "005_HBP.nii.gz").read_bytes()
(folder / "005_HBP.nii.gz").write_bytes(damaged[: len(damaged) // 2])

pd.DataFrame({
    "patient_id": ids, "mvi": mvi,
    "AFP": ["12,5", "850", "3,1", "1200", "40,2", "7,7", "300", "15"],  # decimal commas
    "HBV": ["Yes", "yes ", "No", "Yes", "no", "No", "Yes", "No"],       # two spellings
    "HBP": [f"{pid}_HBP.nii.gz" for pid in ids],
    "tumor_mask": [f"{pid}_mask.nii.gz" for pid in ids],
}).to_csv(folder / "study.csv", index=False)

# 2. Ids stay text; every missing or unreadable image is listed in one error ...
try:
    load_cohort(folder / "study.csv", target="mvi")
except (ImageFileNotFoundError, ImageReadError) as error:
    print("load_cohort refused the study:", str(error).splitlines()[0])
# ... or those patients are kept with the volume missing.
with warnings.catch_warnings(record=True):
    warnings.simplefilter("always")
    study = load_cohort(folder / "study.csv", target="mvi", on_missing="keep")
print("ids as written:", study.X.index.tolist())
print(study.missing_images[["patient_id", "column", "error"]].to_string(index=False))

# 3. Reading the voxels finds the interrupted copy (SimpleITK alone reads zeros there) ...
complete = study.X.dropna(subset=["HBP"])
try:
    validate_cohort(complete, read_voxels=True)
except ImageReadError as error:
    print("validate_cohort:", str(error)[:110], "...")
# ... and the mirrored mask is caught by its geometry, and resampled when asked.
complete = complete.drop(index="005")
try:
    validate_cohort(complete)
except ValueError as error:
    print("validate_cohort:", str(error)[:110], "...")
fixed = validate_cohort(complete, resample_masks=True, read_voxels=True)
print("mask of 007 now on its image's grid:", fixed.at["007", "tumor_mask"].direction[0] == 1.0)

# 4. Text numbers and spellings: one warning per column, numeric AFP, one HBV level.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    pre = ClinicalPreprocessor(clinical=["AFP", "HBV"]).set_output(transform="pandas")
    design = pre.fit_transform(study.X)
for warning in caught:
    print("warning:", str(warning.message)[:100], "...")
print("features:", list(design.columns))

# 5. Scores in another order are paired by patient id, not by position.
score = pd.Series(np.log(pre.transform(study.X)["AFP"] + 3), index=study.X.index)
ranked = score.sort_values()
print("AUC, score sorted by risk:", round(roc_auc_ci(study.y, ranked).auc, 3),
      "= AUC in file order:", round(roc_auc_ci(study.y, score).auc, 3),
      "; paired by position it would be", round(roc_auc_ci(study.y.to_numpy(),
                                                           ranked.to_numpy()).auc, 3))
