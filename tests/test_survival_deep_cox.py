"""DeepCoxSurvival: learns a known image risk, Breslow baseline, contract, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone, is_classifier
from sklearn.utils._param_validation import InvalidParameterError
from sksurv.metrics import concordance_index_censored

from mvikit import Volume
from mvikit.exceptions import SurvivalTargetError, TrainingError
from mvikit.survival import CoxPHSurvival, DeepCoxSurvival, Surv
from mvikit.survival._deep_cox import EventStratifiedBatchSampler

_SHAPE = (8, 16, 16)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _frame(n, seed, *, image_signal=True):
    """Tumour brightness ``b`` is the log-hazard (times ~ Exp(rate = exp(2 b))).

    ``image_signal=False``: every patient gets the same volume, so only the clinical
    column ``brightness`` can tell patients apart.
    """
    rng = np.random.default_rng(seed)
    mask = np.zeros(_SHAPE, np.uint8)
    mask[2:6, 5:11, 5:11] = 1
    b = rng.uniform(-1, 1, n)
    noise = rng.normal(0, 0.3, (n,) + _SHAPE)
    if not image_signal:
        noise[:], b_image = noise[0], np.zeros(n)
    else:
        b_image = b
    volumes = [Volume((noise[i] + (1.0 + b_image[i]) * mask).astype(np.float32))
               for i in range(n)]
    t, c = rng.exponential(np.exp(-2.0 * b)), rng.exponential(2.0, n)
    y = Surv.from_arrays(event=t <= c, time=np.minimum(t, c) + 1e-3)
    X = pd.DataFrame({"PRE": volumes, "tumor_mask": [Volume(mask)] * n,
                      "brightness": b}, index=[f"p{i:02d}" for i in range(n)])
    return X, y, b


def _model(**kwargs):
    params = dict(architecture="cnn3d", cube=_SHAPE, downsample=1, crop_size=_SHAPE,
                  width=0.0625, max_epochs=4, batch_size=16, lr=1e-2, normalize=None, augment=False,
                  clinical=None, random_state=0)
    params.update(kwargs)
    return DeepCoxSurvival(**params)


@pytest.fixture(scope="module")
def data():
    return _frame(48, 0), _frame(48, 1)


@pytest.fixture(scope="module")
def fitted(data):
    (X, y, _), _ = data
    return _model().fit(X, y)


def test_learns_image_risk(data, fitted):
    _, (X_test, y_test, b_test) = data
    oracle = concordance_index_censored(y_test["event"], y_test["time"], b_test)[0]
    c_index = fitted.score(X_test, y_test)
    # held-out C of the true log-hazard is 0.79; the net recovers the brightness
    assert c_index > 0.72
    assert c_index > oracle - 0.05
    assert np.corrcoef(fitted.predict(X_test), b_test)[0, 1] > 0.9
    assert c_index == pytest.approx(concordance_index_censored(
        y_test["event"], y_test["time"], fitted.predict(X_test))[0])


def test_breslow_baseline(data, fitted):
    (X, y, _), (X_test, _, _) = data
    risk = fitted.predict(X)
    assert risk.mean() == pytest.approx(0.0, abs=1e-6)  # centred at the training mean
    # Breslow: H0(t) = sum over event times t_i <= t of d_i / sum_{t_j >= t_i} exp(r_j)
    times = fitted.unique_times_
    expected = np.cumsum([y["event"][y["time"] == t].sum()
                          / np.exp(risk[y["time"] >= t]).sum() for t in times])
    hazard = fitted.predict_cumulative_hazard_function(X, return_array=True)
    np.testing.assert_allclose(hazard, np.exp(risk)[:, None] * expected[None, :], rtol=1e-6)
    survival = fitted.predict_survival_function(X_test, return_array=True)
    np.testing.assert_allclose(
        survival, np.exp(-fitted.predict_cumulative_hazard_function(X_test,
                                                                    return_array=True)),
        rtol=1e-5)  # scikit-survival raises S0 = exp(-H0) in float32 steps
    assert np.all(np.diff(survival, axis=1) <= 0)  # non-increasing in time
    order = np.argsort(fitted.predict(X_test))
    assert np.all(np.diff(survival[order], axis=0) <= 1e-12)  # higher risk, lower curve
    functions = fitted.predict_survival_function(X_test[:2])
    # float32 convolutions of a 2-patient batch may differ from the 48-patient one in the ulp
    np.testing.assert_allclose(functions[1](times), survival[1], rtol=1e-5)


def test_reproducible_clone_and_pickle(data, fitted):
    (X, y, _), (X_test, _, _) = data
    again = clone(fitted).fit(X, y)
    np.testing.assert_array_equal(again.predict(X_test), fitted.predict(X_test))
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(X_test), fitted.predict(X_test))
    assert clone(fitted).get_params() == fitted.get_params()
    assert not hasattr(clone(fitted), "net_")


def test_survival_train_and_tags(data, fitted):
    (_, y, _), _ = data
    np.testing.assert_array_equal(fitted.survival_train_["time"], y["time"])
    assert fitted._estimator_kind == "survival"
    tags = fitted.__sklearn_tags__()
    assert tags.estimator_type is None and tags.target_tags.required
    # not a classifier for scikit-learn: cross_val_score(cv=5) splits with KFold, not
    # StratifiedKFold on the structured target
    assert not is_classifier(fitted)
    assert not hasattr(fitted, "predict_proba")
    assert not hasattr(fitted, "decision_function")


def test_clinical_late_fusion_learns_clinical_risk():
    # identical images: the risk is in the clinical column only
    X, y, b = _frame(48, 2, image_signal=False)
    X_test, y_test, _ = _frame(48, 3, image_signal=False)
    model = _model(architecture="concat", use_clinical=True, clinical=["brightness"],
                   max_epochs=6).fit(X, y)
    assert model.clinical_columns_ == ["brightness"]
    oracle = concordance_index_censored(y_test["event"], y_test["time"],
                                        X_test["brightness"].to_numpy())[0]
    assert model.score(X_test, y_test) > oracle - 0.05
    images_only = _model(architecture="concat", max_epochs=1).fit(X, y)
    # the image-only net sees one image: every risk is the same, C = 0.5 (all ties)
    assert images_only.score(X_test, y_test) == pytest.approx(0.5)


@pytest.mark.parametrize("n_events, min_events", [(20, 2), (5, 2), (3, 3)])
def test_event_stratified_batches(n_events, min_events):
    event = np.zeros(50, bool)
    event[np.random.default_rng(0).choice(50, n_events, replace=False)] = True
    sampler = EventStratifiedBatchSampler(event, 8, min_events,
                                          torch.Generator().manual_seed(0))
    for _ in range(3):  # new permutation every epoch, always a partition
        batches = list(sampler)
        assert len(batches) == len(sampler)
        assert sorted(i for batch in batches for i in batch) == list(range(50))
        assert min(event[batch].sum() for batch in batches) >= min_events
        sizes = [len(batch) for batch in batches]
        assert max(sizes) - min(sizes) <= 2 and min(sizes) >= 2
    assert len(sampler) == min(7, n_events // min_events)


def test_bad_targets(data):
    (X, y, _), _ = data
    with pytest.raises(SurvivalTargetError, match="structured array"):
        _model(max_epochs=1).fit(X, y["time"])
    censored = Surv.from_arrays(event=np.zeros(len(X), bool), time=y["time"])
    with pytest.raises(SurvivalTargetError, match="All 48 patients are censored"):
        _model(max_epochs=1).fit(X, censored)
    bad_time = y.copy()
    bad_time["time"][3] = -1.0
    with pytest.raises(SurvivalTargetError, match="'p03'"):
        _model(max_epochs=1).fit(X, bad_time)
    with pytest.raises(ValueError, match="use_clinical=True"):
        _model(architecture="mdnet_teacher", max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="images only"):
        _model(architecture="mdnet_student", use_clinical=True, clinical=["brightness"],
               max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="min_events_per_batch"):
        _model(min_events_per_batch=0).fit(X, y)


def test_diverging_training_names_the_epoch(data):
    (X, y, _), _ = data
    with pytest.raises(TrainingError, match="loss became nan in epoch 1"):
        _model(lr=1e20, max_epochs=2).fit(X, y)
    # finite but huge risks: exp(risk) would overflow in the Breslow baseline
    with pytest.raises(TrainingError, match="overflows in the Breslow baseline"):
        _model(lr=1e6, max_epochs=4).fit(X, y)


def test_linear_skip_starts_at_the_ridge_cox_fit():
    # identical images: the untrained image term is one constant, so before training
    # the risk is exactly the ridge Cox model's linear predictor on the clinical column
    X, y, _ = _frame(48, 2, image_signal=False)
    X_test, y_test, _ = _frame(48, 3, image_signal=False)
    model = _model(architecture="concat", use_clinical=True, clinical=["brightness"],
                   clinical_fusion="linear", clinical_penalizer=0.5, max_epochs=0).fit(X, y)
    Z, Z_test = (model.clinical_preprocessor_.transform(frame[["brightness"]])
                 for frame in (X, X_test))
    cox = CoxPHSurvival(penalizer=0.5, ties="breslow").fit(Z, y)
    weights = model.net_.module_.clinical_linear.weight.detach().numpy().ravel()
    np.testing.assert_allclose(weights, cox.coef_, rtol=1e-6)  # float32 copy
    np.testing.assert_allclose(model.clinical_cox_.coef_, cox.coef_)
    # both centred at the training mean of the linear predictor
    np.testing.assert_allclose(model.predict(X_test), cox.predict(Z_test), atol=1e-5)
    assert model.score(X_test, y_test) == pytest.approx(cox.score(Z_test, y_test))
    parts = model.decompose_risk(X_test)
    assert parts["image"].abs().max() < 1e-6
    np.testing.assert_allclose(parts["clinical"], model.predict(X_test), atol=1e-6)


def test_linear_skip_image_term_learns_what_the_clinical_term_misses(data):
    # the risk is in the images; the clinical column is noise, its term frozen (lr 0)
    (X, y, _), (X_test, y_test, b_test) = data
    rng = np.random.default_rng(5)
    X, X_test = X.assign(noise=rng.normal(size=48)), X_test.assign(noise=rng.normal(size=48))
    model = _model(architecture="cnn3d", use_clinical=True, clinical=["noise"],
                   clinical_fusion="linear", clinical_lr=0.0).fit(X, y)
    weights = model.net_.module_.clinical_linear.weight.detach().numpy().ravel()
    np.testing.assert_allclose(weights, model.clinical_cox_.coef_, rtol=1e-6)  # frozen
    parts = model.decompose_risk(X_test)
    np.testing.assert_allclose(parts.sum(axis=1), model.predict(X_test), atol=1e-5)
    assert np.corrcoef(parts["image"], b_test)[0, 1] > 0.9
    assert model.score(X_test, y_test) > 0.72  # the oracle's held-out C is 0.79
    noise_c = concordance_index_censored(y_test["event"], y_test["time"],
                                         parts["clinical"].to_numpy())[0]
    assert abs(noise_c - 0.5) < 0.15  # the noise term knows nothing


def test_linear_skip_errors(data, fitted):
    (X, y, _), _ = data
    with pytest.raises(ValueError, match="clinical_fusion='linear' needs an image-only"):
        _model(architecture="mdnet_teacher", use_clinical=True, clinical=["brightness"],
               clinical_fusion="linear", max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="decompose_risk needs the linear clinical skip"):
        fitted.decompose_risk(X)
    with pytest.raises(InvalidParameterError, match="clinical_fusion"):
        _model(clinical_fusion="early").fit(X, y)
