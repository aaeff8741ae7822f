"""The combined radiomics nomogram recipe: the pipeline equals its parts composed by
hand; on the simulated cohort (slow) the signature beats chance and the combined
model is compared with clinical-only and radiomics-only (paired DeLong)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _helpers import FIRSTORDER, tiny_cohort
from scipy.special import expit
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from mvikit.clinical import Nomogram, NomogramClassifier
from mvikit.datasets import make_hcc_cohort
from mvikit.exceptions import CohortError
from mvikit.model_selection import compare_models
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.radiomics import (
    ComBat,
    RadiomicsFeatures,
    RadScore,
    radiomics_nomogram,
    radiomics_signature,
)


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


@pytest.fixture(scope="module")
def combined(tmp_path_factory):
    """A fitted combined nomogram on a small simulated cohort: rad-score + age + AFP (log)
    + BCLC (one-hot), every variable kept."""
    X, y = tiny_cohort(40, seed=5, effect=1.5)
    rng = np.random.default_rng(5)
    X["afp"] = np.exp(rng.normal(3 + 0.5 * y, 1.2))
    X["bclc"] = rng.choice(["0", "A", "B"], len(y))
    rf = RadiomicsFeatures(feature_classes=FIRSTORDER, memory=tmp_path_factory.mktemp("rf"))
    model = radiomics_nomogram(rf, rad_score=RadScore(random_state=0),
                               clinical=ClinicalPreprocessor(log_transform=["afp"]),
                               classifier=NomogramClassifier(selection=None)).fit(X, y)
    return X, y, model, rf


def test_combined_nomogram_in_original_units_reproduces_predict_proba(combined):
    X, y, model, _ = combined
    nomogram = Nomogram.from_estimator(model)
    assert [t.name for t in nomogram.terms] == ["Rad-score", "age", "afp", "bclc"]
    # points from the cohort frame (rad-score computed from the volumes) give predict_proba
    points = nomogram.points(X)
    np.testing.assert_allclose(nomogram.probability(points["total_points"]),
                               model.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(nomogram.linear_predictor(points["total_points"]),
                               model.decision_function(X), atol=1e-9)
    # the Rad-score axis is in rad-score units: points = beta * score * points_per_unit
    signature, clinical = (model[0].named_transformers[k] for k in ("radiomics", "clinical"))
    score = signature.transform(X)["rad_score"].to_numpy()
    beta = dict(zip(model[-1].feature_names_in_, model[-1].coef_[0]))
    rad = nomogram.terms[0]
    assert rad.column == "rad_score" and rad.value_range == pytest.approx(
        (score.min(), score.max()))  # the training range (RadScore.score_range_)
    np.testing.assert_allclose(np.diff(points["Rad-score"].to_numpy()),
                               beta["rad_score"] * np.diff(score) * nomogram.points_per_unit)
    # clinical axes in original units: AFP in ng/mL (log inside), age in years
    afp = nomogram.terms[2]
    assert afp.log and afp.value_range == clinical.data_range_["afp"]
    assert nomogram.terms[1].slope == pytest.approx(
        beta["age"] / clinical.feature_map_.set_index("feature").loc["age", "scale"])


def test_combined_nomogram_takes_a_given_rad_score_and_the_risk_calculator(combined):
    X, y, model, _ = combined
    nomogram = Nomogram.from_estimator(model)
    expected = model.predict_proba(X)[:, 1]
    signature = model[0].named_transformers["radiomics"]
    # a rad-score given as a number (no volumes) is used as such
    given = X[["age", "afp", "bclc"]].assign(rad_score=signature.transform(X)["rad_score"])
    total = nomogram.points(given)["total_points"]
    np.testing.assert_allclose(nomogram.probability(total)[:, 1], expected, atol=1e-6)
    risk = nomogram.risk_calculator()
    for i, pid in enumerate(X.index[:3]):
        # a cohort frame row (volumes -> rad-score), and a bedside dict with the rad-score
        assert risk(X.loc[pid]) == pytest.approx(expected[i], abs=1e-6)
        assert risk(given.loc[pid].to_dict()) == pytest.approx(expected[i], abs=1e-6)
    # a missing clinical value is imputed; a missing rad-score without volumes is an error
    partial = {"age": 61.0, "bclc": "B", "rad_score": 0.3}
    reference = model.predict_proba(X.iloc[:1].assign(age=61.0, afp=np.nan, bclc="B"))[0, 1]
    shift = nomogram.terms[0].slope * (0.3 - given["rad_score"].iloc[0])
    assert risk(partial) == pytest.approx(expit(np.log(reference / (1 - reference)) + shift),
                                          abs=1e-6)
    with pytest.raises(CohortError, match="no 'rad_score' value.*volumes"):
        risk({"age": 61.0, "afp": 20.0, "bclc": "A"})
    with pytest.raises(CohortError, match="'rad_score' needs numbers.*'p1'"):
        nomogram.points(given.assign(rad_score=["high"] * len(given)).iloc[1:])


def test_combined_nomogram_through_scalers_after_the_union_and_the_score(combined):
    X, y, _, rf = combined
    signature = radiomics_signature(rf, rad_score=RadScore(random_state=0))
    signature.steps.append(("scale_score", StandardScaler()))  # a z-scored rad-score
    model = Pipeline([
        ("features", radiomics_nomogram(clinical=ClinicalPreprocessor(log_transform=["afp"]))[0]
         .set_params(radiomics=signature)),
        ("scale", StandardScaler()),
        ("nomogram", NomogramClassifier(selection=None))]).set_output(transform="pandas")
    model.fit(X, y)
    nomogram = Nomogram.from_estimator(model, X=X)
    total = nomogram.points(X)["total_points"]
    np.testing.assert_allclose(nomogram.probability(total), model.predict_proba(X), atol=1e-6)
    rad = nomogram.terms[0]  # still in rad-score units: the two scalers are folded in
    score = signature[:-1].transform(X)["rad_score"]
    assert rad.value_range == pytest.approx((score.min(), score.max()))


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
    # its nomogram on all patients (features from the cache): points give predict_proba
    fitted = models["combined"].fit(cohort.X, cohort.y)
    nomogram = Nomogram.from_estimator(fitted)
    total = nomogram.points(cohort.X)["total_points"]
    np.testing.assert_allclose(nomogram.probability(total), fitted.predict_proba(cohort.X),
                               atol=1e-6)
