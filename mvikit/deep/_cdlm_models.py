"""`cdlm_models`: the models of seed 003's Table 3, for `compare_models`."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline

from ._cdlm import CDLM_PHASES, CDLMClassifier
from ._volume_net import VolumeNetClassifier

__all__ = ["cdlm_models", "CDLM_CLINICAL", "CDLM_RADIOLOGICAL"]

#: Preoperative clinical and laboratory columns of the simulated cohort (MD-Net's
#: Table I items of the groups "clinical", "clinical/hematological" and
#: "clinical/radiological"; the pathological items are postoperative and left out).
CDLM_CLINICAL: tuple[str, ...] = (
    "gender", "age", "bclc", "child_pugh", "hbv_dna", "hbv_or_hcv", "hcv", "hbv", "afp",
    "cea", "ca199", "plt", "tbil", "dbil", "tp", "alb", "alt", "ast", "akp", "ggt", "tba",
    "ldh", "aplb", "pt")

_RADIOLOGICAL_MRI = (
    "size", "number", "multifocality", "nodule_in_nodule", "ip_op", "necrosis", "t2wi",
    "rim_aphe", "t1wi", "mosaic", "targetoid", "hbp_hypo", "margin", "peritumoral_enhancement",
    "capsule_enhancement", "peritumoral_hypointensity", "hemorrhage", "ascites", "aphe",
    "washout", "lirads", "ap_enhancement_intensity", "non_enhancing_capsule",
    "peritumoral_enhancement_shape", "enhanced_capsule")
#: MRI-only descriptors (T1/T2 signal, in/opposed phase, hepatobiliary phase) left out on CT.
_MRI_ONLY = ("ip_op", "t2wi", "t1wi", "hbp_hypo", "peritumoral_hypointensity")

#: The radiologist's descriptors a reader records on each modality (simulated cohort
#: column names).  In the simulator each descriptor is read once per patient, so the CT
#: and MRI radiological models differ by the MRI-only descriptors alone.
CDLM_RADIOLOGICAL: dict[str, tuple[str, ...]] = {
    "mri": _RADIOLOGICAL_MRI,
    "ct": tuple(c for c in _RADIOLOGICAL_MRI if c not in _MRI_ONLY),
}


def cdlm_models(modality: str = "mri", *, phases=None, clinical_model=("afp",),
                clinical=None, radiological=None, **params) -> dict[str, BaseEstimator]:
    """Unfitted estimators for the rows of seed 003's Table 3, for one modality.

    ``"Clinical model"``: logistic regression on the paper's selected clinical
    factor, AFP (log-transformed, as its distribution is heavy-tailed);
    ``"Radiological model"``: logistic regression on the radiologist's
    descriptors of the modality, chosen by univariable then backward
    multivariable selection inside each training fold
    (`mvikit.clinical.NomogramClassifier`); ``"Signature <phase>"``: each
    phase's 2D ResNet18 on its three largest-tumour slices alone
    (`VolumeNetClassifier` ``"resnet18_slices"``, the network behind one DL
    signature); ``"Fusion DL model"``: the signatures fused without clinical
    factors (`CDLMClassifier` with ``factors=None``); ``"CDLM"``: the signatures
    fused with the clinical and radiological factors selected in the fold.

    Parameters
    ----------
    modality : {"mri", "ct"}, default="mri"
        The phases (`CDLM_PHASES`) and the descriptors (`CDLM_RADIOLOGICAL`).
    phases : list of str, default=None
        Volume columns; None: ``CDLM_PHASES[modality]``.
    clinical_model : sequence of str, default=("afp",)
        Columns of the clinical model.
    clinical, radiological : sequence of str, default=None
        Candidate clinical and radiological columns of CDLM's factor selection
        (None: `CDLM_CLINICAL` and ``CDLM_RADIOLOGICAL[modality]``).
    **params
        Passed to the deep estimators (``preset``, ``random_state``,
        ``max_epochs``...); `CDLMClassifier`'s own parameters (``inner_cv``,
        ``pretrained_weights``...) to the two fusion models only.

    Returns
    -------
    dict
        ``{row name: estimator}`` in Table 3's order.

    Examples
    --------
    >>> from mvikit.deep import cdlm_models
    >>> models = cdlm_models("ct", random_state=0)
    >>> list(models)
    ['Clinical model', 'Radiological model', 'Signature CT_PLAIN', 'Signature CT_AP', \
'Signature CT_PV', 'Fusion DL model', 'CDLM']
    >>> models["CDLM"].volumes, models["Fusion DL model"].factors
    (['CT_PLAIN', 'CT_AP', 'CT_PV'], None)
    """
    from ..clinical import NomogramClassifier
    from ..preprocessing import ClinicalPreprocessor

    if modality not in CDLM_PHASES:
        raise ValueError(f"modality must be one of {sorted(CDLM_PHASES)}; got {modality!r}.")
    phases = list(CDLM_PHASES[modality] if phases is None else phases)
    radiological = list(CDLM_RADIOLOGICAL[modality] if radiological is None else radiological)
    candidates = list(CDLM_CLINICAL if clinical is None else clinical) + radiological
    clinical_model = list(clinical_model)
    models: dict[str, BaseEstimator] = {
        "Clinical model": make_pipeline(
            ClinicalPreprocessor(clinical=clinical_model, log_transform=clinical_model),
            NomogramClassifier(selection=None)),
        "Radiological model": make_pipeline(
            ClinicalPreprocessor(clinical=radiological).set_output(transform="pandas"),
            NomogramClassifier(selection="backward")),
    }
    # CDLM's own parameters (inner_cv, fusion_alpha...) do not apply to one phase's network
    shared = {k: v for k, v in params.items() if k in VolumeNetClassifier().get_params()}
    for phase in phases:
        models[f"Signature {phase}"] = VolumeNetClassifier("resnet18_slices", volumes=[phase],
                                                           **shared)
    models["Fusion DL model"] = CDLMClassifier(volumes=phases, factors=None, **params)
    models["CDLM"] = CDLMClassifier(volumes=phases, clinical=candidates, **params)
    return models
