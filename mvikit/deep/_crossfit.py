"""Cross-fitted teachers for MD-Net: soft labels for patients the teacher did not train on.

MD-Net's joint teacher is fitted to the very labels it then teaches (on the simulated
cohort its training-fold AUC is 0.85 against 0.67 held out; docs/guide/distillation.rst),
so its soft labels carry the training grades back to the student instead of what the
clinical items add.  With ``teacher_training="crossfit"`` the training patients are
split into ``n_teachers`` stratified parts; teacher ``k`` (MD-Net's clinical+MRI
network, focal loss, trained alone) learns on the other parts and produces, for the
patients of part ``k``, the class logits, per-sequence features and embedding that the
student's distillation terms (eqs. 4-5, or SP) read.  The student then trains on these
fixed out-of-fold outputs (computed on the centre crop, in eval mode) and its own
augmented batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

from ._trainers import CohortTrainer, FocalCriterion

__all__ = ["crossfit_teacher_outputs", "TEACHER_KEYS"]

#: Teacher outputs stored in the student's batches as ``"teacher_<key>"``.
TEACHER_KEYS = ("logits", "features", "embedding")


def check_crossfit(n_teachers: int, y: np.ndarray, classes: np.ndarray, owner: str) -> None:
    """Refuse more teachers than patients in the smallest class (each part needs one)."""
    counts = np.bincount(y, minlength=len(classes))
    smallest = int(np.argmin(counts))
    if n_teachers > counts[smallest]:
        raise ValueError(
            f"{owner}: n_teachers={n_teachers} is larger than the smallest class count in the "
            f"training rows ({int(counts[smallest])} patients of class "
            f"{classes[smallest]!r}), so some teacher would never see that class. Lower "
            "n_teachers, or merge rare classes.")


def _subset(data: dict, index: np.ndarray) -> dict:
    return {key: value[torch.as_tensor(index)] for key, value in data.items()}


def _fit_teacher(estimator, data: dict, y: np.ndarray, train: np.ndarray, held: np.ndarray,
                 seed: int) -> tuple[CohortTrainer, dict[str, np.ndarray]]:
    """Train one teacher on ``train`` and return it with its outputs for ``held``."""
    from .nets import get_architecture

    spec = get_architecture("mdnet_teacher")
    width = (estimator.settings_["width"] if estimator.teacher_width is None
             else estimator.teacher_width)
    criterion = FocalCriterion(estimator.focal_gamma,
                               estimator._class_weight_tensor(y[train]))
    n_classes = len(estimator.classes_)
    kwargs = estimator._trainer_kwargs(n_classes)
    kwargs.update(architecture=spec.name, auxiliary={})

    def build() -> CohortTrainer:
        module = spec.build(n_sequences=len(estimator.volume_columns_), n_outputs=n_classes,
                            n_clinical=data["clinical"].shape[1], width=width)
        return CohortTrainer(module, criterion, augment_seed=seed, **kwargs)

    teacher = estimator._train(build, _subset(data, train), y[train], seed)
    outputs = teacher.outputs(_subset(data, held))
    return teacher, {key: outputs[key] for key in TEACHER_KEYS}


def crossfit_teacher_outputs(estimator, data: dict, y: np.ndarray, seed: int
                             ) -> tuple[dict[str, torch.Tensor], list[CohortTrainer],
                                        np.ndarray]:
    """Train ``estimator.n_teachers`` teachers, each on the other parts of the training
    rows, and gather their out-of-fold outputs.

    Returns
    -------
    outputs : dict of str to Tensor
        ``"teacher_logits"`` ``(n, n_classes)``, ``"teacher_features"`` ``(n, S, F)``,
        ``"teacher_embedding"`` ``(n, E)``, row ``i`` from the teacher that did not see
        patient ``i``.
    teachers : list of CohortTrainer
    part : ndarray of shape (n,)
        The part (teacher index) of each training row.
    """
    splitter = StratifiedKFold(estimator.n_teachers, shuffle=True,
                               random_state=seed % (2**31 - 1))
    splits = list(splitter.split(np.zeros(len(y)), y))
    jobs = (delayed(_fit_teacher)(estimator, data, y, train, held, seed + 1 + k)
            for k, (train, held) in enumerate(splits))
    fitted = Parallel(n_jobs=estimator.n_jobs)(jobs)
    part = np.empty(len(y), dtype=np.int64)
    gathered: dict[str, Any] = {}
    for k, ((_, held), (_, outputs)) in enumerate(zip(splits, fitted)):
        part[held] = k
        for key, value in outputs.items():
            gathered.setdefault(key, np.empty((len(y),) + value.shape[1:], np.float32))
            gathered[key][held] = value
    tensors = {f"teacher_{key}": torch.from_numpy(value) for key, value in gathered.items()}
    return tensors, [teacher for teacher, _ in fitted], part
