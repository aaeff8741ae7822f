"""One data warning per column and cause, naming the patients, instead of one per patient.

A 200-patient cohort in which 80 tumours touch the image border printed 80
warnings (about 160 lines in a shell).  Per-patient code raises
`PatientWarning`, which carries its column and cause; a loop over patients runs
inside `aggregate_patient_warnings`, which collects them and warns once per
(column, cause) with the first few patient ids and the count.  Other warnings
pass through unchanged.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

from ..exceptions import DataWarning
from ._align import describe_ids

__all__ = ["PatientWarning", "aggregate_patient_warnings"]

_DEPTH = [0]  # aggregation blocks open in this process


class PatientWarning(DataWarning):
    """A data problem of one patient's cell (aggregated by `aggregate_patient_warnings`).

    Parameters
    ----------
    cause : str
        What is wrong, the same text for every patient it applies to.
    column : str
        The column concerned.
    patient_id : hashable
        The patient.
    detail : str, default=""
        Patient-specific detail (e.g. an upstream error); the first one is quoted.
    """

    def __init__(self, cause: str, *, column, patient_id, detail: str = ""):
        self.cause, self.column, self.patient_id, self.detail = cause, column, patient_id, detail
        super().__init__(f"patient {patient_id!r}, column {column!r}: {cause}"
                         + (f" ({detail})" if detail else ""))


@contextmanager
def aggregate_patient_warnings(owner: str, *, stacklevel: int = 3):
    """Collect `PatientWarning` raised inside the block; warn once per (column, cause).

    Parameters
    ----------
    owner : str
        Named at the start of each aggregated warning (e.g. ``"PeritumoralShell"``).
    stacklevel : int, default=3
        Of the aggregated warnings (3: the caller of the function using the block).

    Examples
    --------
    >>> import warnings
    >>> from mvikit.utils import PatientWarning, aggregate_patient_warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     with aggregate_patient_warnings("Demo"):
    ...         for pid in ["P1", "P2", "P3"]:
    ...             warnings.warn(PatientWarning("the shell is cut by the image border",
    ...                                          column="tumor_mask", patient_id=pid))
    >>> print(caught[0].message)
    Demo: the shell is cut by the image border (column 'tumor_mask') for 3 patient(s):
    'P1', 'P2', 'P3'.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _DEPTH[0] += 1
        try:
            yield
        finally:
            _DEPTH[0] -= 1
    groups: dict = {}
    for record in caught:
        message = record.message
        # inside an outer block (a shell made per patient inside RadiomicsFeatures), the
        # outermost block aggregates over all its patients
        if isinstance(message, PatientWarning) and not _DEPTH[0]:
            groups.setdefault((message.column, message.cause), []).append(message)
        else:
            warnings.warn_explicit(message, record.category, record.filename, record.lineno,
                                   source=record.source)
    for (column, cause), found in groups.items():
        ids = list(dict.fromkeys(m.patient_id for m in found))
        first = next((m for m in found if m.detail), None)
        example = f" (e.g. {first.patient_id!r}: {first.detail})" if first else ""
        warnings.warn(f"{owner}: {cause} (column {column!r}) for {len(ids)} patient(s): "
                      f"{describe_ids(ids)}{example}.", DataWarning, stacklevel=stacklevel)
