"""`StepwiseSelector`: hand-traced backward elimination, forward/AIC/LR/L1 against references."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from mvikit.clinical import NomogramClassifier, StepwiseSelector
from mvikit.exceptions import DataWarning


@pytest.fixture(scope="module")
def data():
    # afp and size matter, alb weakly, plt and age are noise
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.normal(size=(150, 5)), columns=["afp", "size", "alb", "plt", "age"])
    y = (rng.random(150) < expit(0.9 * X["afp"] + 0.6 * X["size"] + 0.25 * X["alb"])).astype(int)
    return X, y


def _wald_p(X, y, columns):
    return sm.Logit(y, sm.add_constant(X[columns])).fit(disp=0).pvalues.drop("const")


def test_backward_wald_reproduces_hand_trace(data):
    X, y = data
    # Hand trace (statsmodels Logit, Wald p-values; remove the largest while > 0.05):
    # step 0: afp <1e-4, size 0.0001, alb 0.4858, plt 0.7463, age 0.2242 -> remove plt
    #         (AIC after: 173.981)
    # step 1: afp <1e-4, size 0.0001, alb 0.4948, age 0.2198            -> remove alb (172.448)
    # step 2: afp <1e-4, size 0.0001, age 0.2613                        -> remove age (171.733)
    # step 3: afp <1e-4, size <1e-4: all <= 0.05, stop with [afp, size]
    selector = StepwiseSelector(selection="backward", screen=False).fit(X, y)
    path = selector.selection_path_
    assert list(path["action"]) == ["remove"] * 3
    assert list(path["variable"]) == ["plt", "alb", "age"]
    np.testing.assert_allclose(path["p_value"], [0.7463, 0.4948, 0.2613], atol=5e-5)
    np.testing.assert_allclose(path["aic"], [173.981, 172.448, 171.733], atol=5e-4)
    # the same p-values from independent statsmodels fits
    columns = list(X.columns)
    for _, step in path.iterrows():
        p = _wald_p(X, y, columns)
        assert p.idxmax() == step["variable"]
        assert step["p_value"] == pytest.approx(p.max(), rel=1e-9)
        columns.remove(step["variable"])
    assert selector.selected_features_ == ["afp", "size"] == columns
    np.testing.assert_array_equal(selector.transform(X.to_numpy()), X[["afp", "size"]])
    assert list(selector.get_feature_names_out()) == ["afp", "size"]


def test_univariable_screen_then_backward(data):
    X, y = data
    # univariable Wald p: afp 2.5e-5, size 5.3e-4, alb 0.659, plt 0.270, age 0.018
    # -> alb and plt screened out (p >= 0.05); backward on (afp, size, age) removes age (0.261)
    selector = StepwiseSelector(selection="backward", screen=True).fit(X, y)
    uni = selector.univariable_summary_
    for column in X.columns:
        reference = sm.Logit(y, sm.add_constant(X[[column]])).fit(disp=0)
        assert uni.loc[column, "p_value"] == pytest.approx(reference.pvalues[column], rel=1e-8)
        assert uni.loc[column, "coef"] == pytest.approx(reference.params[column], rel=1e-8)
    path = selector.selection_path_
    assert list(zip(path["action"], path["variable"])) == [
        ("screen out", "alb"), ("screen out", "plt"), ("remove", "age")]
    assert selector.selected_variables_ == ["afp", "size"]
    only_screen = StepwiseSelector(selection="univariable").fit(X, y)
    assert only_screen.selected_features_ == ["afp", "size", "age"]


def test_backward_aic_and_lr_against_statsmodels(data):
    X, y = data
    aic = StepwiseSelector(selection="backward", criterion="aic", screen=False).fit(X, y)
    columns = list(X.columns)
    for _, step in aic.selection_path_.iterrows():
        trials = {c: sm.Logit(y, sm.add_constant(X[[u for u in columns if u != c]])).fit(
            disp=0).aic for c in columns}
        assert min(trials, key=trials.get) == step["variable"]
        assert step["aic"] == pytest.approx(min(trials.values()), rel=1e-9)
        columns.remove(step["variable"])
    assert aic.selected_features_ == columns == ["afp", "size"]
    lr = StepwiseSelector(selection="backward", criterion="lr", screen=False).fit(X, y)
    full = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    reduced = sm.Logit(y, sm.add_constant(X.drop(columns="plt"))).fit(disp=0)
    expected = stats.chi2.sf(2 * (full.llf - reduced.llf), 1)
    assert lr.selection_path_.iloc[0]["variable"] == "plt"
    assert lr.selection_path_.iloc[0]["p_value"] == pytest.approx(expected, rel=1e-7)


def test_forward_and_both(data):
    X, y = data
    forward = StepwiseSelector(selection="forward", screen=False).fit(X, y)
    # step 1: the smallest univariable p (afp); step 2: size given afp; then nothing < 0.05
    assert list(forward.selection_path_["variable"]) == ["afp", "size"]
    p_size = _wald_p(X, y, ["afp", "size"])["size"]
    assert forward.selection_path_.iloc[1]["p_value"] == pytest.approx(p_size, rel=1e-9)
    remaining = [c for c in X.columns if c not in ("afp", "size")]
    assert min(_wald_p(X, y, ["afp", "size", c])[c] for c in remaining) > 0.05
    for criterion in ("wald", "lr", "aic"):
        both = StepwiseSelector(selection="both", criterion=criterion, screen=False).fit(X, y)
        assert both.selected_features_ == ["afp", "size"]


def test_l1_matches_sklearn_lasso_support():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 8))
    y = (rng.random(400) < expit(1.2 * X[:, 0] - X[:, 1])).astype(int)
    selector = StepwiseSelector(selection="l1", screen=False, C=0.05, random_state=0).fit(X, y)
    lasso = LogisticRegression(C=0.05, l1_ratio=1.0, solver="saga", max_iter=5000,
                               random_state=0).fit(X, y)
    np.testing.assert_array_equal(selector.support_, lasso.coef_[0] != 0)
    assert selector.support_[:2].all()
    with pytest.warns(DataWarning, match="selection='l1'.*kept no variable.*intercept-only"):
        empty = StepwiseSelector(selection="l1", screen=False, C=1e-4).fit(X, y)
    assert not empty.support_.any()


def test_selector_in_pipeline_is_fold_safe(data):
    X, y = data
    model = make_pipeline(StepwiseSelector(), LogisticRegression())
    scores = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    # every fold selects on its own training rows: the same as selecting by hand per fold
    for score, (train, test) in zip(scores, StratifiedKFold(3).split(X, y)):
        chosen = StepwiseSelector().fit(X.iloc[train], y[train]).selected_features_
        fitted = LogisticRegression().fit(X.iloc[train][chosen], y[train])
        expected = roc_auc_score(y[test], fitted.decision_function(X.iloc[test][chosen]))
        assert score == pytest.approx(expected, rel=1e-10)
    # the classifier selects exactly as the selector does
    assert NomogramClassifier().fit(X, y).selected_features_ == \
        StepwiseSelector().fit(X, y).selected_features_


def _separated_case():
    # 12 noise/weak columns, a 3-level variable (two dummies) and a flag present only in
    # MVI+ patients (quasi-complete separation: its MLE is infinite)
    rng = np.random.default_rng(21)
    n = 120
    X = pd.DataFrame(rng.normal(size=(n, 12)), columns=[f"lab{j}" for j in range(12)])
    level = rng.choice(3, n)
    X["stage=A"], X["stage=B"] = (level == 1).astype(float), (level == 2).astype(float)
    y = (rng.random(n) < expit(0.8 * X["lab0"] - 0.6 * X["lab1"] + 0.7 * level)).astype(int)
    X["flag"] = ((y == 1) & (rng.random(n) < 0.3)).astype(float)
    return X, y


@pytest.mark.parametrize("selection, criterion", [("backward", "aic"), ("backward", "lr"),
                                                  ("forward", "lr"), ("both", "aic")])
def test_fast_candidate_fits_select_as_statsmodels_fits(selection, criterion):
    # AIC/LR candidates are fitted by the warm-started numpy Newton (logistic_llf); the
    # selection must be the one of a statsmodels fit per candidate, step by step
    from mvikit.clinical._selection import SELECTION_PARAMETERS, select_variables

    X, y = _separated_case()
    params = {**{k: getattr(StepwiseSelector(), k) for k in SELECTION_PARAMETERS},
              "selection": selection, "criterion": criterion, "screen": False}
    fast = select_variables(X.to_numpy(), y, list(X.columns), params, owner="t")
    reference = select_variables(X.to_numpy(), y, list(X.columns), params, owner="t",
                                 fast=False)
    assert fast[1] == reference[1]
    np.testing.assert_array_equal(fast[0], reference[0])
    path, expected = fast[2], reference[2]
    assert list(zip(path["action"], path["variable"])) == list(
        zip(expected["action"], expected["variable"]))
    np.testing.assert_allclose(path["aic"], expected["aic"], rtol=1e-9)
    np.testing.assert_allclose(path["p_value"], expected["p_value"], atol=1e-6)
    assert "flag" in fast[1] or selection != "backward"  # the separating flag is kept


def test_logistic_llf_equals_statsmodels_also_under_separation():
    from mvikit.clinical._fitting import logistic_llf

    X, y = _separated_case()
    design = sm.add_constant(X.to_numpy())
    clean = design[:, :-1]  # without the separating flag: an ordinary MLE
    reference = sm.Logit(y, clean).fit(disp=0, method="newton", tol=1e-10)
    llf, beta, n_iter = logistic_llf(clean, y)
    assert llf == pytest.approx(reference.llf, abs=1e-10)
    np.testing.assert_allclose(beta, reference.params, atol=1e-6)
    # separated: statsmodels runs 100 Newton steps towards the supremum; the numpy fit
    # stops within 1e-11 of it, in far fewer steps, and a warm start needs fewer still
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        separated = sm.Logit(y, design).fit(disp=0, method="newton", maxiter=100, tol=1e-10)
    assert not separated.mle_retvals["converged"]
    llf, beta, n_iter = logistic_llf(design, y)
    assert llf == pytest.approx(separated.llf, abs=1e-9) and n_iter < 100
    warm = logistic_llf(design, y, start=np.append(reference.params, 5.0))
    assert warm[0] == pytest.approx(separated.llf, abs=1e-9) and warm[2] < n_iter
