"""Issue 12, class 6: patient ids are text as written, and a missing id is an error."""

import numpy as np
import pandas as pd
import pytest

from mvikit.clinical import NomogramClassifier
from mvikit.datasets import load_cohort
from mvikit.exceptions import CohortError, PatientIdError
from mvikit.metrics import roc_auc_ci
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.utils import check_cohort_frame


def test_load_cohort_keeps_leading_zeros(tmp_path):
    path = tmp_path / "study.csv"
    path.write_text("patient_id,age,mvi\n007,61,1\n010,70,0\n100,55,1\n")
    X, y = load_cohort(path, target="mvi", return_X_y=True)
    assert X.index.tolist() == ["007", "010", "100"]
    assert y.loc["007"] == 1 and X.loc["010", "age"] == 70


def test_load_cohort_names_the_line_without_an_id(tmp_path):
    path = tmp_path / "study.csv"
    path.write_text("pid,age\nP-001,61\n,70\nP-003,55\n   ,40\n")
    with pytest.raises(PatientIdError, match=r"'pid'.*missing on line\(s\) 3, 5 \(2 in all\)"):
        load_cohort(path, id_column="pid")


def test_load_cohort_refuses_an_empty_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(CohortError, match="is empty"):
        load_cohort(path)


@pytest.mark.parametrize("missing", [None, np.nan, "", "  "])
def test_missing_ids_are_refused_everywhere(missing):
    index = ["P-001", "P-002", missing, "P-004"]
    X = pd.DataFrame({"afp": [1.0, 2.0, 3.0, 4.0], "size": [3.0, 1.0, 4.0, 1.0]}, index=index)
    with pytest.raises(PatientIdError, match="no patient id at row 2"):
        check_cohort_frame(X)
    with pytest.raises(PatientIdError, match="no patient id at row 2"):
        NomogramClassifier(selection=None).fit(X, [0, 1, 0, 1])
    with pytest.raises(PatientIdError, match="no patient id at row 2"):
        ClinicalPreprocessor().fit(X)
    y = pd.Series([0, 1, 0, 1], index=index)
    with pytest.raises(PatientIdError, match="no patient id at row 2"):
        roc_auc_ci(y, [0.1, 0.9, 0.2, 0.8])
