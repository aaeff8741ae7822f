"""Volumes, image I/O (SimpleITK), validation and ROI preprocessing transformers.

The transformers map a cohort frame to a cohort frame: image and mask cells are
replaced by transformed in-memory `Volume` cells, every other column passes
through unchanged, and results are cached per volume (`volume_cache_info`).
"""

from ._cache import clear_volume_cache, volume_cache_info
from ._checks import validate_cohort
from ._crop import ROICropper
from ._downsample import VolumeDownsampler
from ._heterogeneity import HeterogeneityScore
from ._io import read_image, write_image
from ._normalize import IntensityNormalizer
from ._resample import VolumeResampler, resample_mask
from ._shell import PeritumoralShell
from ._volume import Volume, as_volume

__all__ = [
    "Volume",
    "as_volume",
    "read_image",
    "write_image",
    "validate_cohort",
    "VolumeResampler",
    "resample_mask",
    "VolumeDownsampler",
    "ROICropper",
    "IntensityNormalizer",
    "PeritumoralShell",
    "HeterogeneityScore",
    "volume_cache_info",
    "clear_volume_cache",
]
