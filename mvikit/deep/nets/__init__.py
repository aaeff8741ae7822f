"""The 3D networks of mvikit, one architecture family per module (pure PyTorch)."""

from .baselines import CNN3DNet, ConcatNet, LSTMNet
from .mdnet import MRIClinicalFusionModule, MRIOnlyModule, StudentNet, TeacherNet

__all__ = [
    "CNN3DNet",
    "ConcatNet",
    "LSTMNet",
    "MRIClinicalFusionModule",
    "MRIOnlyModule",
    "StudentNet",
    "TeacherNet",
]
