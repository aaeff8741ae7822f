"""Issue 12, class 4: clinical columns as a hospital export writes them."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mvikit.exceptions import CohortError, DataWarning
from mvikit.preprocessing import ClinicalPreprocessor

IDS = [f"P-{i:03d}" for i in range(6)]


def _fit(X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pre = ClinicalPreprocessor(scale=False).set_output(transform="pandas").fit(X)
    return pre, [w for w in caught if issubclass(w.category, DataWarning)]


def test_numbers_stored_as_text_are_read_as_numbers_with_one_warning_per_column():
    X = pd.DataFrame({"afp": ["12,5", "3,1", "100", "7,0", " 8 ", "2,25"],
                      "age": ["61 y", "70 y", "55 y", "44 y", "39 y", "80 y"],
                      "stage": ["1", "2", "3", "1", "2", "2"]}, index=IDS)
    pre, caught = _fit(X)
    # a numeric column each (no dummy per patient), in the clinician's units
    assert list(pre.get_feature_names_out()) == ["afp", "age", "stage"]
    np.testing.assert_allclose(pre.transform(X)["afp"], [12.5, 3.1, 100, 7.0, 8, 2.25])
    np.testing.assert_allclose(pre.transform(X)["age"], [61, 70, 55, 44, 39, 80])
    assert pre.data_range_["afp"] == (2.25, 100.0)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3
    assert "'afp'" in messages[0] and "decimal commas" in messages[0]
    assert "'age'" in messages[1] and "unit 'y'" in messages[1]
    # transform reads new text cells the same way
    new = pd.DataFrame({"afp": ["1,5"], "age": ["50 y"], "stage": ["3"]}, index=["Q"])
    assert pre.transform(new).loc["Q", "afp"] == 1.5


def test_spellings_differing_in_case_or_blanks_are_one_level():
    # before: "yes " became its own level, and with drop="first" the reference of the OR
    X = pd.DataFrame({"hbv": ["Yes", "Yes", "yes ", "No", "no", "No"]}, index=IDS)
    pre, caught = _fit(X)
    assert list(pre.get_feature_names_out()) == ["hbv=Yes"]
    assert pre.transform(X)["hbv=Yes"].tolist() == [1, 1, 1, 0, 0, 0]
    assert len(caught) == 1 and "'hbv'" in str(caught[0].message)
    assert "'P-002'" in str(caught[0].message) and "'P-004'" in str(caught[0].message)
    assert pre.transform(pd.DataFrame({"hbv": [" YES"]}, index=["Q"]))["hbv=Yes"].tolist() == [1]


@pytest.mark.parametrize("dates", [
    pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", "2020-05-01",
                    "2020-06-01"]),
    ["2020-01-01", "2020-02-01", "2020-03-01", "01/04/2020", "2020-05-01", None],
])
def test_dates_are_refused_with_the_fix(dates):
    X = pd.DataFrame({"age": np.arange(6.0), "surgery": dates}, index=IDS)
    with pytest.raises(CohortError, match="'surgery' holds dates.*dt.days"):
        ClinicalPreprocessor().fit(X)


def test_mostly_numeric_text_names_the_odd_cells():
    values = [str(v) for v in range(18)] + ["<5", "n/a"]
    X = pd.DataFrame({"afp": values}, index=[f"P{i}" for i in range(20)])
    with pytest.raises(CohortError, match=r"'afp' is text, mostly numbers.*'P18', 'P19'.*'<5'"):
        ClinicalPreprocessor().fit(X)


def test_several_units_are_refused():
    X = pd.DataFrame({"size": ["5 cm", "40 mm", "3 cm", "2 cm", "4 cm", "1 cm"]}, index=IDS)
    with pytest.raises(CohortError, match=r"'size' holds numbers in several units"):
        ClinicalPreprocessor().fit(X)
