"""The study commands on a hospital-like cohort on disk: check, compare, predict, validate.

The cohort looks like a hospital export: ids "P-001", mixed-type clinical
columns with spaces and units in their names, images under per-patient folders
with non-identity directions, one image stored as a DICOM series, one image
listed but missing.
"""

import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
from _helpers import write_dicom_series
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score

from mvikit import Volume
from mvikit.cli import main
from mvikit.datasets import make_hcc_cohort
from mvikit.exceptions import TrainingError
from mvikit.imaging import write_image
from mvikit.imaging._io import _keeps_locale
from mvikit.study import build_models, load_model, model_file_info, read_study_cohort

# a 30 degree rotation about the z axis: a direction matrix that is not the identity
_C, _S = np.cos(np.pi / 6), np.sin(np.pi / 6)
DIRECTION = (_C, -_S, 0.0, _S, _C, 0.0, 0.0, 0.0, 1.0)
CLINICAL = {"age": "Age (years)", "gender": "Sex", "afp": "AFP (ng/mL)", "size": "Size (cm)",
            "bclc": "BCLC stage", "alb": "Albumin (g/L)", "cirrhosis": "Cirrhosis"}


@_keeps_locale  # GDCM's writer resets the process locale to "C"
def _hospital_cohort(folder, *, seed, n_patients, centre=None, dicom=None, missing=None):
    """Write a simulated cohort as a hospital export; return the CSV path."""
    cohort = make_hcc_cohort(n_patients=n_patients, task="mvi", random_state=seed)
    keep = np.ones(n_patients, bool) if centre is None else (cohort.centers == centre).to_numpy()
    X, y = cohort.X[keep], np.asarray(cohort.y)[keep]
    ids = [f"P-{i + 1:03d}" for i in range(len(X))]
    table = X[list(CLINICAL)].rename(columns=CLINICAL).reset_index(drop=True)
    table["Cirrhosis"] = table["Cirrhosis"].map({1.0: "yes", 0.0: "no"})
    table["Age (years)"] = table["Age (years)"].round().astype("Int64")
    table.insert(0, "Patient ID", ids)
    table["MVI"] = y
    table["Hospital"] = np.asarray(cohort.centers)[keep]
    for column in ("HBP", "tumor_mask"):
        paths = []
        for pid, cell in zip(ids, X[column]):
            volume = Volume(cell.array.astype(np.int16 if column == "HBP" else np.uint8),
                            spacing=cell.spacing, origin=cell.origin, direction=DIRECTION)
            if column == "HBP" and pid == dicom:
                relative = f"dicom/{pid}_HBP"
                (folder / relative).mkdir(parents=True)
                write_dicom_series(volume, folder / relative, "1.2.826.0.1.3680043.2.1125.7")
            else:
                relative = f"images/{pid}/{column.lower()}.nii.gz"
                if not (column == "HBP" and pid == missing):
                    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                    write_image(volume, folder / relative)
            paths.append(relative)
        table[column] = paths
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "export.csv", index=False)
    return folder / "export.csv"


@pytest.fixture(scope="module")
def hospital(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    development = _hospital_cohort(root / "hospital", seed=11, n_patients=90, dicom="P-002",
                                   missing="P-005")
    external = _hospital_cohort(root / "external", seed=23, n_patients=220, centre="C4")
    return root, development, external


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _exit_code(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    return info.value.code, capsys.readouterr().err


def test_check_reports_the_missing_image_and_table_one(hospital, capsys):
    root, development, _ = hospital
    code, out, _ = _run(capsys, "check", development, "--id-column", "Patient ID",
                          "--outcome", "MVI", "--out", root / "check")
    assert code == 1  # the data has a problem
    problems = pd.read_csv(root / "check" / "problems.csv")
    assert problems[["patient", "column", "problem"]].values.tolist() == [
        ["P-005", "HBP", "missing"]]
    assert "P-005    HBP missing" in out
    assert "patient 'P-005', column 'HBP': no file or folder 'images/P-005/hbp.nii.gz'" in out
    # the DICOM series and the rotated NIfTI files were read; roles exclude image columns
    assert "image/mask columns (2): HBP, tumor_mask" in out
    assert "clinical columns (8): Age (years), Sex, AFP (ng/mL)" in out
    table = pd.read_csv(root / "check" / "table1.csv").set_index("Variable")
    assert "P-Value" in table.columns and not any("HBP" in v for v in table.index)


def test_compare_predict_validate(hospital, capsys, tmp_path):
    root, development, external = hospital
    out = root / "compare"
    code, text, _ = _run(capsys, "compare", development, "--id-column", "Patient ID",
                         "--outcome", "MVI", "--centre", "Hospital", "--models", "logistic",
                         "nomogram", "--cv", 3, "--seed", 0, "--out", out)
    assert code == 0
    assert (out / "report" / "report.md").is_file() and (out / "table1.md").is_file()
    assert "| logistic |" in text
    model_file = out / "models" / "logistic.mvikit"
    info = model_file_info(model_file)["metadata"]
    assert info["outcome"] == "MVI" and 0 < info["threshold"] < 1
    # the model file round-trips: the same predictions as the pipeline refitted here
    cohort = read_study_cohort(development, id_column="Patient ID", outcome="MVI",
                               centre="Hospital")
    from mvikit.utils import resolve_columns

    refit = build_models(["logistic"], clinical=resolve_columns(cohort.X).clinical)["logistic"]
    refit.fit(cohort.X, cohort.y)
    code, _, _ = _run(capsys, "predict", model_file, external, "--id-column", "Patient ID",
                      "--out", tmp_path / "predictions.csv")
    assert code == 0
    predictions = pd.read_csv(tmp_path / "predictions.csv", index_col="Patient ID")
    new = read_study_cohort(external, id_column="Patient ID")
    expected = refit.predict_proba(new.X.drop(columns=["Hospital", "MVI"]))[:, 1]
    np.testing.assert_allclose(predictions["probability_1"], expected, rtol=1e-12)
    np.testing.assert_array_equal(predictions["predicted"],
                                  (expected >= info["threshold"]).astype(int))
    # validate on the external centre of another simulated cohort
    code, text, _ = _run(capsys, "validate", model_file, external, "--id-column", "Patient ID",
                         "--outcome", "MVI", "--out", tmp_path / "validation")
    assert code == 0
    summary = pd.read_csv(tmp_path / "validation" / "tables" / "summary.csv").set_index(
        "statistic")
    y_new = pd.read_csv(external)["MVI"].to_numpy()
    assert summary.loc["AUC", "estimate"] == pytest.approx(roc_auc_score(y_new, expected))
    assert f"Sensitivity at {info['threshold']:.3g}" in summary.index
    assert (tmp_path / "validation" / "report.html").is_file()
    loaded = load_model(model_file)
    assert "Selected variables" not in (out / "models" / "logistic.card.md").read_text()
    card = (out / "models" / "logistic.card.md").read_text()
    assert "- [ ] Sample size justification" in card
    assert "Internal validation (pooled out-of-fold predictions, 3-fold CV" in card
    oof = pd.read_csv(out / "report" / "tables" / "predictions.csv").query(
        "model == 'logistic' and repeat == 0")
    assert f"| AUC | {roc_auc_score(oof['y_true'], oof['score']):.3f} |" in card
    assert list(loaded.feature_names_in_) == list(cohort.X.columns)


def test_study_file_and_bad_input(hospital, capsys, tmp_path):
    root, development, external = hospital
    study = tmp_path / "study.yaml"
    study.write_text(f"cohort: {development}\noutcome: MVI\nid_column: Patient ID\n"
                     "models: [logistic]\nfolds: 3\n")
    code, err = _exit_code(capsys, "compare", "--study", study)
    assert code == 2
    assert "Unknown key(s) ['folds']" in err and "allowed: cohort, outcome, id_column" in err
    code, err = _exit_code(capsys, "compare", development, "--id-column", "Patient ID",
                           "--outcome", "MVI_status", "--out", tmp_path / "x")
    assert code == 2 and "'MVI_status'" in err and "'Hospital'" in err
    one_class = tmp_path / "one_class.csv"
    pd.read_csv(development).assign(MVI=0).to_csv(one_class, index=False)
    code, err = _exit_code(capsys, "check", one_class, "--id-column", "Patient ID",
                           "--outcome", "MVI")
    assert code == 2 and "has one class only" in err
    # model files of another format, tampered ones, and cohorts lacking the model's columns
    model = build_models(["logistic"], clinical=["Size (cm)"])["logistic"]
    model.fit(pd.DataFrame({"Size (cm)": [1.0, 5.0, 2.0, 6.0]}), [0, 1, 0, 1])
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(model))
    code, err = _exit_code(capsys, "predict", pickled, external, "--id-column", "Patient ID",
                           "--out", tmp_path / "p.csv")
    assert code == 2 and "is not an mvikit model file" in err
    compare_file = tmp_path / "tampered.mvikit"
    from mvikit.study import save_model

    save_model(model, compare_file)
    with zipfile.ZipFile(compare_file) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["model.json"] = members["model.json"].replace(
        b"sklearn.linear_model._logistic.LogisticRegression", b"os.system")
    with zipfile.ZipFile(compare_file, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    code, err = _exit_code(capsys, "validate", compare_file, external, "--id-column",
                           "Patient ID", "--outcome", "MVI", "--out", tmp_path / "v")
    assert code == 2 and "does not trust: ['os.system']" in err
    narrow = tmp_path / "narrow.csv"
    pd.read_csv(external).drop(columns=["Size (cm)"]).to_csv(narrow, index=False)
    good = tmp_path / "good.mvikit"
    save_model(model, good)
    code, err = _exit_code(capsys, "predict", good, narrow, "--id-column", "Patient ID",
                           "--out", tmp_path / "p.csv")
    assert code == 2 and "lacks 1 column(s) the model was trained on: ['Size (cm)']" in err
    assert json.loads((root / "compare" / "study.json").read_text())["cv"] == 3


class _FailingClassifier(ClassifierMixin, BaseEstimator):
    """Fails in fit, as a model that cannot train on the cohort would."""

    def fit(self, X, y):
        raise TrainingError("this model cannot be trained on the cohort")

    def predict_proba(self, X):  # pragma: no cover - never fitted
        raise AssertionError


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
def test_compare_that_fails_leaves_no_output_folder(hospital, capsys, tmp_path, monkeypatch):
    from mvikit.study import _commands

    real = _commands.build_models

    def with_a_failing_model(*args, **kwargs):
        return {**real(*args, **kwargs), "failing": _FailingClassifier()}

    monkeypatch.setattr(_commands, "build_models", with_a_failing_model)
    _, development, _ = hospital
    out = tmp_path / "runs" / "study"
    code, err = _exit_code(capsys, "compare", development, "--id-column", "Patient ID",
                           "--outcome", "MVI", "--models", "logistic", "--cv", 3, "--quiet",
                           "--out", out)
    assert code == 2 and "Model 'failing' failed in every fold (TrainingError: this model " \
                         "cannot be trained on the cohort); nothing was written" in err
    assert "fold fits" not in err  # --quiet
    assert list((tmp_path / "runs").iterdir()) == []  # neither the folder nor its staging
    # an existing folder survives a failed --overwrite run untouched
    out.mkdir()
    (out / "keep.txt").write_text("previous run")
    code, _ = _exit_code(capsys, "compare", development, "--id-column", "Patient ID",
                         "--outcome", "MVI", "--models", "logistic", "--cv", 3, "--quiet",
                         "--overwrite", "--out", out)
    assert code == 2
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["study"]
    assert (out / "keep.txt").read_text() == "previous run"


def test_compare_progress_bar_counts_the_fold_fits(hospital, capsys, tmp_path):
    _, development, _ = hospital
    argv = ["compare", development, "--id-column", "Patient ID", "--outcome", "MVI",
            "--models", "logistic", "nomogram", "--cv", 3, "--seed", 0]
    code, _, err = _run(capsys, *argv, "--progress", "--out", tmp_path / "shown")
    assert code == 0
    # 2 models x 3 folds, then the 2 final fits
    assert "fold fits: 100%" in err and "6/6" in err
    assert "final models: 100%" in err and "2/2" in err
    # stderr is not a terminal under pytest: no bar unless asked
    code, _, err = _run(capsys, *argv, "--out", tmp_path / "default")
    assert code == 0 and "fold fits" not in err and "final models" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default", "shown"]
