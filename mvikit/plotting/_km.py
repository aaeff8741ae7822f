"""`plot_km`: Kaplan-Meier curves of risk groups with an at-risk table (lifelines)."""

from __future__ import annotations

__all__ = ["plot_km"]


def _annotation(y, groups, levels, names, reference):
    from ..survival import hazard_ratio, logrank_test

    lines = [f"log-rank p = {logrank_test(y, groups).p_value:.3g}"]
    table = hazard_ratio(y, groups, reference=reference)
    label = dict(zip(levels.tolist(), names))
    for level, row in table.iterrows():
        lines.append(f"HR {label[level]} vs {label[reference]} = "
                     f"{row['HR']:.2f} ({row['HR lower']:.2f}-{row['HR upper']:.2f})")
    return "\n".join(lines)


def plot_km(y, groups, *, ax=None, at_risk=True, ci=True, annotate=True, reference=None,
            group_names=None, xlabel="time", ylabel="survival probability"):
    """Kaplan-Meier curves per group, with an at-risk table, log-rank p and hazard ratio.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target.
    groups : array-like of shape (n_patients,)
        Group of every patient (e.g. ``RiskStratifier.predict``); at least 2 patients each.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when ``None``.
    at_risk : bool, default=True
        Add the numbers at risk / censored / events below the axis
        (:func:`lifelines.plotting.add_at_risk_counts`).
    ci : bool, default=True
        Shade the pointwise 95 % band (lifelines' log-log band).
    annotate : bool, default=True
        Write the log-rank p-value and the hazard ratio(s) against the first group
        (:func:`mvikit.survival.logrank_test`, :func:`mvikit.survival.hazard_ratio`).
    reference : label, default=None
        Reference group of the hazard ratios; ``None``: the first group in sorted order.
    group_names : dict or list, default=None
        Legend labels per group (a dict ``{group: name}``, or names in sorted group order).
    xlabel, ylabel : str
        Axis labels.

    Returns
    -------
    matplotlib.axes.Axes
        The axes; the figure is not shown (call ``plt.show()`` or save it yourself).

    Examples
    --------
    >>> from lifelines.datasets import load_lung
    >>> from mvikit.plotting import plot_km
    >>> from mvikit.survival import make_survival_target
    >>> lung = load_lung()
    >>> y = make_survival_target(lung, time="time", event="status")
    >>> ax = plot_km(y, lung["sex"].map({1: "male", 2: "female"}), xlabel="days")
    >>> print(ax.texts[0].get_text())
    log-rank p = 0.00131
    HR male vs female = 1.70 (1.23-2.36)
    """
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts

    from ..survival._km import _check_groups

    event, time, groups, levels = _check_groups(y, groups)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    if isinstance(group_names, dict):
        names = [str(group_names.get(level, level)) for level in levels]
    elif group_names is not None:
        if len(group_names) != len(levels):
            raise ValueError(f"group_names has {len(group_names)} names for {len(levels)} groups.")
        names = [str(name) for name in group_names]
    else:
        names = [str(level) for level in levels]
    fitters = []
    for level, name in zip(levels, names):
        inside = groups == level
        fitter = KaplanMeierFitter(label=name).fit(time[inside], event[inside])
        fitter.plot_survival_function(ax=ax, ci_show=ci, show_censors=True,
                                      censor_styles={"ms": 4, "marker": "|"})
        fitters.append(fitter)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    if annotate and len(levels) >= 2:
        reference = levels[0] if reference is None else reference
        ax.text(0.98, 0.98, _annotation(y, groups, levels, names, reference),
                transform=ax.transAxes,
                ha="right", va="top", fontsize=9)
    if at_risk:
        add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk", "Events"])
    return ax

