"""Issue 12, class 12: one DataWarning per column and cause, naming the patients."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mvikit import Volume
from mvikit.exceptions import DataWarning
from mvikit.imaging import PeritumoralShell
from mvikit.utils import PatientWarning, aggregate_patient_warnings


def _edge_cohort(n):
    """n patients whose tumours touch the image border (their shells are cut)."""
    cells = []
    for _ in range(n):
        mask = np.zeros((6, 12, 12), np.uint8)
        mask[0:2, 5:7, 5:7] = 1
        cells.append(Volume(mask, spacing=(2.0, 1.0, 1.0)))
    return pd.DataFrame({"tumor_mask": cells}, index=[f"P-{i:03d}" for i in range(n)])


def _data_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def test_shells_cut_by_the_border_give_one_warning_for_all_patients():
    X = _edge_cohort(12)
    messages = _data_warnings(lambda: PeritumoralShell(3.0).fit_transform(X))
    assert len(messages) == 1  # was 12, one per patient
    assert ("cut there (column 'tumor_mask') for 12 patient(s): 'P-000', 'P-001', 'P-002', "
            "'P-003', 'P-004' and 7 more.") in messages[0]


def test_causes_and_columns_are_kept_apart_and_other_warnings_pass_through():
    def noisy():
        with aggregate_patient_warnings("Demo"):
            for k in range(4):
                warnings.warn(PatientWarning("cause A", column="a", patient_id=k), stacklevel=2)
                warnings.warn(PatientWarning("cause B", column="a", patient_id=k,
                                             detail=f"detail {k}"), stacklevel=2)
            warnings.warn(PatientWarning("cause A", column="b", patient_id=9), stacklevel=2)
            warnings.warn("unrelated", UserWarning, stacklevel=2)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        noisy()
    messages = sorted(str(w.message) for w in caught)
    assert messages == [
        "Demo: cause A (column 'a') for 4 patient(s): 0, 1, 2, 3.",
        "Demo: cause A (column 'b') for 1 patient(s): 9.",
        "Demo: cause B (column 'a') for 4 patient(s): 0, 1, 2, 3 (e.g. 0: detail 0).",
        "unrelated",
    ]


def test_nested_blocks_aggregate_at_the_outermost():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aggregate_patient_warnings("Outer"):
            for k in range(3):
                with aggregate_patient_warnings("Inner"):  # e.g. a one-patient shell
                    warnings.warn(PatientWarning("cut", column="m", patient_id=k), stacklevel=2)
    assert [str(w.message) for w in caught] == [
        "Outer: cut (column 'm') for 3 patient(s): 0, 1, 2."]


def test_warnings_as_errors_still_raise_once():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        with pytest.raises(DataWarning, match="for 5 patient"):
            PeritumoralShell(3.0).fit_transform(_edge_cohort(5))
