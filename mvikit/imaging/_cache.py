"""The in-process cache of transformed volumes.

ROI transformers are re-applied to the same patients again and again: every
cross-validation fold, every grid-search candidate, ``fit`` then ``predict``.
Their outputs depend only on the input volumes and the transformer's
parameters, so they are kept here, keyed by the inputs' ``Volume.cache_key``
(file path + size + mtime, or the in-memory token) and the parameters.  The
cache is bounded in bytes and evicts the least recently used entry first, so
full-size intermediates cannot exhaust memory; crops are small and stay.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["volume_cache_info", "clear_volume_cache", "VOLUME_CACHE"]

_DEFAULT_MAX_BYTES = 2 * 1024**3


class _VolumeCache:
    """A thread-safe LRU mapping ``key -> tuple of Volume``, bounded in bytes."""

    def __init__(self, max_bytes: int = _DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
            return None

    def put(self, key, value, nbytes: int | None = None) -> None:
        # ``nbytes``: the size of a value that is not a tuple of Volume (e.g. slabs)
        size = nbytes if nbytes is not None else sum(v.array.nbytes for v in value
                                                     if not v.is_lazy)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._sizes[key] = size
            self._bytes += size
            while self._bytes > self.max_bytes:
                old, _ = self._items.popitem(last=False)
                self._bytes -= self._sizes.pop(old)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self._bytes = 0
            self.hits = 0
            self.misses = 0

    def info(self) -> dict:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "n_items": len(self._items),
                    "nbytes": self._bytes, "max_bytes": self.max_bytes}


#: The process-wide cache shared by every ROI transformer.
VOLUME_CACHE = _VolumeCache()


def volume_cache_info() -> dict:
    """Statistics of the in-process cache of transformed volumes.

    Returns
    -------
    dict
        ``hits``, ``misses``, ``n_items``, ``nbytes`` (voxel bytes held) and
        ``max_bytes`` (the bound; least recently used entries are evicted
        beyond it).

    See Also
    --------
    clear_volume_cache

    Examples
    --------
    >>> from mvikit.imaging import clear_volume_cache, volume_cache_info
    >>> clear_volume_cache()
    >>> volume_cache_info()["n_items"]
    0
    """
    return VOLUME_CACHE.info()


def clear_volume_cache(max_bytes: int | None = None) -> None:
    """Empty the in-process cache of transformed volumes (and reset its counters).

    Parameters
    ----------
    max_bytes : int, default=None
        New bound on the voxel bytes kept (default 2 GiB); unchanged when None.

    Examples
    --------
    >>> from mvikit.imaging import clear_volume_cache
    >>> clear_volume_cache()
    """
    VOLUME_CACHE.clear()
    if max_bytes is not None:
        VOLUME_CACHE.max_bytes = int(max_bytes)
