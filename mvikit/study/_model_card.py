"""A model card to ship with a model file (Mitchell et al. 2019; TRIPOD+AI, Collins 2024).

What mvikit knows is filled in (the data, the model, the validation); what
only the authors know is listed as TRIPOD+AI items still to fill in.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._version import __version__

__all__ = ["ModelCard", "model_card"]

# TRIPOD+AI (Collins et al., BMJ 2024) topics a card cannot fill in by itself.
TRIPOD_AI_TO_FILL = (
    "Source of data and study dates, eligibility criteria and setting (centres, care level)",
    "Outcome definition, how and when it was assessed, and whether assessors were blinded",
    "Predictor definitions, measurement (scanner, protocol, segmentation) and blinding",
    "Sample size justification",
    "Handling of missing data and of class imbalance, beyond the defaults reported here",
    "Fairness: performance in subgroups (sex, age, aetiology, centre)",
    "Intended users, the clinical decision the model informs, and out-of-scope uses",
    "Limitations, risks of harm and the plan for updating or monitoring the model",
    "Data and code availability, funding, conflicts of interest, ethics approval",
)


@dataclass(frozen=True)
class ModelCard:
    """A rendered model card (see :func:`model_card`).

    Attributes
    ----------
    markdown : str
        The card in Markdown.
    sections : dict of str -> str
        Each section's Markdown body, by title.
    """

    markdown: str
    sections: dict

    def to_html(self) -> str:
        """The card as a self-contained HTML page (tables and lists kept as text)."""
        body = "".join(f"<h2>{html.escape(title)}</h2><pre>{html.escape(text)}</pre>"
                       for title, text in self.sections.items())
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Model card</title>"
                f"</head><body><h1>Model card</h1>{body}</body></html>")

    def _repr_html_(self):
        return self.to_html()

    def write(self, path) -> None:
        """Write the card: HTML when ``path`` ends in ``.html``, Markdown otherwise."""
        text = self.to_html() if str(path).endswith(".html") else self.markdown
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


def _steps(model) -> list:
    return [step for _, step in model.steps] if hasattr(model, "steps") else [model]


def _model_section(model) -> str:
    steps = _steps(model)
    lines = [f"- Family: {' -> '.join(type(s).__name__ for s in steps)}"]
    final = steps[-1]
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        lines.append(f"- Input columns ({len(names)}): {', '.join(map(str, names))}")
    selected = getattr(final, "selected_features_", None)
    if selected is not None:
        lines.append(f"- Selected variables ({len(selected)}): {', '.join(map(str, selected))}")
    module = getattr(final, "module_", None)
    if module is not None:
        n_parameters = sum(p.numel() for p in module.parameters())
        lines.append(f"- Architecture: {type(module).__name__}, {n_parameters} parameters")
    from ._torch_state import network_summary

    lines.extend(f"- {line}" for line in network_summary(final))
    lines.append(f"- Parameters of the final step: {final.get_params(deep=False)}")
    lines.append(f"- Written by mvikit {__version__}")
    return "\n".join(lines)


def _data_section(X, y, centers) -> str:
    if X is None:
        return "Not given (pass the development cohort to `model_card`)."
    lines = [f"- Patients: {len(X)}"]
    if y is not None:
        counts = pd.Series(np.asarray(y)).value_counts().sort_index()
        shares = ", ".join(f"{k}: {v} ({v / len(y):.1%})" for k, v in counts.items())
        lines.append(f"- Outcome: {shares}")
    if centers is not None:
        per_centre = pd.Series(np.asarray(centers)).value_counts().sort_index()
        lines.append("- Centres: " + ", ".join(f"{k} (n={v})" for k, v in per_centre.items()))
    from ..utils._roles import resolve_columns

    clinical = resolve_columns(X).clinical
    missing = X[clinical].isna().sum()
    missing = missing[missing > 0].sort_values(ascending=False)
    if len(missing):
        lines.append("- Missing values: " + ", ".join(
            f"{c} {n} ({n / len(X):.0%})" for c, n in missing.items()))
    else:
        lines.append("- Missing values: none in the clinical columns")
    return "\n".join(lines)


def _validation_section(validation, label) -> str:
    if validation is None:
        return "Not given (pass a `validate_frozen` result)."
    table = validation.summary()
    heading = (f"{label}: {validation.n} patients ({validation.n_events} events), "
               f"{1 - validation.alpha:.0%} confidence intervals:")
    lines = [heading, "",
             "| Statistic | Estimate | CI |", "|---|---|---|"]
    for row in table.itertuples():
        ci = "" if np.isnan(row.lower) else f"{row.lower:.3f} to {row.upper:.3f}"
        lines.append(f"| {row.statistic} | {row.estimate:.3f} | {ci} |")
    return "\n".join(lines)


def model_card(model, *, X=None, y=None, centers=None, validation=None,
               validation_label="Validation", intended_use=None, name=None):
    """Write the model card of a fitted model: data, model, validation, items to fill in.

    Parameters
    ----------
    model : fitted estimator or pipeline
        The model.
    X, y, centers : DataFrame, array-like, array-like, default=None
        The development cohort, its outcome and centres (size, centres,
        prevalence, missingness).
    validation : FrozenValidationResult, default=None
        Validation results with CIs (:func:`validate_frozen` on an external
        cohort, or :func:`validate_predictions` on out-of-fold predictions).
    validation_label : str, default="Validation"
        What the validation was (e.g. "External validation, hospital B").
    intended_use : str, default=None
        The intended use, in the authors' words (listed as to fill in otherwise).
    name : str, default=None
        The model's name (default: its class name).

    Returns
    -------
    ModelCard

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import model_card
    >>> X = pd.DataFrame({"size": [2.0, 5.1, 3.3, 7.5], "afp": [5.0, np.nan, 40.0, 900.0]})
    >>> model = LogisticRegression().fit(X.fillna(0), [0, 1, 0, 1])
    >>> card = model_card(model, X=X, y=[0, 1, 0, 1], intended_use="Research only.")
    >>> print(card.sections["Data"])
    - Patients: 4
    - Outcome: 0: 2 (50.0%), 1: 2 (50.0%)
    - Missing values: afp 1 (25%)
    """
    sections = {
        "Intended use": intended_use or "TO FILL IN: the population, the decision and the users.",
        "Data": _data_section(X, y, centers),
        "Model": _model_section(model),
        "Validation": _validation_section(validation, validation_label),
        "TRIPOD+AI items still to fill in": "\n".join(f"- [ ] {item}"
                                                      for item in TRIPOD_AI_TO_FILL),
    }
    title = name or type(_steps(model)[-1]).__name__
    markdown = f"# Model card: {title}\n\n" + "\n\n".join(
        f"## {t}\n\n{body}" for t, body in sections.items()) + "\n"
    return ModelCard(markdown=markdown, sections=sections)
