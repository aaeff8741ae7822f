"""Model files: identical predictions after a round trip; untrusted or foreign files refused."""

import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mvikit.clinical import NomogramClassifier
from mvikit.datasets import make_hcc_cohort
from mvikit.exceptions import OutputExistsError, UnsafeModelFileError
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.study import (
    RecalibratedClassifier,
    load_model,
    model_card,
    read_model_card,
    save_model,
    validate_frozen,
)


@pytest.fixture(scope="module")
def cohort():
    return make_hcc_cohort(n_patients=160, random_state=1, task="mvi")


@pytest.fixture(scope="module")
def nomogram(cohort):
    X = cohort.X[cohort.clinical_columns]
    return make_pipeline(ClinicalPreprocessor(), NomogramClassifier()).fit(X, cohort.y)


def test_nomogram_pipeline_round_trip(cohort, nomogram, tmp_path):
    X = cohort.X[cohort.clinical_columns]
    path = save_model(nomogram, tmp_path / "nomogram.mvikit")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), nomogram.predict_proba(X))
    assert loaded[-1].selected_features_ == nomogram[-1].selected_features_
    pd.testing.assert_frame_equal(loaded[-1].summary_, nomogram[-1].summary_)
    assert list(loaded.feature_names_in_) == list(nomogram.feature_names_in_)
    with pytest.raises(OutputExistsError):
        save_model(nomogram, path)


def test_mixed_pipeline_and_recalibrated_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.normal(60, 9, 80), "sex": rng.choice(["F", "M"], 80),
                      "bclc": pd.Categorical(rng.choice(["0", "A", "B"], 80)),
                      "count": pd.array(rng.integers(1, 4, 80), dtype="Int64")},
                     index=[f"P-{i:03d}" for i in range(80)])
    y = rng.integers(0, 2, 80)
    model = make_pipeline(make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", dtype=float), ["sex", "bclc"]),
        (StandardScaler(), ["age", "count"])),
        LogisticRegression(random_state=np.random.RandomState(3)))
    model.fit(X, y)
    recalibrated = RecalibratedClassifier(model, method="logistic").fit(X, y)
    loaded = load_model(save_model(recalibrated, tmp_path / "r.mvikit"))
    np.testing.assert_array_equal(loaded.predict_proba(X), recalibrated.predict_proba(X))
    assert (loaded.intercept_, loaded.slope_) == (recalibrated.intercept_, recalibrated.slope_)
    state = loaded.estimator_[-1].random_state
    assert isinstance(state, np.random.RandomState)
    assert state.randint(1000) == np.random.RandomState(3).randint(1000)


def test_objects_without_a_safe_encoding_are_refused_at_save(tmp_path):
    X = np.abs(np.random.default_rng(0).normal(size=(20, 2))) + 1
    model = make_pipeline(FunctionTransformer(np.log), LogisticRegression()).fit(X, [0, 1] * 10)
    with pytest.raises(UnsafeModelFileError, match=r"numpy\.ufunc object \(at Pipeline"):
        save_model(model, tmp_path / "f.mvikit")
    torch = pytest.importorskip("torch")
    deep = LogisticRegression().fit(X, [0, 1] * 10)
    deep.coef_ = torch.nn.Linear(2, 1)  # deep models: tests/test_model_file_deep.py
    with pytest.raises(UnsafeModelFileError, match="torch.nn.modules.linear.Linear network.*"
                                                   "not built through the architecture register"):
        save_model(deep, tmp_path / "d.mvikit")
    assert not (tmp_path / "d.mvikit").exists()


def _tamper(path, old, new):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.json"] = members["model.json"].replace(old.encode(), new.encode())
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_tampered_and_foreign_files_are_refused(nomogram, tmp_path):
    path = save_model(nomogram, tmp_path / "m.mvikit")
    _tamper(path, "sklearn.pipeline.Pipeline", "subprocess.Popen")
    _tamper(path, "builtins.float", "os.system")
    with pytest.raises(UnsafeModelFileError,
                       match=r"2 type\(s\) that mvikit does not trust: \['os.system', "
                             r"'subprocess.Popen'\]"):
        load_model(path)
    path = save_model(nomogram, tmp_path / "m2.mvikit")
    _tamper(path, '"k": "ndarray"', '"k": "mystery"')
    with pytest.raises(UnsafeModelFileError, match="Unknown node kind 'mystery'"):
        load_model(path)
    path = save_model(nomogram, tmp_path / "m3.mvikit")
    _tamper(path, '"file": "arrays/0.npy"', '"file": "arrays/none.npy"')
    with pytest.raises(UnsafeModelFileError, match="is malformed"):
        load_model(path)
    pickled = tmp_path / "m.pkl"
    pickled.write_bytes(pickle.dumps(nomogram))
    with pytest.raises(UnsafeModelFileError, match="is not an mvikit model file"):
        load_model(pickled)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("format.json", json.dumps({"format": "skops", "version": 1}))
    with pytest.raises(UnsafeModelFileError, match="not an mvikit model file of version 1"):
        load_model(other)


def test_model_card(cohort, nomogram, tmp_path):
    X = cohort.X[cohort.clinical_columns]
    external = make_hcc_cohort(n_patients=120, random_state=5, task="mvi")
    validation = validate_frozen(nomogram, external.X, external.y, threshold=0.5)
    card = model_card(nomogram, X=cohort.X, y=cohort.y, centers=cohort.centers,
                      validation=validation, name="MVI nomogram")
    data = card.sections["Data"]
    assert "- Patients: 160" in data
    n_events = int(np.sum(cohort.y == 1))
    assert f"1: {n_events} ({n_events / 160:.1%})" in data
    n_afp = int(X["afp"].isna().sum())
    assert f"afp {n_afp} ({n_afp / 160:.0%})" in data
    assert "PRE" not in data  # image columns are not clinical
    assert ", ".join(nomogram[-1].selected_features_) in card.sections["Model"]
    assert f"| AUC | {validation.auc.auc:.3f} | {validation.auc.ci[0]:.3f} to" in card.markdown
    assert "- [ ] Sample size justification" in card.markdown
    path = save_model(nomogram, tmp_path / "m.mvikit", card=card)
    assert read_model_card(path) == card.markdown
    card.write(tmp_path / "card.html")
    assert "<h2>Validation</h2>" in (tmp_path / "card.html").read_text()
