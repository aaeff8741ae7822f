"""From a hospital export to a paper: check, compare, predict, validate, recalibrate.

The script first writes what a hospital export usually looks like: a CSV with
ids "P-001", clinical columns with units in their names and mixed types, and
image/mask paths under per-patient folders (NIfTI with their true geometry),
one of them listed but missing.  A second export, from another hospital, is
the external validation cohort.  It then runs the four study commands exactly
as a user would in a shell::

    mvikit check   export.csv --id-column "Patient ID" --outcome MVI
    mvikit compare export.csv --id-column "Patient ID" --outcome MVI --centre Hospital \\
                   --models logistic nomogram --cv 5 --out results
    mvikit predict  results/models/nomogram.mvikit external/export.csv --out predictions.csv
    mvikit validate results/models/nomogram.mvikit external/export.csv --outcome MVI \\
                   --out validation

and shows the same steps in Python: Table 1, the frozen-model validation, its
recalibration to the new hospital and the model card.

Run: ``python examples/your_own_study.py [output folder]`` (about a minute on two cores).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

from mvikit import Volume
from mvikit.cli import main
from mvikit.datasets import make_hcc_cohort
from mvikit.imaging import write_image
from mvikit.study import (
    RecalibratedClassifier,
    load_model,
    model_card,
    read_study_cohort,
    table_one,
    validate_frozen,
)

COLUMNS = {"age": "Age (years)", "gender": "Sex", "afp": "AFP (ng/mL)", "size": "Size (cm)",
           "bclc": "BCLC stage", "alb": "Albumin (g/L)", "cirrhosis": "Cirrhosis"}


def write_export(folder: Path, *, seed: int, n_patients: int, centre=None, missing=None) -> Path:
    """A simulated cohort written as a hospital export (CSV + NIfTI images)."""
    cohort = make_hcc_cohort(n_patients=n_patients, task="mvi", random_state=seed)
    keep = np.ones(n_patients, bool) if centre is None else (cohort.centers == centre).to_numpy()
    X = cohort.X[keep]
    ids = [f"P-{i + 1:03d}" for i in range(len(X))]
    table = X[list(COLUMNS)].rename(columns=COLUMNS).reset_index(drop=True)
    table["Cirrhosis"] = table["Cirrhosis"].map({1.0: "yes", 0.0: "no"})
    table.insert(0, "Patient ID", ids)
    table["MVI"] = np.asarray(cohort.y)[keep]
    table["Hospital"] = np.asarray(cohort.centers)[keep]
    for column in ("HBP", "tumor_mask"):
        paths = []
        for pid, cell in zip(ids, X[column]):
            path = folder / "images" / pid / f"{column.lower()}.nii.gz"
            if not (column == "HBP" and pid == missing):
                path.parent.mkdir(parents=True, exist_ok=True)
                write_image(Volume(cell.array, spacing=cell.spacing, origin=cell.origin), path)
            paths.append(str(path.relative_to(folder)))
        table[column] = paths
    table.to_csv(folder / "export.csv", index=False)
    return folder / "export.csv"


def run(*argv) -> int:
    print("\n$ mvikit " + " ".join(map(str, argv)))
    return main([str(a) for a in argv])


def main_example(out: Path) -> None:
    development = write_export(out / "hospital", seed=11, n_patients=160, missing="P-005")
    external = write_export(out / "external", seed=23, n_patients=300, centre="C4")
    ids = ("--id-column", "Patient ID")

    status = run("check", development, *ids, "--outcome", "MVI", "--out", out / "check")
    print(f"(exit status {status}: 1 means the check found problems, here P-005's HBP image)")
    run("compare", development, *ids, "--outcome", "MVI", "--centre", "Hospital",
        "--models", "logistic", "nomogram", "--cv", 5, "--out", out / "results", "--overwrite")
    model_file = out / "results" / "models" / "nomogram.mvikit"
    run("predict", model_file, external, *ids, "--out", out / "predictions.csv")
    run("validate", model_file, external, *ids, "--outcome", "MVI",
        "--out", out / "validation", "--overwrite")

    # The same study in Python.
    cohort = read_study_cohort(development, id_column="Patient ID", outcome="MVI",
                               centre="Hospital")
    print("\nTable 1 by MVI status (first rows):")
    print(table_one(cohort.X, by=cohort.y, by_name="MVI").tests.head())
    new = read_study_cohort(external, id_column="Patient ID", outcome="MVI",
                            centre="Hospital")
    frozen = load_model(model_file)
    validation = validate_frozen(frozen, new.X, new.y, threshold=0.5)
    print("\nFrozen nomogram on the external hospital:")
    print(validation.summary().head(4).round(3).to_string(index=False))
    updated = RecalibratedClassifier(frozen, method="intercept").fit(new.X, new.y)
    direction = "more" if updated.intercept_ > 0 else "less"
    print(f"Recalibration in the large: intercept update a = {updated.intercept_:.3f} "
          f"(the new hospital has {direction} MVI than the model predicts)")
    card = model_card(frozen, X=cohort.X, y=cohort.y, centers=cohort.centers,
                      validation=validation, name="MVI nomogram")
    card.write(out / "model_card.html")
    print(f"\nReports, model files and the model card are in {out}")


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "study"
    main_example(folder)
