"""Tests of `mvikit.preprocessing.ClinicalPreprocessor` (numbers against sklearn and by hand)."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mvikit import Volume
from mvikit.exceptions import CohortError, ColumnRoleError, DataWarning
from mvikit.preprocessing import ClinicalPreprocessor


def cohort(n=40, seed=0):
    """A small cohort frame: numeric labs with NaN, booleans, strings, an ordered
    categorical, a skewed lab and two image columns."""
    rng = np.random.default_rng(seed)
    age = rng.normal(58, 10, n).round()
    age[[1, 5]] = np.nan
    afp = np.exp(rng.normal(3, 2, n))  # heavy-tailed, strictly positive
    alb = rng.normal(40, 5, n)
    alb[3] = np.nan
    hbv = rng.random(n) < 0.7
    cirrhosis = pd.Series(rng.random(n) < 0.4, dtype=object)
    cirrhosis[[2, 7]] = np.nan
    sex = np.where(rng.random(n) < 0.8, "M", "F").astype(object)
    sex[4] = np.nan
    bclc = pd.Categorical(rng.choice(["0", "A", "B"], n), categories=["0", "A", "B"],
                          ordered=True)
    margin = rng.choice(["smooth", "non-smooth", "irregular"], n)
    vol = Volume(np.zeros((2, 4, 4)))
    X = pd.DataFrame({"age": age, "AFP": afp, "PRE": [vol] * n, "ALB": alb, "HBV": hbv,
                      "cirrhosis": cirrhosis.to_numpy(), "sex": sex, "BCLC": bclc, "margin": margin,
                      "tumor_mask": [vol] * n},
                     index=[f"P{i:03d}" for i in range(n)])
    logit = 0.08 * (np.nan_to_num(age, nan=58) - 58) + 0.5 * np.log(afp) - 1.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_numeric_matches_sklearn_imputer_and_scaler():
    X, _ = cohort()
    pre = ClinicalPreprocessor(clinical=["age", "AFP", "ALB"]).fit(X)
    reference = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    expected = reference.fit_transform(X[["age", "AFP", "ALB"]].to_numpy(float))
    np.testing.assert_allclose(pre.transform(X), expected, rtol=1e-12, atol=1e-12)
    assert pre.statistics_["age"] == np.nanmedian(X["age"])
    np.testing.assert_allclose(pre.scaler_.mean_, reference[-1].mean_)


def test_hand_values_bool_string_and_indicator():
    X = pd.DataFrame({"x": [1.0, 3.0, np.nan, 8.0], "flag": [True, np.nan, False, True],
                      "sex": ["F", "M", np.nan, "M"]}, index=["a", "b", "c", "d"])
    pre = ClinicalPreprocessor(add_indicator=True).set_output(transform="pandas")
    out = pre.fit_transform(X)
    # x: median of (1, 3, 8) = 3 -> (1, 3, 3, 8); mean 15/4 = 3.75; population SD
    # sqrt(((1-3.75)^2 + 2*(3-3.75)^2 + (8-3.75)^2) / 4) = sqrt(26.75/4)
    sd = np.sqrt(26.75 / 4)
    np.testing.assert_allclose(out["x"], (np.array([1, 3, 3, 8]) - 3.75) / sd)
    # flag: most frequent True fills b; sex: "M" (2 of 3) fills c, "F" is the reference
    np.testing.assert_array_equal(out["flag"], [1, 1, 0, 1])
    np.testing.assert_array_equal(out["sex=M"], [0, 1, 1, 1])
    assert list(out.columns) == ["x", "flag", "sex=M", "x_missing", "flag_missing",
                                 "sex_missing"]
    np.testing.assert_array_equal(out["flag_missing"], [0, 1, 0, 0])
    np.testing.assert_array_equal(out["x_missing"], [0, 0, 1, 0])
    assert list(out.index) == ["a", "b", "c", "d"]
    assert pre.binary_columns_ == ["flag"] and pre.categorical_columns_ == ["sex"]
    # a gap in a column complete during fit: imputed, no indicator (none was fitted)
    later = pre.transform(pd.DataFrame({"x": [2.0], "flag": [np.nan], "sex": ["F"]},
                                       index=["e"]))
    assert later["flag"].iloc[0] == 1 and later["flag_missing"].iloc[0] == 1


def test_volume_and_mask_columns_are_dropped_and_names():
    X, _ = cohort()
    pre = ClinicalPreprocessor(drop=None).fit(X)
    assert "PRE" not in pre.clinical_columns_ and "tumor_mask" not in pre.clinical_columns_
    assert pre.n_features_in_ == X.shape[1]
    assert list(pre.feature_names_in_) == list(X.columns)
    names = list(pre.get_feature_names_out())
    assert names == ["age", "AFP", "ALB", "HBV", "cirrhosis", "sex=F", "sex=M", "BCLC=0",
                     "BCLC=A", "BCLC=B", "margin=irregular", "margin=non-smooth",
                     "margin=smooth"]
    assert pre.transform(X).shape == (40, len(names))
    # default drop="first" leaves out the reference level (first category)
    first = ClinicalPreprocessor().fit(X)
    assert "sex=F" not in first.get_feature_names_out()
    assert "BCLC=0" not in first.get_feature_names_out()


def test_feature_map_reproduces_transform():
    X, _ = cohort()
    pre = ClinicalPreprocessor(log_transform="auto", add_indicator=True).fit(X)
    Z = pre.transform(X)
    fm = pre.feature_map_
    assert list(fm["feature"]) == list(pre.get_feature_names_out())
    for j, row in fm.iterrows():
        raw = X[row["column"]]
        if row["kind"] == "indicator":
            expected = raw.isna().astype(float)
        else:
            filled = raw.where(raw.notna(), row["fill"])
            if row["kind"] == "onehot":
                expected = (filled == row["category"]).astype(float)
            elif row["kind"] == "binary":
                expected = filled.astype(float)
            else:
                g = np.log(filled.astype(float)) if row["log"] else filled.astype(float)
                expected = (g - row["center"]) / row["scale"]
        np.testing.assert_allclose(Z[:, j], expected.to_numpy(float), atol=1e-12,
                                   err_msg=row["feature"])


def test_log_transform_auto_and_list():
    X, _ = cohort()
    pre = ClinicalPreprocessor(log_transform="auto").fit(X)
    # AFP is lognormal (skewness far above 1); age and ALB are normal
    assert pre.skewness_["AFP"] > 1 and abs(pre.skewness_["ALB"]) < 1
    assert pre.log_columns_ == ["AFP"]
    logged = np.log(X["AFP"])
    np.testing.assert_allclose(pre.transform(X)[:, 1],
                               (logged - logged.mean()) / logged.std(ddof=0))
    assert pre.data_range_["AFP"] == (X["AFP"].min(), X["AFP"].max())
    assert ClinicalPreprocessor(log_transform=["ALB"]).fit(X).log_columns_ == ["ALB"]
    bad = X.assign(ALB=X["ALB"] - 100)
    with pytest.raises(CohortError, match="'ALB'.*'P000'.*<= 0"):
        ClinicalPreprocessor(log_transform=["ALB"]).fit(bad)
    with pytest.raises(ColumnRoleError, match="'sex', which is not a numeric"):
        ClinicalPreprocessor(log_transform=["sex"]).fit(X)
    fitted = ClinicalPreprocessor(log_transform=["AFP"]).fit(X)
    with pytest.raises(CohortError, match="'AFP' is log-transformed.*'P002'"):
        fitted.transform(X.assign(AFP=np.where(np.arange(40) == 2, 0.0, X["AFP"])))


def test_ordinal_encoding_uses_categorical_order():
    X, _ = cohort()
    pre = ClinicalPreprocessor(encode="ordinal", clinical=["BCLC", "margin"]).fit(X)
    Z = pre.transform(X)
    np.testing.assert_array_equal(Z[:, 0], X["BCLC"].cat.codes)  # 0 < A < B
    # unordered strings: sorted order irregular < non-smooth < smooth
    codes = {"irregular": 0, "non-smooth": 1, "smooth": 2}
    np.testing.assert_array_equal(Z[:, 1], X["margin"].map(codes))
    assert pre.categories_["BCLC"] == ["0", "A", "B"]


def test_unseen_categories():
    X, _ = cohort()
    new = X.iloc[:3].copy()
    new["margin"] = ["lobulated", "smooth", "lobulated"]
    onehot = ClinicalPreprocessor(clinical=["margin"], drop=None).fit(X)
    with pytest.warns(DataWarning, match="'margin'.*'P000', 'P002'.*all zeros"):
        Z = onehot.transform(new)
    np.testing.assert_array_equal(Z, [[0, 0, 0], [0, 0, 1], [0, 0, 0]])
    ordinal = ClinicalPreprocessor(clinical=["margin"], encode="ordinal").fit(X)
    with pytest.warns(DataWarning, match="'margin'.*'P000', 'P002'.*'lobulated'"):
        Z = ordinal.transform(new)
    fill_code = ordinal.categories_["margin"].index(ordinal.statistics_["margin"])
    np.testing.assert_array_equal(Z[:, 0], [fill_code, 2, fill_code])


def test_all_nan_column_and_bad_cells_raise():
    X, _ = cohort()
    with pytest.raises(CohortError, match=r"\['GGT'\] have no observed value"):
        ClinicalPreprocessor().fit(X.assign(GGT=np.nan))
    pre = ClinicalPreprocessor().fit(X)
    bad = X.astype({"age": object})
    bad.loc["P004", "age"] = "sixty"
    with pytest.raises(CohortError, match="'age'.*'P004'.*'sixty'"):
        pre.transform(bad)
    with pytest.raises(ColumnRoleError, match="No clinical column"):
        ClinicalPreprocessor().fit(X[["PRE", "tumor_mask"]])
    with pytest.raises(ColumnRoleError, match="'agee'.*did you mean 'age'"):
        ClinicalPreprocessor(clinical=["agee"]).fit(X)
    with pytest.raises(CohortError, match="mixes value types"):
        ClinicalPreprocessor().fit(X.assign(margin=["a", 1] * 20))


def test_pandas_output_pickle_clone_and_arrays():
    X, _ = cohort()
    pre = ClinicalPreprocessor(add_indicator=True).set_output(transform="pandas").fit(X)
    out = pre.transform(X)
    assert out.index.equals(X.index)
    again = pickle.loads(pickle.dumps(pre))
    pd.testing.assert_frame_equal(again.transform(X), out)
    cloned = clone(pre)
    assert not hasattr(cloned, "feature_map_")
    pd.testing.assert_frame_equal(cloned.fit_transform(X), out)
    # a plain numeric matrix: every column numeric, names x0, x1, ...
    A = X[["age", "ALB"]].to_numpy(float)
    plain = ClinicalPreprocessor().fit(A)
    assert list(plain.get_feature_names_out()) == ["x0", "x1"]
    np.testing.assert_allclose(plain.transform(A), pre.transform(X)[["age", "ALB"]])


def test_cross_val_score_with_volume_columns():
    X, y = cohort(n=60)
    model = make_pipeline(ClinicalPreprocessor(log_transform="auto"), LogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # unseen categories in small folds
        scores = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    assert np.all(np.isfinite(scores))
    # on the same folds, the same steps spelled out with sklearn give the same AUCs
    ours = make_pipeline(ClinicalPreprocessor(clinical=["age", "AFP", "ALB", "HBV"],
                                              log_transform=["AFP"]), LogisticRegression())
    reference = make_pipeline(ColumnTransformer([
        ("plain", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         ["age", "ALB"]),
        ("logged", make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(np.log),
                                 StandardScaler()), ["AFP"]),
        ("flag", "passthrough", ["HBV"])]), LogisticRegression(tol=1e-10))
    ours.set_params(logisticregression__tol=1e-10)
    a = cross_val_score(ours, X, y, cv=3, scoring="roc_auc")
    b = cross_val_score(reference, X, y, cv=3, scoring="roc_auc")
    np.testing.assert_allclose(a, b, atol=1e-12)
    assert a.mean() > 0.6
