"""mvikit: scikit-learn estimators for HCC vascular-invasion research.

One cohort DataFrame (clinical columns + `Volume` columns) feeds clinical
nomograms, radiomics signatures, deep 3D networks and survival models, so all
of them run in the same ``Pipeline``/``cross_val_score``/``GridSearchCV`` calls.
"""

from ._version import __version__
from .imaging._volume import Volume
from ._show_versions import show_versions

__all__ = ["__version__", "Volume", "show_versions"]
