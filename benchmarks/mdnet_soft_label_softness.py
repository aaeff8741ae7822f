"""How soft are the soft labels MD-Net's student distils from? (issue 20's control)

On the first training fold of the 270-patient `mvi_grade` cohort (the folds of
``mdnet_honest_teacher.py``), compare the class probabilities the student is taught:

- the joint teacher's on its own training patients (``teacher_predict_proba`` on the
  training rows after the fit: centre crop, eval mode), at temperature T = 1, 2, 4
  (``softmax(log p / T)``, the class-KD term's ``kd_temperature``);
- the cross-fitted teachers' out-of-fold probabilities (``teacher_oof_proba_``).

For each: mean entropy (nats), mean largest probability, and the macro one-vs-one
AUC of those probabilities against the training grades (in-sample for the joint
teacher: how much of the training grades the labels carry back).  The temperature
row of ``mdnet_honest_teacher.py`` is chosen so that its softness matches the
cross-fitted labels; this script shows which T does.

Run: ``python benchmarks/mdnet_soft_label_softness.py`` (about 2 CPU-minutes).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import mdnet_ablation_models


def soften(proba: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(proba, 1e-12, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    soft = np.exp(logits)
    return soft / soft.sum(axis=1, keepdims=True)


def describe(name: str, proba: np.ndarray, y: np.ndarray) -> None:
    entropy = -(proba * np.log(np.clip(proba, 1e-12, None))).sum(axis=1).mean()
    auc = roc_auc_score(y, proba, multi_class="ovo", average="macro")
    print(f"  {name:28s} entropy {entropy:.3f}  max p {proba.max(axis=1).mean():.3f}  "
          f"AUC vs training grades {auc:.3f}", flush=True)


def main() -> None:
    torch.set_num_threads(1)
    cohort = make_hcc_cohort(n_patients=270, task="mvi_grade", random_state=0)
    X, y = cohort.X, np.asarray(cohort.y)
    train, _ = next(RepeatedStratifiedKFold(n_splits=5, n_repeats=2,
                                            random_state=0).split(X, y))
    ours = mdnet_ablation_models(["III"], preset="cpu", random_state=0)["Our method"]
    joint = clone(ours).fit(X.iloc[train], y[train])
    crossfit = clone(ours).set_params(teacher_training="crossfit").fit(X.iloc[train], y[train])
    in_sample = joint.teacher_predict_proba(X.iloc[train])
    print(f"fold 0: {len(train)} training patients; log(3) = {np.log(3):.3f} is uniform")
    for temperature in (1, 2, 4):
        describe(f"joint teacher, T = {temperature}", soften(in_sample, temperature), y[train])
    describe("cross-fitted (out-of-fold)", crossfit.teacher_oof_proba_, y[train])


if __name__ == "__main__":
    main()
