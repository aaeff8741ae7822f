"""`all_estimators`: every public estimator and transformer of mvikit."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClusterMixin,
    RegressorMixin,
    TransformerMixin,
)

__all__ = ["all_estimators"]

_TYPE_MIXINS = {
    "classifier": ClassifierMixin,
    "regressor": RegressorMixin,
    "transformer": TransformerMixin,
    "cluster": ClusterMixin,
}


def _public_subpackages():
    import mvikit

    for info in pkgutil.iter_modules(mvikit.__path__):
        if info.ispkg and not info.name.startswith("_"):
            yield f"mvikit.{info.name}"


def all_estimators(type_filter=None):
    """List every public estimator of mvikit, as scikit-learn's ``all_estimators``.

    An estimator is public when a public sub-package of mvikit exports it in
    ``__all__`` (``mvikit.imaging.ROICropper``, ``mvikit.clinical.NomogramClassifier``...).

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster", "survival"} \
or list of those, default=None
        Keep only estimators of these kinds (``"survival"``: estimators tagged
        as survival models by an ``_estimator_kind = "survival"`` attribute).

    Returns
    -------
    list of (str, type)
        ``(name, class)`` pairs sorted by name.

    Examples
    --------
    >>> from mvikit.utils import all_estimators
    >>> names = [name for name, _ in all_estimators(type_filter="transformer")]
    >>> "ClinicalPreprocessor" in names
    True
    """
    found = {}
    for package in _public_subpackages():
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            # a "cohort-stage" (the deep estimators' CohortTensorizer) is a part of an
            # estimator returning tensors, not an estimator of its own
            if (inspect.isclass(obj) and issubclass(obj, BaseEstimator)
                    and not inspect.isabstract(obj) and not name.startswith("_")
                    and getattr(obj, "_estimator_kind", None) != "cohort-stage"):
                found[name] = obj
    estimators = sorted(found.items())
    if type_filter is None:
        return estimators
    filters = [type_filter] if isinstance(type_filter, str) else list(type_filter)
    unknown = set(filters) - set(_TYPE_MIXINS) - {"survival"}
    if unknown:
        raise ValueError(
            f"Unknown type_filter {sorted(unknown)}; use any of "
            f"{sorted([*_TYPE_MIXINS, 'survival'])}."
        )

    def keep(cls):
        survival = getattr(cls, "_estimator_kind", None) == "survival"
        for kind in filters:
            if kind == "survival" and survival:
                return True
            if kind in _TYPE_MIXINS and issubclass(cls, _TYPE_MIXINS[kind]):
                return True
        return False

    return [(name, cls) for name, cls in estimators if keep(cls)]
