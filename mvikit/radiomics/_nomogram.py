"""`radiomics_nomogram`: clinical items + rad-score in one logistic nomogram (a pipeline recipe)."""

from __future__ import annotations

from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline

from ..clinical import NomogramClassifier
from ..preprocessing import ClinicalPreprocessor
from ._features import RadiomicsFeatures
from ._radscore import RadScore
from ._selection import CorrelationFilter, NearZeroVarianceFilter

__all__ = ["radiomics_nomogram", "radiomics_signature"]


def radiomics_signature(radiomics=None, *, selectors="default", rad_score=None):
    """The radiomics-signature pipeline: features -> impute -> selection -> `RadScore`.

    Parameters
    ----------
    radiomics : RadiomicsFeatures, default=None
        The extraction step (cloned); default ``RadiomicsFeatures()``.
    selectors : "default", list of (name, transformer) or None, default="default"
        Filters between imputation and the LASSO: ``"default"`` is
        `NearZeroVarianceFilter` then ``CorrelationFilter(threshold=0.9)``.
    rad_score : RadScore, default=None
        The signature (cloned); default ``RadScore()``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``extract``, ``impute`` (training median), the selectors, ``rad_score``;
        a classifier (``predict_proba``) and a transformer (``rad_score`` column).

    Examples
    --------
    >>> from mvikit.radiomics import radiomics_signature
    >>> [name for name, _ in radiomics_signature().steps]
    ['extract', 'impute', 'near_zero_variance', 'correlation', 'rad_score']
    """
    if isinstance(selectors, str) and selectors == "default":
        selectors = [("near_zero_variance", NearZeroVarianceFilter()),
                     ("correlation", CorrelationFilter(threshold=0.9))]
    steps = [("extract", clone(radiomics) if radiomics is not None else RadiomicsFeatures()),
             ("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    steps += [(name, clone(step)) for name, step in (selectors or [])]
    steps.append(("rad_score", clone(rad_score) if rad_score is not None else RadScore()))
    return Pipeline(steps).set_output(transform="pandas")


def radiomics_nomogram(radiomics=None, *, selectors="default", rad_score=None, clinical=None,
                       classifier=None):
    """The combined radiomics nomogram: clinical items and the rad-score in one
    logistic model (seed 004's Model CR-DR, with a hand-crafted signature).

    The cohort frame goes to two branches - the radiomics signature
    (`radiomics_signature`, fitted on the training fold, giving ``rad_score``)
    and `ClinicalPreprocessor` on the clinical columns - whose outputs are
    joined and fed to `NomogramClassifier` (variable selection, odds ratios).

    Parameters
    ----------
    radiomics, selectors, rad_score
        As in `radiomics_signature`.
    clinical : ClinicalPreprocessor, default=None
        The clinical branch (cloned); default ``ClinicalPreprocessor()``.
    classifier : estimator, default=None
        The final model (cloned); default ``NomogramClassifier()`` (backward
        Wald selection, which keeps ``rad_score`` only when it adds to the
        clinical items).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``features`` (a `FeatureUnion` of ``radiomics`` and ``clinical``,
        columns ``rad_score`` then the clinical design columns) and ``nomogram``.

    Notes
    -----
    The rad-score of a training patient comes from a signature fitted on that
    same training fold (as in published radiomics nomograms), so it is
    optimistic inside the fold; cross-validate the whole pipeline to judge it.

    ``Nomogram.from_estimator(model)`` (`mvikit.clinical.Nomogram`) draws the
    fitted pipeline directly: the clinical variables in their original units
    (through the `ClinicalPreprocessor`'s log, scaling and coding) and a
    "Rad-score" axis in rad-score units.  Its ``points`` and
    ``risk_calculator`` read the rad-score from a ``rad_score`` column when
    the row holds one, and otherwise compute it from the row's volumes and
    masks with the fitted signature.

    Examples
    --------
    >>> from mvikit.radiomics import radiomics_nomogram
    >>> model = radiomics_nomogram()
    >>> [name for name, _ in model.steps]
    ['features', 'nomogram']
    """
    union = FeatureUnion(
        [("radiomics", radiomics_signature(radiomics, selectors=selectors, rad_score=rad_score)),
         ("clinical", clone(clinical) if clinical is not None else ClinicalPreprocessor())],
        verbose_feature_names_out=False,
    )
    final = clone(classifier) if classifier is not None else NomogramClassifier()
    return Pipeline([("features", union), ("nomogram", final)]).set_output(transform="pandas")
