"""Loss functions of the deep estimators (MD-Net, eqs. 4-6, and its baselines).

Every distillation term detaches the teacher's outputs: the teacher learns only
from its own supervised loss, never by moving toward the student.  Batch
reductions are means over patients (the paper's eqs. 4-5 sum over the ``N``
training samples; a mean keeps the loss weights independent of the batch size).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "focal_loss",
    "class_distillation_loss",
    "feature_distillation_loss",
    "similarity_preserving_loss",
    "clinical_regression_loss",
    "MDNetLoss",
]


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
               weight: torch.Tensor | None = None,
               sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Focal loss (Lin et al. 2017), the supervised loss of MD-Net's eq. (6).

    ``FL = - w_y (1 - p_y)^gamma log p_y``, averaged with the class weights as
    `torch.nn.functional.cross_entropy` does (``sum FL / sum w_y``), so
    ``gamma=0`` gives exactly the (weighted) cross-entropy.  Sample weights
    (e.g. inverse-probability-of-censoring weights) multiply the class weights:
    ``w_i = w_{y_i} s_i``.

    Parameters
    ----------
    logits : Tensor of shape (B, K) or (B,)
        Class scores (softmax over K), or one score per sample (sigmoid; then
        ``gamma=0`` is binary cross-entropy with logits).
    target : Tensor of shape (B,)
        Class indices (int64) for ``(B, K)``; 0/1 for ``(B,)``.
    gamma : float, default=2.0
        Focusing parameter.
    weight : Tensor of shape (K,) or (2,), default=None
        Class weights.
    sample_weight : Tensor of shape (B,), default=None
        Non-negative weight of each sample (None: 1).  A batch whose weights are all 0
        contributes a loss of 0.

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> logits, y = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    >>> p = torch.softmax(logits, 1)[0, 0]
    >>> bool(torch.isclose(focal_loss(logits, y, gamma=2.0), -(1 - p) ** 2 * p.log()))
    True
    """
    if logits.dim() == 1 or (logits.dim() == 2 and logits.shape[1] == 1):
        scores = logits.reshape(-1)
        target = target.reshape(-1).to(scores.dtype)
        # log p_t for the true label t, as two log-sigmoids (numerically stable)
        log_p = torch.where(target > 0.5, F.logsigmoid(scores), F.logsigmoid(-scores))
        index = (target > 0.5).long()
    else:
        log_p = F.log_softmax(logits, dim=1).gather(1, target.long()[:, None])[:, 0]
        index = target.long()
    modulating = (1.0 - log_p.exp()).clamp_min(0.0) ** gamma if gamma else 1.0
    w = torch.ones_like(log_p) if weight is None else weight.to(log_p)[index]
    if sample_weight is not None:
        w = w * sample_weight.to(log_p).reshape(-1)
        # all-zero weights: 0 (not 0/0), still attached to the graph
        return -(w * modulating * log_p).sum() / w.sum().clamp_min(torch.finfo(w.dtype).tiny)
    return -(w * modulating * log_p).sum() / w.sum()


def _kl_of_softmaxes(student: torch.Tensor, teacher: torch.Tensor,
                     temperature: float) -> torch.Tensor:
    """``T^2 KL(softmax(teacher/T) || softmax(student/T))``, mean over the batch."""
    log_q = F.log_softmax(student / temperature, dim=-1)
    log_p = F.log_softmax(teacher.detach() / temperature, dim=-1)
    kl = F.kl_div(log_q, log_p, reduction="sum", log_target=True) / student.shape[0]
    # T^2 keeps the gradient scale of the soft targets independent of T (Hinton et al. 2015)
    return kl * temperature ** 2


def class_distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                            temperature: float = 1.0) -> torch.Tensor:
    """Classification-level distillation, eq. (4) of MD-Net.

    ``T^2 * mean_i KL(p^t(x_i) || p^s(x_i))`` with ``p = softmax(logits / T)``.
    The factor ``T^2`` (Hinton et al. 2015) keeps the gradient's size independent
    of ``T``; at ``T = 1`` (the paper) it is eq. (4) averaged over the batch.

    Parameters
    ----------
    student_logits, teacher_logits : Tensor of shape (B, K)
    temperature : float, default=1.0

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> z = torch.randn(4, 3)
    >>> float(class_distillation_loss(z, z))
    0.0
    """
    return _kl_of_softmaxes(student_logits, teacher_logits, temperature)


def feature_distillation_loss(student_features: torch.Tensor, teacher_features: torch.Tensor,
                              weights: Sequence[float] | torch.Tensor,
                              temperature: float = 1.0) -> torch.Tensor:
    """Feature-level distillation, eq. (5) of MD-Net.

    ``sum_s w_s * KL(softmax(Z_s^t / T) || softmax(Z_s^s / T))`` over the sequences
    ``s``: each feature vector is turned into a distribution by a softmax over its
    entries.  In the paper ``w = (1, beta1)`` for (HBP, PRE), ``beta1 = 1``.

    Parameters
    ----------
    student_features, teacher_features : Tensor of shape (B, S, F)
    weights : sequence of S floats
    temperature : float, default=1.0
        As in `class_distillation_loss` (the ``T^2`` factor included).

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> z = torch.randn(2, 2, 8)
    >>> float(feature_distillation_loss(z, z, [1.0, 1.0]))
    0.0
    """
    if student_features.shape != teacher_features.shape:
        raise ValueError(f"student features {tuple(student_features.shape)} and teacher "
                         f"features {tuple(teacher_features.shape)} differ in shape")
    weights = torch.as_tensor(weights, dtype=student_features.dtype)
    if weights.shape != (student_features.shape[1],):
        raise ValueError(f"need one feature-distillation weight per sequence "
                         f"({student_features.shape[1]}), got {tuple(weights.shape)}")
    total = student_features.new_zeros(())
    for s, w in enumerate(weights.tolist()):
        if w:
            total = total + w * _kl_of_softmaxes(student_features[:, s],
                                                 teacher_features[:, s], temperature)
    return total


def similarity_preserving_loss(student_features: torch.Tensor,
                               teacher_features: torch.Tensor) -> torch.Tensor:
    """Similarity-preserving distillation (Tung & Mori, ICCV 2019, eqs. 2-4).

    ``G = Q Q^T`` over the batch (``Q`` the flattened features), each row
    L2-normalised; loss ``= ||G_t - G_s||_F^2 / B^2``.

    Parameters
    ----------
    student_features, teacher_features : Tensor of shape (B, ...)

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> q = torch.randn(5, 7)
    >>> float(similarity_preserving_loss(q, 3 * q)) < 1e-12  # invariant to scale
    True
    """
    def gram(q: torch.Tensor) -> torch.Tensor:
        q = q.flatten(1)
        return F.normalize(q @ q.t(), p=2, dim=1)

    batch = student_features.shape[0]
    diff = gram(student_features) - gram(teacher_features.detach())
    return (diff ** 2).sum() / batch ** 2


def clinical_regression_loss(prediction: torch.Tensor, target: torch.Tensor,
                             binary: torch.Tensor) -> torch.Tensor:
    """Mixed-type clinical-regression loss (MD-Net Sec. III-D), masked for missing items.

    For each observed item (target not NaN): squared error when the item is
    continuous (targets standardised), binary cross-entropy with logits when it
    is binary (0/1; one-hot columns of a category count as binary items).  The loss
    is the mean over the observed (patient, item) cells; 0 if none is observed.

    Parameters
    ----------
    prediction : Tensor of shape (B, T)
        Raw outputs of the regression head (logits for binary items).
    target : Tensor of shape (B, T)
        Targets, NaN where missing.
    binary : Tensor of shape (T,), bool
        Which items are binary.

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> pred = torch.tensor([[1.0, 0.0]])
    >>> target = torch.tensor([[3.0, float("nan")]])
    >>> float(clinical_regression_loss(pred, target, torch.tensor([False, True])))
    4.0
    """
    observed = ~torch.isnan(target)
    safe_target = torch.where(observed, target, torch.zeros_like(target))
    binary = binary.to(torch.bool).expand_as(prediction)
    squared = (prediction - safe_target) ** 2
    bce = F.binary_cross_entropy_with_logits(prediction, safe_target.clamp(0, 1),
                                             reduction="none")
    per_cell = torch.where(binary, bce, squared)
    n_observed = observed.sum()
    if n_observed == 0:
        return prediction.sum() * 0.0
    return (per_cell * observed).sum() / n_observed


class MDNetLoss(nn.Module):
    """The total loss of MD-Net, eq. (6), with a weight on every term.

    ``L = a_T L_T^s + a_S L_S^s + a_C L_clinical + a_K L_class^d + L_feature^d
    (+ a_SP L_SP)``, where ``L_T^s, L_S^s`` are focal losses of teacher and
    student, ``L_class^d`` is eq. (4), ``L_feature^d`` eq. (5) with one weight per
    sequence, and ``L_SP`` the similarity-preserving term of the "SP_ours"
    baseline (on the student/teacher embeddings).  The paper sets every weight to
    1 (and ``a_SP = 0``).  A term whose weight is 0, or whose inputs are missing
    (no teacher output, no clinical head), is left out of the sum and of the
    returned terms.

    Parameters
    ----------
    gamma : float, default=2.0
        Focal-loss focusing parameter.
    class_weight : Tensor of shape (K,), default=None
        Class weights of both focal terms.
    teacher_weight, student_weight, clinical_weight, class_kd_weight : float, default=1.0
    feature_kd_weights : sequence of float, default=(1.0, 1.0)
        One weight per sequence for eq. (5).
    sp_weight : float, default=0.0
    kd_temperature, feature_kd_temperature : float, default=1.0

    Examples
    --------
    >>> import torch
    >>> loss = MDNetLoss(clinical_weight=0.0, feature_kd_weights=(0.0, 0.0))
    >>> s = {"logits": torch.zeros(2, 3)}
    >>> t = {"logits": torch.zeros(2, 3)}
    >>> terms = loss(s, t, torch.tensor([0, 1]))
    >>> sorted(terms), round(float(terms["total"]), 4)
    (['class_kd', 'student', 'teacher', 'total'], 0.9765)
    """

    def __init__(self, gamma: float = 2.0, class_weight: torch.Tensor | None = None,
                 teacher_weight: float = 1.0, student_weight: float = 1.0,
                 clinical_weight: float = 1.0, class_kd_weight: float = 1.0,
                 feature_kd_weights: Sequence[float] = (1.0, 1.0), sp_weight: float = 0.0,
                 kd_temperature: float = 1.0, feature_kd_temperature: float = 1.0) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("class_weight", class_weight)
        self.teacher_weight = teacher_weight
        self.student_weight = student_weight
        self.clinical_weight = clinical_weight
        self.class_kd_weight = class_kd_weight
        self.feature_kd_weights = tuple(float(w) for w in feature_kd_weights)
        self.sp_weight = sp_weight
        self.kd_temperature = kd_temperature
        self.feature_kd_temperature = feature_kd_temperature

    def forward(self, student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor] | None,
                target: torch.Tensor, clinical_target: torch.Tensor | None = None,
                clinical_binary: torch.Tensor | None = None,
                train_teacher: bool = True) -> dict[str, torch.Tensor]:
        """The weighted terms (``"teacher"``, ``"student"``, ``"clinical"``,
        ``"class_kd"``, ``"feature_kd"``, ``"sp"``) that take part, and ``"total"``.

        ``train_teacher=False`` (a frozen, pre-trained teacher) leaves out the
        teacher's supervised term."""
        terms: dict[str, torch.Tensor] = {}
        if self.student_weight:
            terms["student"] = self.student_weight * focal_loss(
                student["logits"], target, self.gamma, self.class_weight)
        if self.clinical_weight and "clinical" in student and clinical_target is not None:
            terms["clinical"] = self.clinical_weight * clinical_regression_loss(
                student["clinical"], clinical_target, clinical_binary)
        if teacher is not None:
            terms.update(self._teacher_terms(student, teacher, target, train_teacher))
        if not terms:
            raise ValueError("Every term of the MD-Net loss has weight 0 or no input.")
        terms["total"] = sum(terms.values())
        return terms

    def _teacher_terms(self, student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor],
                       target: torch.Tensor, train_teacher: bool) -> dict[str, torch.Tensor]:
        terms = {}
        if self.teacher_weight and train_teacher:
            terms["teacher"] = self.teacher_weight * focal_loss(
                teacher["logits"], target, self.gamma, self.class_weight)
        if self.class_kd_weight:
            terms["class_kd"] = self.class_kd_weight * class_distillation_loss(
                student["logits"], teacher["logits"], self.kd_temperature)
        if any(self.feature_kd_weights):
            terms["feature_kd"] = feature_distillation_loss(
                student["features"], teacher["features"], self.feature_kd_weights,
                self.feature_kd_temperature)
        if self.sp_weight:
            terms["sp"] = self.sp_weight * similarity_preserving_loss(
                student["embedding"], teacher["embedding"])
        return terms
