"""The study settings of ``mvikit compare``: a TOML/YAML study file and the model names.

A study file names the cohort, the outcome, the models, the cross-validation
and the report options, so that a study is one reproducible command::

    # study.toml
    cohort = "hospital/clinical.csv"
    outcome = "mvi"
    id_column = "patient_id"
    centre = "hospital"
    models = ["logistic", "nomogram"]
    cv = 5
    repeats = 1
    seed = 0
    out = "results"
"""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import InvalidSettingsError

__all__ = ["MODEL_NAMES", "STUDY_DEFAULTS", "build_models", "read_study_file"]

STUDY_DEFAULTS = {
    "cohort": None, "outcome": None, "id_column": None, "centre": None,
    "models": ["logistic", "nomogram"], "cv": 5, "repeats": 1, "seed": 0,
    "out": None, "title": "Model comparison", "overwrite": False, "n_jobs": None,
}

MODEL_NAMES = {
    "logistic": "clinical logistic regression (all clinical columns, L2, C=0.1)",
    "nomogram": "clinical nomogram (backward Wald selection, log-transformed skewed labs)",
    "radiomics": "radiomics signature (tumour + 5 mm shell, every image column; needs images)",
    "radiomics_nomogram": "clinical + rad-score nomogram (needs images)",
}
IMAGE_MODELS = {"radiomics", "radiomics_nomogram"}


def read_study_file(path) -> dict:
    """Read a TOML or YAML study file into the settings of ``mvikit compare``.

    Relative ``cohort`` and ``out`` paths are taken relative to the file.

    Parameters
    ----------
    path : str or path-like
        A ``.toml``, ``.yaml`` or ``.yml`` file.

    Returns
    -------
    dict
        The settings, defaults filled in.

    Raises
    ------
    InvalidSettingsError
        An unknown key (the allowed ones are listed), an unknown model name,
        or another file type.

    Examples
    --------
    >>> import os, tempfile
    >>> from mvikit.study import read_study_file
    >>> path = os.path.join(tempfile.mkdtemp(), "study.toml")
    >>> with open(path, "w") as handle:
    ...     _ = handle.write('cohort = "c.csv"\\noutcome = "mvi"\\nfolds = 5\\n')
    >>> read_study_file(path)
    Traceback (most recent call last):
    ...
    mvikit.exceptions.InvalidSettingsError: Unknown key(s) ['folds'] in study file ...
    """
    path = Path(os.fspath(path))
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        import tomllib

        settings = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        import yaml

        settings = yaml.safe_load(text) or {}
    else:
        raise InvalidSettingsError(f"Study file {str(path)!r} must be .toml, .yaml or .yml.")
    unknown = [key for key in settings if key not in STUDY_DEFAULTS]
    if unknown:
        raise InvalidSettingsError(f"Unknown key(s) {unknown} in study file {str(path)!r}; "
                                   f"allowed: {', '.join(STUDY_DEFAULTS)}.")
    for key in ("cohort", "out"):
        if settings.get(key) is not None and not Path(settings[key]).is_absolute():
            settings[key] = str(path.parent / settings[key])
    check_model_names(settings.get("models", STUDY_DEFAULTS["models"]))
    return {**STUDY_DEFAULTS, **settings}


def check_model_names(names) -> list:
    """The model names, checked against `MODEL_NAMES`."""
    names = [names] if isinstance(names, str) else list(names)
    unknown = [name for name in names if name not in MODEL_NAMES]
    if unknown or not names:
        raise InvalidSettingsError(f"Unknown model name(s) {unknown}; choose among: "
                                   + "; ".join(f"{k} ({v})" for k, v in MODEL_NAMES.items()))
    return names


def build_models(names, *, clinical, volumes=(), random_state=0) -> dict:
    """Unfitted models by name, for ``compare_models``.

    Parameters
    ----------
    names : list of str
        Keys of `MODEL_NAMES`.
    clinical : list of str
        The clinical columns.
    volumes : list of str, default=()
        The image columns the radiomics models read.
    random_state : int, default=0
        Seed of the models that draw random numbers.

    Returns
    -------
    dict of str -> estimator

    Examples
    --------
    >>> from mvikit.study import build_models
    >>> sorted(build_models(["logistic", "nomogram"], clinical=["age", "afp"]))
    ['logistic', 'nomogram']
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from ..clinical import NomogramClassifier
    from ..preprocessing import ClinicalPreprocessor

    clinical = list(clinical)
    builders = {
        "logistic": lambda: make_pipeline(ClinicalPreprocessor(clinical=clinical),
                                          LogisticRegression(C=0.1, max_iter=2000)),
        # pandas output keeps the column names: a variable's dummies are selected together
        "nomogram": lambda: make_pipeline(
            ClinicalPreprocessor(clinical=clinical, log_transform="auto"),
            NomogramClassifier(selection="backward", criterion="wald",
                               random_state=random_state)).set_output(transform="pandas"),
    }
    if set(names) & IMAGE_MODELS:
        from ..radiomics import (
            RadiomicsFeatures,
            radiomics_nomogram,
            radiomics_signature,
        )

        def features():
            return RadiomicsFeatures(volumes=list(volumes), peritumoral_mm=5.0)

        builders["radiomics"] = lambda: radiomics_signature(features())
        builders["radiomics_nomogram"] = lambda: radiomics_nomogram(
            features(), clinical=ClinicalPreprocessor(clinical=clinical, log_transform="auto"))
    return {name: builders[name]() for name in check_model_names(names)}
