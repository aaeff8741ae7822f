"""The skorch base over cohort frames and `VolumeNetClassifier`.

Tiny settings (8x16x16 cubes, width 1/16, a few epochs, one torch thread) keep the
file fast; the assertions check numbers (bit-identical reruns, exact round
trips, preprocessing statistics of the training rows, learning on a clear signal).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from _helpers import TINY, make_frame
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.utils.class_weight import compute_class_weight

from mvikit.deep import VolumeNetClassifier
from mvikit.deep._base import PRESETS
from mvikit.exceptions import CohortError, ColumnRoleError, TrainingError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    return make_frame()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return VolumeNetClassifier("concat", **{**TINY, "max_epochs": 8, "lr": 3e-3}).fit(X, y)


def test_learns_a_clear_tumour_signal(fitted, data):
    X, y = data
    proba = fitted.predict_proba(X)
    assert roc_auc_score(y == "M1", proba[:, 1]) > 0.9
    losses = fitted.net_.history[:, "train_loss"]
    assert losses[-1] < losses[0]


def test_probabilities_scores_and_labels_agree(fitted, data):
    X, _ = data
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    # binary decision_function is the log-odds of classes_[1]
    np.testing.assert_allclose(fitted.decision_function(X), np.log(proba[:, 1] / proba[:, 0]),
                               rtol=1e-4, atol=1e-5)
    assert list(fitted.classes_) == ["M0", "M1"]
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[proba.argmax(axis=1)])
    assert fitted.transform(X).shape == (len(X), 2 * 32)


def test_same_seed_gives_bit_identical_predictions(data):
    X, y = data
    first = VolumeNetClassifier("cnn3d", **TINY).fit(X, y).predict_proba(X)
    second = VolumeNetClassifier("cnn3d", **TINY).fit(X, y).predict_proba(X)
    other = VolumeNetClassifier("cnn3d", **{**TINY, "random_state": 1}).fit(X, y)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other.predict_proba(X))


def test_fit_leaves_the_global_torch_rng_alone(data):
    X, y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    VolumeNetClassifier("cnn3d", **{**TINY, "max_epochs": 1}).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_pickle_and_skorch_params_round_trip(fitted, data, tmp_path):
    X, y = data
    expected = fitted.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict_proba(X), expected)
    fitted.net_.save_params(f_params=tmp_path / "params.pt")
    other = clone(fitted).set_params(random_state=7, max_epochs=1).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), expected)
    other.net_.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(other.predict_proba(X), expected)


@pytest.mark.parametrize("architecture", ["cnn3d", "lstm"])
def test_multiclass_string_labels_with_clinical_late_fusion(architecture):
    X, y = make_frame(n=18, labels=("M2", "M0", "M1"))
    clf = VolumeNetClassifier(architecture, use_clinical=True, **{**TINY, "max_epochs": 1})
    clf.fit(X, y)
    assert list(clf.classes_) == ["M0", "M1", "M2"]
    assert clf.decision_function(X).shape == (18, 3)
    assert set(clf.predict(X)) <= {"M0", "M1", "M2"}
    # the clinical vector is used: changing it changes the prediction
    shifted = X.assign(age=X["age"] + 30.0)
    assert not np.allclose(clf.predict_proba(shifted), clf.predict_proba(X))
    with pytest.raises(ColumnRoleError, match="lacks"):
        clf.predict_proba(X.drop(columns=["age"]))


def test_clinical_preprocessing_is_fitted_on_training_rows_only(data):
    X, y = data
    train = X.iloc[:12]
    clf = VolumeNetClassifier("concat", use_clinical=True, **{**TINY, "max_epochs": 0})
    clf.fit(train, y[:12])
    stats = clf.clinical_preprocessor_.statistics_
    assert stats["age"] == pytest.approx(train["age"].median())
    assert stats["AFP"] == pytest.approx(train["AFP"].median())  # NaN of p01 ignored
    assert clf.clinical_columns_ == ["age", "AFP", "HBV"]


def test_teacher_architecture_uses_clinical_gating(data):
    X, y = data
    clf = VolumeNetClassifier("mdnet_teacher", use_clinical=True, **{**TINY, "max_epochs": 1})
    clf.fit(X, y)
    assert not np.allclose(clf.predict_proba(X.assign(AFP=1e4)), clf.predict_proba(X))
    with pytest.raises(ValueError, match="set use_clinical=True"):
        VolumeNetClassifier("mdnet_teacher", **TINY).fit(X, y)


def test_preset_fills_only_unset_parameters(data):
    X, y = data
    clf = VolumeNetClassifier(preset="paper", width=0.0625, max_epochs=0, cube=(16, 64, 64))
    clf.fit(X, y)  # volumes are padded into the cube around the tumour
    paper = PRESETS["paper"]
    assert clf.settings_ == {"width": 0.0625, "crop_size": (16, 64, 64), "max_epochs": 0,
                             "batch_size": paper["batch_size"], "lr": paper["lr"],
                             "cube": (16, 64, 64), "downsample": (1, 1, 1),
                             "grid": (16, 64, 64), "n_slices": paper["n_slices"],
                             "slice_size": paper["slice_size"]}
    assert clf.net_.lr == 3e-4 and clf.net_.batch_size == 16
    assert clf.get_params()["lr"] is None  # __init__ stored the argument unchanged


def test_downsample_feeds_block_means_of_the_cube(data):
    from mvikit.imaging import ROICropper

    X, y = data
    clf = VolumeNetClassifier(**{**TINY, "downsample": (1, 2, 2), "crop_size": (8, 8, 8),
                                 "normalize": None, "max_epochs": 0}).fit(X, y)
    assert clf.settings_["grid"] == (8, 8, 8) and clf.settings_["downsample"] == (1, 2, 2)
    tensors = clf.tensorizer_.transform(X)
    volumes, masks = tensors["volumes"], tensors["masks"]
    cube = ROICropper(size=(8, 16, 16)).fit_transform(X[["PRE", "HBP", "tumor_mask"]])
    for i, pid in enumerate(X.index[:3]):
        for j, column in enumerate(["PRE", "HBP"]):
            expected = cube.at[pid, column].array.reshape(8, 8, 2, 8, 2).mean(axis=(2, 4))
            np.testing.assert_allclose(volumes[i, j].numpy(), expected, rtol=1e-5)
        coarse = cube.at[pid, "tumor_mask"].array.reshape(8, 8, 2, 8, 2).max(axis=(2, 4))
        np.testing.assert_array_equal(masks[i, 0].numpy(), coarse)
    for bad, match in [({"cube": (8, 15, 16)}, "whole number of"),
                       ({"crop_size": (8, 10, 8)}, "larger than the cube"),
                       ({"downsample": (1, 0, 2)}, "positive integer")]:
        with pytest.raises(ValueError, match=match):
            VolumeNetClassifier(**{**TINY, "downsample": (1, 2, 2), "crop_size": (8, 8, 8),
                                   **bad}).fit(X, y)


def test_balanced_class_weight_matches_sklearn(data):
    X, y = data
    y = y.copy()
    y[:4] = "M1"
    clf = VolumeNetClassifier(class_weight="balanced", **{**TINY, "max_epochs": 0}).fit(X, y)
    expected = compute_class_weight("balanced", classes=np.array(["M0", "M1"]), y=y)
    np.testing.assert_allclose(clf.net_.criterion_.weight.numpy(), expected, rtol=1e-6)


def test_cross_val_score_runs_folds_on_the_frame(data):
    X, y = data
    scores = cross_val_score(VolumeNetClassifier("cnn3d", **{**TINY, "max_epochs": 1}), X, y,
                             cv=2, scoring="roc_auc")
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_bad_input_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="larger than the cube"):
        VolumeNetClassifier(**{**TINY, "crop_size": (8, 20, 12)}).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        VolumeNetClassifier(**TINY).fit(X, np.array(["M0"] * len(X)))
    with pytest.raises(ColumnRoleError, match="no volume column"):
        VolumeNetClassifier(**TINY).fit(X[["age", "AFP"]], y)
    with pytest.raises(ColumnRoleError, match="not in the cohort frame"):
        VolumeNetClassifier(volumes=["PRE", "T2"], **TINY).fit(X, y)
    holes = X.copy()
    holes.loc["p03", "HBP"] = None
    with pytest.raises(CohortError, match=r"'HBP' has no volume for patient\(s\) 'p03'"):
        VolumeNetClassifier(volumes=["PRE", "HBP"], **TINY).fit(holes, y)
    clf = VolumeNetClassifier(**{**TINY, "max_epochs": 0}).fit(X, y)
    with pytest.raises(ColumnRoleError, match=r"lacks \['HBP'\]"):
        clf.predict(X.drop(columns=["HBP"]))


def test_nan_loss_stops_with_the_epoch_named(data):
    X, y = data
    # Adam moves every weight by about lr per step: activations overflow in batch 2
    with pytest.raises(TrainingError, match="in epoch 1. Lower the learning rate"):
        VolumeNetClassifier(**{**TINY, "lr": 1e30}).fit(X, y)
