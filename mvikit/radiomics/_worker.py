"""The pyradiomics calls of `RadiomicsFeatures`, as run in joblib workers.

A joblib (loky) worker is a fresh Python process that imports whatever
unpickling its task needs.  Importing `RadiomicsFeatures`' own module would
bring scikit-learn, SciPy and pandas along (2.3-2.6 s of imports per worker
against 0.5 s for this module, measured on an idle machine; with ``n_jobs=2``
on 2 cores that start-up cost a good part of the parallel speed-up of a
400-extraction run).  So for volumes held in memory,
the parent does the cheap mvikit-specific work - peritumoral shells, the
checks that name the patient, cache look-ups - and sends each worker
ready SimpleITK image/mask pairs; this module, which a worker imports to run
them, needs only numpy, SimpleITK and pyradiomics.  (File-backed volumes
are still read, checked and hashed in the workers, where the I/O runs in
parallel: see `RadiomicsFeatures`.)
"""

from __future__ import annotations

import copy
import logging
from contextlib import contextmanager
from typing import NamedTuple

from ._cache import FeatureCache

__all__ = ["Pair", "extract_pairs", "quiet_pyradiomics", "single_threaded_itk"]

_EXTRACTORS: dict = {}  # settings digest -> pyradiomics extractor, per process


class Pair(NamedTuple):
    """One extraction: a SimpleITK image, its binary mask, and its cache key (or None)."""

    image: object
    mask: object
    key: str | None


@contextmanager
def quiet_pyradiomics():
    """Silence pyradiomics' logger below ERROR (it logs every extraction)."""
    radiomics_logger = logging.getLogger("radiomics")
    level = radiomics_logger.level
    radiomics_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        radiomics_logger.setLevel(level)


@contextmanager
def single_threaded_itk():
    """ITK filters on one thread during extraction.

    ITK defaults to one thread per core; on small ROI crops the threading
    costs more than it gains (measured 1.3x slower on 2 cores) and it fights
    joblib's workers for the cores, so patients run in parallel instead.
    """
    import SimpleITK as sitk

    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def extractor(params: dict, settings_key: str):
    """The pyradiomics extractor of resolved (already schema-checked) parameters,
    built once per process."""
    found = _EXTRACTORS.get(settings_key)
    if found is None:
        # imported before quieting: importing pyradiomics sets its logger's level
        from radiomics import featureextractor

        with quiet_pyradiomics():
            found = featureextractor.RadiomicsFeatureExtractor(copy.deepcopy(params))
        _EXTRACTORS[settings_key] = found
    return found


def _extract_one(image, mask, params: dict, settings_key: str) -> dict:
    """Run pyradiomics on one SimpleITK image and binary mask.

    Returns ``{pyradiomics feature name: value}``, e.g.
    ``{"original_firstorder_Mean": 231.5, ...}``, diagnostics left out.
    """
    found = extractor(params, settings_key)  # first, so that pyradiomics is imported
    with quiet_pyradiomics():
        result = found.execute(image, mask, label=1)
    return {name: float(value) for name, value in result.items()
            if not name.startswith("diagnostics_")}


def extract_pairs(pairs: list, params: dict, settings_key: str, location) -> list:
    """Extract each pair; one ``dict`` of features, or the error message (``str``), per pair.

    Results are stored in the cache at ``location`` (None: no cache).  The
    parent turns a message into the error naming the patient, volume and ROI.
    """
    cache = FeatureCache(location)
    out: list = []
    with single_threaded_itk():
        for pair in pairs:
            try:
                # Looked up in the module namespace at call time (tests count the calls).
                values = _extract_one(pair.image, pair.mask, params, settings_key)
            except Exception as exc:  # pyradiomics' own errors: reported by the parent
                out.append(f"{type(exc).__name__}: {exc}")
                continue
            if pair.key is not None:
                cache.put(pair.key, values)
            out.append(values)
    return out
