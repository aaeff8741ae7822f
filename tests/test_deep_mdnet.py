"""`MDNetClassifier`: privileged clinical information, distillation modes, heads."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import TINY, make_frame
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from mvikit import Volume
from mvikit.deep import MDNetClassifier, VolumeNetClassifier, mdnet_ablation_models
from mvikit.exceptions import ColumnRoleError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    X, y = make_frame(n=24, labels=("M0", "M1", "M2"), seed=1)
    # a clinical item the images show (tumour brighter) and one they do not
    X["bright"] = (y != "M0")
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return MDNetClassifier(**{**TINY, "max_epochs": 10, "lr": 3e-3}).fit(X, y)


def _images(X):
    return X[["PRE", "HBP", "tumor_mask"]]


def test_student_and_teacher_learn_and_regression_head_reads_images(fitted, data):
    X, y = data
    assert roc_auc_score(y != "M0", 1 - fitted.predict_proba(X)[:, 0]) > 0.9
    assert roc_auc_score(y != "M0", 1 - fitted.teacher_predict_proba(X)[:, 0]) > 0.9
    clinical = fitted.predict_clinical(_images(X))
    assert roc_auc_score(X["bright"], clinical["bright"]) > 0.9
    history = fitted.net_.history
    assert {"loss_teacher", "loss_student", "loss_clinical", "loss_class_kd",
            "loss_feature_kd"} <= set(history[-1, "batches", -1])


def test_clinical_columns_absent_or_nan_give_identical_outputs(fitted, data):
    X, _ = data
    nan = X.copy()
    nan[fitted.clinical_columns_] = np.nan
    for method in ("predict_proba", "decision_function", "transform", "predict"):
        full = getattr(fitted, method)(X)
        np.testing.assert_array_equal(getattr(fitted, method)(_images(X)), full)
        np.testing.assert_array_equal(getattr(fitted, method)(nan), full)
    np.testing.assert_array_equal(fitted.predict_clinical(nan), fitted.predict_clinical(X))


def test_teacher_needs_and_uses_clinical_columns(fitted, data):
    X, _ = data
    proba = fitted.teacher_predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert not np.allclose(fitted.teacher_predict_proba(X.assign(age=X["age"] + 40)), proba)
    with pytest.raises(ColumnRoleError, match="lacks"):
        fitted.teacher_predict_proba(_images(X))


def test_predict_clinical_inverts_the_preprocessing(fitted, data):
    X, _ = data
    raw = fitted.net_.outputs(fitted._inference_data(X, with_clinical=False))["clinical"]
    table = fitted.clinical_preprocessor_.feature_map_.set_index("feature")
    got = fitted.predict_clinical(X)
    assert list(got.columns) == list(table.index)
    for j, name in enumerate(got.columns):
        row = table.loc[name]
        if row["kind"] == "numeric":
            expected = raw[:, j] * row["scale"] + row["center"]
        else:
            expected = 1 / (1 + np.exp(-raw[:, j].astype(float)))
        np.testing.assert_allclose(got[name], expected, rtol=1e-5)
    # the training targets keep missing cells missing (masked in the loss)
    targets = fitted._clinical_targets(X)
    afp = list(got.columns).index("AFP")
    assert np.isnan(targets[1, afp]) and not np.isnan(targets[0, afp])


def test_teacher_is_untouched_by_distillation_terms(data):
    # joint training: the teacher learns only from its own focal loss, so it is
    # bit-identical whatever distillation the student receives
    X, y = data
    states = []
    for mode in ("full", "hinton", "sp"):
        clf = MDNetClassifier(distillation=mode, **TINY).fit(X, y)
        states.append(clf.net_.teacher_.state_dict())
    for other in states[1:]:
        assert all(torch.equal(states[0][k], other[k]) for k in states[0])


def test_pretrained_teacher_stays_frozen(data, monkeypatch):
    X, y = data
    captured = {}
    phase_two = MDNetClassifier._train_frozen_teacher_phase

    def spy(self, *args):
        captured["teacher"] = copy.deepcopy(self.net_.teacher_.state_dict())
        phase_two(self, *args)

    monkeypatch.setattr(MDNetClassifier, "_train_frozen_teacher_phase", spy)
    clf = MDNetClassifier(teacher_training="pretrain", **TINY).fit(X, y)
    after = clf.net_.teacher_.state_dict()
    assert all(torch.equal(captured["teacher"][k], after[k]) for k in after)
    history = clf.net_.history
    assert len(history) == 2 * TINY["max_epochs"]
    assert "loss_teacher" not in history[-1, "batches", 0]
    assert "loss_class_kd" in history[-1, "batches", 0]
    assert history[0, "batches", 0]["train_loss"] > 0


def test_zero_weights_remove_terms_and_heads(data):
    X, y = data
    clf = MDNetClassifier(clinical_weight=0.0, class_kd_weight=0.0,
                          feature_kd_weights={"HBP": 0.0}, **{**TINY, "max_epochs": 1})
    clf.fit(X, y)
    batch = clf.net_.history[-1, "batches", 0]
    assert "loss_clinical" not in batch and "loss_class_kd" not in batch
    assert clf.net_.criterion_.feature_kd_weights == (1.0, 0.0)  # (PRE, HBP)
    assert clf.net_.module_.clinical_head is None
    with pytest.raises(AttributeError, match="no clinical-regression head"):
        clf.predict_clinical(X)
    with pytest.raises(ValueError, match="not volume columns"):
        MDNetClassifier(feature_kd_weights={"T2": 0.0}, **TINY).fit(X, y)


def test_student_alone_needs_no_clinical_columns(data):
    X, y = data
    clf = MDNetClassifier(distillation="none", clinical_weight=0.0, **{**TINY, "max_epochs": 1})
    clf.fit(_images(X), y)
    assert clf.net_.teacher is None and clf.clinical_preprocessor_ is None
    with pytest.raises(AttributeError, match="no teacher"):
        clf.teacher_predict_proba(X)
    with pytest.raises(ColumnRoleError, match="needs clinical columns to fit"):
        MDNetClassifier(**TINY).fit(_images(X), y)


def test_binary_labels_and_skorch_params_with_teacher(data, tmp_path):
    X, y = data
    y2 = np.where(y == "M0", 0, 1)
    clf = MDNetClassifier(**{**TINY, "max_epochs": 1}).fit(X, y2)
    assert clf.decision_function(X).shape == (len(X),)
    files = {"f_params": tmp_path / "student.pt", "f_teacher": tmp_path / "teacher.pt"}
    clf.net_.save_params(**files)
    other = clone(clf).set_params(random_state=3).fit(X, y2)
    other.net_.load_params(**files)
    np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(other.teacher_predict_proba(X), clf.teacher_predict_proba(X))


def test_ablation_models_cover_tables_ii_to_iv():
    models = mdnet_ablation_models(preset="cpu", random_state=0)
    assert list(models) == [
        "Our method", "Concat", "3DCNN", "LSTM", "KD_ours", "SP_ours", "S-PRE", "S-HBP",
        "S-PRE-HBP", "S-PRE-HBP(Clinical)", "Only-Clinical", "T-Clinical-PRE",
        "T-Clinical-HBP", "T-Clinical-PRE-HBP", "ours-w/o-hbp", "ours-w/o-pre",
        "ours-w/o-clinical-pred-loss", "ours-w/o-class-distill-loss",
        "ours-w/o-HBP-feature-distill-loss", "ours-w/o-PRE-feature-distill-loss",
        "ours-w/o-feature-distill-loss"]
    assert models["KD_ours"].get_params()["distillation"] == "hinton"
    assert models["S-HBP"].get_params()["volumes"] == ["HBP"]
    assert models["ours-w/o-feature-distill-loss"].feature_kd_weights == 0.0
    assert isinstance(models["T-Clinical-PRE"], VolumeNetClassifier)
    assert all(m.get_params()["random_state"] == 0 for k, m in models.items()
               if k != "Only-Clinical")
    clone(models["Our method"])
    with pytest.raises(ValueError, match="Unknown table"):
        mdnet_ablation_models(["V"])


def test_soft_voting_over_seeds_predicts_from_images_alone(data):
    # the distillation guide's remedy for seed noise: average MD-Nets trained with
    # different random_state values; the ensemble still needs no clinical columns
    from sklearn.ensemble import VotingClassifier

    X, y = data
    members = [(f"seed{k}", MDNetClassifier(**{**TINY, "max_epochs": 1, "random_state": k}))
               for k in range(2)]
    ensemble = VotingClassifier(members, voting="soft").fit(X, y)
    expected = np.mean([m.predict_proba(X) for m in ensemble.estimators_], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(_images(X)), expected, atol=1e-7)
    first, second = (m.predict_proba(X) for m in ensemble.estimators_)
    assert np.abs(first - second).max() > 1e-3  # the seeds do give different members


# ------------------------------------------------------------ cross-fitted teachers
@pytest.fixture(scope="module")
def crossfit_data():
    rng = np.random.default_rng(5)
    n = 18
    mask = np.zeros((8, 16, 16), np.uint8)
    mask[3:5, 6:10, 6:10] = 1
    X = pd.DataFrame({"AFP": rng.lognormal(3, 1, n), "HBV": [True, False] * (n // 2),
                      "PRE": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(n)],
                      "HBP": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(n)],
                      "tumor_mask": [Volume(mask)] * n}, index=[f"c{i}" for i in range(n)])
    return X, np.array(["M0", "M1", "M2"] * (n // 3))


CROSSFIT = dict(teacher_training="crossfit", n_teachers=3, cube=(8, 16, 16), downsample=1,
                crop_size=(8, 16, 16), width=0.0625, max_epochs=2, batch_size=4, random_state=0)


def test_crossfit_soft_labels_come_from_teachers_that_did_not_see_the_patient(crossfit_data):
    X, y = crossfit_data
    clf = MDNetClassifier(**CROSSFIT).fit(X, y)
    data = clf.tensorizer_.transform(X)
    assert sorted(np.bincount(clf.teacher_part_).tolist()) == [6, 6, 6]
    for k, teacher in enumerate(clf.teachers_):
        held = np.flatnonzero(clf.teacher_part_ == k)
        # teacher k trained on the other parts only: 12 rows per epoch
        assert sum(b["train_batch_size"] for b in teacher.history[0, "batches"]) == 12
        logits = teacher.outputs({key: value[held] for key, value in data.items()})["logits"]
        expected = torch.softmax(torch.from_numpy(logits).double(), dim=1).numpy()
        np.testing.assert_allclose(clf.teacher_oof_proba_[held], expected, rtol=1e-6)
    # the student distilled from them (no teacher module inside its trainer)
    assert clf.net_.phase == "offline" and clf.net_.teacher is None
    assert {"loss_class_kd", "loss_feature_kd"} <= set(clf.net_.history[-1, "batches", -1])
    teacher = clf.teacher_predict_proba(X)
    np.testing.assert_allclose(teacher.sum(axis=1), 1.0)


def test_crossfit_is_deterministic_parallel_picklable_and_image_only(crossfit_data):
    X, y = crossfit_data
    serial = MDNetClassifier(**CROSSFIT).fit(X, y)
    parallel = MDNetClassifier(**CROSSFIT, n_jobs=2).fit(X, y)
    images = X[["PRE", "HBP", "tumor_mask"]]
    proba = serial.predict_proba(images)
    np.testing.assert_array_equal(proba, parallel.predict_proba(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(serial)).predict_proba(images), proba)


def test_crossfit_bad_settings(crossfit_data):
    X, y = crossfit_data
    with pytest.raises(ValueError, match=r"n_teachers=7 is larger than the smallest class "
                                         r"count in the training rows \(6 patients"):
        MDNetClassifier(**{**CROSSFIT, "n_teachers": 7}).fit(X, y)
    with pytest.raises(ValueError, match="distillation='none' uses no teacher"):
        MDNetClassifier(**{**CROSSFIT, "distillation": "none"}).fit(X, y)


# ------------------------------------------------------------ Tables III-IV in one call
def test_mdnet_tables_scores_tables_and_resumes(tmp_path, crossfit_data):
    from scipy.stats import wilcoxon

    from mvikit.deep import mdnet_tables
    from mvikit.exceptions import OutputExistsError

    X, y = crossfit_data
    tiny = {k: v for k, v in CROSSFIT.items() if k not in ("teacher_training", "n_teachers")}
    tiny.pop("random_state")
    cache = tmp_path / "cache"
    result = mdnet_tables(X, y, tables=["IV"], n_splits=3, n_repeats=1, cache_dir=cache,
                          out=tmp_path / "out", verbose=0, **{**tiny, "max_epochs": 1})
    scores = result.scores
    assert len(scores) == 6 * 3 and set(scores["fold"]) == {0, 1, 2}
    ours = scores[scores["model"] == "Our method"]["auc"].to_numpy()
    other = scores[scores["model"] == "ours-w/o-feature-distill-loss"]["auc"].to_numpy()
    table = result.tables["IV"]
    assert table.loc["ours-w/o-feature-distill-loss", "p (AUC)"] == pytest.approx(
        wilcoxon(other, ours).pvalue)
    mean, sd = (float(v) for v in table.loc["Our method", "AUC"].split(" +/- "))
    assert mean == pytest.approx(100 * ours.mean(), abs=0.006)
    assert sd == pytest.approx(100 * ours.std(ddof=1), abs=0.006)
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "table_IV.csv", "scores.csv", "predictions.csv", "report.md"}
    # resumable: a lost prediction is refitted, the others are read back untouched
    files = sorted(cache.glob("*.npy"))
    assert len(files) == 18
    stamps = {f: f.stat().st_mtime_ns for f in files[1:]}
    files[0].unlink()
    again = mdnet_tables(X, y, tables=["IV"], n_splits=3, n_repeats=1, cache_dir=cache,
                         verbose=0, **{**tiny, "max_epochs": 1})
    pd.testing.assert_frame_equal(again.scores, scores)
    assert all(f.stat().st_mtime_ns == stamp for f, stamp in stamps.items())
    with pytest.raises(OutputExistsError):
        mdnet_tables(X, y, tables=["IV"], out=tmp_path / "out", verbose=0)
