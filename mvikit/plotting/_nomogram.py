"""The classic points nomogram figure (as ``plot(rms::nomogram(...))``)."""

from __future__ import annotations

import numpy as np
from scipy.special import logit

__all__ = ["plot_nomogram"]

_RISKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def _format(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:.0f}" if value >= 1000 and float(value).is_integer() else f"{value:.3g}"
    return str(value)


def _term_ticks(term, n_ticks):
    """Tick values of one row in original units."""
    from matplotlib.ticker import LogLocator, MaxNLocator

    if term.kind == "indicator":
        return [False, True]
    if term.kind == "categorical":
        return list(term.levels)
    low, high = term.value_range
    if term.log and low > 0 and high / low > 10:
        subs = (1.0,) if high / low > 1e3 else (1.0, 2.0, 5.0)
        ticks = LogLocator(base=10, subs=subs).tick_values(low, high)
    else:
        # integer-valued ranges of a few units (0/1 flags, counts, grades): integer ticks
        integer = float(low).is_integer() and float(high).is_integer() and high - low <= 10
        ticks = MaxNLocator(nbins=n_ticks, integer=integer).tick_values(low, high)
    ticks = [t for t in ticks if low - 1e-12 <= t <= high + 1e-12]
    return ticks or [low, high]


def _spread(positions, labels, min_gap=5.0):
    """Drop ticks closer than ``min_gap`` (x units) to the previous kept one."""
    order = np.argsort(positions)
    kept, last = [], -np.inf
    for k in order:
        if positions[k] - last >= min_gap:
            kept.append(k)
            last = positions[k]
    return [positions[k] for k in kept], [labels[k] for k in kept]


def _axis(ax, y, label, positions, labels, *, fontsize):
    positions = np.asarray(positions, dtype=float)
    ax.plot([positions.min(), positions.max()], [y, y], color="black", lw=1)
    for x, text in zip(positions, labels):
        ax.plot([x, x], [y, y + 0.12], color="black", lw=1)
        ax.text(x, y + 0.18, text, ha="center", va="bottom", fontsize=fontsize)
    ax.text(-4, y, label, ha="right", va="center", fontsize=fontsize + 1)


def plot_nomogram(nomogram, *, ax=None, n_ticks=6, risks=_RISKS, fontsize=8):
    """Draw a points nomogram.

    Rows from top: "Points" (0-100), one row per variable with its values at
    their points, "Total points", "Linear predictor" and the risk row(s)
    (``P(Y >= class)`` for an ordinal model; for a Cox model one survival row per
    time, ``S(t) = S0(t) ** exp(lp)``, and the median survival, as rms's
    ``nomogram(cph, fun=...)``).

    Parameters
    ----------
    nomogram : mvikit.clinical.Nomogram
        From `Nomogram.from_estimator`.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when ``None``.
    n_ticks : int, default=6
        About how many ticks on numeric rows.
    risks : sequence of float, default=(0.01, ..., 0.99)
        Probabilities marked on the risk (or survival) rows, those inside the
        total-points range.
    fontsize : float, default=8

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit.clinical import Nomogram, NomogramClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"size": rng.normal(4, 1.5, 200)})
    >>> y = (X["size"] + rng.logistic(size=200) > 4).astype(int)
    >>> model = NomogramClassifier(selection=None).fit(X, y)
    >>> ax = Nomogram.from_estimator(model, X=X).plot()
    >>> [t.get_text() for t in ax.texts if t.get_text() in ("Points", "Total points")]
    ['Points', 'Total points']
    """
    import matplotlib.pyplot as plt

    if ax is None:
        outcome_rows = (len(nomogram.times) + 1 if nomogram.is_survival
                        else len(nomogram.classes) - 1)
        n_rows = len(nomogram.terms) + 3 + outcome_rows
        _, ax = plt.subplots(figsize=(8, 0.55 * n_rows + 0.8))
    y = 0.0
    _axis(ax, y, "Points", np.arange(0, 101, 10), [str(v) for v in range(0, 101, 10)],
          fontsize=fontsize)
    for term, low in zip(nomogram.terms, nomogram._lows):
        y -= 1
        values = _term_ticks(term, n_ticks)
        if term.kind == "indicator":
            points = (np.where(values, term.slope, 0.0) - low) * nomogram.points_per_unit
        else:
            points = (term.contribution(values) - low) * nomogram.points_per_unit
        labels = [_format(v) for v in values]
        if term.kind == "numeric":
            points, labels = _spread(np.asarray(points) * 1.0, labels)
        _axis(ax, y, term.name, points, labels, fontsize=fontsize)
    total_max = float(sum(_row_max(nomogram, t, low) for t, low in
                          zip(nomogram.terms, nomogram._lows)))
    to_x = 100.0 / total_max  # total points -> x position
    y -= 1
    totals = np.unique(np.round(np.linspace(0, total_max, 7), -1 if total_max > 60 else 0))
    _axis(ax, y, "Total points", totals * to_x, [f"{t:g}" for t in totals], fontsize=fontsize)
    y -= 1
    lp_low, lp_high = nomogram.linear_predictor([0.0, total_max])
    lps = np.unique(np.round(np.linspace(lp_low, lp_high, 6), 1))
    lps = lps[(lps >= lp_low) & (lps <= lp_high)]
    _axis(ax, y, "Linear predictor", (lps - nomogram.intercept) * nomogram.points_per_unit * to_x,
          [f"{v:g}" for v in lps], fontsize=fontsize)
    to_axis = nomogram.points_per_unit * to_x  # linear predictor -> x position
    if nomogram.is_survival:
        y = _survival_rows(ax, nomogram, y, (lp_low, lp_high), to_axis, risks, n_ticks,
                           fontsize)
    else:
        y = _risk_rows(ax, nomogram, y, (lp_low, lp_high), to_axis, risks, fontsize)
    ax.set_xlim(-32, 105)  # room for the row labels on the left
    ax.set_ylim(y - 0.6, 0.8)
    ax.axis("off")
    return ax


def _risk_rows(ax, nomogram, y, lp_range, to_axis, risks, fontsize):
    """Logistic models: the risk row, or one row per ``P(Y >= k)`` (ordinal)."""
    lp_low, lp_high = lp_range
    cuts = nomogram.thresholds_ if nomogram.ordinal else np.zeros(1)
    for k, cut in enumerate(cuts):
        y -= 1
        marks = [r for r in risks if lp_low <= logit(r) + cut <= lp_high]
        label = (f"P({nomogram.classes[k + 1]} or above)" if nomogram.ordinal
                 else f"Risk of {nomogram.classes[1]}")
        if marks:
            lp = logit(np.asarray(marks)) + cut
            x, text = _spread((lp - nomogram.intercept) * to_axis, [f"{r:g}" for r in marks])
            _axis(ax, y, label, x, text, fontsize=fontsize)
    return y


def _survival_rows(ax, nomogram, y, lp_range, to_axis, probabilities, n_ticks, fontsize):
    """Cox models: ``S(t)`` rows (``lp = log(log s / log S0(t))``) and the median survival."""
    from matplotlib.ticker import MaxNLocator

    lp_low, lp_high = lp_range
    base = nomogram.baseline_survival(nomogram.times)
    for t, s0 in zip(nomogram.times, base):
        y -= 1
        if not 0 < s0 < 1:
            continue  # no event yet, or everyone dead: S(t) does not depend on lp
        marks = np.asarray(probabilities, dtype=float)
        lp = np.log(np.log(marks) / np.log(s0))
        keep = (lp >= lp_low) & (lp <= lp_high)
        if keep.any():
            x, text = _spread((lp[keep] - nomogram.intercept) * to_axis,
                              [f"{m:g}" for m in marks[keep]])
            _axis(ax, y, f"Survival at {t:g}", x, text, fontsize=fontsize)
    y -= 1
    medians = nomogram.median_survival(
        (np.linspace(lp_low, lp_high, 200) - nomogram.intercept) * nomogram.points_per_unit)
    finite = medians[np.isfinite(medians)]
    if finite.size:
        # the median m is reached at lp = log(log 0.5 / log S0(m)) (S0 read at m)
        ticks = MaxNLocator(nbins=n_ticks).tick_values(finite.min(), finite.max())
        ticks = ticks[(ticks >= finite.min()) & (ticks <= finite.max()) & (ticks > 0)]
        s0 = nomogram.baseline_survival(ticks)
        usable = (s0 > 0) & (s0 < 1)
        lp = np.log(np.log(0.5) / np.log(s0[usable]))
        if lp.size:
            x, text = _spread((lp - nomogram.intercept) * to_axis,
                              [_format(v) for v in ticks[usable]])
            _axis(ax, y, "Median survival", x, text, fontsize=fontsize)
    return y


def _row_max(nomogram, term, low) -> float:
    highs = term.extremes()[1]
    return (highs - low) * nomogram.points_per_unit
