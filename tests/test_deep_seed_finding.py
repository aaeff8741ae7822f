"""Seed 000's finding on the simulated cohort (slow): teacher > MD-Net student > plain student.

MD-Net's Table III: the teacher with clinical data ("T-Clinical-PRE-HBP", AUC
84.7 %) beats the distilled MRI-only student ("Our method", 71.9 %), which beats
the same student trained without a teacher ("S-PRE-HBP", 70.0 %, Wilcoxon
p = 4.2e-2).  Ten paired folds (5-fold CV x 2 repeats) of the default simulated
cohort (MVI grade, PRE + HBP) with the "cpu" preset, through
`compare_models`.  About 30 fits of about half a CPU-minute each: run with
``pytest -m slow`` on a machine with free cores (``benchmarks/deep_seed_finding.py``
runs the same comparison with a progress log and checkpoints).

The first half of the finding (the teacher beats both image-only students)
holds.  The second half (distillation lifts the student) is not reproduced by
MD-Net's own teacher at the cpu preset: the test is an expected failure.  The
simulated cohort does hold it -- the same student distilled from the true class
posteriors gains about the paper's 2 AUC points (p = 0.004) -- but the cpu-size
teacher's soft labels are neither good enough nor honest on its own training
patients (docs/guide/distillation.rst, ``benchmarks/deep_seed_diagnosis.py``).
It reports XPASS if a change makes it hold.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import mdnet_ablation_models
from mvikit.model_selection import compare_models

ROWS = ("T-Clinical-PRE-HBP", "Our method", "S-PRE-HBP")


@pytest.fixture(scope="module")
def table_iii():
    cohort = make_hcc_cohort(n_patients=270, task="mvi_grade", random_state=0)
    X, y = cohort.X, np.asarray(cohort.y)
    models = mdnet_ablation_models(["III"], preset="cpu", random_state=0)
    result = compare_models({name: models[name] for name in ROWS}, X, y,
                            cv=RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0),
                            scoring=["auc"], threshold="predict", reference="Our method",
                            random_state=0)
    assert len(result.failures) == 0
    return result


@pytest.mark.slow
def test_teacher_beats_both_image_only_students(table_iii):
    auc = table_iii.summary["auc_mean"]
    assert auc["T-Clinical-PRE-HBP"] > auc["Our method"] + 0.05, auc
    assert auc["T-Clinical-PRE-HBP"] > auc["S-PRE-HBP"] + 0.05, auc
    assert table_iii.summary["p_wilcoxon"]["T-Clinical-PRE-HBP"] < 0.05


@pytest.mark.slow
@pytest.mark.xfail(reason="not reproduced by MD-Net's cpu-size teacher: distilled and plain "
                          "students are level (an oracle teacher gives the paper's gap; "
                          "docs/guide/distillation.rst)",
                   strict=False)
def test_distilled_student_beats_plain_student(table_iii):
    auc = table_iii.summary["auc_mean"]
    assert auc["Our method"] > auc["S-PRE-HBP"], auc
    assert table_iii.summary["p_wilcoxon"]["S-PRE-HBP"] < 0.05, table_iii.summary
