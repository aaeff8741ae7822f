"""Deep 3D networks over cohort frames, as scikit-learn classifiers (skorch).

`VolumeNetClassifier` trains the image baselines (3DCNN, Concat, LSTM) and MD-Net's
networks alone; `MDNetClassifier` trains MD-Net's teacher and student jointly
and predicts from images only.  The PyTorch pieces live in `mvikit.deep.nets`,
`mvikit.deep.layers`, `mvikit.deep.losses` and `mvikit.deep.augment`.
"""

from ._ablation import mdnet_ablation_models
from ._gradcam import GradCAMResult, gradcam
from ._mdnet import MDNetClassifier
from ._volume_net import VolumeNetClassifier

__all__ = [
    "GradCAMResult",
    "MDNetClassifier",
    "VolumeNetClassifier",
    "gradcam",
    "mdnet_ablation_models",
]
