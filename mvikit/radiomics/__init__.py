"""mvikit.radiomics: pyradiomics features of each volume and ROI, fold-safe
feature selection, the LASSO radiomics signature (rad-score), ComBat
harmonisation across centres and the combined radiomics nomogram."""

import importlib

__all__ = [
    "RadiomicsFeatures",
    "NearZeroVarianceFilter",
    "CorrelationFilter",
    "UnivariateFilter",
    "MRMRSelector",
    "LassoSelector",
    "RadScore",
    "ComBat",
    "radiomics_signature",
    "radiomics_nomogram",
]

# Imported on first use (PEP 562): a joblib worker running extractions imports
# only ``mvikit.radiomics._worker`` (numpy, SimpleITK, pyradiomics), not the
# scikit-learn estimators of this package.
_HOME = {
    "RadiomicsFeatures": "._features",
    "NearZeroVarianceFilter": "._selection",
    "CorrelationFilter": "._selection",
    "UnivariateFilter": "._selection",
    "MRMRSelector": "._selection",
    "LassoSelector": "._radscore",
    "RadScore": "._radscore",
    "ComBat": "._combat",
    "radiomics_signature": "._nomogram",
    "radiomics_nomogram": "._nomogram",
}


def __getattr__(name):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
