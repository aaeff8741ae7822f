"""Losses of the deep estimators against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mvikit.deep.losses import (
    MDNetLoss,
    class_distillation_loss,
    clinical_regression_loss,
    feature_distillation_loss,
    focal_loss,
    similarity_preserving_loss,
)


@pytest.fixture(autouse=True)
def _torch_seed():
    torch.manual_seed(0)


def test_focal_at_gamma_zero_is_cross_entropy():
    logits, y = torch.randn(7, 3), torch.tensor([0, 1, 2, 2, 1, 0, 0])
    w = torch.tensor([0.5, 2.0, 1.5])
    assert torch.isclose(focal_loss(logits, y, 0.0), F.cross_entropy(logits, y))
    assert torch.isclose(focal_loss(logits, y, 0.0, w), F.cross_entropy(logits, y, weight=w))


def test_focal_at_gamma_zero_is_bce_for_one_logit():
    scores, y = torch.randn(6), torch.tensor([0, 1, 1, 0, 1, 0])
    assert torch.isclose(focal_loss(scores, y, 0.0),
                         F.binary_cross_entropy_with_logits(scores, y.float()))


def test_focal_at_gamma_two_matches_hand_value():
    # one patient, logits (1, 2, 0), true class 1
    p = math.exp(2) / (math.exp(1) + math.exp(2) + math.exp(0))
    expected = -(1 - p) ** 2 * math.log(p)  # = 0.0512...
    got = focal_loss(torch.tensor([[1.0, 2.0, 0.0]]), torch.tensor([1]), 2.0)
    assert math.isclose(float(got), expected, rel_tol=1e-6)
    # binary form: score 0.5, label 0 -> p_t = 1 - sigmoid(0.5)
    p_t = 1 - 1 / (1 + math.exp(-0.5))
    got = focal_loss(torch.tensor([0.5]), torch.tensor([0]), 2.0)
    assert math.isclose(float(got), -(1 - p_t) ** 2 * math.log(p_t), rel_tol=1e-6)


def test_focal_down_weights_easy_examples():
    easy, hard = torch.tensor([[5.0, 0.0]]), torch.tensor([[0.2, 0.0]])
    y = torch.tensor([0])
    ratio = lambda z: float(focal_loss(z, y, 2.0) / focal_loss(z, y, 0.0))  # noqa: E731
    assert ratio(easy) < 1e-4 < ratio(hard)


def test_kl_of_identical_distributions_is_zero():
    z = torch.randn(5, 3)
    assert float(class_distillation_loss(z, z.clone(), 3.0)) == pytest.approx(0.0, abs=1e-7)


def test_class_kd_matches_hand_kl_with_temperature_squared():
    s, t, T = torch.randn(4, 3), torch.randn(4, 3), 2.5
    p, q = torch.softmax(t / T, 1).numpy(), torch.softmax(s / T, 1).numpy()
    kl = float(np.mean(np.sum(p * np.log(p / q), axis=1)))  # eq. (4), batch mean
    assert float(class_distillation_loss(s, t, T)) == pytest.approx(T ** 2 * kl, rel=1e-5)


def test_temperature_squared_keeps_gradient_scale():
    # For large T the gradient of T^2 KL w.r.t. zero-mean student logits tends to
    # (z_s - z_t) / K per sample (Hinton et al. 2015, Sec. 2.1), whatever T.
    t = torch.tensor([[1.0, -0.5, -0.5]])
    for T in (20.0, 200.0):
        s = torch.tensor([[0.2, 0.3, -0.5]], requires_grad=True)
        class_distillation_loss(s, t, T).backward()
        assert torch.allclose(s.grad, (s.detach() - t) / 3, atol=2e-2 * 20 / T + 1e-4)


def test_feature_kd_is_weighted_sum_of_per_sequence_kl():
    zs, zt = torch.randn(3, 2, 6), torch.randn(3, 2, 6)
    single = [class_distillation_loss(zs[:, i], zt[:, i]) for i in range(2)]
    assert torch.isclose(feature_distillation_loss(zs, zt, [1.0, 0.0]), single[0])
    assert torch.isclose(feature_distillation_loss(zs, zt, [1.0, 0.5]),
                         single[0] + 0.5 * single[1])
    with pytest.raises(ValueError, match="one feature-distillation weight per sequence"):
        feature_distillation_loss(zs, zt, [1.0])


def test_similarity_preserving_matches_numpy():
    qs, qt = torch.randn(4, 5), torch.randn(4, 5)

    def gram(q):
        g = q @ q.T
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    expected = np.sum((gram(qt.numpy()) - gram(qs.numpy())) ** 2) / 16
    assert float(similarity_preserving_loss(qs, qt)) == pytest.approx(expected, rel=1e-5)


def test_clinical_loss_masks_missing_and_mixes_types():
    pred = torch.tensor([[0.5, 2.0, -1.0],
                         [1.0, 0.0, 0.3]])
    nan = float("nan")
    target = torch.tensor([[1.5, 1.0, nan],
                           [nan, 0.0, 1.0]])
    binary = torch.tensor([False, True, True])
    bce = lambda z, y: -(y * math.log(1 / (1 + math.exp(-z)))  # noqa: E731
                         + (1 - y) * math.log(1 - 1 / (1 + math.exp(-z))))
    cells = [(0.5 - 1.5) ** 2, bce(2.0, 1.0), bce(0.0, 0.0), bce(0.3, 1.0)]
    got = clinical_regression_loss(pred, target, binary)
    assert float(got) == pytest.approx(sum(cells) / 4, rel=1e-6)
    all_missing = torch.full((2, 3), nan)
    zero = clinical_regression_loss(pred.requires_grad_(), all_missing, binary)
    assert float(zero.detach()) == 0.0
    zero.backward()  # still differentiable
    assert float(pred.grad.abs().sum()) == 0.0


def _outputs(requires_grad=True):
    student = {"logits": torch.randn(4, 3, requires_grad=True),
               "features": torch.randn(4, 2, 8, requires_grad=True),
               "embedding": torch.randn(4, 16, requires_grad=True),
               "clinical": torch.randn(4, 3, requires_grad=True)}
    teacher = {"logits": torch.randn(4, 3, requires_grad=requires_grad),
               "features": torch.randn(4, 2, 8, requires_grad=requires_grad),
               "embedding": torch.randn(4, 16, requires_grad=requires_grad)}
    return student, teacher


def _clinical():
    nan = float("nan")
    target = torch.tensor([[0.3, nan, 0.0], [-1.2, 0.4, 1.0], [2.0, -0.1, 1.0],
                           [0.0, 1.1, 0.0]])
    return target, torch.tensor([False, False, True])


def test_no_gradient_reaches_the_teacher_through_distillation_terms():
    student, teacher = _outputs()
    loss = MDNetLoss(teacher_weight=0.0, sp_weight=1.0)
    terms = loss(student, teacher, torch.tensor([0, 1, 2, 0]), *_clinical())
    assert {"class_kd", "feature_kd", "sp"} <= set(terms) and "teacher" not in terms
    (terms["class_kd"] + terms["feature_kd"] + terms["sp"]).backward()
    assert all(t.grad is None for t in teacher.values())
    assert all(float(student[k].grad.abs().sum().detach()) > 0 for k in ("logits", "features",
                                                               "embedding"))


WEIGHTS = {"teacher": "teacher_weight", "student": "student_weight",
           "clinical": "clinical_weight", "class_kd": "class_kd_weight",
           "feature_kd": "feature_kd_weights", "sp": "sp_weight"}


@pytest.mark.parametrize("term", sorted(WEIGHTS))
def test_zero_weight_removes_exactly_that_term(term):
    student, teacher = _outputs()
    y = torch.tensor([0, 1, 2, 0])
    params = {"sp_weight": 2.0, "gamma": 1.0}
    full = MDNetLoss(**params)(student, teacher, y, *_clinical())
    assert set(full) == set(WEIGHTS) | {"total"}
    assert torch.isclose(full["total"], sum(full[k] for k in WEIGHTS))
    zero = (0.0, 0.0) if term == "feature_kd" else 0.0
    reduced = MDNetLoss(**{**params, WEIGHTS[term]: zero})(student, teacher, y, *_clinical())
    assert term not in reduced
    assert torch.isclose(reduced["total"], full["total"] - full[term])


def test_weights_scale_terms_and_frozen_teacher_has_no_supervised_term():
    student, teacher = _outputs(requires_grad=False)
    y = torch.tensor([0, 1, 2, 0])
    base = MDNetLoss()(student, teacher, y, *_clinical())
    scaled = MDNetLoss(clinical_weight=3.0, class_kd_weight=0.5,
                       feature_kd_weights=(2.0, 2.0))(student, teacher, y, *_clinical())
    assert torch.isclose(scaled["clinical"], 3 * base["clinical"])
    assert torch.isclose(scaled["class_kd"], 0.5 * base["class_kd"])
    assert torch.isclose(scaled["feature_kd"], 2 * base["feature_kd"])
    frozen = MDNetLoss()(student, teacher, y, *_clinical(), train_teacher=False)
    assert "teacher" not in frozen
    assert torch.isclose(frozen["total"], base["total"] - base["teacher"])
