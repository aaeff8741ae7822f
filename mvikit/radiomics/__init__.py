"""mvikit.radiomics: pyradiomics features of each volume and ROI, fold-safe
feature selection, the LASSO radiomics signature (rad-score), ComBat
harmonisation across centres and the combined radiomics nomogram."""

from ._combat import ComBat
from ._features import RadiomicsFeatures
from ._nomogram import radiomics_nomogram, radiomics_signature
from ._radscore import LassoSelector, RadScore
from ._selection import CorrelationFilter, MRMRSelector, NearZeroVarianceFilter, UnivariateFilter

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
