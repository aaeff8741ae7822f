"""Which types a model file may name: the trust policy of :func:`load_model`.

Loading builds objects with ``cls.__new__(cls)`` and restores their state,
never calling a function named in the file.  A file can therefore only do
what the ``__setstate__`` of the classes it names does, and it may name only:

* classes defined in an importable ``mvikit.*`` module (the code the user
  already runs); computed when asked, so renamed or new mvikit classes need no list;
* scikit-learn estimators (subclasses of ``BaseEstimator`` defined in ``sklearn.*``);
* statsmodels models, results, wrappers, model data and GLM families/links
  (held by mvikit's logistic models);
* scikit-survival's Breslow baseline and step functions (held by the Cox models),
  scikit-learn's MLP optimisers (held by a fitted ``MLPClassifier``);
* as bare type references (no instance is built from them by the file): the
  builtin scalar types and numpy scalar types (e.g. ``OneHotEncoder(dtype=float)``),
  and the torch optimisers, learning-rate schedulers, ``DataLoader`` and skorch's
  ``Dataset`` that a trainer's parameters name.

numpy arrays, dtypes and random states, pandas frames, series, indexes and
categoricals, and Python containers are encoded as data, not as objects.
Deep-learning objects never take the state-restoring path (skorch's
``__setstate__`` calls ``torch.load``): they have node kinds of their own
(:mod:`mvikit.study._torch_state`), which may name only mvikit's trainers
(`is_trusted_trainer`), mvikit's torch modules (`is_trusted_module_class`),
skorch's ``LRScheduler`` callback and registered architectures.
"""

from __future__ import annotations

import importlib
import inspect

__all__ = ["is_trusted_callback", "is_trusted_class", "is_trusted_module_class",
           "is_trusted_trainer", "is_trusted_type_reference", "resolve_name", "type_name"]

_BUILTIN_TYPES = {"builtins.int", "builtins.float", "builtins.str", "builtins.bool",
                  "builtins.complex", "builtins.object"}
#: scikit-survival classes a fitted Cox model holds (plain data: arrays and floats).
_SKSURV_CLASSES = {"sksurv.linear_model.coxph.BreslowEstimator", "sksurv.functions.StepFunction"}
#: The one skorch callback a trainer's ``callbacks`` may hold (built from its parameters).
_CALLBACKS = {"skorch.callbacks.lr_scheduler.LRScheduler"}


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
    if name in _SKSURV_CLASSES:
        return resolve_name(name) is not None
    root = name.split(".", 1)[0]
    if root not in ("mvikit", "sklearn", "statsmodels"):
        return False  # never import anything else
    cls = resolve_name(name)
    if cls is None:
        return False
    if root == "mvikit":
        return not _is_torch_derived(cls)
    if root == "sklearn":
        from sklearn.base import BaseEstimator
        from sklearn.neural_network._stochastic_optimizers import BaseOptimizer

        return issubclass(cls, (BaseEstimator, BaseOptimizer))
    return issubclass(cls, _statsmodels_bases())


def _is_torch_derived(cls) -> bool:
    """Networks and trainers: restored only through their own node kinds."""
    import sys

    torch, skorch = sys.modules.get("torch"), sys.modules.get("skorch")
    return bool((torch is not None and issubclass(cls, torch.nn.Module))
                or (skorch is not None and issubclass(cls, skorch.NeuralNet)))


def _mvikit_subclass(name: str, base) -> bool:
    if not name.startswith("mvikit."):
        return False
    cls = resolve_name(name)
    return cls is not None and issubclass(cls, base)


def is_trusted_trainer(name: str) -> bool:
    """Whether a model file may build the trainer ``name`` (an mvikit `CohortTrainer`).

    Examples
    --------
    >>> from mvikit.study._trust import is_trusted_trainer
    >>> is_trusted_trainer("mvikit.deep._trainers.CohortTrainer")
    True
    >>> is_trusted_trainer("skorch.net.NeuralNet")
    False
    """
    from ..deep._trainers import CohortTrainer

    return _mvikit_subclass(name, CohortTrainer)


def is_trusted_module_class(name: str) -> bool:
    """Whether a model file may call the torch module class ``name`` (an mvikit one)."""
    import torch

    return _mvikit_subclass(name, torch.nn.Module)


def is_trusted_callback(name: str) -> bool:
    """Whether a model file may build the skorch callback ``name`` from its parameters."""
    return name in _CALLBACKS and resolve_name(name) is not None


def _is_training_type(name: str) -> bool:
    """The torch/skorch classes a trainer's parameters name (built by skorch in fit)."""
    root = name.split(".", 1)[0]
    if root not in ("torch", "skorch"):
        return False
    cls = resolve_name(name)
    if cls is None:
        return False
    import torch
    from skorch.dataset import Dataset
    from torch.optim import lr_scheduler

    return issubclass(cls, (torch.optim.Optimizer, lr_scheduler.LRScheduler,
                            lr_scheduler.ReduceLROnPlateau, torch.utils.data.DataLoader,
                            Dataset))


def is_trusted_type_reference(name: str) -> bool:
    """Whether a model file may refer to the type ``name`` (no instance is built)."""
    if name in _BUILTIN_TYPES:
        return True
    if name.startswith("numpy."):
        import numpy as np

        cls = resolve_name(name)
        return cls is not None and issubclass(cls, np.generic)
    return is_trusted_class(name) or _is_training_type(name)
