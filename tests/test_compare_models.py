"""compare_models: numbers against scikit-learn / scipy / mvikit.metrics references."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Perceptron
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    ShuffleSplit,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from mvikit.exceptions import CohortError, TrainingError
from mvikit.model_selection import compare_models

CV = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=1)


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=120, n_features=6, n_informative=3, flip_y=0.1,
                               random_state=0)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)],
                     index=pd.Index([f"P{i:03d}" for i in range(120)], name="patient"))
    return X, y


def _models():
    return {"logistic": LogisticRegression(), "naive Bayes": GaussianNB(),
            "tree": DecisionTreeClassifier(max_depth=3, random_state=0)}


@pytest.fixture(scope="module")
def result(binary):
    X, y = binary
    return compare_models(_models(), X, y, cv=CV, threshold=0.5)


def _split_order(result):
    """(repeat, fold) of each split, in split order."""
    return list(zip(result.splits["repeat"], result.splits["fold"]))


def test_summary_is_mean_and_sd_of_the_fold_table(result):
    for model in result.models:
        for metric in result.metrics:
            values = result.scores.query("model == @model and metric == @metric")["value"]
            assert len(values) == 6
            assert result.summary.loc[model, f"{metric}_mean"] == pytest.approx(np.mean(values))
            assert result.summary.loc[model, f"{metric}_sd"] == pytest.approx(
                np.std(values, ddof=1))
    assert result.summary["n_folds"].tolist() == [6, 6, 6]


def test_fold_auc_and_accuracy_equal_cross_val_score(binary, result):
    X, y = binary
    auc = cross_val_score(LogisticRegression(), X, y, cv=CV, scoring="roc_auc")
    acc = cross_val_score(LogisticRegression(), X, y, cv=CV, scoring="accuracy")
    # threshold 0.5 on predict_proba is LogisticRegression's own predict
    table = result.scores.query("model == 'logistic'").set_index(["repeat", "fold", "metric"])
    ours_auc = [table.loc[(r, f, "auc"), "value"] for r, f in _split_order(result)]
    ours_acc = [table.loc[(r, f, "accuracy"), "value"] for r, f in _split_order(result)]
    np.testing.assert_allclose(ours_auc, auc, rtol=1e-12)
    np.testing.assert_allclose(ours_acc, acc, rtol=1e-12)


def test_splits_are_identical_across_models_and_recorded(binary, result):
    X, y = binary
    expected = [test for _, test in CV.split(X, y)]
    assert result.splits["repeat"].tolist() == [0, 0, 0, 1, 1, 1]
    for s, test in enumerate(expected):
        np.testing.assert_array_equal(result.splits.loc[s, "test_indices"], test)
        repeat, fold = result.splits.loc[s, ["repeat", "fold"]]
        for _model in result.models:
            rows = result.predictions.query(
                "model == @_model and repeat == @repeat and fold == @fold")
            np.testing.assert_array_equal(rows["position"].to_numpy(), test)
            assert rows["sample"].tolist() == X.index[test].tolist()


def test_wilcoxon_p_equals_scipy_on_paired_columns(result):
    wide = result.scores.pivot_table(index=["repeat", "fold"], columns=["model", "metric"],
                                     values="value")
    for model in ("naive Bayes", "tree"):
        for metric in ("auc", "kappa"):
            expected = stats.wilcoxon(wide[(model, metric)], wide[("logistic", metric)])
            row = result.wilcoxon.query("model == @model and metric == @metric").iloc[0]
            assert row["n_pairs"] == 6
            assert row["statistic"] == pytest.approx(expected.statistic)
            assert row["p_value"] == pytest.approx(expected.pvalue)
        assert result.summary.loc[model, "p_wilcoxon"] == pytest.approx(
            result.wilcoxon.query("model == @model and metric == 'auc'")["p_value"].iloc[0])


def test_pooled_oof_predictions_equal_cross_val_predict(binary):
    X, y = binary
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=3)
    res = compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()}, X, y, cv=cv,
                         threshold=0.5)
    expected = cross_val_predict(LogisticRegression(), X, y, cv=cv, method="predict_proba")[:, 1]
    oof = res.oof_predictions("logistic", repeat=0)
    assert oof.index.tolist() == X.index.tolist()
    np.testing.assert_allclose(oof["score"].to_numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(oof["y_true"].to_numpy(), y)


def test_delong_rows_equal_delong_test_on_pooled_predictions(binary, result):
    from mvikit.metrics import delong_test

    X, y = binary
    assert result.delong["repeat"].tolist() == [0, 1, 0, 1]
    for _, row in result.delong.iterrows():
        model = result.oof_predictions(row["model"], row["repeat"])["score"].to_numpy()
        ref = result.oof_predictions("logistic", row["repeat"])["score"].to_numpy()
        expected = delong_test(y, model, ref, paired=True)
        assert row["n"] == 120
        assert row["auc"] == pytest.approx(roc_auc_score(y, model))
        assert row["p_value"] == pytest.approx(expected.p_value)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected.ci)
    first = result.delong.query("repeat == 0").set_index("model")["p_value"]
    assert result.summary.loc["tree", "p_delong"] == first["tree"]
    assert np.isnan(result.summary.loc["logistic", "p_delong"])


def test_parallel_run_equals_serial_run(binary):
    X, y = binary
    models = {"logistic": LogisticRegression(), "tree": DecisionTreeClassifier(random_state=0)}
    serial = compare_models(models, X, y, cv=CV, n_jobs=1, random_state=0)
    parallel = compare_models(models, X, y, cv=CV, n_jobs=2, random_state=0)
    pd.testing.assert_frame_equal(serial.scores, parallel.scores)
    pd.testing.assert_frame_equal(serial.predictions, parallel.predictions)
    pd.testing.assert_frame_equal(serial.summary, parallel.summary)


def test_default_cv_is_five_by_five_repeated_stratified(binary):
    X, y = binary
    res = compare_models({"nb": GaussianNB(), "nb2": GaussianNB(var_smoothing=1e-3)}, X, y,
                         scoring=["auc"], threshold="predict", random_state=0)
    assert len(res.splits) == 25
    assert res.splits.groupby("repeat").size().tolist() == [5] * 5
    # every repeat is a partition of the patients, stratified on y
    for _, frame in res.splits.groupby("repeat"):
        covered = np.sort(np.concatenate(frame["test_indices"].tolist()))
        np.testing.assert_array_equal(covered, np.arange(120))
        for test in frame["test_indices"]:
            assert abs(y[test].mean() - y.mean()) < 0.06


def test_threshold_is_youden_on_training_fold_predictions(binary):
    from mvikit.metrics import youden_threshold

    X, y = binary
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    res = compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()}, X, y, cv=cv,
                         threshold="youden", threshold_cv="train")
    for _s, (train, _test) in enumerate(cv.split(X, y)):
        model = LogisticRegression().fit(X.iloc[train], y[train])
        expected = youden_threshold(y[train], model.predict_proba(X.iloc[train])[:, 1]).threshold
        fit = res.fits.query("model == 'logistic' and fold == @_s").iloc[0]
        assert fit["threshold"] == pytest.approx(expected)
        rows = res.predictions.query("model == 'logistic' and fold == @_s")
        np.testing.assert_array_equal(rows["y_pred"], (rows["score"] >= expected).astype(int))
        # sensitivity of the fold = share of test positives at or above the training cut-off
        positives = rows["score"][rows["y_true"] == 1]
        sens = res.scores.query("model == 'logistic' and fold == @_s and metric == 'sensitivity'")
        assert sens["value"].iloc[0] == pytest.approx(np.mean(positives >= expected))


def test_inner_cv_threshold_never_sees_the_test_fold(binary):
    from mvikit.metrics import youden_threshold

    X, y = binary
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    models = {"logistic": LogisticRegression(), "nb": GaussianNB()}
    res = compare_models(models, X, y, cv=cv, threshold_cv=2, random_state=4)
    # the inner CV seed is the first draw of random_state (cv is given, so none goes to it)
    inner = StratifiedKFold(n_splits=2, shuffle=True,
                            random_state=np.random.RandomState(4).randint(np.iinfo(np.int32).max))
    train, test = next(cv.split(X, y))
    inner_scores = cross_val_predict(LogisticRegression(), X.iloc[train], y[train], cv=inner,
                                     method="predict_proba")[:, 1]
    expected = youden_threshold(y[train], inner_scores).threshold
    first = res.fits.query("model == 'logistic' and fold == 0")["threshold"].iloc[0]
    assert first == pytest.approx(expected)
    # changing the test fold's features must not move the threshold of that fold
    X_changed = X.copy()
    X_changed.iloc[test] = 0.0
    changed = compare_models(models, X_changed, y, cv=cv, threshold_cv=2, random_state=4)
    # equal up to floating-point reassociation (BLAS on another memory layout moves the last
    # bit); a leak of the test fold would move the threshold by far more than 1e-12
    assert changed.fits.query("model == 'logistic' and fold == 0")["threshold"].iloc[0] == \
        pytest.approx(first, rel=1e-12, abs=0)


def test_sklearn_scorer_names_are_accepted(binary):
    X, y = binary
    res = compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()}, X, y, cv=CV,
                         scoring={"AUC": "roc_auc", "log loss": "neg_log_loss"}, threshold=0.5)
    expected = cross_val_score(GaussianNB(), X, y, cv=CV, scoring="neg_log_loss")
    table = res.scores.query("model == 'nb' and metric == 'log loss'").set_index(["repeat", "fold"])
    np.testing.assert_allclose([table.loc[k, "value"] for k in _split_order(res)], expected)
    assert res.primary_metric == "AUC"


class _FailsOnSomeFolds(BaseEstimator, ClassifierMixin):
    """Logistic regression that raises when patient 0 is in its training set."""

    def fit(self, X, y):
        if 0 in np.asarray(X)[:, -1]:
            raise np.linalg.LinAlgError("singular matrix (simulated)")
        self.model_ = LogisticRegression().fit(np.asarray(X)[:, :-1], y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(np.asarray(X)[:, :-1])

    def predict(self, X):
        return self.model_.predict(np.asarray(X)[:, :-1])


def test_failing_model_is_reported_and_others_kept(binary):
    X, y = binary
    X = X.assign(row=np.arange(len(X)))
    models = {"logistic": LogisticRegression(), "fragile": _FailsOnSomeFolds()}
    with pytest.warns(FitFailedWarning, match="fragile: 4 of 6 fits .*LinAlgError"):
        res = compare_models(models, X, y, cv=CV, threshold=0.5)
    # patient 0 is in the training set of 2 of the 3 folds of each repeat
    assert len(res.failures) == 4
    assert set(res.failures["model"]) == {"fragile"}
    assert res.failures["error"].eq("LinAlgError").all()
    assert res.failures["message"].str.contains("singular matrix").all()
    assert res.summary.loc["logistic", "n_folds"] == 6
    assert res.summary.loc["fragile", "n_folds"] == 2
    row = res.wilcoxon.query("model == 'fragile' and metric == 'auc'").iloc[0]
    assert row["n_pairs"] == 2
    assert "Failed fits" in res.to_markdown()


def test_every_fit_failing_raises(binary):
    X, y = binary
    X = X.assign(row=0)
    with pytest.raises(TrainingError, match="Every fit failed.*fragile.*LinAlgError"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compare_models({"fragile": _FailsOnSomeFolds()}, X, y, cv=CV)


def test_fewer_than_two_folds_is_a_clear_error(binary):
    X, y = binary
    with pytest.raises(ValueError, match="fewer than 2 folds"):
        compare_models(_models(), X, y, cv=1)
    with pytest.raises(ValueError, match="produced 1 split.*at least 2 folds"):
        compare_models(_models(), X, y, cv=ShuffleSplit(n_splits=1, random_state=0))


def test_bad_inputs_raise_clear_errors(binary):
    X, y = binary
    y_missing = y.astype(float)
    y_missing[[3, 7]] = np.nan
    with pytest.raises(CohortError, match="missing for patient.*'P003', 'P007'"):
        compare_models(_models(), X, y_missing, cv=CV)
    with pytest.raises(CohortError, match="one class only"):
        compare_models(_models(), X, np.zeros(120), cv=CV)
    with pytest.raises(ValueError, match="reference='svm' is not one of the models"):
        compare_models(_models(), X, y, cv=CV, reference="svm")
    with pytest.raises(ValueError, match="Unknown metric 'aucc'"):
        compare_models(_models(), X, y, cv=CV, scoring=["aucc"])
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_models([LogisticRegression()], X, y, cv=CV)
    with pytest.raises(ValueError, match="threshold must be"):
        compare_models(_models(), X, y, cv=CV, threshold=1.5)


@pytest.fixture(scope="module")
def graded():
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.47, 0.35, 0.18], random_state=1)
    return X, np.array(["M0", "M1", "M2"])[y]


def test_multiclass_ovo_auc_and_weighted_kappa(graded):
    X, y = graded
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    res = compare_models({"logistic": LogisticRegression(), "nb": GaussianNB()}, X, y, cv=cv)
    assert res.metrics == ["auc", "accuracy", "f1", "kappa", "kappa_quadratic"]
    assert res.task == "multiclass"
    for _fold, (train, test) in enumerate(cv.split(X, y)):
        model = LogisticRegression().fit(X[train], y[train])
        ours = res.scores.query(
            "model == 'logistic' and fold == @_fold").set_index("metric")["value"]
        assert ours["auc"] == pytest.approx(
            roc_auc_score(y[test], model.predict_proba(X[test]), multi_class="ovo"))
        assert ours["kappa_quadratic"] == pytest.approx(
            cohen_kappa_score(y[test], model.predict(X[test]), weights="quadratic"))
    assert res.delong.empty and np.isnan(res.summary.loc["nb", "p_delong"])
    assert {"proba_M0", "proba_M1", "proba_M2"} <= set(res.predictions.columns)
    with pytest.raises(ValueError, match="binary outcome only"):
        compare_models({"nb": GaussianNB()}, X, y, cv=cv, scoring=["sensitivity"])
    with pytest.raises(ValueError, match="no predict_proba"):
        compare_models({"perceptron": Perceptron()}, X, y, cv=cv)


def test_markdown_and_html_show_the_summary_numbers(result):
    markdown = result.to_markdown()
    mean, sd = result.summary.loc["tree", ["auc_mean", "auc_sd"]]
    assert f"| tree | {mean:.3f} ± {sd:.3f} |" in markdown
    p = result.summary.loc["tree", "p_wilcoxon"]
    assert (f"{p:.3f}" if p >= 1e-3 else f"{p:.2e}") in markdown
    assert "### DeLong tests" in markdown
    page = result._repr_html_()
    assert page.startswith('<div class="mvikit-comparison">')
    assert f"{mean:.3f} ± {sd:.3f}" in page


@pytest.mark.slow
def test_dask_local_cluster_equals_serial_run(binary):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    X, y = binary
    serial = compare_models(_models(), X, y, cv=CV, n_jobs=1, random_state=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        with parallel_backend("dask"):
            on_dask = compare_models(_models(), X, y, cv=CV, random_state=0)
    pd.testing.assert_frame_equal(serial.scores, on_dask.scores)
    pd.testing.assert_frame_equal(serial.predictions, on_dask.predictions)
