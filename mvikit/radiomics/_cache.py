"""Content-addressed disk cache of radiomics features.

Extraction is the slow step of a radiomics study, and cross-validation and
grid search ask for the same (patient, volume, ROI, settings) again and again.
A result depends only on the voxels and geometry of the image, the voxels of
the mask and the pyradiomics settings, so the cache key is a hash of exactly
those - never of Python object identity - and a result computed in one fold,
one process or one session is found by every other.

Entries are small JSON files (``{feature name: value}``; Python's JSON writes
floats with ``repr``, which round-trips exactly) written atomically (temporary
file + ``os.replace``), so parallel workers sharing one folder never read a
partial entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

__all__ = ["FeatureCache", "volume_digest", "settings_digest", "entry_key", "cache_location"]

#: Sub-folder of the ``memory`` location holding the entries (joblib.Memory style).
CACHE_SUBDIR = "mvikit_radiomics"

_DIGEST_MEMO: dict = {}
_MEMO_LOCK = threading.Lock()
_MEMO_MAX = 16384


def _hash_array(array: np.ndarray, geometry: tuple) -> str:
    digest = hashlib.blake2b(digest_size=20)
    array = np.ascontiguousarray(array)
    digest.update(repr((array.dtype.str, array.shape, geometry)).encode())
    digest.update(array.view(np.uint8).reshape(-1).data)
    return digest.hexdigest()


def volume_digest(volume, *, binary: bool = False) -> str:
    """Hash of a `Volume`'s voxels, spacing, origin and direction.

    ``binary=True`` hashes the mask ``volume > 0`` (what the extraction uses),
    so a mask stored as 0/1 or 0/255 gets one key.  Digests are memoised per
    ``Volume.cache_key`` (file path + size + mtime, or the read-only array's
    token), so a volume is hashed once per process.
    """
    memo_key = (volume.cache_key, binary)
    with _MEMO_LOCK:
        if memo_key in _DIGEST_MEMO:
            return _DIGEST_MEMO[memo_key]
    array = volume.array
    if binary:
        array = (array > 0).astype(np.uint8)
    geometry = (tuple(volume.spacing), tuple(volume.origin), tuple(volume.direction))
    value = _hash_array(array, geometry)
    with _MEMO_LOCK:
        if len(_DIGEST_MEMO) >= _MEMO_MAX:
            _DIGEST_MEMO.clear()
        _DIGEST_MEMO[memo_key] = value
    return value


def settings_digest(params: dict, version: str) -> str:
    """Hash of the resolved pyradiomics parameters and the pyradiomics version."""
    text = json.dumps({"params": params, "pyradiomics": version}, sort_keys=True, default=repr)
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def entry_key(settings: str, image: str, mask: str) -> str:
    """The cache key of one extraction."""
    return hashlib.blake2b(f"{settings}|{image}|{mask}".encode(), digest_size=20).hexdigest()


def cache_location(memory) -> Path | None:
    """The cache folder for ``memory``: a path, a ``joblib.Memory`` (its
    ``location``) or None (no caching)."""
    if memory is None:
        return None
    location = getattr(memory, "location", memory)
    if location is None:
        return None
    return Path(os.fspath(location)) / CACHE_SUBDIR


class FeatureCache:
    """A folder of ``<key>.json`` entries (two-character sub-folders)."""

    def __init__(self, location: Path | None):
        self.location = location

    def _path(self, key: str) -> Path:
        return self.location / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored features, or None on a miss (or without a location)."""
        if self.location is None:
            return None
        path = self._path(key)
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            # A damaged entry (disk full, killed writer on a filesystem without
            # atomic rename) is recomputed, not trusted.
            return None

    def put(self, key: str, features: dict) -> None:
        """Store ``features`` atomically (no reader ever sees a partial file)."""
        if self.location is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(features, stream)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
