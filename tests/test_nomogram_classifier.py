"""`NomogramClassifier` against statsmodels and Stata (spector), bad input, ordinal model."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from statsmodels.miscmodels.ordinal_model import OrderedModel

from mvikit.clinical import NomogramClassifier
from mvikit.exceptions import DataWarning
from mvikit.preprocessing import ClinicalPreprocessor


def simulated(n=250, seed=1):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=["a", "b", "c", "d", "e"])
    lp = 1.0 * X["a"] - 0.8 * X["b"] + 0.35 * X["c"] - 0.3
    y = (rng.random(n) < expit(lp)).astype(int)
    return X, y


def test_spector_matches_stata():
    # Stata: logit GRADE GPA TUCE PSI on statsmodels' spector data (evaluation.md)
    data = sm.datasets.spector.load_pandas()
    model = NomogramClassifier(selection=None).fit(data.exog, data.endog)
    table = model.summary_.loc[["GPA", "TUCE", "PSI", "Intercept"]]
    np.testing.assert_allclose(table["coef"],
                               [2.82611297201, 0.0951576702557, 2.37868772835, -13.0213483201],
                               rtol=5e-7)
    np.testing.assert_allclose(table["se"],
                               [1.26294114526, 0.141554207662, 1.06456430165, 4.93132462871],
                               rtol=5e-7)
    assert model.result_.llf == pytest.approx(-12.8896, abs=5e-5)
    np.testing.assert_allclose(table["odds_ratio"], np.exp(table["coef"]), rtol=1e-14)


def test_summary_equals_statsmodels_logit_on_selected_design():
    X, y = simulated()
    model = NomogramClassifier(selection="backward").fit(X, y)
    assert model.selected_features_ == ["a", "b", "c"]
    reference = sm.Logit(y, sm.add_constant(X[model.selected_features_])).fit(disp=0)
    ci = reference.conf_int()
    table = model.summary_
    for column, expected in [("coef", reference.params), ("se", reference.bse),
                             ("z", reference.tvalues), ("p_value", reference.pvalues),
                             ("ci_lower", ci[0]), ("ci_upper", ci[1])]:
        np.testing.assert_allclose(table[column], expected, rtol=1e-8, atol=1e-12,
                                   err_msg=column)
    np.testing.assert_allclose(table["odds_ratio"], np.exp(reference.params), rtol=1e-8)
    np.testing.assert_allclose(table["or_ci_upper"], np.exp(ci[1]), rtol=1e-8)
    # predictions are those of the statsmodels model; unselected columns get 0
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], reference.predict(), rtol=1e-8)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(model.decision_function(X), reference.fittedvalues, rtol=1e-8)
    assert model.coef_.shape == (1, 5) and np.all(model.coef_[0, 3:] == 0)
    np.testing.assert_array_equal(model.classes_, [0, 1])
    assert model.score(X, y) == accuracy_score(y, reference.predict() > 0.5)


def test_string_labels_and_html():
    X, y = simulated()
    labels = np.where(y == 1, "MVI+", "MVI-")
    model = NomogramClassifier(selection=None).fit(X, labels)
    np.testing.assert_array_equal(model.classes_, ["MVI+", "MVI-"])
    # the positive class is classes_[1] = "MVI-": coefficients flip sign
    reference = NomogramClassifier(selection=None).fit(X, y)
    np.testing.assert_allclose(model.coef_, -reference.coef_, rtol=1e-8)
    html = model._repr_html_()
    assert "odds_ratio" in html and "<table" in html and "selection=None" in html


def test_bad_input():
    X, y = simulated()
    with pytest.raises(ValueError, match="binary but y has 3 classes.*ordinal=True"):
        NomogramClassifier().fit(X, np.arange(len(y)) % 3)
    with pytest.warns(DataWarning, match="kept no variable out of 2; the model is intercept"):
        empty = NomogramClassifier().fit(X[["d", "e"]], y)  # two noise columns
    # R's step(): the intercept-only model, whose probability is the prevalence
    assert empty.selected_features_ == [] and not empty.coef_.any()
    np.testing.assert_allclose(empty.predict_proba(X[["d", "e"]])[:, 1], np.mean(y))
    separated = X.assign(e=y + 0.1 * X["e"].abs())  # e > 1 exactly when y == 1
    with pytest.warns(DataWarning, match="Variable 'e' separates the outcome"):
        NomogramClassifier(selection=None).fit(separated, y)


def test_ordinal_matches_ordered_model():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "noise"])
    latent = 1.2 * X["a"] - 0.7 * X["b"] + rng.logistic(size=300)
    grade = pd.Series(pd.Categorical(np.array(["M0", "M1", "M2"])[np.digitize(latent, [0, 1.5])],
                                     categories=["M0", "M1", "M2"], ordered=True))
    model = NomogramClassifier(ordinal=True, selection="backward").fit(X, grade)
    assert model.selected_features_ == ["a", "b"]
    reference = OrderedModel(grade.cat.codes.to_numpy(), X[["a", "b"]], distr="logit").fit(
        method="bfgs", disp=0, gtol=1e-8)
    np.testing.assert_allclose(model.summary_["coef"], reference.params, rtol=1e-5)
    proba = model.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba, reference.predict(X[["a", "b"]]), atol=1e-6)
    np.testing.assert_array_equal(model.classes_, ["M0", "M1", "M2"])
    np.testing.assert_array_equal(model.predict(X), np.array(["M0", "M1", "M2"])[
        proba.argmax(axis=1)])


def test_pipeline_groups_dummies_of_one_variable():
    rng = np.random.default_rng(5)
    n = 300
    stage = rng.choice(["0", "A", "B"], n)
    size = rng.normal(4, 1.5, n)
    site = rng.choice(["left", "right", "caudate"], n)  # noise, 2 dummies
    lp = -2 + 1.5 * (stage == "B") + 0.8 * (stage == "A") + 0.4 * size
    y = (rng.random(n) < expit(lp)).astype(int)
    X = pd.DataFrame({"BCLC": stage, "size": size, "site": site})
    model = make_pipeline(ClinicalPreprocessor(), NomogramClassifier()).set_output(
        transform="pandas").fit(X, y)
    clf = model[-1]
    assert clf.selected_variables_ == ["size", "BCLC"] or clf.selected_variables_ == [
        "BCLC", "size"]
    assert set(clf.selected_features_) == {"size", "BCLC=A", "BCLC=B"}
    # the screen tested both site dummies jointly (2 df): the same Wald test as statsmodels
    uni = clf.univariable_summary_
    site_p = uni.loc[uni["variable"] == "site", "p_variable"].iloc[0]
    design = ClinicalPreprocessor().set_output(transform="pandas").fit_transform(X)
    fit = sm.Logit(y, sm.add_constant(design[["site=left", "site=right"]])).fit(disp=0)
    reference = fit.wald_test(np.eye(3)[1:], scalar=True)
    assert site_p == pytest.approx(float(reference.pvalue), rel=1e-8)


def test_constant_column_of_a_small_fold_is_fitted_not_a_crash():
    # a level absent from a training fold leaves an all-zero column: statsmodels Logit
    # cannot invert its Hessian; the GLM (IRLS, pseudo-inverse) fallback gives the same
    # estimates for the other columns and no coefficient for the empty one
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=80), "hcv": np.zeros(80)})
    y = (X["a"] + rng.logistic(size=80) > 0).astype(int)
    full = NomogramClassifier(selection=None).fit(X, y)
    reference = sm.Logit(y, sm.add_constant(X[["a"]])).fit(disp=0)
    assert full.summary_.loc["a", "coef"] == pytest.approx(reference.params["a"], rel=1e-8)
    assert full.summary_.loc["a", "se"] == pytest.approx(reference.bse["a"], rel=1e-6)
    assert full.summary_.loc["hcv", "coef"] == 0
    selected = NomogramClassifier().fit(X, y)
    assert selected.selected_variables_ == ["a"]
    assert np.isnan(selected.univariable_summary_.loc["hcv", "p_value"])


def test_nomogram_of_a_model_fitted_on_a_plain_frame_needs_no_x():
    from mvikit.clinical import Nomogram

    X, y = simulated()
    model = NomogramClassifier(selection=None).fit(X, y)
    stored = Nomogram.from_estimator(model)
    given = Nomogram.from_estimator(model, X)
    # the ranges and fills stored at fit (rms's datadist) are those of the training frame
    pd.testing.assert_frame_equal(stored.points(X), given.points(X))
    np.testing.assert_allclose(model.datadist_["max"], X.max().to_numpy())
    np.testing.assert_allclose(model.datadist_["median"], X.median().to_numpy())
