"""MD-Net on the simulated cohort: a clinical+MRI teacher distilled into an MRI-only student.

Trains a small (CPU-size) MD-Net on part of a simulated cohort, then predicts the
held-out patients from their PRE/HBP volumes alone, compares the student with
its teacher and with a student trained without distillation, and reads the
clinical items the student regresses from the images.  A quick demonstration
(about 25 CPU-seconds): the ``"demo"`` preset's network is far below the
paper's size (``preset="paper"``) and the test set has 27 patients, so the
numbers are noisy.
"""

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import MDNetClassifier, mdnet_ablation_models

torch.set_num_threads(1)  # small networks, possibly shared cores: one thread is fastest

cohort = make_hcc_cohort(n_patients=90, random_state=0)
X, y = cohort.X, np.asarray(cohort.y)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)
# width 1/16, 16x32x32 crops of the 20x80x80 cube at half in-plane resolution, batch 16,
# Adam 2e-3, channels-last
small = dict(preset="demo", max_epochs=6, random_state=0)

mdnet = MDNetClassifier(**small).fit(X_train, y_train)
plain = MDNetClassifier(distillation="none", clinical_weight=0.0, **small).fit(X_train, y_train)

images_only = X_test[cohort.volume_columns + cohort.mask_columns]  # no clinical column
auc = {
    "teacher (clinical + MRI)": roc_auc_score(y_test, mdnet.teacher_predict_proba(X_test),
                                              multi_class="ovo"),
    "MD-Net student (MRI only)": roc_auc_score(y_test, mdnet.predict_proba(images_only),
                                               multi_class="ovo"),
    "student without distillation": roc_auc_score(y_test, plain.predict_proba(images_only),
                                                  multi_class="ovo"),
}
for name, value in auc.items():
    print(f"{name:30s} macro OvO AUC = {value:.3f}")

# the student does not read clinical data: same prediction with or without it
assert np.array_equal(mdnet.predict_proba(images_only), mdnet.predict_proba(X_test))

# clinical items regressed from the images, in original units
predicted = mdnet.predict_clinical(images_only)
print(predicted.iloc[:3, :4].round(2))

# loss terms of eq. (6) in the last epoch
last = mdnet.net_.history[-1, "batches"]
for term in ("loss_teacher", "loss_student", "loss_clinical", "loss_class_kd",
             "loss_feature_kd"):
    print(f"{term:16s} {np.mean([batch[term] for batch in last]):.3f}")

# the rows of the paper's ablation tables, ready for compare_models
print(list(mdnet_ablation_models(["IV"], **small)))
