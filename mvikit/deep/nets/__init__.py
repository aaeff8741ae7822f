"""The networks of mvikit (pure PyTorch), one architecture per module, found through the
architecture register (`register_architecture`, `get_architecture`, `list_architectures`)."""

from ._registry import (
                        Architecture,
                        ArchitectureBuilder,
                        ArchitectureContractError,
                        build_record,
                        check_module_output,
                        get_architecture,
                        list_architectures,
                        register_architecture,
)
from .baselines import CNN3DNet, ConcatNet, LSTMNet
from .cdlm import CDLMNet
from .cmir import CMIR_ARCHITECTURES, CMIR_VARIANTS, CMIRNet, build_cmir
from .dmmgnet import DMMGNet
from .mdnet import MRIClinicalFusionModule, MRIOnlyModule, StudentNet, TeacherNet
from .mtnet import ClinicalBlock, MTNet
from .multitask import SegmentationClassifierNet
from .resnet2d import SliceResNet, resnet18_trunk

__all__ = [
    "Architecture",
    "ArchitectureBuilder",
    "ArchitectureContractError",
    "CDLMNet",
    "CMIRNet",
    "CMIR_ARCHITECTURES",
    "CMIR_VARIANTS",
    "CNN3DNet",
    "ClinicalBlock",
    "ConcatNet",
    "DMMGNet",
    "LSTMNet",
    "MTNet",
    "MRIClinicalFusionModule",
    "MRIOnlyModule",
    "SegmentationClassifierNet",
    "SliceResNet",
    "StudentNet",
    "TeacherNet",
    "build_cmir",
    "build_record",
    "check_module_output",
    "get_architecture",
    "list_architectures",
    "register_architecture",
    "resnet18_trunk",
]
