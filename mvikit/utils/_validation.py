"""Thin, pinned wrappers around scikit-learn's parameter-validation helpers.

scikit-learn keeps ``_fit_context`` and the constraint classes private.  mvikit
imports them in this one module (supported: scikit-learn >= 1.6, < 1.10) so a
change upstream is mended in one place.
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    Options,
    StrOptions,
    validate_params,
)

__all__ = [
    "fit_context",
    "HasMethods",
    "Hidden",
    "Integral",
    "Interval",
    "Options",
    "Real",
    "StrOptions",
    "validate_params",
]


def fit_context(*, prefer_skip_nested_validation: bool = True):
    """Decorator for ``fit``: validates ``_parameter_constraints`` first.

    Parameters
    ----------
    prefer_skip_nested_validation : bool, default=True
        Skip re-validating parameters of nested estimators (``True`` unless
        the estimator holds user-supplied sub-estimators).
    """
    return _fit_context(prefer_skip_nested_validation=prefer_skip_nested_validation)
