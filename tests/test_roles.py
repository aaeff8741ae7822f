"""Column roles of the cohort frame and their errors."""

import numpy as np
import pandas as pd
import pytest

from mvikit import Volume
from mvikit.exceptions import CohortError, ColumnRoleError
from mvikit.utils import check_cohort_frame, is_image_cell, mask_column_for, resolve_columns


@pytest.fixture
def frame():
    cube = np.zeros((2, 3, 3))
    return pd.DataFrame({
        "age": [61.0, np.nan, 70.0],
        "HBV": [True, False, True],
        "gender": ["M", "F", np.nan],
        "PRE": [Volume(cube)] * 3,
        "HBP": [cube, "hbp.nii.gz", np.nan],  # arrays, paths and missing cells mix freely
        "tumor_mask": [Volume(cube)] * 3,
        "HBP_mask": [Volume(cube)] * 3,
    }, index=["p1", "p2", "p3"])


def test_auto_roles(frame):
    roles = resolve_columns(frame)
    assert roles.clinical == ["age", "HBV", "gender"]
    assert roles.volumes == ["PRE", "HBP"]
    assert roles.masks == ["tumor_mask", "HBP_mask"]


def test_explicit_roles_take_their_columns_out_of_auto(frame):
    roles = resolve_columns(frame, clinical=["age"], volumes="HBP")
    assert roles.clinical == ["age"]
    assert roles.volumes == ["HBP"]
    assert roles.masks == ["tumor_mask", "HBP_mask"]
    roles = resolve_columns(frame, masks=None)
    assert roles.masks == [] and roles.volumes == ["PRE", "HBP"]


def test_unknown_column_suggests_close_name(frame):
    with pytest.raises(ColumnRoleError, match=r"'HPB' \(did you mean 'HBP'\?\)"):
        resolve_columns(frame, volumes=["HPB"])


def test_column_given_two_roles(frame):
    with pytest.raises(ColumnRoleError, match="'HBP' is given two roles"):
        resolve_columns(frame, volumes=["HBP"], masks=["HBP"])


def test_ambiguous_column_names_patients(frame):
    frame["PRE"] = [Volume(np.zeros((1, 1, 1))), "not an image", 3.0]
    with pytest.raises(ColumnRoleError, match=r"'PRE' mixes image cells.*'p2', 'p3'.*ambiguous"):
        resolve_columns(frame)


def test_volume_role_needs_image_cells(frame):
    with pytest.raises(ColumnRoleError, match="'gender' is named as a volume column"):
        resolve_columns(frame, volumes=["gender"])


def test_duplicate_ids_and_non_frames(frame):
    frame.index = ["p1", "p2", "p1"]
    with pytest.raises(CohortError, match="Duplicate patient ids.*'p1'"):
        resolve_columns(frame)
    with pytest.raises(CohortError, match="must be a pandas DataFrame"):
        check_cohort_frame(np.zeros((3, 2)))


def test_mask_column_for():
    masks = ["tumor_mask", "HBP_mask", "liver_mask"]
    assert mask_column_for("HBP", masks) == "HBP_mask"
    assert mask_column_for("PRE", masks) == "tumor_mask"
    assert mask_column_for("PRE", masks, mask_kind="liver") == "liver_mask"
    with pytest.raises(ColumnRoleError, match="No mask for volume column 'PRE'"):
        mask_column_for("PRE", ["HBP_mask"])


def test_is_image_cell():
    assert is_image_cell(np.zeros((1, 2, 3)))
    assert not is_image_cell(np.zeros((2, 3)))
    assert is_image_cell("a/b.NII.GZ") and is_image_cell("x.mha")
    assert not is_image_cell("M") and not is_image_cell(3.0)
