"""`Nomogram`: points reproduce predict_proba through log, one-hot, imputation and indicators."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler

from mvikit import Volume
from mvikit.clinical import Nomogram, NomogramClassifier, StepwiseSelector
from mvikit.plotting import plot_nomogram
from mvikit.preprocessing import ClinicalPreprocessor


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(7)
    n = 300
    afp = np.exp(rng.normal(3, 2, n))
    size = rng.normal(4, 1.5, n).clip(0.5)
    stage = rng.choice(["0", "A", "B"], n, p=[0.3, 0.45, 0.25])
    capsule = rng.random(n) < 0.6
    noise = rng.normal(size=n)
    lp = -3 + 0.35 * np.log(afp) + 0.4 * size + 1.0 * (stage == "B") - 0.6 * capsule
    y = (rng.random(n) < expit(lp)).astype(int)
    X = pd.DataFrame({"AFP": afp, "size": size, "BCLC": stage, "capsule": capsule,
                      "noise": noise, "HBP": [Volume(np.zeros((2, 4, 4)))] * n},
                     index=[f"P{i:03d}" for i in range(n)])
    X.loc[X.index[::9], "AFP"] = np.nan  # gaps: imputed by the training median
    X.loc[X.index[::13], "BCLC"] = np.nan
    return X, y


def _pipeline(**pre):
    return make_pipeline(ClinicalPreprocessor(log_transform=["AFP"], **pre),
                         NomogramClassifier(selection=None))


@pytest.mark.parametrize("pre", [{}, {"add_indicator": True}, {"encode": "ordinal"},
                                 {"scale": False, "drop": "if_binary"}])
def test_points_reproduce_predict_proba(cohort, pre):
    X, y = cohort
    model = _pipeline(**pre).fit(X, y)
    nomogram = Nomogram.from_estimator(model)
    points = nomogram.points(X)
    expected = model.predict_proba(X)
    np.testing.assert_allclose(nomogram.probability(points["total_points"]), expected,
                               atol=1e-6)
    np.testing.assert_allclose(nomogram.linear_predictor(points["total_points"]),
                               model.decision_function(X), atol=1e-9)
    assert points.index.equals(X.index)
    # rms convention: the widest variable spans exactly 0-100 over its range
    spans = [t.extremes()[1] - t.extremes()[0] for t in nomogram.terms]
    assert max(spans) * nomogram.points_per_unit == pytest.approx(100)
    assert points.drop(columns="total_points").min().min() >= -1e-9


def test_points_by_hand_and_missing_values(cohort):
    X, y = cohort
    model = _pipeline().fit(X, y)
    pre, clf = model[0], model[-1]
    nomogram = Nomogram.from_estimator(model)
    beta = dict(zip(pre.get_feature_names_out(), clf.coef_[0]))
    fm = pre.feature_map_.set_index("feature")
    # size: slope per cm = beta / SD; its row spans the training range
    slope = beta["size"] / fm.loc["size", "scale"]
    low, high = pre.data_range_["size"]
    size_row = nomogram.points(pd.DataFrame({"AFP": [20.0, 20.0], "size": [low, high],
                                             "BCLC": ["A", "A"], "capsule": [True, True],
                                             "noise": [0.0, 0.0]}))["size"]
    assert size_row.iloc[1] - size_row.iloc[0] == pytest.approx(
        abs(slope) * (high - low) * nomogram.points_per_unit)
    # a missing AFP gets the points of the training median (in ng/mL, before the log)
    patient = {"size": 4.0, "BCLC": "B", "capsule": False, "noise": 0.0}
    missing = nomogram.points(pd.DataFrame([{**patient, "AFP": np.nan}]))
    median = nomogram.points(pd.DataFrame([{**patient, "AFP": pre.statistics_["AFP"]}]))
    assert missing["AFP"].iloc[0] == pytest.approx(median["AFP"].iloc[0])
    # BCLC "0" is the reference level: the dummy effects become points differences
    bclc = nomogram.points(pd.DataFrame([{**patient, "AFP": 50.0, "BCLC": b}
                                         for b in ["0", "A", "B"]]))["BCLC"]
    np.testing.assert_allclose(np.diff(bclc.to_numpy()) / nomogram.points_per_unit,
                               [beta["BCLC=A"], beta["BCLC=B"] - beta["BCLC=A"]])


def test_risk_calculator_and_selected_pipeline(cohort):
    X, y = cohort
    model = make_pipeline(ClinicalPreprocessor(log_transform="auto", add_indicator=True),
                          NomogramClassifier(selection="backward")).set_output(
        transform="pandas").fit(X, y)
    assert "noise" not in model[-1].selected_variables_
    nomogram = Nomogram.from_estimator(model)
    assert "noise" not in [t.name for t in nomogram.terms]
    risk = nomogram.risk_calculator()
    for patient_id in X.index[:12]:
        row = X.loc[patient_id].drop("HBP").to_dict()
        assert risk(row) == pytest.approx(model.predict_proba(X.loc[[patient_id]])[0, 1],
                                          abs=1e-6)
    # an absent value is imputed as the pipeline does
    partial = X.iloc[:1].assign(size=np.nan)
    assert risk({k: v for k, v in X.iloc[0].drop("HBP").items() if k != "size"}) == \
        pytest.approx(model.predict_proba(partial)[0, 1], abs=1e-6)


def test_selector_scaler_and_sklearn_logistic(cohort):
    X, y = cohort
    numeric = X[["size", "noise"]].assign(logAFP=np.log(X["AFP"].fillna(20)))
    model = make_pipeline(StandardScaler(), StepwiseSelector(screen=False),
                          LogisticRegression(C=1e6, tol=1e-10)).fit(numeric, y)
    nomogram = Nomogram.from_estimator(model, X=numeric)
    total = nomogram.points(numeric)["total_points"]
    np.testing.assert_allclose(nomogram.probability(total), model.predict_proba(numeric),
                               atol=1e-6)
    with pytest.raises(ValueError, match="needs X"):
        Nomogram.from_estimator(model)


def test_column_transformer_branches_and_a_derived_score(cohort):
    # branch protocol: a ClinicalPreprocessor branch (original units), a passthrough
    # column, and a one-column PCA "score" of two labs (its own axis, computed from the row)
    X, y = cohort
    X = X.assign(alb=np.linspace(30, 45, len(X)), bili=np.linspace(5, 20, len(X))[::-1])
    union = ColumnTransformer([
        ("clinical", ClinicalPreprocessor(log_transform=["AFP"]), ["AFP", "BCLC"]),
        ("labs", make_pipeline(StandardScaler(), PCA(n_components=1)), ["alb", "bili"]),
        ("raw", "passthrough", ["size"])])
    model = make_pipeline(union, NomogramClassifier(selection=None)).fit(X, y)
    nomogram = Nomogram.from_estimator(model, X=X)
    assert [t.name for t in nomogram.terms] == ["AFP", "BCLC", "pca0", "size"]
    points = nomogram.points(X)
    np.testing.assert_allclose(nomogram.probability(points["total_points"]),
                               model.predict_proba(X), atol=1e-6)
    score = model[0].named_transformers_["labs"].transform(X[["alb", "bili"]])[:, 0]
    assert nomogram.terms[2].value_range == pytest.approx((score.min(), score.max()))
    # a FeatureUnion with weights: the weight is folded into the branch's coefficients
    weighted = make_pipeline(
        FeatureUnion([("a", ClinicalPreprocessor(clinical=["size"])),
                      ("b", ClinicalPreprocessor(clinical=["noise"]))],
                     transformer_weights={"b": 3.0}),
        NomogramClassifier(selection=None)).fit(X, y)
    total = Nomogram.from_estimator(weighted).points(X)["total_points"]
    np.testing.assert_allclose(Nomogram.from_estimator(weighted).probability(total),
                               weighted.predict_proba(X), atol=1e-6)
    # a multi-column step it cannot look through is a clear error
    bad = make_pipeline(ClinicalPreprocessor(clinical=["size", "noise"]), PCA(2),
                        NomogramClassifier(selection=None)).fit(X, y)
    with pytest.raises(TypeError, match="cannot map a model back through PCA"):
        Nomogram.from_estimator(bad)


def test_ordinal_nomogram():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=250), "b": rng.normal(size=250)})
    grade = np.digitize(X["a"] - 0.5 * X["b"] + rng.logistic(size=250), [0.0, 1.5])
    model = NomogramClassifier(ordinal=True, selection=None).fit(X, grade)
    nomogram = Nomogram.from_estimator(model, X=X)
    total = nomogram.points(X)["total_points"]
    np.testing.assert_allclose(nomogram.probability(total), model.predict_proba(X), atol=1e-6)
    assert nomogram.risk_calculator()({"a": 0.3, "b": -1.0}).shape == (3,)


def test_plot_places_ticks_at_their_points(cohort):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = cohort
    model = _pipeline().fit(X, y)
    nomogram = Nomogram.from_estimator(model)
    fig, ax = plt.subplots()
    assert plot_nomogram(nomogram, ax=ax) is ax
    labels = [t.get_text() for t in ax.texts]
    for row in ["Points", "AFP", "size", "BCLC", "capsule", "Total points",
                "Linear predictor", "Risk of 1"]:
        assert row in labels
    # the "B" tick of BCLC sits at x = its points
    bclc_b = nomogram.points(X.iloc[:1].assign(BCLC="B"))["BCLC"].iloc[0]
    b_texts = [t for t in ax.texts if t.get_text() == "B"]
    assert any(t.get_position()[0] == pytest.approx(bclc_b) for t in b_texts)
    # the risk 0.5 tick sits where total points give lp = 0
    total_max = sum((t.extremes()[1] - t.extremes()[0]) * nomogram.points_per_unit
                    for t in nomogram.terms)
    half = [t for t in ax.texts if t.get_text() == "0.5"]
    if half:
        x_expected = -nomogram.intercept * nomogram.points_per_unit * 100 / total_max
        assert half[-1].get_position()[0] == pytest.approx(x_expected)
    plt.close(fig)


def test_risk_calculator_refuses_misspelt_names_and_log_of_non_positive_values():
    # issue 12, class 8: 'afp' misspelt was imputed: the risk was the same for AFP 5000 and 1
    import warnings as _warnings

    from mvikit.exceptions import CohortError, DataWarning
    from mvikit.preprocessing import ClinicalPreprocessor

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"AFP": np.exp(rng.normal(3, 2, 300)), "size": rng.normal(4, 1.5, 300)})
    y = (0.5 * np.log(X["AFP"]) + 0.4 * X["size"] + rng.logistic(size=300) > 3.2).astype(int)
    model = make_pipeline(ClinicalPreprocessor(log_transform=["AFP"]),
                          NomogramClassifier(selection=None)).fit(X, y)
    risk = Nomogram.from_estimator(model).risk_calculator()
    assert risk({"AFP": 5000, "size": 4}) > risk({"AFP": 1, "size": 4})
    with pytest.raises(CohortError, match=r"unknown variable\(s\) 'afp' \(did you mean 'AFP'\?\)"
                                          r".*\['AFP', 'size'\]"):
        risk({"afp": 5000, "size": 4})
    with pytest.raises(CohortError, match="'AFP' is on a log axis.*> 0; got 0.0"):
        risk({"AFP": 0, "size": 4})
    with pytest.warns(DataWarning, match=r"no value for \['AFP'\]; imputed"):
        imputed = risk({"size": 4})
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        assert imputed == pytest.approx(risk({"AFP": np.nan, "size": 4}))


# ---------------------------------------------------------------- Cox nomogram
def _cox_pipeline():
    from lifelines.datasets import load_rossi

    from mvikit.survival import CoxPHSurvival, make_survival_target

    rossi = load_rossi()
    rossi.index = [f"R{i:03d}" for i in range(len(rossi))]
    y = make_survival_target(rossi, time="week", event="arrest")
    X = rossi.drop(columns=["week", "arrest"]).astype({"fin": bool, "race": bool})
    model = make_pipeline(ClinicalPreprocessor(), CoxPHSurvival())
    model = model.set_output(transform="pandas").fit(X, y)
    return model, X, y


def test_cox_nomogram_equals_predict_survival_function():
    import matplotlib.pyplot as plt

    model, X, y = _cox_pipeline()
    nomogram = Nomogram.from_estimator(model, times=[13, 26, 52])
    assert nomogram.is_survival
    total = nomogram.points(X)["total_points"]
    # the linear predictor read from total points is predict()
    np.testing.assert_allclose(nomogram.linear_predictor(total), model.predict(X), atol=1e-9)
    expected = np.vstack([fn([13.0, 26.0, 51.99]) for fn in model.predict_survival_function(X)])
    got = nomogram.survival_probability(total, times=[13.0, 26.0, 51.99])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(nomogram.probability(total)[:, :2], expected[:, :2], atol=1e-6)
    # median survival: the first training time with S(t | x) <= 0.5 (Rossi: rarely reached)
    curves = model.predict_survival_function(X, return_array=True)
    below = curves <= 0.5
    expected_median = np.where(below.any(axis=1), model[-1].unique_times_[below.argmax(axis=1)],
                               np.nan)
    np.testing.assert_array_equal(nomogram.median_survival(total), expected_median)
    row = nomogram.risk_calculator()(X.iloc[0])
    assert row["S(26)"] == pytest.approx(expected[0, 1], abs=1e-6)
    assert set(row) == {"S(13)", "S(26)", "S(52)", "median survival"}
    ax = nomogram.plot()
    labels = {t.get_text() for t in ax.texts}
    assert {"Survival at 13", "Survival at 26", "Survival at 52", "Points",
            "Total points"} <= labels
    plt.close("all")
    with pytest.raises(TypeError, match="need the nomogram of a Cox model"):
        _classifier_nomogram().median_survival([10.0])


def _classifier_nomogram():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"size": rng.normal(4, 1.5, 100)})
    y = (X["size"] + rng.logistic(size=100) > 4).astype(int)
    return Nomogram.from_estimator(NomogramClassifier(selection=None).fit(X, y), X=X)


def test_cox_nomogram_refuses_strata():
    from lifelines.datasets import load_rossi

    from mvikit.survival import CoxPHSurvival, make_survival_target

    rossi = load_rossi()
    y = make_survival_target(rossi, time="week", event="arrest")
    model = CoxPHSurvival(strata=["race"]).fit(rossi.drop(columns=["week", "arrest"]), y)
    with pytest.raises(ValueError, match=r"stratified on \['race'\]"):
        Nomogram.from_estimator(model)


def test_cox_nomogram_median_survival_on_lung():
    from lifelines.datasets import load_lung

    from mvikit.survival import CoxPHSurvival, make_survival_target

    lung = load_lung().dropna()
    y = make_survival_target(lung, time="time", event="status")
    X = lung[["age", "sex", "ph.ecog", "ph.karno"]]
    model = make_pipeline(ClinicalPreprocessor(), CoxPHSurvival())
    model = model.set_output(transform="pandas").fit(X, y)
    nomogram = Nomogram.from_estimator(model, times=[180, 365, 730])
    total = nomogram.points(X)["total_points"]
    curves = model.predict_survival_function(X, return_array=True)
    below = curves <= 0.5
    assert below.any(axis=1).mean() > 0.9  # most patients reach their median
    expected = np.where(below.any(axis=1), model[-1].unique_times_[below.argmax(axis=1)], np.nan)
    np.testing.assert_array_equal(nomogram.median_survival(total), expected)
    expected_s = np.vstack([fn([180.0, 365.0, 730.0]) for fn in model.predict_survival_function(X)])
    np.testing.assert_allclose(nomogram.probability(total), expected_s, atol=1e-6)
