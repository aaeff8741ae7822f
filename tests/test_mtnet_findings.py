"""Seed 004's findings on the simulated cohort (slow): the five MTnet models.

MTnet (Fu et al.): Model CR-DR beats Model CR and Model DR (AUC 0.877 vs 0.822
and 0.751 in training, DeLong, NRI, IDI), Model NoSeg-CR-DR and Model
Logistic-CR-DR do not beat CR-DR, and the high-risk group (training Youden
cut-off) has a shorter time to macrovascular invasion (log-rank p < 0.001).

Here: macrovascular invasion within 12 months of the default simulated cohort
(270 patients, ``CT_PV``; 177 labelled, 26 events), the ``"cpu"`` preset, 8
stratified folds through `compare_models` (``benchmarks/mtnet_findings.py --folds 8``
runs the same comparison and writes every table).  Run with ``pytest -m slow``:
about 50 CPU-minutes.

Measured there (pooled out-of-fold AUC): CR-DR 0.759, DR 0.463, CR 0.661,
NoSeg-CR-DR 0.747, Logistic-CR-DR 0.675 (DeLong p of CR-DR against them < 0.001,
0.026, 0.80, 0.11); held-out high- vs low-risk time to MaVI: HR (low vs high) 0.32,
log-rank p = 0.0002.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import horizon_task, mtnet_models
from mvikit.metrics import roc_auc_ci
from mvikit.model_selection import compare_models
from mvikit.survival import risk_group_summary


@pytest.fixture(scope="module")
def comparison():
    cohort = make_hcc_cohort(task="mavi", sequences=("CT_PV",), modality="ct", random_state=0)
    X, y, _ = horizon_task(cohort.X, cohort.y, 12)
    result = compare_models(mtnet_models(preset="cpu", random_state=0), X, y,
                            cv=RepeatedStratifiedKFold(n_splits=8, n_repeats=1, random_state=0),
                            threshold="youden", threshold_cv="train", scoring=["auc"],
                            random_state=0)
    assert len(result.failures) == 0
    auc = {name: roc_auc_ci(y, result.oof_predictions(name)["score"].to_numpy()).auc
           for name in result.models}
    return cohort, X, y, result, auc


@pytest.mark.slow
def test_cr_dr_beats_the_clinical_model(comparison):
    *_, auc = comparison
    assert auc["Model CR-DR"] > auc["Model CR"], auc


@pytest.mark.slow
def test_cr_dr_beats_the_image_model(comparison):
    *_, auc = comparison
    assert auc["Model CR-DR"] > auc["Model DR"], auc


@pytest.mark.slow
def test_neither_ablation_beats_cr_dr(comparison):
    *_, auc = comparison
    assert auc["Model NoSeg-CR-DR"] <= auc["Model CR-DR"], auc
    assert auc["Model Logistic-CR-DR"] <= auc["Model CR-DR"], auc


@pytest.mark.slow
def test_held_out_high_risk_group_invades_sooner(comparison):
    cohort, X, _, result, _ = comparison
    oof = result.oof_predictions("Model CR-DR")
    groups = np.where(oof.loc[X.index, "y_pred"].to_numpy() == 1, "high", "low")
    mavi = cohort.y[cohort.X.index.get_indexer(X.index)]
    tests = risk_group_summary(groups, {"MaVI": mavi}, reference="high").tests.loc["MaVI"]
    assert tests["p"] < 0.05 and tests["HR"] < 1, tests
