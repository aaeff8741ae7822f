"""``precision="bfloat16"``: mixed precision of the deep estimators.

Tiny volumes (8x16x16 cubes, 8x12x12 crops, width 1/16, one epoch) keep the file
fast.  The crops go through four pooled blocks of depth 8, 4, 2 and 1, so the
depth-2 convolutions that oneDNN's bfloat16 weight-gradient kernel gets wrong
(`mvikit.deep._base._Float32SmallConv3d`) are exercised by every fit.

Tolerances, from measurements on this CPU (AVX512-BF16, torch 2.13):

* same weights, bfloat16 vs float32 forward: relative logit error 0.1-0.4 %
  (bfloat16 keeps 8 significant bits, a relative rounding of 2**-9 = 0.2 % per
  stored activation); asserted <= 1.5 %.
* one epoch of training from the same seed: classifier logits differ by 0.2-1.1 %
  relative, the teacher's probabilities by <= 3e-4 (they sit near 1/2 after one
  epoch), the Cox model's raw risks by <= 0.01 absolute (magnitude ~0.1: its
  single-output head moves more per Adam step); asserted <= 5 %, 5e-3 and 0.05.
  Training gradients in bfloat16 differ from float64 ones by 20-40 % relative in
  the first conv blocks (cosine 0.92-0.96; intrinsic, the same with oneDNN off),
  which is why after-training tolerances are wider than forward ones.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from _helpers import TINY, make_frame
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from mvikit.deep import MDNetClassifier, VolumeNetClassifier
from mvikit.survival import DeepCoxSurvival, Surv
from mvikit.survival._partial_likelihood import CoxPartialLikelihoodLoss

ONE_EPOCH = {**TINY, "max_epochs": 1}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    X, y = make_frame(n=16)
    survival = Surv.from_arrays(event=[True, False] * 8, time=np.arange(1.0, 17.0))
    return X, y, survival


def _make(kind: str, precision: str):
    if kind == "volume_net":
        return VolumeNetClassifier("concat", precision=precision, **ONE_EPOCH)
    if kind == "mdnet":
        return MDNetClassifier(precision=precision, **ONE_EPOCH)
    return DeepCoxSurvival(precision=precision, **ONE_EPOCH)


def _fit(kind: str, precision: str, data):
    X, y, survival = data
    return _make(kind, precision).fit(X, survival if kind == "deep_cox" else y)


def _raw(estimator, X) -> np.ndarray:
    """Network logits (the Cox model's raw risk) at inference."""
    # MD-Net's student reads no clinical data; the others only with use_clinical
    with_clinical = (estimator._uses_clinical_input()
                     and not isinstance(estimator, MDNetClassifier))
    data = estimator._inference_data(X, with_clinical=with_clinical)
    return estimator.net_.outputs(data)["logits"]


@pytest.fixture(scope="module")
def fits(data):
    return {(kind, p): _fit(kind, p, data) for kind in ("volume_net", "mdnet", "deep_cox")
            for p in ("float32", "bfloat16")}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


@pytest.mark.parametrize("kind", ["volume_net", "mdnet", "deep_cox"])
def test_bfloat16_forward_on_the_same_weights(fits, data, kind):
    X = data[0]
    estimator = pickle.loads(pickle.dumps(fits[kind, "float32"]))
    expected = _raw(estimator, X)
    estimator.net_.precision = "bfloat16"
    error = _rel(expected, _raw(estimator, X))
    # > 0: autocast really ran; <= 1.5 %: bfloat16 rounding only
    assert 0 < error <= 1.5e-2


def test_bfloat16_training_stays_close_to_float32(fits, data):
    X = data[0]
    for kind in ("volume_net", "mdnet"):
        f32, bf16 = fits[kind, "float32"], fits[kind, "bfloat16"]
        assert 0 < _rel(f32.decision_function(X), bf16.decision_function(X)) <= 5e-2
        np.testing.assert_allclose(bf16.predict_proba(X), f32.predict_proba(X), atol=5e-3)
    f32, bf16 = fits["mdnet", "float32"], fits["mdnet", "bfloat16"]
    np.testing.assert_allclose(bf16.teacher_predict_proba(X), f32.teacher_predict_proba(X),
                               atol=5e-3)
    np.testing.assert_allclose(_raw(fits["deep_cox", "bfloat16"], X),
                               _raw(fits["deep_cox", "float32"], X), atol=0.05)


@pytest.mark.parametrize("kind", ["mdnet", "deep_cox"])
def test_bfloat16_on_cpu_is_bit_identical_for_a_seed(fits, data, kind):
    X = data[0]
    again = _fit(kind, "bfloat16", data)
    first = fits[kind, "bfloat16"]
    if kind == "mdnet":
        np.testing.assert_array_equal(again.predict_proba(X), first.predict_proba(X))
        np.testing.assert_array_equal(again.teacher_predict_proba(X),
                                      first.teacher_predict_proba(X))
    else:
        np.testing.assert_array_equal(again.predict(X), first.predict(X))


def test_weights_optimizer_and_outputs_stay_float32(fits, data):
    X = data[0]
    mdnet = fits["mdnet", "bfloat16"]
    params = [*mdnet.net_.module_.parameters(), *mdnet.net_.teacher_.parameters()]
    assert {p.dtype for p in params} == {torch.float32}
    adam = {v.dtype for state in mdnet.net_.optimizer_.state.values() for v in state.values()
            if torch.is_tensor(v) and v.is_floating_point()}
    assert adam == {torch.float32}
    assert mdnet.predict_proba(X).dtype == np.float64
    assert mdnet.decision_function(X).dtype == np.float32
    assert mdnet.transform(X).dtype == np.float32
    assert mdnet.predict_clinical(X).dtypes.eq(np.float64).all()
    cox = fits["deep_cox", "bfloat16"]
    assert cox.predict(X).dtype == np.float64
    assert cox.predict_survival_function(X, return_array=True).dtype == np.float64


def test_convolutions_run_in_bfloat16_except_depth_two(data, monkeypatch):
    X, y, survival = data
    seen: dict[tuple, set] = {}

    def record(module, inputs, output):
        if isinstance(module, torch.nn.Conv3d):
            seen.setdefault((module.training, inputs[0].shape[2]), set()).add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    losses: list[torch.dtype] = []
    forward = CoxPartialLikelihoodLoss.forward
    monkeypatch.setattr(CoxPartialLikelihoodLoss, "forward",
                        lambda self, risk, target: losses.append(risk.dtype)
                        or forward(self, risk, target))
    try:
        _make("deep_cox", "bfloat16").fit(X, survival).predict(X)
    finally:
        handle.remove()
    # crops 8x12x12: depths 8, 4 in bfloat16; depth 2 (oneDNN's bad case) and 1 in float32
    for training in (True, False):
        assert seen[training, 8] == seen[training, 4] == {torch.bfloat16}
        assert seen[training, 2] == seen[training, 1] == {torch.float32}
    assert losses and set(losses) == {torch.float32}


def test_depth_two_convolution_gradient_equals_float32(fits):
    net = fits["volume_net", "bfloat16"].net_
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(4, 8, 3, padding=1, bias=False)
    x = torch.randn(2, 4, 2, 6, 6)
    conv(x).square().sum().backward()
    expected, conv.weight.grad = conv.weight.grad, None
    with net.autocast():
        out = conv(x)
    out.square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, expected, rtol=1e-5, atol=1e-5)


def test_bfloat16_learns_a_clear_tumour_signal():
    X, y = make_frame()
    clf = VolumeNetClassifier("concat", precision="bfloat16",
                              **{**TINY, "max_epochs": 8, "lr": 3e-3}).fit(X, y)
    assert roc_auc_score(y == "M1", clf.predict_proba(X)[:, 1]) > 0.9
    losses = clf.net_.history[:, "train_loss"]
    assert losses[-1] < losses[0]


def test_params_clone_and_pickle(fits, data):
    X = data[0]
    fitted = fits["volume_net", "bfloat16"]
    assert fitted.get_params()["precision"] == "bfloat16"
    assert fitted.net_.precision == "bfloat16"
    assert clone(fitted).get_params() == fitted.get_params()
    assert VolumeNetClassifier().get_params()["precision"] == "float32"
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict_proba(X),
                                  fitted.predict_proba(X))


@pytest.mark.parametrize("kind", ["volume_net", "mdnet", "deep_cox"])
def test_unknown_precision_is_rejected(data, kind):
    estimator = _make(kind, "float16")
    with pytest.raises(ValueError, match="'precision' parameter .* among .*'bfloat16'"):
        _fit(kind, "float16", data)
    assert estimator.precision == "float16"  # __init__ only stores
