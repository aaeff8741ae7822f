"""Unit tests of the deep layers and networks (pure PyTorch)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mvikit.deep.layers import (
    ClinicalGates,
    ConvBlock3d,
    ConvTrunk3d,
    SymmetricAttention,
    channel_gate,
    global_avg_max_pool,
    scaled_channels,
)
from mvikit.deep.nets import (
    CNN3DNet,
    ConcatNet,
    LSTMNet,
    MRIClinicalFusionModule,
    MRIOnlyModule,
    StudentNet,
    TeacherNet,
)

W = 0.0625  # channels 4/8/16/16


@pytest.fixture(autouse=True)
def _torch_seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("module, args, shape, expected", [
    (ConvBlock3d(1, 4), (), (2, 1, 8, 16, 16), (2, 4, 4, 8, 8)),
    (ConvBlock3d(3, 5), (), (2, 3, 1, 3, 5), (2, 5, 1, 2, 3)),  # ceil-mode pooling
    (ConvTrunk3d(2, W), (), (2, 2, 8, 16, 16), (2, 16, 1, 1, 1)),
    (ConvTrunk3d(1, 0.125), (), (1, 1, 16, 64, 64), (1, 32, 1, 4, 4)),  # paper crop: 16 tokens
    (MRIOnlyModule(1, W), (), (3, 1, 8, 16, 16), (3, 32)),
    (MRIOnlyModule(1, 1.0), (), (1, 1, 16, 32, 32), (1, 512)),  # 512-d, Sec. III-B
    (MRIOnlyModule(2, W, feature_dim=10), (), (3, 2, 8, 16, 16), (3, 10)),
    (MRIClinicalFusionModule(5, 1, W), ((3, 5),), (3, 1, 8, 16, 16), (3, 32)),
    (MRIClinicalFusionModule(5, 1, W, feature_dim=7), ((3, 5),), (3, 1, 8, 16, 16), (3, 7)),
])
def test_module_output_shapes(module, args, shape, expected):
    out = module(torch.randn(*shape), *(torch.randn(*a) for a in args))
    assert tuple(out.shape) == expected


@pytest.mark.parametrize("net, n_seq, shapes, expected", [
    (StudentNet(2, 3, 0, W), 2, {}, {"logits": (4, 3), "features": (4, 2, 32),
                                     "embedding": (4, 64)}),
    (StudentNet(2, 2, 6, W), 2, {}, {"logits": (4, 2), "clinical": (4, 6)}),
    (StudentNet(1, 3, 0, W), 1, {}, {"logits": (4, 3), "features": (4, 1, 32)}),
    (TeacherNet(7, 2, 3, W), 2, {"clinical": (4, 7)}, {"logits": (4, 3),
                                                       "features": (4, 2, 32)}),
    (TeacherNet(7, 1, 3, W, feature_dim=9), 1, {"clinical": (4, 7)}, {"features": (4, 1, 9)}),
    (CNN3DNet(2, 3, 0, W), 2, {}, {"logits": (4, 3), "embedding": (4, 32)}),
    (CNN3DNet(2, 3, 7, W), 2, {"clinical": (4, 7)}, {"logits": (4, 3), "embedding": (4, 36)}),
    (ConcatNet(3, 2, 0, W), 3, {}, {"logits": (4, 2), "embedding": (4, 96)}),
    (LSTMNet(2, 3, 0, W), 2, {}, {"logits": (4, 3), "embedding": (4, 16)}),
    (LSTMNet(2, 3, 7, W), 2, {"clinical": (4, 7)}, {"logits": (4, 3), "embedding": (4, 20)}),
])
def test_network_output_shapes(net, n_seq, shapes, expected):
    inputs = {k: torch.randn(*s) for k, s in shapes.items()}
    out = net({"volumes": torch.randn(4, n_seq, 8, 16, 16), **inputs})
    for key, shape in expected.items():
        assert tuple(out[key].shape) == shape


def test_scaled_channels_paper_and_cpu_width():
    assert scaled_channels((64, 128, 256, 256), 1.0) == (64, 128, 256, 256)
    assert scaled_channels((64, 128, 256, 256), 0.01) == (1, 1, 3, 3)


def test_global_pool_matches_hand_values():
    x = torch.randn(2, 3, 2, 3, 4)
    pooled = global_avg_max_pool(x)
    assert torch.allclose(pooled[:, :3], x.mean(dim=(2, 3, 4)))
    assert torch.allclose(pooled[:, 3:], x.amax(dim=(2, 3, 4)))


def test_channel_gate_is_eq1_and_rejects_bad_shape():
    x = torch.randn(2, 3, 2, 2, 2)
    gate = torch.randn(2, 3)
    y = channel_gate(x, gate)
    for b in range(2):
        for i in range(3):
            assert torch.allclose(y[b, i], gate[b, i] * x[b, i])  # Y_i = C_i * X_i
    with pytest.raises(ValueError, match="does not match"):
        channel_gate(x, torch.randn(2, 4))


def test_clinical_gates_are_chained_sigmoids():
    gates = ClinicalGates(3, (4, 5))
    c = torch.randn(2, 3)
    out = gates(c)
    pre1 = gates.layers[0](c)
    pre2 = gates.layers[1](torch.relu(pre1))
    assert torch.allclose(out[0], torch.sigmoid(pre1))
    assert torch.allclose(out[1], torch.sigmoid(pre2))


def test_symmetric_attention_matches_sdpa_reference():
    sa = SymmetricAttention(6, key_channels=4, residual=False)
    x, y = torch.randn(2, 6, 1, 2, 3), torch.randn(2, 6, 2, 2, 1)
    x_hat, y_hat = sa(x, y)
    tx, ty = x.flatten(2).transpose(1, 2), y.flatten(2).transpose(1, 2)
    q = {n: sa.query(t) for n, t in (("x", tx), ("y", ty))}
    k = {n: sa.key(t) for n, t in (("x", tx), ("y", ty))}
    v = {n: sa.value(t) for n, t in (("x", tx), ("y", ty))}
    sdpa = F.scaled_dot_product_attention  # softmax(QK^T / sqrt(d)) V
    ref_x = sdpa(q["x"], k["x"], v["x"]) + sdpa(q["x"], k["y"], v["y"])  # eq. (2)
    ref_y = sdpa(q["y"], k["x"], v["x"]) + sdpa(q["y"], k["y"], v["y"])  # eq. (3)
    assert torch.allclose(x_hat.flatten(2).transpose(1, 2), ref_x, atol=1e-6)
    assert torch.allclose(y_hat.flatten(2).transpose(1, 2), ref_y, atol=1e-6)
    assert math.isclose(sa.scale, 0.5)


@pytest.mark.parametrize("residual", [True, False])
def test_symmetric_attention_swaps_outputs(residual):
    sa = SymmetricAttention(5, residual=residual)
    x, y = torch.randn(3, 5, 1, 2, 2), torch.randn(3, 5, 1, 2, 2)
    x_hat, y_hat = sa(x, y)
    y_swap, x_swap = sa(y, x)
    assert torch.allclose(x_hat, x_swap, atol=1e-6)
    assert torch.allclose(y_hat, y_swap, atol=1e-6)


def _check_all_parameters_get_gradient(net, out_keys, **inputs):
    net.train()
    # 8x32x32 ends in 1x2x2 maps: 4 tokens, so the attention scores are not trivial
    out = net({"volumes": torch.randn(3, 2, 8, 32, 32), **inputs})
    loss = sum((out[k] ** 2).sum() for k in out_keys)
    loss.backward()
    missing = [name for name, p in net.named_parameters()
               if p.grad is None or float(p.grad.abs().sum()) == 0.0]
    assert missing == []


@pytest.mark.parametrize("net, keys, inputs", [
    (StudentNet(2, 3, 4, W), ("logits", "clinical"), {}),
    (TeacherNet(5, 2, 3, W), ("logits",), {"clinical": torch.randn(3, 5)}),
    (CNN3DNet(2, 3, 5, W), ("logits",), {"clinical": torch.randn(3, 5)}),
    (ConcatNet(2, 3, 0, W), ("logits",), {}),
    (LSTMNet(2, 3, 5, W), ("logits",), {"clinical": torch.randn(3, 5)}),
])
def test_gradients_reach_every_parameter(net, keys, inputs):
    _check_all_parameters_get_gradient(net, keys, **inputs)


def test_student_ignores_clinical_and_teacher_uses_it():
    student, teacher = StudentNet(2, 3, 0, W).eval(), TeacherNet(4, 2, 3, W).eval()
    v = torch.randn(2, 2, 8, 16, 16)
    c1, c2 = torch.randn(2, 4), torch.randn(2, 4)
    assert torch.equal(student({"volumes": v, "clinical": c1})["logits"],
                       student({"volumes": v})["logits"])
    assert not torch.allclose(teacher({"volumes": v, "clinical": c1})["logits"],
                              teacher({"volumes": v, "clinical": c2})["logits"])
    with pytest.raises(ValueError, match="needs the clinical vector"):
        teacher({"volumes": v})


def test_eval_mode_is_deterministic_and_batch_independent():
    net = StudentNet(2, 3, 2, W)
    net.train()
    net({"volumes": torch.randn(4, 2, 8, 16, 16)})  # move BatchNorm stats away from init
    net.eval()
    v = {"volumes": torch.randn(4, 2, 8, 16, 16)}
    first, second = net(v), net(v)
    for key in first:
        assert torch.equal(first[key], second[key])
    # in eval mode a sample's output does not depend on the rest of the batch
    one = {"volumes": v["volumes"][:1]}
    assert torch.allclose(net(one)["logits"], first["logits"][:1], atol=1e-5)


def test_mdnet_rejects_three_sequences():
    with pytest.raises(ValueError, match="one or two sequences"):
        StudentNet(3)
