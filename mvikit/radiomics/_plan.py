"""Planning the extractions of one patient: cache look-up, shells, checks, outcomes.

`RadiomicsFeatures` runs, for every patient, one *job* per (volume, ROI).  A
job's outcome is None (its sequence is missing: missing features), a dict of
features, an exception (raised or reported by the parent, naming patient and
column), or `_Pending` (still to extract).  For volumes in memory the parent
plans (`_look_up`, then `_prepare` builds the SimpleITK pairs) and the workers
only run pyradiomics (`mvikit.radiomics._worker`); a patient with file-backed
volumes is planned and extracted whole in a worker (`_extract_patient`), so
files are read in parallel.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..exceptions import EmptyMaskError, FeatureExtractionError, InvalidSettingsError, VolumeError
from ..imaging import as_volume
from ..imaging._checks import check_finite, check_mask_matches, mask_foreground
from ..utils._roles import _is_missing
from ._cache import FeatureCache, entry_key, settings_digest, volume_digest
from ._worker import Pair, extract_pairs, extractor, single_threaded_itk


class _Job(NamedTuple):
    """Extract the features of image column ``volume`` inside mask column ``mask``."""

    volume: str
    roi: str
    mask: str


class _Pending(NamedTuple):
    """A job still to extract (not cached), with its cache key (None without cache)."""

    key: str | None


def _extractor(params: dict, settings_key: str):
    """The pyradiomics extractor of resolved parameters, built once per process
    (building it is pyradiomics' schema check)."""
    try:
        return extractor(params, settings_key)
    except Exception as exc:  # pykwalify's SchemaError and friends
        raise InvalidSettingsError(
            f"RadiomicsFeatures: pyradiomics rejected the parameters {params!r}: {exc}"
        ) from None


def _settings_key(params: dict) -> str:
    import radiomics

    return settings_digest(params, radiomics.__version__)


def _where(patient_id, job: _Job) -> str:
    return f"patient {patient_id!r}, volume {job.volume!r}, ROI {job.mask!r}"


def _checked_pair(patient_id, job: _Job, image, mask):
    """Load and check one image/mask pair; the mask binarised (voxel > 0)."""
    image = image.load()
    mask = mask.load()
    check_mask_matches(image, mask, patient_id=patient_id, image_column=job.volume,
                       mask_column=job.mask)
    check_finite(image.array, patient_id=patient_id, column=job.volume)
    binary = mask_foreground(mask.array, patient_id=patient_id, column=job.mask)
    n_voxels = int(np.count_nonzero(binary))
    if n_voxels == 0:
        raise EmptyMaskError(
            f"patient {patient_id!r}, column {job.mask!r}: the mask is empty (no voxel > 0), so "
            f"no radiomics features of {job.volume!r} can be computed in it. Check the "
            "segmentation, or drop the patient."
        )
    if n_voxels == 1:
        raise VolumeError(
            f"patient {patient_id!r}, column {job.mask!r}: the mask has a single voxel; "
            f"radiomics of {job.volume!r} needs a region of at least 2 voxels (texture and "
            "shape are undefined on one voxel). Check the segmentation, or drop the patient."
        )
    return image, mask.with_array(binary.astype(np.uint8))


class _PatientMasks:
    """The ROI masks of one patient, shells made only when an extraction needs them.

    A shell is a function of the tumour mask, the liver mask and the
    thickness, so its cache key hashes those: a cached run never computes it.
    """

    def __init__(self, patient_id, row: pd.DataFrame, shells: list):
        self.patient_id = patient_id
        self.row = row
        self.shells = shells
        self._shell_of = {c: (shell, d) for shell in shells
                          for c, d in zip(shell.shell_columns_, np.atleast_1d(shell.distance_mm))}
        self._with_shells = None

    def _cell(self, column):
        cell = self.row.at[self.patient_id, column]
        return None if _is_missing(cell) else as_volume(cell, patient_id=self.patient_id,
                                                        column=column)

    def _sources(self, column: str) -> list:
        """The stored mask columns that ``column`` is made of."""
        if column not in self._shell_of:
            return [column]
        shell, _ = self._shell_of[column]
        return [shell.mask] + ([shell.liver_mask_] if shell.liver_mask_ is not None else [])

    def in_memory(self, column: str) -> bool:
        """Whether the mask (or the masks a shell is made from) are held in memory."""
        return all(v is None or not v.is_lazy for v in map(self._cell, self._sources(column)))

    def digest(self, column: str) -> str:
        if column not in self._shell_of:
            return volume_digest(self._present(column), binary=True)
        shell, distance = self._shell_of[column]
        parts = [f"shell {float(distance)!r} mm",
                 volume_digest(self._present(shell.mask), binary=True)]
        if shell.liver_mask_ is not None:
            parts.append(volume_digest(self._present(shell.liver_mask_), binary=True))
        return hashlib.blake2b("|".join(parts).encode(), digest_size=20).hexdigest()

    def _present(self, column: str):
        volume = self._cell(column)
        if volume is None:
            raise VolumeError(
                f"patient {self.patient_id!r}: mask column {column!r} is missing, but it is "
                "needed for radiomics. Provide the mask, or drop the patient."
            )
        return volume

    def volume(self, column: str):
        if column not in self._shell_of:
            return self._present(column)
        if self._with_shells is None:
            row = self.row
            for shell in self.shells:  # PeritumoralShell's errors name patient and column
                row = shell.transform(row)
            self._with_shells = row
        return self._with_shells.at[self.patient_id, column]


def _look_up(patient_id, row, shells, jobs, settings_key, cache, *, in_worker=False):
    """Each job's outcome after the cache look-up; None when a volume or mask is
    file-backed and the parent leaves the whole patient to a worker."""
    masks = _PatientMasks(patient_id, row, shells)
    outcomes: list = []
    for job in jobs:
        cell = row.at[patient_id, job.volume]
        if _is_missing(cell):
            outcomes.append(None)
            continue
        try:
            image = as_volume(cell, patient_id=patient_id, column=job.volume)
            if not in_worker and (image.is_lazy or not masks.in_memory(job.mask)):
                return None  # reading, hashing and checking files: in the workers
            key, values = None, None
            if cache.location is not None:
                key = entry_key(settings_key, volume_digest(image), masks.digest(job.mask))
                values = cache.get(key)
            outcomes.append(values if values is not None else _Pending(key))
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def _prepare(patient_id, row, shells, jobs, outcomes):
    """Shells, checks and SimpleITK images of the pending jobs: ``(outcomes, pairs)``."""
    masks = _PatientMasks(patient_id, row, shells)
    outcomes, pairs = list(outcomes), []
    for k, (job, outcome) in enumerate(zip(jobs, outcomes)):
        if not isinstance(outcome, _Pending):
            continue
        try:
            image = as_volume(row.at[patient_id, job.volume], patient_id=patient_id,
                              column=job.volume)
            image, mask = _checked_pair(patient_id, job, image, masks.volume(job.mask))
            pairs.append(Pair(image.to_sitk(), mask.to_sitk(), outcome.key))
        except Exception as exc:
            outcomes[k] = exc
    return outcomes, pairs


def _fill(patient_id, jobs, outcomes, extracted) -> list:
    """Put the extracted features (or pyradiomics' error messages) in place."""
    extracted = iter(extracted)
    filled = []
    for job, outcome in zip(jobs, outcomes):
        if isinstance(outcome, _Pending):
            outcome = next(extracted)
            if isinstance(outcome, str):
                outcome = FeatureExtractionError(
                    f"{_where(patient_id, job)}: pyradiomics failed: {outcome} Check the image "
                    "and mask, or use on_error='nan' to keep the patient with missing features."
                )
        filled.append(outcome)
    return filled


def _extract_patient(patient_id, row: pd.DataFrame, shells: list, jobs: list, params: dict,
                     settings_key: str, location) -> list:
    """In a worker, every job of a patient with file-backed volumes: read, hash,
    look up, check and extract.  Returns each job's outcome."""
    with single_threaded_itk():
        cache = FeatureCache(location)
        outcomes = _look_up(patient_id, row, shells, jobs, settings_key, cache, in_worker=True)
        outcomes, pairs = _prepare(patient_id, row, shells, jobs, outcomes)
        extracted = extract_pairs(pairs, params, settings_key, location)
        return _fill(patient_id, jobs, outcomes, extracted)
