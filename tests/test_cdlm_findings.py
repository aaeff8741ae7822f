"""Seed 003's findings on the simulated paired cohort (slow: ``pytest -m slow``).

CDLM > the best single-phase signature, CDLM > the AFP clinical model, and on the same
patients CDLM-MRI > CDLM-CT (paired DeLong on pooled out-of-fold predictions).  Eight
stratified folds of the default-size paired cohort, CPU preset (about 15 CPU-minutes);
``benchmarks/cdlm_findings.py --folds 8`` measures the same orderings (signatures read
from the CDLMs' own per-phase networks) and prints every table.  Measured there (8
folds, 270 patients, pooled out-of-fold AUC): CDLM-CT 0.739 vs best CT signature
(CT_PLAIN) 0.648, paired DeLong p = 0.018; CDLM-MRI 0.738 vs best MRI signature (PRE)
0.661, p = 0.040 -- the first finding holds.  The other two do not appear (xfail,
numbers below).
"""

import numpy as np
import pytest

from mvikit.datasets import make_paired_cohort
from mvikit.deep import CDLM_PHASES, cdlm_models
from mvikit.model_selection import compare_models, head_to_head

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def result():
    pair = make_paired_cohort(270, random_state=0)
    params = {"preset": "cpu", "random_state": 0}
    ct, mri = cdlm_models("ct", **params), cdlm_models("mri", **params)
    models = {"Clinical model": ct["Clinical model"]}
    models.update({k: v for k, v in [*ct.items(), *mri.items()] if k.startswith("Signature")})
    models["CDLM-CT"], models["CDLM-MRI"] = ct["CDLM"], mri["CDLM"]
    return compare_models(models, pair.X, np.asarray(pair.y), cv=8, random_state=0,
                          scoring=["auc"], threshold_cv="train")


def _auc(result, name):
    return head_to_head(result, name, "Clinical model").auc.loc[name, "auc"]


@pytest.mark.parametrize("modality", ["CT", "MRI"])
def test_cdlm_beats_the_best_single_phase_signature(result, modality):
    best = max(_auc(result, f"Signature {p}") for p in CDLM_PHASES[modality.lower()])
    assert _auc(result, f"CDLM-{modality}") > best


_MEASURED = (
    "benchmarks/cdlm_findings.py --folds 8, the paired 270-patient cohort (seed 0), CPU "
    "preset, pooled out-of-fold AUCs: AFP model 0.719, CDLM-CT 0.739, CDLM-MRI 0.738. CDLM "
    "minus AFP +0.019 for both (95% CI -0.06 to +0.10, p = 0.64): the ordering holds but is "
    "far from significant. CDLM-MRI minus CDLM-CT -0.000 (95% CI -0.023 to +0.023, p = "
    "0.996). The per-phase signatures reach only 0.53-0.66 (image ceiling of the simulator "
    "0.86): the CPU preset's networks (width 1/4, 64x64, random init, about 236 training "
    "patients) learn little of the image signs, so both fusions are carried by the same "
    "selected clinical items and largely the same radiological descriptors (size, "
    "multifocality, necrosis, mosaic: the paired cohort draws them from the same "
    "patients), and the modalities tie")


@pytest.mark.xfail(reason=_MEASURED, strict=False)
@pytest.mark.parametrize("modality", ["CT", "MRI"])
def test_cdlm_beats_the_clinical_model(result, modality):
    test = head_to_head(result, f"CDLM-{modality}", "Clinical model").delong
    assert test.difference > 0 and test.p_value < 0.05


@pytest.mark.xfail(reason=_MEASURED, strict=False)
def test_cdlm_mri_beats_cdlm_ct_on_the_same_patients(result):
    test = head_to_head(result, "CDLM-MRI", "CDLM-CT").delong
    assert test.difference > 0
