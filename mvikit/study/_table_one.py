"""Table 1: baseline characteristics of a cohort by a grouping, with p-values.

The descriptive statistics, missing counts, overall column and standardised
mean differences come from the ``tableone`` package (Pollard et al., JAMIA
Open 2018).  mvikit adds what a seed paper's methods section asks for and
``tableone`` does not decide by itself (seed 004, "Statistical analysis"):

* the normality rule: a Kolmogorov-Smirnov test of each continuous column in
  each group; a column is summarised as median [Q1,Q3] and tested with the
  Wilcoxon rank-sum test (Kruskal-Wallis for more than two groups) when any
  group rejects normality at ``normality_alpha``, otherwise as mean (SD) with
  Student's t-test (one-way ANOVA for more than two groups);
* categorical columns: Pearson's chi-square (with Yates' correction for a 2x2
  table, as R's ``chisq.test``), or Fisher's exact test (``fisher.test``:
  exact for 2x2 and r x 2 tables, a seeded Monte Carlo p-value beyond) when an
  expected count is below 5;
* ordinal (grade) columns: n (%) per level, tested with the rank-sum test on
  the level order;
* the column roles: only clinical columns are summarised, never volumes or masks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import ColumnRoleError, DataWarning
from ..utils._roles import check_cohort_frame, resolve_columns

__all__ = ["TableOneResult", "table_one"]

_NORMALITY = ("ks", "lilliefors")


# ------------------------------------------------------------------ tests
def _rank_sum(*samples):
    """Wilcoxon rank-sum (Mann-Whitney U) for two groups, Kruskal-Wallis for more."""
    samples = [np.asarray(s, dtype=float) for s in samples]
    samples = [s[~np.isnan(s)] for s in samples]
    if len(samples) == 2:
        return stats.mannwhitneyu(*samples, alternative="two-sided").pvalue
    return stats.kruskal(*samples).pvalue


def _expand_levels(counts_by_group):
    """Per-group samples of level codes 0..k-1 from per-group counts by level."""
    counts = np.asarray(counts_by_group, dtype=int)  # (groups, levels)
    codes = np.arange(counts.shape[1])
    return [np.repeat(codes, row) for row in counts]


def _fisher_exact_r_by_2(table, max_tables=2_000_000):
    """Exact two-sided Fisher p-value of an r x 2 table (R's ``fisher.test``).

    Enumerates every first column with the observed margins; each table has
    the multivariate hypergeometric probability prod C(r_i, x_i) / C(n, c_1),
    and the p-value sums those no more probable than the observed one (with
    R's relative tolerance 1e-7).  None when there are too many tables.
    """
    from scipy.special import gammaln

    rows, first = table.sum(axis=1), int(table[:, 0].sum())
    if np.prod(rows[:-1] + 1.0) > max_tables:
        return None
    grids = np.meshgrid(*[np.arange(r + 1) for r in rows[:-1]], indexing="ij")
    cells = np.stack([g.ravel() for g in grids], axis=1)
    last = first - cells.sum(axis=1)
    keep = (last >= 0) & (last <= rows[-1])
    cells = np.column_stack([cells[keep], last[keep]])

    def log_prob(x):
        return (gammaln(rows + 1) - gammaln(x + 1) - gammaln(rows - x + 1)).sum(axis=-1)

    logs = log_prob(cells)
    observed = log_prob(table[:, 0])
    probs = np.exp(logs - logs.max())
    return float(probs[logs <= observed + 1e-7].sum() / probs.sum())


def _fisher(table):
    if table.shape == (2, 2):
        return stats.fisher_exact(table).pvalue
    oriented = table if table.shape[1] == 2 else table.T
    if oriented.shape[1] == 2:
        p = _fisher_exact_r_by_2(oriented)
        if p is not None:
            return p
    # Too many tables to enumerate: a seeded Monte Carlo p-value, as R's
    # fisher.test(simulate.p.value=TRUE), reproducible run to run.
    return stats.fisher_exact(table, method=stats.MonteCarloMethod(
        n_resamples=100_000, rng=0)).pvalue


def _categorical_test(table):
    """Chi-square, or Fisher's exact test when an expected count is below 5."""
    table = np.asarray(table, dtype=int)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return np.nan, "Not tested (one level)"
    chi2 = stats.chi2_contingency(table)  # Yates' correction for a 2x2 table, as R
    if chi2.expected_freq.min() >= 5:
        return chi2.pvalue, "Chi-square"
    return _fisher(table), "Fisher's exact"


class _Test:
    """A ``tableone`` hypothesis test for one column.

    ``tableone`` calls it with the per-group samples (continuous) or the
    per-group counts by level (categorical), then reads ``__name__``
    for its Test column; the name is set on each call to say which test ran.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self.__name__ = kind

    def __call__(self, *grouped):
        n_groups = len(grouped)
        rank_name = "Wilcoxon rank-sum" if n_groups == 2 else "Kruskal-Wallis"
        if self.kind == "nonnormal":
            self.__name__ = rank_name
            return _rank_sum(*grouped)
        if self.kind == "ordinal":
            self.__name__ = f"{rank_name} (ordinal)"
            return _rank_sum(*_expand_levels(grouped))
        p, self.__name__ = _categorical_test(grouped)
        return p


def _is_normal(values: pd.Series, groups: pd.Series, method: str, alpha: float) -> bool:
    """False when any group's KS (or Lilliefors) test rejects normality."""
    from statsmodels.stats.diagnostic import lilliefors

    for _, x in values.groupby(groups, observed=True):
        x = x.dropna().to_numpy(dtype=float)
        if len(x) < 3 or np.ptp(x) == 0:
            continue
        if method == "ks":  # parameters estimated from the sample, as SPSS' K-S
            p = stats.kstest(x, "norm", args=(x.mean(), x.std(ddof=1))).pvalue
        else:
            p = lilliefors(x, dist="norm")[1]
        if p < alpha:
            return False
    return True


# ------------------------------------------------------------------ roles
def _is_categorical(series: pd.Series, max_levels: int) -> bool:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    values = series.dropna().to_numpy(dtype=float)
    return bool(np.all(values == np.round(values))) and len(np.unique(values)) <= max_levels


def _is_ordinal(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) and bool(series.dtype.ordered)


def _grouping(X: pd.DataFrame, by, by_name):
    if by is None:
        return None, None
    if isinstance(by, str) and by in X.columns:
        return X[by], by
    if isinstance(by, str):
        raise ColumnRoleError(f"Grouping column {by!r} is not a column of X; pass an existing "
                              f"column or the grouping values (e.g. y or centers).")
    if isinstance(by, pd.Series) and set(X.index) <= set(by.index):
        return by.reindex(X.index), by_name or by.name or "group"
    values = np.asarray(by)
    if len(values) != len(X):
        raise ColumnRoleError(f"The grouping has {len(values)} values but X has {len(X)} "
                              "patients.")
    return pd.Series(values, index=X.index), by_name or "group"


def _drop_ungrouped(frame: pd.DataFrame, name) -> pd.DataFrame:
    missing = frame.index[frame[name].isna()]
    if len(missing):
        shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        warnings.warn(f"Grouping {name!r} is missing for {len(missing)} patient(s) ({shown}); "
                      "they are left out of Table 1.", DataWarning, stacklevel=3)
    return frame.loc[frame[name].notna()]


def _plain_column(series: pd.Series, categorical: bool) -> pd.Series:
    """Extension dtypes (Int64, boolean, string) as the numpy dtypes tableone expects."""
    if _is_ordinal(series):
        return series
    if categorical:
        if pd.api.types.is_float_dtype(series) and _is_categorical(series, np.inf):
            series = series.astype("Int64")  # levels 0/1, not 0.0/1.0
        return series.astype(object).where(series.notna(), None)
    return pd.to_numeric(series, errors="coerce").astype(float)


# ------------------------------------------------------------------ result
@dataclass(frozen=True, repr=False)
class TableOneResult:
    """Table 1 of a cohort (see :func:`table_one`).

    Attributes
    ----------
    table : pandas.DataFrame
        The formatted table (rows: variable and level; columns: Missing,
        Overall, one per group, SMD and P-Value, Test).
    tests : pandas.DataFrame
        One row per variable: ``kind`` (continuous, nonnormal, categorical,
        ordinal), ``test`` and the unrounded ``p_value``.
    groupby : str or None
        The grouping's name.
    """

    table: pd.DataFrame
    tests: pd.DataFrame
    groupby: str | None

    def __repr__(self):
        return f"TableOneResult(groupby={self.groupby!r}, rows={len(self.table)})"

    def to_frame(self) -> pd.DataFrame:
        """The formatted table as a DataFrame."""
        return self.table.copy()

    def _flat(self) -> pd.DataFrame:
        frame = self.table.copy()
        if isinstance(frame.columns, pd.MultiIndex):
            frame.columns = [c[-1] for c in frame.columns]
        frame.index = [f"{v}: {lvl}" if lvl != "" else v for v, lvl in frame.index]
        return frame

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table."""
        frame = self._flat().fillna("")
        header = ["Variable", *map(str, frame.columns)]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join([str(i), *map(str, row)]) + " |"
                  for i, row in zip(frame.index, frame.to_numpy())]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """An HTML table."""
        return self.table.to_html(na_rep="")

    def to_csv(self, path=None):
        """Write the table as CSV (or return the text when ``path`` is None)."""
        return self._flat().to_csv(path, index_label="Variable")

    def _repr_html_(self):
        return self.to_html()


# ------------------------------------------------------------------ main
def _roles(X, columns, categorical, ordinal, max_levels):
    clinical = resolve_columns(X).clinical if columns is None else list(columns)
    missing = [c for c in clinical if c not in X.columns]
    if missing:
        raise ColumnRoleError(f"Table 1 column(s) {missing} are not columns of X.")
    ordinal = [c for c in clinical if _is_ordinal(X[c])] if ordinal is None else list(ordinal)
    if categorical is None:
        categorical = [c for c in clinical
                       if c not in ordinal and _is_categorical(X[c], max_levels)]
    return clinical, [c for c in categorical if c not in ordinal], ordinal


def table_one(X, by=None, *, by_name=None, columns=None, categorical=None, ordinal=None,
              normality="ks", normality_alpha=0.05, max_levels=5, overall=True, smd=True,
              decimals=1):
    """Baseline characteristics by a grouping: n (%), mean (SD) or median [Q1,Q3], p-values.

    Parameters
    ----------
    X : pandas.DataFrame
        The cohort frame (index = patient ids).  Image and mask columns are
        never summarised.
    by : str, array-like or pandas.Series, default=None
        The grouping: a column of ``X``, or per-patient values such as ``y``
        (MVI status) or ``centers``.  None: one overall column, no tests.
    by_name : str, default=None
        Name of a grouping given as values (default: the Series' name).
    columns : list of str, default=None
        Columns to summarise (default: every clinical column).
    categorical : list of str, default=None
        Categorical columns (default: non-numeric columns and integer columns
        with at most ``max_levels`` distinct values).
    ordinal : list of str, default=None
        Ordinal (grade) columns, summarised as n (%) and tested with the
        rank-sum test on the level order (default: ordered categoricals).
    normality : {"ks", "lilliefors"}, default="ks"
        Normality test per group: Kolmogorov-Smirnov against the normal with
        the sample's mean and SD (seed 004), or its Lilliefors correction.
    normality_alpha : float, default=0.05
        A column is non-normal when any group's test has p below this.
    max_levels : int, default=5
        Most distinct integer values of a numeric column read as categorical.
    overall, smd : bool, default=True
        Add the overall column; add the standardised mean differences.
    decimals : int, default=1
        Decimals of the summaries (p-values keep 3).

    Returns
    -------
    TableOneResult
        ``table`` (DataFrame), ``tests``; ``to_markdown()``, ``to_html()``,
        ``to_csv()``; shown as HTML in Jupyter.

    Notes
    -----
    Continuous: Student's t-test (``scipy.stats.ttest_ind(equal_var=True)``)
    or the Wilcoxon rank-sum test (``scipy.stats.mannwhitneyu``, two-sided,
    continuity-corrected, as R's ``wilcox.test(correct=TRUE)`` with ties);
    ANOVA / Kruskal-Wallis for more than two groups.  Categorical:
    ``chi2_contingency`` or ``fisher_exact`` (see the module notes).  SMDs
    follow Yang & Dalton (2012), as computed by ``tableone``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit.study import table_one
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.normal(60, 8, 40).round(),
    ...                   "sex": rng.choice(["F", "M"], 40)},
    ...                  index=[f"P-{i:03d}" for i in range(40)])
    >>> t1 = table_one(X, by=np.repeat([0, 1], 20), by_name="MVI")
    >>> t1.tests[["kind", "test"]]
                kind           test
    age   continuous  Pooled T-test
    sex  categorical     Chi-square
    """
    from tableone import TableOne

    check_cohort_frame(X)
    if normality not in _NORMALITY:
        raise ValueError(f"normality must be one of {_NORMALITY}; got {normality!r}.")
    groups, name = _grouping(X, by, by_name)
    clinical, categorical, ordinal = _roles(X, columns, categorical, ordinal, max_levels)
    clinical = [c for c in clinical if c != name]
    categorical = [c for c in categorical if c != name]
    data = pd.DataFrame({c: _plain_column(X[c], c in categorical) for c in clinical},
                        index=X.index)
    kinds = {c: "ordinal" if c in ordinal else "categorical" if c in categorical
             else "continuous" for c in clinical}
    htest = {c: _Test(k) for c, k in kinds.items() if k != "continuous"}
    if groups is not None:
        data[name] = groups.astype(object)
        data = _drop_ungrouped(data, name)
        for c, kind in kinds.items():
            if kind == "continuous" and not _is_normal(data[c], data[name], normality,
                                                       normality_alpha):
                kinds[c] = "nonnormal"
                htest[c] = _Test("nonnormal")
    nonnormal = [c for c, k in kinds.items() if k == "nonnormal"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tableone's remarks are replaced by the tests table
        t = TableOne(data, columns=clinical, categorical=[*categorical, *ordinal],
                     continuous=[c for c, k in kinds.items() if k in ("continuous", "nonnormal")],
                     groupby=name, nonnormal=nonnormal, pval=groups is not None,
                     htest=htest if groups is not None else None, htest_name=groups is not None,
                     smd=smd and groups is not None, overall=overall, missing=True,
                     ttest_equal_var=True, include_null=False, decimals=decimals,
                     pval_digits=3, label_suffix=True)
    return TableOneResult(table=t.tableone, tests=_tests_frame(t, kinds, groups is not None),
                          groupby=name)


def _tests_frame(t, kinds: dict, grouped: bool) -> pd.DataFrame:
    frame = pd.DataFrame({"kind": pd.Series(kinds)})
    if not grouped:
        frame["test"], frame["p_value"] = "", np.nan
        return frame
    tests = t.htest_table
    frame["test"] = [tests.loc[c, "Test"] for c in frame.index]
    frame["p_value"] = [float(tests.loc[c, "P-Value"]) for c in frame.index]
    return frame
