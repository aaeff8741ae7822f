"""Which types a model file may name: the trust policy of :func:`load_model`.

Loading builds objects with ``cls.__new__(cls)`` and restores their state,
never calling a function named in the file.  A file can therefore only do
what the ``__setstate__`` of the classes it names does, and it may name only:

* classes defined in an importable ``mvikit.*`` module (the code the user
  already runs); computed when asked, so renamed or new mvikit classes need no list;
* scikit-learn estimators (subclasses of ``BaseEstimator`` defined in ``sklearn.*``);
* statsmodels models, results, wrappers, model data and GLM families/links
  (held by mvikit's logistic models);
* as bare type references (no instance is built from them): the builtin
  scalar types and numpy scalar types (e.g. ``OneHotEncoder(dtype=float)``).

numpy arrays, dtypes and random states, pandas frames, series, indexes and
categoricals, and Python containers are encoded as data, not as objects.
Deep-learning objects (torch tensors and modules, skorch nets) are not
trusted yet: their state holds optimisers, devices and callables that this
format does not encode.
"""

from __future__ import annotations

import importlib
import inspect

__all__ = ["is_trusted_class", "is_trusted_type_reference", "resolve_name", "type_name"]

_BUILTIN_TYPES = {"builtins.int", "builtins.float", "builtins.str", "builtins.bool",
                  "builtins.complex", "builtins.object"}


def type_name(cls) -> str:
    """``module.qualname`` of a class, the name written in a model file."""
    return f"{cls.__module__}.{cls.__qualname__}"


def resolve_name(name: str):
    """The class named ``module.qualname``, or None when no module defines it.

    Only imports the module (modules of the trusted packages only, see the
    callers) and reads attributes; the class must be defined where it is
    named (its ``__module__``), so a re-export cannot smuggle one in.
    """
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name, attributes = ".".join(parts[:cut]), parts[cut:]
        try:
            obj = importlib.import_module(module_name)
        except ImportError:
            continue
        for attribute in attributes:
            obj = getattr(obj, attribute, None)
        if inspect.isclass(obj) and type_name(obj) == name:
            return obj
        return None
    return None


def _statsmodels_bases():
    from statsmodels.base.data import ModelData
    from statsmodels.base.model import Model, Results
    from statsmodels.base.wrapper import ResultsWrapper
    from statsmodels.genmod.families import Family, links, varfuncs

    return (Model, Results, ResultsWrapper, ModelData, Family, links.Link,
            varfuncs.VarianceFunction)


def is_trusted_class(name: str) -> bool:
    """Whether a model file may build an instance of the class ``name``.

    Examples
    --------
    >>> from mvikit.study._trust import is_trusted_class
    >>> is_trusted_class("sklearn.linear_model._logistic.LogisticRegression")
    True
    >>> is_trusted_class("os.system"), is_trusted_class("builtins.eval")
    (False, False)
    """
    root = name.split(".", 1)[0]
    if root not in ("mvikit", "sklearn", "statsmodels"):
        return False  # never import anything else
    cls = resolve_name(name)
    if cls is None:
        return False
    if root == "mvikit":
        return True
    if root == "sklearn":
        from sklearn.base import BaseEstimator

        return issubclass(cls, BaseEstimator)
    return issubclass(cls, _statsmodels_bases())


def is_trusted_type_reference(name: str) -> bool:
    """Whether a model file may refer to the type ``name`` (no instance is built)."""
    if name in _BUILTIN_TYPES:
        return True
    if name.startswith("numpy."):
        import numpy as np

        cls = resolve_name(name)
        return cls is not None and issubclass(cls, np.generic)
    return is_trusted_class(name)
