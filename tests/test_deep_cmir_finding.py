"""Seed 001's ablation findings on the simulated cohort (slow): M1 > S1 and Ours >= M1.

CMIR's Table 2: the multi-phase network (M1, AUC 0.784) beats the single-phase one
(S1, 0.742), and the full model ("Ours", 0.860) beats M1.  Eight paired folds (the
first eight of a 5-fold CV x 2 repeats) of the default-size simulated cohort
(binary MVI, AP + PV, five centres) with the "cpu" preset, through
`compare_models`.  24 fits of 5-20 CPU-seconds each (one torch thread): run with
``pytest -m slow``; ``benchmarks/cmir_findings.py`` runs the same comparison (all
five rows, and the centre design of Table 3) with the numbers printed.
"""

from __future__ import annotations

import pytest
import torch
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import cmir_models
from mvikit.model_selection import compare_models


@pytest.fixture(scope="module")
def table_2():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cohort = make_hcc_cohort(270, task="mvi", sequences=("AP", "PV"), n_centers=5,
                                 random_state=0)
        cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)
        splits = list(cv.split(cohort.X, cohort.y))[:8]
        result = compare_models(cmir_models(["S1", "M1", "Ours"], preset="cpu",
                                            random_state=0),
                                cohort.X, cohort.y, cv=splits, scoring=["auc"],
                                threshold_cv="train", reference="M1", random_state=0)
    finally:
        torch.set_num_threads(threads)
    assert len(result.failures) == 0
    return result


# Measured (benchmarks/cmir_findings.py --folds 8, the same folds and seeds; 2026-12-06):
# AUC mean +/- SD over 8 folds: S1 0.771 +/- 0.083, M1 0.726 +/- 0.062, M2 0.746 +/- 0.044,
# M3 0.751 +/- 0.090, Ours 0.699 +/- 0.057.  M1 - S1 = -0.045 (3/8 folds > 0, Wilcoxon
# p = 0.11); Ours - M1 = -0.028 (2/8 folds > 0, p = 0.20).  Images only (use_clinical=False,
# the first 4 folds): S1 0.667, M1 0.679 (M1 - S1 = +0.012, 3/4 folds > 0, p = 0.88), Ours 0.662.
@pytest.mark.slow
@pytest.mark.xfail(reason="not reproduced at the cpu preset: S1 0.771 vs M1 0.726 AUC over 8 "
                          "paired folds (M1 - S1 = -0.045, Wilcoxon p = 0.11); the simulator's "
                          "PV repeats most of AP's MVI signs (docs/guide/cmir.rst)",
                   strict=False)
def test_multi_phase_beats_single_phase(table_2):
    auc = table_2.summary["auc_mean"]
    assert auc["M1"] > auc["S1"], auc


@pytest.mark.slow
@pytest.mark.xfail(reason="not reproduced at the cpu preset: Ours 0.699 vs M1 0.726 AUC over 8 "
                          "paired folds (Ours - M1 = -0.028, Wilcoxon p = 0.20)", strict=False)
def test_full_model_at_least_multi_phase(table_2):
    auc = table_2.summary["auc_mean"]
    assert auc["Ours"] >= auc["M1"], auc
