"""Table 1: p-values equal scipy's tests on the same data; roles, missing, outputs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mvikit.exceptions import ColumnRoleError, DataWarning
from mvikit.study import table_one


@pytest.fixture
def cohort():
    rng = np.random.default_rng(7)
    n = 90
    ids = [f"P-{i:03d}" for i in range(n)]
    X = pd.DataFrame({
        "age": rng.normal(58, 9, n).round(1),
        "afp": rng.lognormal(3, 1.5, n).round(1),
        "sex": rng.choice(["F", "M"], n, p=[0.3, 0.7]),
        "rare": rng.choice(["yes", "no"], n, p=[0.05, 0.95]),
        "bclc": rng.choice(["0", "A", "B"], n, p=[0.06, 0.6, 0.34]),
        "grade": pd.Categorical(rng.choice(["I", "II", "III"], n), categories=["I", "II", "III"],
                                ordered=True),
        "cirrhosis": rng.integers(0, 2, n).astype(float),
        "HBP": [np.zeros((2, 2, 2))] * n,
    }, index=pd.Index(ids, name="patient_id"))
    X.loc[X.index[[3, 10, 11]], "age"] = np.nan
    X.loc[X.index[[5]], "sex"] = None
    y = pd.Series(rng.integers(0, 2, n), index=X.index, name="MVI")
    return X, y


def _groups(X, y, column):
    return [X.loc[y == g, column].dropna().to_numpy(dtype=float) for g in (0, 1)]


def test_p_values_equal_scipy(cohort):
    X, y = cohort
    t1 = table_one(X, by=y)
    tests = t1.tests
    assert list(tests.index) == ["age", "afp", "sex", "rare", "bclc", "grade", "cirrhosis"]
    # age is normal in both groups (KS), afp is log-normal: rank-sum
    assert tests.loc["age", "kind"] == "continuous"
    assert tests.loc["afp", "kind"] == "nonnormal"
    assert tests.loc["age", "p_value"] == pytest.approx(
        stats.ttest_ind(*_groups(X, y, "age"), equal_var=True).pvalue, rel=1e-12)
    assert tests.loc["afp", "p_value"] == pytest.approx(
        stats.mannwhitneyu(*_groups(X, y, "afp"), alternative="two-sided").pvalue, rel=1e-12)
    sex = pd.crosstab(X["sex"], y).to_numpy()
    assert tests.loc["sex", "test"] == "Chi-square"
    assert tests.loc["sex", "p_value"] == pytest.approx(stats.chi2_contingency(sex).pvalue,
                                                       rel=1e-12)
    rare = pd.crosstab(X["rare"], y).to_numpy()
    assert tests.loc["rare", "test"] == "Fisher's exact"
    assert tests.loc["rare", "p_value"] == pytest.approx(stats.fisher_exact(rare).pvalue,
                                                        rel=1e-12)
    bclc = pd.crosstab(X["bclc"], y).to_numpy()  # 3 x 2 with small counts: r x c Fisher
    assert stats.chi2_contingency(bclc).expected_freq.min() < 5
    assert tests.loc["bclc", "test"] == "Fisher's exact"
    # scipy's r x c Fisher test is a Monte Carlo one; mvikit's r x 2 p-value is exact
    monte_carlo = stats.fisher_exact(bclc, method=stats.MonteCarloMethod(n_resamples=200_000,
                                                                         rng=1)).pvalue
    assert tests.loc["bclc", "p_value"] == pytest.approx(monte_carlo, abs=0.003)
    codes = X["grade"].cat.codes
    assert tests.loc["grade", "test"] == "Wilcoxon rank-sum (ordinal)"
    assert tests.loc["grade", "p_value"] == pytest.approx(stats.mannwhitneyu(
        codes[y == 0], codes[y == 1], alternative="two-sided").pvalue, rel=1e-12)


def test_summaries_missing_and_volume_columns(cohort):
    X, y = cohort
    table = table_one(X, by=y).table
    flat = table.droplevel(0, axis=1)
    assert not any("HBP" in v for v, _ in table.index)
    age = flat.loc[("age, mean (SD)", "")]
    assert age["Missing"] == 3
    a = X["age"]
    assert age["Overall"] == f"{a.mean():.1f} ({a.std():.1f})"
    afp = flat.loc[("afp, median [Q1,Q3]", "")]
    q = X.loc[y == 1, "afp"].quantile([0.5, 0.25, 0.75]).to_numpy()
    assert afp["1"] == f"{q[0]:.1f} [{q[1]:.1f},{q[2]:.1f}]"
    sex_m = flat.loc[("sex, n (%)", "M")]
    n_m = int(((X["sex"] == "M") & (y == 0)).sum())
    n_0 = int((X["sex"].notna() & (y == 0)).sum())
    assert sex_m["0"] == f"{n_m} ({100 * n_m / n_0:.1f})"
    assert flat.loc[("sex, n (%)", "F")]["Missing"] == 1
    # SMD of a continuous column: Cohen's d with the pooled (average) variance
    g0, g1 = _groups(X, y, "age")
    d = abs(g1.mean() - g0.mean()) / np.sqrt((g0.var(ddof=1) + g1.var(ddof=1)) / 2)
    assert float(age["SMD (0,1)"]) == pytest.approx(d, abs=0.0015)


def test_three_centres_and_outputs(cohort):
    X, _ = cohort
    centre = pd.Series(np.resize(["A", "B", "C"], len(X)), index=X.index, name="centre")
    t1 = table_one(X, by=centre, columns=["age", "afp", "sex"])
    groups = [X.loc[centre == c, "age"].dropna() for c in "ABC"]
    assert t1.tests.loc["age", "test"] == "One-way ANOVA"
    assert t1.tests.loc["age", "p_value"] == pytest.approx(stats.f_oneway(*groups).pvalue)
    afp = [X.loc[centre == c, "afp"] for c in "ABC"]
    assert t1.tests.loc["afp", "test"] == "Kruskal-Wallis"
    assert t1.tests.loc["afp", "p_value"] == pytest.approx(stats.kruskal(*afp).pvalue)
    markdown = t1.to_markdown()
    assert markdown.splitlines()[0].startswith("| Variable | Missing | Overall | A | B | C |")
    csv = t1.to_csv()
    assert csv.splitlines()[0].startswith("Variable,Missing,Overall,A,B,C")
    assert "<table" in t1._repr_html_()


def test_grouping_by_column_and_missing_group(cohort):
    X, y = cohort
    X = X.assign(mvi=y.astype(float))
    X.loc[X.index[:2], "mvi"] = np.nan
    with pytest.warns(DataWarning, match=r"missing for 2 patient\(s\) \('P-000', 'P-001'\)"):
        t1 = table_one(X, by="mvi")
    assert "mvi" not in t1.tests.index
    assert int(t1.table.droplevel(0, axis=1).loc[("n", ""), "Overall"]) == len(X) - 2


def test_without_grouping_and_bad_input(cohort):
    X, _ = cohort
    t1 = table_one(X)
    assert t1.tests["p_value"].isna().all()
    with pytest.raises(ColumnRoleError, match="'outcome' is not a column"):
        table_one(X, by="outcome")
    with pytest.raises(ColumnRoleError, match=r"\['ki67'\]"):
        table_one(X, by=np.zeros(len(X)), columns=["age", "ki67"])


def test_exact_fisher_r_by_2():
    from mvikit.study._table_one import _fisher_exact_r_by_2

    # the 2x2 case equals scipy's exact test
    table = np.array([[3, 9], [11, 4]])
    assert _fisher_exact_r_by_2(table) == pytest.approx(stats.fisher_exact(table).pvalue,
                                                        rel=1e-10)
    # a 3x2 table: against scipy's Monte Carlo p-value of the same table
    table = np.array([[3, 5], [30, 25], [14, 13]])
    monte_carlo = stats.fisher_exact(table, method=stats.MonteCarloMethod(
        n_resamples=400_000, rng=0)).pvalue
    assert _fisher_exact_r_by_2(table) == pytest.approx(monte_carlo, abs=0.003)
