"""Measure the AUC bands of the simulated cohort (design/simulator.md targets).

For a few seeds of the default cohort (n = 270, binary MVI):

* ``oracle``   - AUC of the true risk ``r`` (target about 0.90);
* ``clinical`` - 5-fold CV (repeated) of a logistic regression on the 52
  clinical items: median / most-frequent imputation, one-hot encoding,
  standardisation, ``LogisticRegression(C=0.1)`` (target 0.75-0.85);
* ``image``    - 5-fold CV (repeated) of a radiomics-plus-logistic baseline on
  the volumes: first-order statistics inside the tumour and inside a 0-5 mm
  peritumoral shell (relative to the background liver), plus size and shape,
  per sequence (target 0.65-0.78);
* ``clinical_ceiling`` / ``image_ceiling`` - the cohort's Bayes ceilings.

Run ``python benchmarks/calibrate_simulator.py [--seeds 5] [--repeats 3]``; it
prints mean +/- SD over seeds x repeats.  The numbers are quoted in
docs/guide/simulated_cohort.rst.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mvikit.datasets import make_hcc_cohort


def clinical_model(C=0.1):
    """Impute + one-hot + standardise + logistic regression on the clinical items."""
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(handle_unknown="ignore"))
    prep = ColumnTransformer([
        ("num", numeric, make_column_selector(dtype_include="number")),
        ("cat", categorical, make_column_selector(dtype_include=object)),
    ])
    return make_pipeline(prep, LogisticRegression(C=C, max_iter=2000))


def _sphericity(mask, spacing):
    """pi^(1/3) (6 V)^(2/3) / A with A from the exposed voxel faces."""
    volume = mask.sum() * np.prod(spacing)
    face = (spacing[1] * spacing[2], spacing[0] * spacing[2], spacing[0] * spacing[1])
    area = 0.0
    padded = np.pad(mask, 1)
    for axis in range(3):
        area += np.abs(np.diff(padded.astype(np.int8), axis=axis)).sum() * face[axis]
    return float(np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / max(area, 1e-9))


def radiomics_features(cohort, shell_mm=5.0):
    """Hand-made first-order + shape features per sequence (one row per patient)."""
    rows = []
    for _pid, row in cohort.X.iterrows():
        mask = row["tumor_mask"].array.astype(bool)
        spacing = row["tumor_mask"].spacing
        outside = ndimage.distance_transform_edt(~mask, sampling=spacing)
        shell = (outside > 0) & (outside <= shell_mm)
        far = outside > 10.0
        if "liver_mask" in row:
            liver = row["liver_mask"].array.astype(bool)
            shell &= liver
            far &= liver
        if far.sum() < 50:  # tumour filling the cube: fall back on what is left
            far = ~mask if (~mask).sum() >= 50 else np.ones_like(mask)
        volume = mask.sum() * np.prod(spacing)
        feats = {"log_volume": np.log(volume + 1.0), "sphericity": _sphericity(mask, spacing)}
        for seq in cohort.volume_columns:
            image = row[seq].array
            ref = float(np.median(image[far]))
            t = image[mask] / ref
            feats.update({
                f"{seq}_t_mean": t.mean(), f"{seq}_t_sd": t.std(),
                f"{seq}_t_p10": np.percentile(t, 10), f"{seq}_t_p90": np.percentile(t, 90),
            })
            if shell.any():
                sh = image[shell] / ref
                feats.update({f"{seq}_shell_mean": sh.mean(), f"{seq}_shell_sd": sh.std(),
                              f"{seq}_shell_p10": np.percentile(sh, 10),
                              f"{seq}_shell_p90": np.percentile(sh, 90)})
        rows.append(feats)
    return pd.DataFrame(rows, index=cohort.X.index)


def image_model(C=0.1):
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(C=C, max_iter=2000))


def cv_auc(model, X, y, repeats, seed):
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=seed)
    scores = cross_val_score(model, X, y, cv=cv, scoring="roc_auc")
    # one AUC per repeat: the mean over its 5 folds
    return scores.reshape(repeats, 5).mean(axis=1)


def measure(seeds, repeats, n_patients=270, images=True, params=None, sequences=("PRE", "HBP")):
    results = {k: [] for k in ("oracle", "clinical_ceiling", "image_ceiling", "clinical",
                               "image", "clinical+image")}
    for seed in seeds:
        cohort = make_hcc_cohort(n_patients, task="mvi", random_state=seed, params=params,
                                 sequences=sequences if images else ())
        y = cohort.y
        results["oracle"].append(cohort.oracle_auc)
        results["clinical_ceiling"].append(cohort.clinical_ceiling_auc)
        results["image_ceiling"].append(cohort.image_ceiling_auc)
        clinical = cohort.X[cohort.clinical_columns]
        results["clinical"].extend(cv_auc(clinical_model(), clinical, y, repeats, seed))
        if images:
            feats = radiomics_features(cohort)
            results["image"].extend(cv_auc(image_model(), feats, y, repeats, seed))
            both = pd.concat([clinical, feats], axis=1)
            results["clinical+image"].extend(cv_auc(clinical_model(), both, y, repeats, seed))
    return {k: (float(np.mean(v)), float(np.std(v)), len(v)) for k, v in results.items() if v}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-patients", type=int, default=270)
    parser.add_argument("--no-images", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    results = measure(range(args.seeds), args.repeats, args.n_patients,
                      images=not args.no_images)
    print(f"n_patients={args.n_patients}, seeds={args.seeds}, CV repeats={args.repeats} "
          f"({time.perf_counter() - start:.0f} s)")
    for name, (mean, sd, count) in results.items():
        print(f"  {name:18s} AUC {mean:.3f} +/- {sd:.3f}  (n={count})")


if __name__ == "__main__":
    main()
