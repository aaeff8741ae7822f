"""`make_paired_cohort`: the same simulated patients imaged by MRI and by CT (seed 003).

`make_hcc_cohort` draws everything about patient ``i`` - centre, latents, tumour
geometry and mask, clinical items, radiologist's readings, outcomes - from random
streams keyed by ``(random_state, i)`` only; each sequence is rendered from its
own stream.  Hence ``modality="mri"`` and ``modality="ct"`` with one seed give the
same patients and differ only in their image columns, which is what a
head-to-head comparison of CE-CT and EOB-MRI on paired images needs.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ..exceptions import CohortError
from ._simulator import _seed_from, make_hcc_cohort

__all__ = ["make_paired_cohort", "check_same_patients"]


def check_same_patients(first: Bunch, second: Bunch) -> None:
    """Raise `CohortError` naming the first patient on which two simulated cohorts differ
    (clinical items, hidden truth, outcomes, centre or tumour mask)."""
    if not first.X.index.equals(second.X.index):
        raise CohortError("The two cohorts hold different patient ids; simulate both with the "
                          "same n_patients and random_state.")
    tables = {"clinical items": (first.X[first.clinical_columns],
                                 second.X[second.clinical_columns]),
              "truth": (first.truth, second.truth), "outcomes": (first.outcomes,
                                                                 second.outcomes)}
    for what, (a, b) in tables.items():
        differs = ~((a == b) | (a.isna() & b.isna())).all(axis=1)
        if differs.any():
            raise CohortError(f"The cohorts differ in their {what} for patient(s) "
                              f"{list(a.index[differs][:5])}; simulate both with the same "
                              "random_state, params and n_centers.")
    for pid in first.X.index:
        if not np.array_equal(first.X.at[pid, "tumor_mask"].array,
                              second.X.at[pid, "tumor_mask"].array):
            raise CohortError(f"The tumour masks of patient {pid!r} differ between the cohorts; "
                              "simulate both with the same random_state and layout.")


def make_paired_cohort(n_patients=270, task="mvi", *, mri_sequences=("AP", "PV", "PRE", "T2",
                                                                        "HBP"),
                       ct_sequences=("CT_PLAIN", "CT_AP", "CT_PV"), random_state=None,
                       **kwargs) -> Bunch:
    """Simulate one cohort imaged by both EOB-MRI and CE-CT (paired images).

    Calls `make_hcc_cohort` twice with the same seed, ``modality="mri"`` and
    ``modality="ct"``, checks that both hold the same patients (`check_same_patients`)
    and joins the CT volume columns onto the MRI cohort's frame.

    Parameters
    ----------
    n_patients : int, default=270
    task : str, default="mvi"
        As `make_hcc_cohort` (seed 003 predicts binary MVI).
    mri_sequences, ct_sequences : sequence of str
        Volume columns of each modality; by default CDLM's phases (the simulator has
        no transitional phase: ``"PRE"`` takes its place among the five MRI ones).
    random_state : int, RandomState or None, default=None
        One seed for both (None draws one).
    **kwargs
        Passed to both calls (``layout``, ``n_centers``, ``params``, ``n_jobs``...).

    Returns
    -------
    sklearn.utils.Bunch
        The MRI cohort's bunch, with ``X`` holding the MRI and the CT volume
        columns, ``volume_columns`` both lists, and ``mri_sequences`` /
        ``ct_sequences``.

    Examples
    --------
    >>> from mvikit.datasets import make_paired_cohort
    >>> pair = make_paired_cohort(4, mri_sequences=("AP",), ct_sequences=("CT_AP",),
    ...                           random_state=0)
    >>> pair.X.columns[-3:].tolist(), pair.mri_sequences, pair.ct_sequences
    (['AP', 'tumor_mask', 'CT_AP'], ['AP'], ['CT_AP'])
    """
    seed = _seed_from(random_state)
    mri = make_hcc_cohort(n_patients, task, sequences=mri_sequences, modality="mri",
                          random_state=seed, **kwargs)
    ct = make_hcc_cohort(n_patients, task, sequences=ct_sequences, modality="ct",
                         random_state=seed, **kwargs)
    check_same_patients(mri, ct)
    mri.X = mri.X.join(ct.X[list(ct_sequences)])
    mri.mri_sequences, mri.ct_sequences = list(mri_sequences), list(ct_sequences)
    mri.volume_columns = mri.mri_sequences + mri.ct_sequences
    mri.description += ("\nPaired with CT (" + ", ".join(ct_sequences) + ") of the same "
                        "patients (same seed).")
    return mri
