"""Seed 000's finding on the simulated cohort (slow): teacher > MD-Net student > plain student.

MD-Net's Table III: the teacher with clinical data (AUC 84.7 %) beats the
distilled student (71.9 %), which beats the same student trained without a
teacher (70.0 %), each difference significant by a two-sided Wilcoxon
signed-rank test over paired cross-validation AUCs.  Run with ``pytest -m slow``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wilcoxon
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import MDNetClassifier


@pytest.mark.slow
def test_teacher_beats_distilled_student_beats_plain_student():
    cohort = make_hcc_cohort(random_state=0)
    X, y = cohort.X, np.asarray(cohort.y)
    images = cohort.volume_columns + cohort.mask_columns
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)
    auc = {"teacher": [], "student": [], "plain": []}
    for k, (train, test) in enumerate(folds.split(X, y)):
        mdnet = MDNetClassifier(preset="cpu", random_state=k).fit(X.iloc[train], y[train])
        plain = MDNetClassifier(preset="cpu", distillation="none", clinical_weight=0.0,
                                random_state=k).fit(X.iloc[train], y[train])
        test_images = X.iloc[test][images]
        auc["teacher"].append(roc_auc_score(y[test], mdnet.teacher_predict_proba(X.iloc[test]),
                                            multi_class="ovo"))
        auc["student"].append(roc_auc_score(y[test], mdnet.predict_proba(test_images),
                                            multi_class="ovo"))
        auc["plain"].append(roc_auc_score(y[test], plain.predict_proba(test_images),
                                          multi_class="ovo"))
    means = {name: float(np.mean(values)) for name, values in auc.items()}
    assert means["teacher"] > means["student"] > means["plain"], means
    assert wilcoxon(auc["teacher"], auc["student"]).pvalue < 0.05
    assert wilcoxon(auc["student"], auc["plain"]).pvalue < 0.05
