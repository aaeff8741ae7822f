"""Harrell's concordance index with its infinitesimal-jackknife standard error, in O(n log n).

The counts and the variance are those of R ``survival::concordance`` (Therneau & Atkinson,
"Concordance", vignette of the survival package, 2020) with its defaults for a risk score
(``reverse=TRUE``, ``timewt="n"``, unit case weights, one stratum):

- a pair (i, j) is *comparable* when i has an event at ``t_i`` and j is still at risk then:
  ``t_j > t_i``, or ``t_j == t_i`` and j is censored (censored at ``t`` counts as at risk at
  ``t``). Two events at the same time are *tied on time* and left out;
- a comparable pair is concordant when the earlier event has the higher risk, discordant when
  it has the lower risk, and *tied on risk* (counted 1/2) when the risks are equal;
- ``C = (concordant + tied_risk / 2) / (concordant + discordant + tied_risk)``;
- the variance is the infinitesimal jackknife of Somers' ``d = 2 C - 1``: with ``c_k``,
  ``d_k``, ``t_k`` the numbers of concordant, discordant and risk-tied pairs subject k belongs
  to (as either member) and ``N`` the number of comparable pairs,
  ``dfbeta_k = (c_k - d_k) / N - d (c_k + d_k + t_k) / N`` and ``var(C) = sum(dfbeta_k^2) / 4``
  (``concordancefit`` in R/concordance.R of the survival package).

Every per-subject count is a 2-D dominance count ("how many subjects before me in time order
have a smaller risk"). R walks a balanced binary tree over the risk ranks; here a bottom-up merge
sort over time order counts, at each of its ``log2 n`` levels, the subjects of the left half
below each subject of the right half (and the reverse) with two vectorised ``searchsorted``
calls, so the cost is ``O(n log n)`` numpy work and no Python loop over patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm

from ..exceptions import MetricInputError
from ._target import check_survival_y

__all__ = ["ConcordanceResult", "concordance_index"]


@dataclass(frozen=True)
class ConcordanceResult:
    """Harrell's C with its standard error and pair counts (see :func:`concordance_index`).

    Attributes
    ----------
    c : float
        Harrell's concordance index.
    se : float
        Infinitesimal-jackknife standard error of ``c`` (R ``sqrt(concordance(...)$var)``).
    concordant, discordant : int
        Comparable pairs in which the earlier event has the higher (lower) risk.
    tied_risk : int
        Comparable pairs with equal risk (R's ``tied.x``), counted 1/2 in ``c``.
    tied_time : int
        Pairs of events at the same time with different risks (R's ``tied.y``); not comparable.
    tied_time_and_risk : int
        Pairs of events at the same time with equal risks (R's ``tied.xy``); not comparable.
    n : int
        Number of patients.
    influence : ndarray of shape (n,)
        Influence of each patient on ``c`` (R's ``dfbeta / 2`` with ``influence=1``): ``se`` is
        the root of its sum of squares, and ``sum(influence_a * influence_b)`` is the covariance
        of two C-indices computed on the same patients.
    """

    c: float
    se: float
    concordant: int
    discordant: int
    tied_risk: int
    tied_time: int
    tied_time_and_risk: int
    n: int
    influence: np.ndarray = field(repr=False, compare=False)

    @property
    def comparable(self):
        """Number of comparable pairs (``concordant + discordant + tied_risk``)."""
        return self.concordant + self.discordant + self.tied_risk

    def confidence_interval(self, alpha=0.05):
        """Wald interval ``c -/+ z(1 - alpha/2) se``, clipped to [0, 1].

        Parameters
        ----------
        alpha : float, default=0.05
            The interval has level ``1 - alpha``.

        Returns
        -------
        tuple of float
            ``(lower, upper)``.
        """
        half = norm.ppf(1 - alpha / 2) * self.se
        return max(self.c - half, 0.0), min(self.c + half, 1.0)


def _dense_ranks(values):
    """Ranks 0..m-1 with equal values sharing a rank."""
    unique, ranks = np.unique(values, return_inverse=True)
    return ranks.astype(np.int64), unique.size


def _merge_counts(rank, weight):
    """Dominance counts along a sequence, by a bottom-up merge sort over positions.

    For each position i returns
    ``before_le[i] = #{j < i : rank_j <= rank_i}`` (every j counts 1) and
    ``after_lt[i] = sum{weight_j : j > i, rank_j < rank_i}``.
    """
    n = rank.size
    size = 1 << max(int(n - 1).bit_length(), 0)
    pad = size - n
    sentinel = int(rank.max()) + 1 if n else 0
    rank = np.concatenate([rank, np.full(pad, sentinel, dtype=np.int64)])
    weight = np.concatenate([weight, np.zeros(pad)])
    span = np.int64(sentinel + 1)
    before_le = np.zeros(size)
    after_lt = np.zeros(size)
    order = np.arange(size)  # within each aligned block: positions sorted by (rank, position)
    half = 1
    while half < size:
        block = order.reshape(-1, 2, half)
        left, right = block[:, 0, :].ravel(), block[:, 1, :].ravel()
        offset = np.repeat(np.arange(size // (2 * half), dtype=np.int64) * half, half)
        shift = np.repeat(np.arange(size // (2 * half), dtype=np.int64) * span, half)
        left_key, right_key = shift + rank[left], shift + rank[right]
        # right subjects: left-half subjects with rank <= theirs (the left half is earlier)
        le = np.searchsorted(left_key, right_key, side="right") - offset
        before_le[right] += le
        # left subjects: right-half subjects with a smaller rank, weighted
        lt = np.searchsorted(right_key, left_key, side="left")
        cum = np.concatenate([[0.0], np.cumsum(weight[right])])
        after_lt[left] += cum[lt] - cum[offset]
        # merge: a subject's place in its merged block is its place in its own half plus
        # the subjects of the other half that sort before it (ties: left half first)
        start = 2 * offset
        within = np.tile(np.arange(half), size // (2 * half))
        merged = np.empty_like(order)
        merged[start + within + (lt - offset)] = left
        merged[start + within + le] = right
        order = merged
        half *= 2
    return before_le[:n], after_lt[:n]


def _run_bounds(new_run):
    """Start and end (exclusive) index of the run each position belongs to."""
    index = np.arange(new_run.size)
    start = np.maximum.accumulate(np.where(new_run, index, 0))
    last = np.r_[new_run[1:], True]
    end = np.minimum.accumulate(np.where(last, index, new_run.size)[::-1])[::-1] + 1
    return start, end


def _equal_rank_counts(rank, event):
    """Per position: earlier positions with the same rank, later events with the same rank."""
    n = rank.size
    by_rank = np.lexsort((np.arange(n), rank))
    sorted_rank = rank[by_rank]
    start, end = _run_bounds(np.r_[True, sorted_rank[1:] != sorted_rank[:-1]])
    events = np.r_[0.0, np.cumsum(event[by_rank])]
    index = np.arange(n)
    equal_before, equal_events_after = np.empty(n), np.empty(n)
    equal_before[by_rank] = index - start
    equal_events_after[by_rank] = events[end] - events[index + 1]
    return equal_before, equal_events_after


def _pair_counts(event, time, rank):
    """Per-subject concordant, discordant and risk-tied pairs, and the totals.

    Returns ``(per_subject, totals)``: ``per_subject`` has rows concordant, discordant,
    tied on risk (each pair counted for both its members); ``totals`` are the numbers of
    concordant, discordant, risk-tied, time-tied and time-and-risk-tied pairs.
    """
    # R's order (order(-time, status, risk)): decreasing time, censored before events at the
    # same time, then by risk. The subjects before an event are those at risk at its time
    # plus the events tied with it; the events after a subject are those it outlived.
    time_rank, _ = _dense_ranks(-time)
    key = (time_rank * 2 + event) * (np.int64(rank.max()) + 1) + rank
    order = np.argsort(key)  # subjects with equal keys are interchangeable in every count
    e, t, q = event[order], time[order], rank[order]
    n = e.size
    ef = e.astype(float)
    before_le, after_lt = _merge_counts(q, ef)
    equal_before, equal_after = _equal_rank_counts(q, ef)
    position = np.arange(n)
    less_before = before_le - equal_before
    greater_before = position - before_le
    events_after = np.r_[np.cumsum(ef[::-1])[::-1][1:], 0.0]
    greater_after = events_after - after_lt - equal_after
    # events at the same time form one run of R's order, sorted by risk: take the members of
    # an event's own run out of its counts (tied on time, not comparable)
    new_time = np.r_[True, (t[1:] != t[:-1]) | (e[1:] != e[:-1])]
    run_start, run_end = _run_bounds(new_time)
    cell_start, cell_end = _run_bounds(new_time | np.r_[True, q[1:] != q[:-1]])
    tie_less = np.where(e, cell_start - run_start, 0)
    tie_equal_before = np.where(e, position - cell_start, 0)
    tie_equal_after = np.where(e, cell_end - 1 - position, 0)
    tie_greater = np.where(e, run_end - cell_end, 0)
    less_before -= tie_less
    equal_before -= tie_equal_before
    equal_after -= tie_equal_after
    greater_after -= tie_greater
    # as the earlier member (an event) the other is before it in R's order; as the later
    # member the other is an event after it. Concordant: the earlier event has higher risk.
    concordant = np.where(e, less_before, 0.0) + greater_after
    discordant = np.where(e, greater_before, 0.0) + after_lt
    tied = np.where(e, equal_before, 0.0) + equal_after
    per_subject = np.empty((3, n))
    per_subject[0, order], per_subject[1, order], per_subject[2, order] = (
        concordant, discordant, tied)
    tied_both = float(tie_equal_before.sum())
    tied_time = float((position - run_start)[e].sum()) - tied_both
    totals = (float(less_before[e].sum()), float(greater_before[e].sum()),
              float(equal_before[e].sum()), tied_time, tied_both)
    return per_subject, totals


def _check_risk(risk, n):
    risk = np.asarray(risk, dtype=float)
    if risk.ndim != 1 or risk.size != n:
        raise MetricInputError(
            f"risk has shape {risk.shape}; expected ({n},), one score per patient of y.")
    bad = ~np.isfinite(risk)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise MetricInputError(
            f"risk is NaN or infinite for row(s) {rows[:5].tolist()}"
            f"{f' and {rows.size - 5} more' if rows.size > 5 else ''}; "
            f"drop these patients or fix the model's prediction.")
    return risk


def concordance_index(y, risk):
    """Harrell's C of a risk score with its standard error, as R ``survival::concordance``.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target (``event``, ``time``).
    risk : array-like of shape (n_patients,)
        Risk score: higher means an earlier event (e.g. a Cox linear predictor).

    Returns
    -------
    ConcordanceResult
        ``c``, ``se``, the pair counts and each patient's influence.

    Raises
    ------
    MetricInputError
        When ``risk`` has the wrong length or holds NaN/inf, or when no pair is comparable
        (no event, or every event after the last censoring at its own time).

    See Also
    --------
    sksurv.metrics.concordance_index_censored : the same C (no standard error), O(n x events).

    Notes
    -----
    Pairs and ties are counted as R's ``concordance(Surv(time, status) ~ risk,
    reverse=TRUE)`` with ``timewt="n"`` (Harrell's C): a pair is comparable when the earlier
    time is an event (an event and a censoring at the same time are comparable; two events at
    the same time are not), tied risks count 1/2. The standard error is R's infinitesimal
    jackknife (Therneau & Atkinson, the survival package's *Concordance* vignette, section on
    variance): ``var(C) = sum_k dfbeta_k^2 / 4`` with
    ``dfbeta_k = (c_k - d_k)/N - (2C - 1)(c_k + d_k + t_k)/N`` where ``c_k, d_k, t_k`` are the
    concordant, discordant and risk-tied pairs subject k belongs to and ``N`` the comparable
    pairs. The counts take one ``O(n log n)`` merge sort. Times are compared exactly (R first
    merges times that differ by rounding error only, ``timefix=TRUE``).

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import Surv, concordance_index
    >>> y = Surv.from_arrays(event=[True, False, True, True, False],
    ...                      time=[1.0, 2.0, 3.0, 3.0, 5.0])
    >>> result = concordance_index(y, [0.9, 0.5, 0.7, 0.2, 0.6])
    >>> result.concordant, result.discordant, result.tied_risk, result.tied_time
    (5, 1, 0, 1)
    >>> # R: concordance(Surv(time, status) ~ x, reverse=TRUE) gives 0.8333333, se 0.1883981
    >>> round(result.c, 7), round(result.se, 7)
    (0.8333333, 0.1883981)
    """
    event, time = check_survival_y(y, allow_all_censored=True)
    risk = _check_risk(risk, time.size)
    rank, _ = _dense_ranks(risk)
    per_subject, totals = _pair_counts(event, time, rank)
    concordant, discordant, tied_risk, tied_time, tied_both = totals
    pairs = concordant + discordant + tied_risk
    if pairs == 0:
        raise MetricInputError(
            f"No comparable pair among the {time.size} patients ({int(event.sum())} events): "
            f"Harrell's C needs an event followed by a patient still at risk. Evaluate on data "
            f"with events, or pool out-of-fold predictions over folds.")
    somers_d = (concordant - discordant) / pairs
    c_k, d_k, t_k = per_subject
    dfbeta = (c_k - d_k) / pairs - somers_d * (c_k + d_k + t_k) / pairs
    return ConcordanceResult(
        c=float((somers_d + 1) / 2), se=float(np.sqrt(np.sum(dfbeta ** 2) / 4)),
        concordant=int(concordant), discordant=int(discordant), tied_risk=int(tied_risk),
        tied_time=int(tied_time), tied_time_and_risk=int(tied_both), n=int(time.size),
        influence=dfbeta / 2)
