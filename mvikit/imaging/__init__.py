"""Volumes, image I/O (SimpleITK) and ROI preprocessing transformers."""

from ._io import read_image, write_image
from ._volume import Volume, as_volume

__all__ = [
    "Volume",
    "as_volume",
    "read_image",
    "write_image",
]
