"""The combined radiomics nomogram recipe: the pipeline equals its parts composed by
hand; on the simulated cohort (slow) the signature beats chance and the combined
model is compared with clinical-only and radiomics-only (paired DeLong)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import make_pipeline

from mvikit.clinical import NomogramClassifier
from mvikit.datasets import make_hcc_cohort
from mvikit.model_selection import compare_models
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.radiomics import (ComBat, RadiomicsFeatures, RadScore, radiomics_nomogram,
                              radiomics_signature)

from test_radiomics_features import FIRSTORDER, tiny_cohort


def test_combined_nomogram_equals_its_parts(tmp_path):
    X, y = tiny_cohort(30, seed=3, effect=1.0)
    rng = np.random.default_rng(3)
    X["afp"] = np.exp(rng.normal(3 + y, 1.0))
    rf = RadiomicsFeatures(feature_classes=FIRSTORDER, memory=tmp_path)
    model = radiomics_nomogram(rf, rad_score=RadScore(random_state=0),
                               classifier=NomogramClassifier(selection=None)).fit(X, y)
    final = model[-1]
    assert final.feature_names_in_.tolist() == ["rad_score", "age", "afp"]
    signature = radiomics_signature(rf, rad_score=RadScore(random_state=0)).fit(X, y)
    clinical = ClinicalPreprocessor().set_output(transform="pandas").fit(X)
    design = pd.concat([signature.transform(X), clinical.transform(X)], axis=1)
    np.testing.assert_allclose(design["rad_score"], signature[-1].decision_function(
        signature[:-1].transform(X)))
    expected = expit(design.to_numpy() @ final.coef_[0] + final.intercept_[0])
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], expected, rtol=1e-10)
    assert final.summary_.loc["rad_score", "coef"] > 0


def test_signature_with_combat_on_passthrough_centre():
    X, y = tiny_cohort(16, seed=4, effect=3.0)
    X["center"] = np.where(np.arange(16) % 3 == 0, "A", "B")
    rf = RadiomicsFeatures(feature_classes=FIRSTORDER, passthrough=["center"])
    pipe = radiomics_signature(rf, selectors=[("combat", ComBat(batch="center"))],
                               rad_score=RadScore(random_state=0))
    # the imputer must not see the centre column: ComBat goes before it
    pipe.steps.insert(1, pipe.steps.pop(2))
    pipe.fit(X, y)
    harmonised = pipe[:2].transform(X)
    assert "center" not in harmonised.columns and harmonised.shape[1] == 4
    # ComBat inside the pipeline equals ComBat on the extracted features
    features = rf.fit_transform(X)
    np.testing.assert_allclose(harmonised, ComBat().fit_transform(features))


@pytest.mark.slow
def test_simulated_cohort_signature_and_combined_model(tmp_path):
    cohort = make_hcc_cohort(n_patients=150, task="mvi", random_state=1)
    # memory: each (patient, sequence, ROI) is extracted once for all folds and models
    rf = RadiomicsFeatures(peritumoral_mm=5.0, feature_classes=["firstorder", "glcm"],
                           memory=tmp_path)
    models = {
        "combined": radiomics_nomogram(rf, rad_score=RadScore(random_state=0)),
        "clinical": make_pipeline(ClinicalPreprocessor(), NomogramClassifier()),
        "radiomics": radiomics_signature(rf, rad_score=RadScore(random_state=0)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compare_models(models, cohort.X, cohort.y, random_state=0,
                                cv=RepeatedStratifiedKFold(n_splits=5, n_repeats=2,
                                                           random_state=0))
    auc = result.summary["auc_mean"]
    assert auc["radiomics"] > 0.6
    assert auc["combined"] > auc["radiomics"]
