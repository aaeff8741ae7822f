"""mvikit.radiomics: pyradiomics features, fold-safe feature selection, the
LASSO radiomics signature (rad-score), ComBat harmonisation and the combined
radiomics nomogram."""

from ._features import RadiomicsFeatures

__all__ = ["RadiomicsFeatures"]
