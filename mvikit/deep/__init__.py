"""Deep networks over cohort frames, as scikit-learn estimators (skorch).

`VolumeNetClassifier` trains any architecture of the register
(`mvikit.deep.nets.list_architectures`: the 3D baselines, MD-Net's networks alone,
a 2D slice ResNet, a multi-task UNet, and any architecture a user registers);
`MDNetClassifier` trains MD-Net's teacher and student jointly and predicts from
images only; `MTNetClassifier` is MTnet (seed 004) and its four comparison
models.  `CohortTensorizer` is the cohort-to-tensor stage they share.  The
PyTorch pieces live in `mvikit.deep.nets` (the register, one file per
architecture), `mvikit.deep.layers`, `mvikit.deep.losses` and `mvikit.deep.augment`.
"""

from ._ablation import dmmgnet_models, mdnet_ablation_models
from ._cdlm import CDLM_PHASES, CDLMClassifier, PretrainedWeightsError
from ._cdlm_models import CDLM_CLINICAL, CDLM_RADIOLOGICAL, cdlm_models
from ._cmir import cmir_models
from ._dice import dice_coefficient
from ._gradcam import GradCAMResult, gradcam
from ._mdnet import MDNetClassifier
from ._mtnet import MTNetClassifier, mtnet_models
from ._mtnet_horizon import horizon_task
from ._mtnet_risk import RiskCalculator, RiskReport
from ._tables import MDNetTablesResult, mdnet_tables
from ._tensorizer import CohortTensorizer
from ._volume_net import VolumeNetClassifier
from .nets import get_architecture, list_architectures, register_architecture

__all__ = [
    "CDLMClassifier",
    "CDLM_CLINICAL",
    "CDLM_PHASES",
    "CDLM_RADIOLOGICAL",
    "CohortTensorizer",
    "GradCAMResult",
    "MDNetClassifier",
    "MDNetTablesResult",
    "PretrainedWeightsError",
    "VolumeNetClassifier",
    "cdlm_models",
    "cmir_models",
    "dmmgnet_models",
    "MTNetClassifier",
    "RiskCalculator",
    "RiskReport",
    "dice_coefficient",
    "get_architecture",
    "gradcam",
    "horizon_task",
    "list_architectures",
    "mdnet_ablation_models",
    "mdnet_tables",
    "mtnet_models",
    "register_architecture",
]
