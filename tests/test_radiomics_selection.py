"""Radiomics selectors and RadScore: against scipy/sklearn references, hand-computed
cases and invariants; fold safety in cross-validation."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from sklearn.feature_selection import f_classif
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mvikit.clinical import EmptySelectionError
from mvikit.radiomics import (
    CorrelationFilter,
    LassoSelector,
    MRMRSelector,
    NearZeroVarianceFilter,
    RadScore,
    UnivariateFilter,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n = 120
    y = np.repeat([0, 1], n // 2)
    signal = y + rng.normal(size=n)
    X = pd.DataFrame({
        "signal": signal,
        "signal_twin": signal + 0.1 * rng.normal(size=n),
        "weak": 0.4 * y + rng.normal(size=n),
        "noise1": rng.normal(size=n),
        "noise2": rng.normal(size=n),
    }, index=[f"p{i}" for i in range(n)])
    return X, y


def test_near_zero_variance_matches_caret_definition():
    X = pd.DataFrame({
        "ok": np.arange(20.0),
        "constant": np.zeros(20),
        "rare": [0.0] * 19 + [1.0],            # freq ratio 19, 10 % unique
        "rare_but_varied": [0.0] * 10 + list(range(1, 11)),  # ratio 10, 55 % unique
    })
    f = NearZeroVarianceFilter().fit(X)
    np.testing.assert_allclose(f.freq_ratio_, [1.0, np.inf, 19.0, 10.0])
    np.testing.assert_allclose(f.percent_unique_, [100.0, 5.0, 10.0, 55.0])
    # caret's strict inequality: a ratio of exactly freqCut = 95/5 = 19 is kept
    assert f.get_feature_names_out().tolist() == ["ok", "rare", "rare_but_varied"]
    f = NearZeroVarianceFilter(freq_cut=10).fit(X)
    assert f.get_feature_names_out().tolist() == ["ok", "rare_but_varied"]
    out = f.transform(X)
    assert isinstance(out, pd.DataFrame) and out.index.equals(X.index)


def test_correlation_filter_invariant_and_documented_choice(data):
    X, _ = data
    rng = np.random.default_rng(1)
    X = X.assign(mix=X["signal"] + X["weak"] + 0.1 * rng.normal(size=len(X)))
    f = CorrelationFilter(threshold=0.7).fit(X)
    kept = X.loc[:, f.get_support()]
    corr = np.abs(np.corrcoef(kept.to_numpy(), rowvar=False))
    np.fill_diagonal(corr, 0)
    assert corr.max() <= 0.7
    # the most correlated pair first; the member with the larger mean |r| goes
    first = f.dropped_.iloc[0]
    assert {first["dropped"], first["kept"]} == {"signal", "signal_twin"}
    abs_r = np.abs(X.corr().to_numpy())
    np.fill_diagonal(abs_r, np.nan)
    means = pd.Series(np.nanmean(abs_r, axis=1), index=X.columns)
    assert means[first["dropped"]] >= means[first["kept"]]
    assert first["abs_r"] == pytest.approx(abs(X["signal"].corr(X["signal_twin"])))
    spearman = CorrelationFilter(threshold=0.7, method="spearman").fit(X)
    assert not spearman.get_support()[[0, 1]].all()


@pytest.mark.parametrize("test, reference", [
    ("mannwhitney", lambda a, b: stats.mannwhitneyu(a, b, alternative="two-sided").pvalue),
    ("ttest", lambda a, b: stats.ttest_ind(a, b, equal_var=False).pvalue),
])
def test_univariate_p_values_equal_scipy(data, test, reference):
    X, y = data
    f = UnivariateFilter(test=test).fit(X, y)
    expected = [reference(X[c][y == 0], X[c][y == 1]) for c in X.columns]
    np.testing.assert_allclose(f.p_values_, expected, rtol=1e-12)
    assert f.get_support().tolist() == (np.asarray(expected) < 0.05).tolist()
    top2 = UnivariateFilter(test=test, k=2).fit(X, y)
    assert set(top2.get_feature_names_out()) == set(X.columns[np.argsort(expected)[:2]])


def test_univariate_multiclass_uses_kruskal(data):
    X, _ = data
    y3 = np.arange(len(X)) % 3
    f = UnivariateFilter(alpha=1.0).fit(X, y3)
    expected = [stats.kruskal(*(X[c][y3 == k] for k in range(3))).pvalue for c in X.columns]
    np.testing.assert_allclose(f.p_values_, expected, rtol=1e-12)


def test_mrmr_greedy_steps_by_hand(data):
    X, y = data
    f = MRMRSelector(n_features=3).fit(X, y)
    F = f_classif(X, y)[0]
    np.testing.assert_allclose(f.relevance_, F)
    corr = np.abs(np.corrcoef(X.to_numpy(), rowvar=False))
    first = int(np.argmax(F))
    criterion = F / corr[:, first]
    criterion[first] = -np.inf
    second = int(np.argmax(criterion))
    assert f.ranking_[:2].tolist() == [first, second]
    assert f.scores_[1] == pytest.approx(criterion[second])
    mid = MRMRSelector(n_features=2, scheme="difference").fit(X, y)
    criterion = F - corr[:, first]
    criterion[first] = -np.inf
    assert mid.ranking_[1] == int(np.argmax(criterion))
    mi = MRMRSelector(n_features=2, relevance="mi", random_state=0).fit(X, y)
    assert mi.get_feature_names_out()[0] in ("signal", "signal_twin")


def test_lasso_selector_equals_logistic_regression_cv(data):
    X, y = data
    f = LassoSelector(random_state=0).fit(X, y)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    ref = LogisticRegressionCV(Cs=np.logspace(-3, 1, 10), cv=cv, l1_ratios=(1.0,),
                               solver="liblinear",
                               scoring="roc_auc", max_iter=1000, random_state=0,
                               use_legacy_attributes=False)
    ref.fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(f.coef_, ref.coef_[0])
    assert f.get_support().tolist() == (ref.coef_[0] != 0).tolist()
    assert "signal" in f.get_feature_names_out() or "signal_twin" in f.get_feature_names_out()


def test_rad_score_formula_in_original_units(data):
    X, y = data
    X = X.assign(signal=100 + 15 * X["signal"])  # a feature in scanner units
    score = RadScore(random_state=0).fit(X, y)
    standardised = score.estimator_.decision_function(score.scaler_.transform(X))
    np.testing.assert_allclose(score.decision_function(X), standardised, rtol=1e-10)
    out = score.transform(X)
    assert out.columns.tolist() == ["rad_score"] and out.index.equals(X.index)
    np.testing.assert_allclose(score.predict_proba(X)[:, 1], expit(standardised))
    # evaluate the printed formula on the raw features
    match = re.fullmatch(r"rad_score = (\S+) (.*)", score.formula_)
    value = np.full(len(X), float(match.group(1)))
    for sign, coef, name in re.findall(r"([+-]) (\S+)\*(\S+)", match.group(2)):
        value += (1 if sign == "+" else -1) * float(coef) * X[name].to_numpy()
    np.testing.assert_allclose(value, out["rad_score"], rtol=1e-5, atol=1e-5)
    summary = score.summary_
    assert summary.index.tolist() == score.selected_features_
    np.testing.assert_allclose(summary["coef"] * summary["sd"], summary["coef_std"])


def test_rad_score_cross_validated_discrimination(data):
    X, y = data
    auc = cross_val_score(make_pipeline(NearZeroVarianceFilter(), CorrelationFilter(),
                                        RadScore(random_state=0)),
                          X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                          scoring="roc_auc")
    # signal ~ N(y, 1): the population AUC is Phi(1 / sqrt 2) = 0.76
    assert 0.68 < auc.mean() < 0.86


def test_bad_targets_and_empty_selections(data):
    X, y = data
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        RadScore().fit(X, np.arange(len(X)) % 3)
    rng = np.random.default_rng(5)
    noise = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    with pytest.raises(EmptySelectionError, match="UnivariateFilter kept no feature"):
        UnivariateFilter(alpha=0.001).fit(noise, np.repeat([0, 1], 30))
    with pytest.raises(EmptySelectionError, match="RadScore: the LASSO kept no feature"):
        RadScore(Cs=[1e-4]).fit(noise, np.repeat([0, 1], 30))
