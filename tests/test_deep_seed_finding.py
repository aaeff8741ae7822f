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

Issue 20 added the cross-fitted teacher (``teacher_training="crossfit"``: every soft
label comes from a teacher that did not see that patient's grade).  It does not make
the second half hold either (``benchmarks/mdnet_honest_teacher.py``, same folds,
n = 270: plain 0.599, joint 0.602, cross-fitted 0.605, p = 0.49): its honest soft
labels are only as good as a 0.68-AUC teacher.  The crossfit row is therefore a
second expected failure; about 15 more CPU-minutes.  With 1000 patients the teacher
reaches 0.756 and the cross-fitted student's gap appears (0.636 vs 0.610, p = 0.037):
the last test asserts it (about an hour of CPU).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import wilcoxon
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import mdnet_ablation_models
from mvikit.model_selection import compare_models

ROWS = ("T-Clinical-PRE-HBP", "Our method", "S-PRE-HBP")
CROSSFIT = "Our method (crossfit)"


@pytest.fixture(scope="module")
def table_iii():
    cohort = make_hcc_cohort(n_patients=270, task="mvi_grade", random_state=0)
    X, y = cohort.X, np.asarray(cohort.y)
    models = mdnet_ablation_models(["III"], preset="cpu", random_state=0)
    rows = {name: models[name] for name in ROWS}
    rows[CROSSFIT] = clone(models["Our method"]).set_params(teacher_training="crossfit")
    result = compare_models(rows, X, y,
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
                          "students are level (10 paired folds, n = 270: joint 0.602 +- 0.039 "
                          "vs plain 0.599 +- 0.040, 5/10 folds higher, Wilcoxon p = 0.85; "
                          "an oracle teacher gives the paper's gap; "
                          "docs/guide/distillation.rst)",
                   strict=False)
def test_distilled_student_beats_plain_student(table_iii):
    auc = table_iii.summary["auc_mean"]
    assert auc["Our method"] > auc["S-PRE-HBP"], auc
    assert table_iii.summary["p_wilcoxon"]["S-PRE-HBP"] < 0.05, table_iii.summary


@pytest.mark.slow
@pytest.mark.xfail(reason="not reproduced with a cross-fitted teacher either "
                          "(benchmarks/mdnet_honest_teacher.py, 10 paired folds, n = 270: "
                          "plain 0.599 +- 0.040, crossfit 0.605 +- 0.058, 6/10 folds higher, "
                          "Wilcoxon p = 0.49): honest soft labels from a 0.68-AUC teacher "
                          "carry no more than the student learns alone "
                          "(docs/guide/distillation.rst)",
                   strict=False)
def test_crossfit_distilled_student_beats_plain_student(table_iii):
    auc = table_iii.summary["auc_mean"]
    assert auc[CROSSFIT] > auc["S-PRE-HBP"], auc
    scores = table_iii.scores[table_iii.scores["metric"] == "auc"]
    table = scores.pivot_table(index=["repeat", "fold"], columns="model", values="value")
    assert wilcoxon(table[CROSSFIT], table["S-PRE-HBP"]).pvalue < 0.05


@pytest.fixture(scope="module")
def crossfit_at_1000():
    """Plain and cross-fitted students on the ten paired folds of 1000 patients, fitted
    as ``benchmarks/mdnet_honest_teacher.py --n-patients 1000`` does (same cohort, folds,
    rows and seeds, one torch thread: the same numbers)."""
    torch.set_num_threads(1)
    cohort = make_hcc_cohort(n_patients=1000, task="mvi_grade", random_state=0)
    X, y = cohort.X, np.asarray(cohort.y)
    models = mdnet_ablation_models(["III"], preset="cpu", random_state=0)
    rows = {"S-PRE-HBP": models["S-PRE-HBP"],
            CROSSFIT: clone(models["Our method"]).set_params(teacher_training="crossfit")}
    auc = {name: [] for name in rows}
    for train, test in RepeatedStratifiedKFold(n_splits=5, n_repeats=2,
                                               random_state=0).split(X, y):
        for name, model in rows.items():
            proba = clone(model).fit(X.iloc[train], y[train]).predict_proba(X.iloc[test])
            auc[name].append(roc_auc_score(y[test], proba, multi_class="ovo",
                                           average="macro"))
    return {name: np.array(values) for name, values in auc.items()}


@pytest.mark.slow
def test_crossfit_distilled_student_beats_plain_student_at_1000_patients(crossfit_at_1000):
    # Measured (benchmarks/mdnet_honest_teacher.py --n-patients 1000): plain 0.610 +-
    # 0.036, crossfit 0.636 +- 0.043, higher in 7/10 folds, Wilcoxon p = 0.037 (joint
    # teacher +0.025, p = 0.064; teacher alone 0.756).  About an hour of CPU (20 fits of
    # 60-300 CPU-seconds on 800 training patients).
    plain, crossfit = crossfit_at_1000["S-PRE-HBP"], crossfit_at_1000[CROSSFIT]
    assert crossfit.mean() > plain.mean() + 0.01, (crossfit.mean(), plain.mean())
    assert wilcoxon(crossfit, plain).pvalue < 0.05
