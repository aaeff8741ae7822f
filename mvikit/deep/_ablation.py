"""`mdnet_ablation_models` and `dmmgnet_models`: the configurations of MD-Net's Tables
II-IV and of DMMGNet's Table 1."""

from __future__ import annotations

from sklearn.base import BaseEstimator

from ._mdnet import MDNetClassifier
from ._volume_net import VolumeNetClassifier
from .nets import get_architecture

__all__ = ["DMMGNET_TABLE_1", "dmmgnet_models", "mdnet_ablation_models"]

TABLES = ("II", "III", "IV")


def mdnet_ablation_models(tables=TABLES, *, pre: str = "PRE", hbp: str = "HBP",
                          **params) -> dict[str, BaseEstimator]:
    """Unfitted estimators for the rows of MD-Net's Tables II-IV, by the paper's names.

    Table II: ``"Concat"``, ``"3DCNN"``, ``"LSTM"`` (image baselines),
    ``"KD_ours"`` (class-level KD only), ``"SP_ours"`` (similarity-preserving KD),
    ``"Our method"``.  Table III: ``"S-PRE"``, ``"S-HBP"``, ``"S-PRE-HBP"``,
    ``"S-PRE-HBP(Clinical)"`` (students without a teacher, the last with the
    clinical-regression head), ``"Only-Clinical"`` (preprocessed clinical items
    -> one linear layer, i.e. multinomial logistic regression),
    ``"T-Clinical-PRE"``, ``"T-Clinical-HBP"``, ``"T-Clinical-PRE-HBP"``
    (teachers trained alone), ``"ours-w/o-hbp"``, ``"ours-w/o-pre"``.
    Table IV: ``"ours-w/o-clinical-pred-loss"``, ``"ours-w/o-class-distill-loss"``,
    ``"ours-w/o-HBP-feature-distill-loss"``, ``"ours-w/o-PRE-feature-distill-loss"``,
    ``"ours-w/o-feature-distill-loss"``.  M2Net, Concat_2S, AdaMSS and XSuv of
    Table II are not provided.

    Parameters
    ----------
    tables : sequence of {"II", "III", "IV"}, default=("II", "III", "IV")
        Tables whose rows to include ("Our method" appears once).
    pre, hbp : str, default="PRE", "HBP"
        Names of the two volume columns.
    **params
        Passed to every deep estimator (e.g. ``preset="cpu"``,
        ``random_state=0``, ``max_epochs=...``).

    Returns
    -------
    dict
        ``{row name: estimator}``, in table order.

    Examples
    --------
    >>> models = mdnet_ablation_models(["IV"], preset="cpu", random_state=0)
    >>> list(models)[:2]
    ['Our method', 'ours-w/o-clinical-pred-loss']
    >>> models["ours-w/o-HBP-feature-distill-loss"].feature_kd_weights
    {'HBP': 0.0}
    """
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"Unknown table(s) {sorted(unknown)}; choose from {TABLES}.")
    both = [pre, hbp]

    def mdnet(**kw) -> MDNetClassifier:
        return MDNetClassifier(volumes=kw.pop("volumes", both), **{**params, **kw})

    def baseline(architecture: str, **kw) -> VolumeNetClassifier:
        get_architecture(architecture)  # the rows' networks come from the register
        return VolumeNetClassifier(architecture, volumes=kw.pop("volumes", both),
                                   **{**params, **kw})

    models: dict[str, BaseEstimator] = {"Our method": mdnet()}
    if "II" in tables:
        models.update({
            "Concat": baseline("concat"),
            "3DCNN": baseline("cnn3d"),
            "LSTM": baseline("lstm"),
            "KD_ours": mdnet(distillation="hinton", clinical_weight=0.0),
            "SP_ours": mdnet(distillation="sp", clinical_weight=0.0),
        })
    if "III" in tables:
        models.update({
            "S-PRE": mdnet(volumes=[pre], distillation="none", clinical_weight=0.0),
            "S-HBP": mdnet(volumes=[hbp], distillation="none", clinical_weight=0.0),
            "S-PRE-HBP": mdnet(distillation="none", clinical_weight=0.0),
            "S-PRE-HBP(Clinical)": mdnet(distillation="none"),
            "Only-Clinical": _only_clinical(),
            "T-Clinical-PRE": baseline("mdnet_teacher", volumes=[pre], use_clinical=True,
                                       focal_gamma=2.0),
            "T-Clinical-HBP": baseline("mdnet_teacher", volumes=[hbp], use_clinical=True,
                                       focal_gamma=2.0),
            "T-Clinical-PRE-HBP": baseline("mdnet_teacher", use_clinical=True,
                                           focal_gamma=2.0),
            "ours-w/o-hbp": mdnet(volumes=[pre]),
            "ours-w/o-pre": mdnet(volumes=[hbp]),
        })
    if "IV" in tables:
        models.update({
            "ours-w/o-clinical-pred-loss": mdnet(clinical_weight=0.0),
            "ours-w/o-class-distill-loss": mdnet(class_kd_weight=0.0),
            "ours-w/o-HBP-feature-distill-loss": mdnet(feature_kd_weights={hbp: 0.0}),
            "ours-w/o-PRE-feature-distill-loss": mdnet(feature_kd_weights={pre: 0.0}),
            "ours-w/o-feature-distill-loss": mdnet(feature_kd_weights=0.0),
        })
    return models


def _only_clinical() -> BaseEstimator:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from ..preprocessing import ClinicalPreprocessor

    return make_pipeline(ClinicalPreprocessor(), LogisticRegression(max_iter=1000))


#: Table 1 of DMMGNet (seed 002): row name -> registered architecture.
DMMGNET_TABLE_1 = {
    "Baseline": "dmmgnet_baseline",
    "Baseline+SGCM": "dmmgnet_sgcm",
    "Baseline+MMDFM": "dmmgnet_mmdfm",
    "Baseline+CMTFM": "dmmgnet_cmtfm",
    "Baseline+SGCM+MMDFM": "dmmgnet_sgcm_mmdfm",
    "Baseline+SGCM+CMTFM": "dmmgnet_sgcm_cmtfm",
    "Baseline+MMDFM+CMTFM": "dmmgnet_mmdfm_cmtfm",
    "DMMGNet": "dmmgnet",
}


def dmmgnet_models(task: str = "classification", *, t2: str = "T2", pv: str = "PV",
                   **params) -> dict[str, BaseEstimator]:
    """Unfitted estimators for the eight rows of DMMGNet's Table 1 (seed 002).

    The baseline (four liver/tumour CNN branches read by an LSTM), the baseline with
    each graph module (SGCM, MMDFM, CMTFM), with each pair, and the full DMMGNet;
    one architecture with module switches (`mvikit.deep.nets.DMMGNet`), registered
    once per row.

    Parameters
    ----------
    task : {"classification", "survival"}, default="classification"
        ``"classification"``: `VolumeNetClassifier` (1-year progression, for
        `mvikit.model_selection.compare_models`: ACC, AUC, F1); ``"survival"``:
        `mvikit.survival.DeepCoxSurvival` (PFS with the Cox partial likelihood, eq. 9,
        for `mvikit.model_selection.compare_models`: C-index and, per fold, the HR of
        the training-median risk groups).
    t2, pv : str, default="T2", "PV"
        The two volume columns, in the paper's order (PV's tumour mask places CMTFM's
        patches).
    **params
        Passed to every estimator (``preset``, ``random_state``, ``max_epochs``...).

    Returns
    -------
    dict
        ``{row name: estimator}`` in the table's order: ``"Baseline"``,
        ``"Baseline+SGCM"``, ``"Baseline+MMDFM"``, ``"Baseline+CMTFM"``,
        ``"Baseline+SGCM+MMDFM"``, ``"Baseline+SGCM+CMTFM"``,
        ``"Baseline+MMDFM+CMTFM"``, ``"DMMGNet"``.

    Examples
    --------
    >>> from mvikit.deep import dmmgnet_models
    >>> models = dmmgnet_models(random_state=0)
    >>> models["Baseline+CMTFM"].architecture, models["DMMGNet"].volumes
    ('dmmgnet_cmtfm', ['T2', 'PV'])
    >>> type(dmmgnet_models("survival")["DMMGNet"]).__name__
    'DeepCoxSurvival'
    """
    if task not in ("classification", "survival"):
        raise ValueError(f"task={task!r}; choose 'classification' (1-year progression) or "
                         "'survival' (PFS).")
    if task == "survival":
        from ..survival import DeepCoxSurvival as estimator
    else:
        estimator = VolumeNetClassifier
    for architecture in DMMGNET_TABLE_1.values():
        get_architecture(architecture)  # the rows' networks come from the register
    return {row: estimator(architecture, volumes=[t2, pv], **params)
            for row, architecture in DMMGNET_TABLE_1.items()}
