"""RadiomicsFeatures: equal to direct pyradiomics calls, content-addressed caching
(one extraction per patient x volume x ROI through a whole grid search), bad input."""

from __future__ import annotations

import logging
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import radiomics
import yaml
from _helpers import FIRSTORDER, RADIOMICS_SHAPE, RADIOMICS_SPACING, tiny_cohort
from radiomics import featureextractor
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mvikit import Volume
from mvikit.exceptions import (
    DataWarning,
    EmptyMaskError,
    FeatureExtractionError,
    InvalidSettingsError,
    VolumeError,
)
from mvikit.imaging import PeritumoralShell
from mvikit.radiomics import RadiomicsFeatures, UnivariateFilter, _worker

SHAPE, SPACING = RADIOMICS_SHAPE, RADIOMICS_SPACING  # tiny_cohort's grid


def direct(image: Volume, mask: Volume, params: dict) -> dict:
    radiomics.setVerbosity(logging.ERROR)
    extractor = featureextractor.RadiomicsFeatureExtractor(params)
    out = extractor.execute(image.to_sitk(), mask.to_sitk())
    return {k: float(v) for k, v in out.items() if not k.startswith("diagnostics_")}


@pytest.fixture
def count_extractions(monkeypatch):
    calls = []
    original = _worker._extract_one

    def counting(image, mask, params, settings_key):
        calls.append(1)
        return original(image, mask, params, settings_key)

    monkeypatch.setattr(_worker, "_extract_one", counting)
    return calls


def test_values_equal_direct_pyradiomics():
    X, _ = tiny_cohort(3)
    rf = RadiomicsFeatures(feature_classes=["firstorder", "shape", "glcm"], bin_width=10)
    features = rf.fit_transform(X)
    params = {"imageType": {"Original": {}},
              "featureClass": {"firstorder": [], "shape": [], "glcm": []},
              "setting": {"binWidth": 10}}
    for pid in X.index:
        expected = direct(X.at[pid, "HBP"], X.at[pid, "tumor_mask"], params)
        got = {k.removeprefix("HBP_tumor_"): v for k, v in features.loc[pid].items()}
        assert got.keys() == expected.keys()
        np.testing.assert_allclose([got[k] for k in expected], list(expected.values()),
                                   rtol=1e-10, atol=1e-10)
    assert all(name.startswith("HBP_tumor_original_") for name in features.columns)
    assert list(rf.get_feature_names_out()) == list(features.columns)


def test_filters_resampling_and_normalisation_equal_pyradiomics(tmp_path):
    X, _ = tiny_cohort(1)
    image_types = {"Original": {}, "LoG": {"sigma": [1.0]}, "Wavelet": {}}
    rf = RadiomicsFeatures(image_types=image_types, feature_classes=FIRSTORDER,
                           resampled_spacing=(2.0, 1.5, 1.5), normalize=True)
    got = rf.fit_transform(X).iloc[0]
    # pyradiomics orders spacing (x, y, z): mvikit's (D, H, W) reversed
    params = {"imageType": image_types, "featureClass": FIRSTORDER,
              "setting": {"resampledPixelSpacing": [1.5, 1.5, 2.0], "normalize": True}}
    expected = direct(X.at["p0", "HBP"], X.at["p0", "tumor_mask"], params)
    assert len(expected) == 4 * (1 + 1 + 8)
    for name, value in expected.items():
        assert got[f"HBP_tumor_{name}"] == pytest.approx(value, rel=1e-10, abs=1e-10)
    assert "HBP_tumor_log-sigma-1-0-mm-3D_firstorder_Mean" in got.index
    assert "HBP_tumor_wavelet-LLH_firstorder_Mean" in got.index
    # the same settings from a pyradiomics YAML file give the same numbers
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    from_file = RadiomicsFeatures(params=str(path)).fit_transform(X).iloc[0]
    np.testing.assert_array_equal(from_file.to_numpy(), got.to_numpy())


def test_peritumoral_shell_roi_equals_pyradiomics_on_the_shell():
    X, _ = tiny_cohort(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # shells cut by the small image
        features = RadiomicsFeatures(peritumoral_mm=2.0, feature_classes=FIRSTORDER) \
            .fit_transform(X)
        shells = PeritumoralShell(distance_mm=2.0).fit_transform(X)
    params = {"imageType": {"Original": {}}, "featureClass": FIRSTORDER}
    for pid in X.index:
        expected = direct(X.at[pid, "HBP"], shells.at[pid, "peritumoral_2mm_mask"], params)
        for name, value in expected.items():
            assert features.at[pid, f"HBP_peritumoral_2mm_{name}"] == pytest.approx(
                value, rel=1e-10)
    assert features.shape[1] == 2 * 4


def test_grid_search_extracts_each_patient_volume_roi_once(tmp_path, count_extractions):
    X, y = tiny_cohort(10)
    pipe = Pipeline([
        ("radiomics", RadiomicsFeatures(peritumoral_mm=2.0, feature_classes=FIRSTORDER,
                                        memory=tmp_path)),
        ("select", UnivariateFilter()),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(solver="liblinear")),
    ])
    grid = {"select__k": [1, 2], "model__C": [0.1, 1.0, 10.0]}  # 6 candidates
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        search = GridSearchCV(pipe, grid, cv=cv).fit(X, y)
        assert len(count_extractions) == 10 * 1 * 2  # patients x volumes x ROIs
        # a second search (new estimator objects, same voxels) extracts nothing
        GridSearchCV(clone(pipe), grid, cv=cv).fit(X, y)
        assert len(count_extractions) == 20
        # without the cache every fold re-extracts
        count_extractions.clear()
        pipe.set_params(radiomics__memory=None)
        GridSearchCV(pipe, {"select__k": [1]}, cv=StratifiedKFold(2), refit=False).fit(X, y)
        assert len(count_extractions) == 2 * 10 * 2  # folds x (train + test patients) x ROIs
    assert search.best_score_ > 0.5


def test_cache_key_is_voxel_content_and_settings(tmp_path, count_extractions):
    X, _ = tiny_cohort(3)
    kwargs = dict(feature_classes=FIRSTORDER, memory=str(tmp_path))
    first = RadiomicsFeatures(**kwargs).fit_transform(X)
    assert len(count_extractions) == 3
    # new Volume objects (new identity) holding the same voxels: all cached
    copied = X.copy()
    for column in ("HBP", "tumor_mask"):
        copied[column] = [Volume(v.array.copy(), spacing=v.spacing) for v in X[column]]
    again = RadiomicsFeatures(**kwargs).fit_transform(copied)
    assert len(count_extractions) == 3
    pd.testing.assert_frame_equal(first, again)
    # one changed voxel: that patient only; another spacing: that patient only
    changed = copied.copy()
    array = changed.at["p1", "HBP"].array.copy()
    array[5, 11, 11] += 1.0
    changed.at["p1", "HBP"] = Volume(array, spacing=SPACING)
    changed.at["p2", "HBP"] = Volume(X.at["p2", "HBP"].array, spacing=(2.0, 1.0, 1.1))
    changed.at["p2", "tumor_mask"] = Volume(X.at["p2", "tumor_mask"].array,
                                            spacing=(2.0, 1.0, 1.1))
    RadiomicsFeatures(**kwargs).fit_transform(changed)
    assert len(count_extractions) == 5
    # other settings: everything again
    RadiomicsFeatures(bin_width=5, **kwargs).fit_transform(X)
    assert len(count_extractions) == 8


def test_parallel_equals_sequential_and_fold_transform_keeps_columns():
    X, _ = tiny_cohort(4)
    rf = RadiomicsFeatures(feature_classes=FIRSTORDER)
    sequential = rf.fit_transform(X)
    parallel = RadiomicsFeatures(feature_classes=FIRSTORDER, n_jobs=2).fit_transform(X)
    pd.testing.assert_frame_equal(sequential, parallel)
    # transform of other patients returns the columns learnt in fit, in order
    fitted = clone(rf).fit(X.iloc[:2])
    out = fitted.transform(X.iloc[2:])
    assert list(out.columns) == list(fitted.get_feature_names_out())
    pd.testing.assert_frame_equal(out, sequential.iloc[2:])
    assert pickle.loads(pickle.dumps(fitted)).transform(X.iloc[2:]).equals(out)


def test_missing_sequence_gives_nan_and_passthrough_columns():
    X, _ = tiny_cohort(3, volumes=("PRE", "HBP"))
    X["center"] = ["A", "B", "A"]
    X.at["p1", "PRE"] = np.nan
    rf = RadiomicsFeatures(feature_classes=FIRSTORDER, passthrough=["center"])
    out = rf.fit_transform(X)
    assert out.loc["p1", [c for c in out.columns if c.startswith("PRE_")]].isna().all()
    assert out.loc["p1", [c for c in out.columns if c.startswith("HBP_")]].notna().all()
    assert out["center"].tolist() == ["A", "B", "A"]
    assert list(out.columns[-1:]) == ["center"]


def test_empty_and_single_voxel_masks_name_patient_and_column():
    X, _ = tiny_cohort(3)
    empty = X.copy()
    empty.at["p1", "tumor_mask"] = Volume(np.zeros(SHAPE, np.uint8), spacing=SPACING)
    with pytest.raises(EmptyMaskError, match=r"patient 'p1', column 'tumor_mask'.*empty"):
        RadiomicsFeatures(feature_classes=FIRSTORDER).fit(empty)
    single = np.zeros(SHAPE, np.uint8)
    single[5, 10, 10] = 1
    one = X.copy()
    one.at["p2", "tumor_mask"] = Volume(single, spacing=SPACING)
    with pytest.raises(VolumeError, match=r"patient 'p2', column 'tumor_mask'.*single voxel"):
        RadiomicsFeatures(feature_classes=FIRSTORDER).fit(one)
    # on_error="nan": the patient is kept with missing features, and a warning names it
    with pytest.warns(DataWarning, match=r"extraction of 'HBP' failed.*\(column 'tumor_mask'\) "
                                         r"for 1 patient\(s\): 'p2' \(e.g. 'p2': "):
        out = RadiomicsFeatures(feature_classes=FIRSTORDER, on_error="nan").fit_transform(one)
    assert out.loc["p2"].isna().all() and out.drop(index="p2").notna().all().all()


def test_pyradiomics_failure_is_wrapped_with_patient_and_volume():
    X, _ = tiny_cohort(2)
    line = np.zeros(SHAPE, np.uint8)
    line[5, 10, 8:14] = 1  # 1-D region: pyradiomics needs >= 2 dimensions
    X.at["p0", "tumor_mask"] = Volume(line, spacing=SPACING)
    with pytest.raises(FeatureExtractionError,
                       match=r"patient 'p0', volume 'HBP', ROI 'tumor_mask': pyradiomics"):
        RadiomicsFeatures(feature_classes=FIRSTORDER).fit(X)


def test_shell_leaving_the_image_is_an_error_naming_the_patient():
    X, _ = tiny_cohort(2)
    X.at["p0", "tumor_mask"] = Volume(np.ones(SHAPE, np.uint8), spacing=SPACING)
    with pytest.raises(EmptyMaskError, match=r"patient 'p0'.*peritumoral_2mm_mask.*empty"):
        RadiomicsFeatures(peritumoral_mm=2.0, feature_classes=FIRSTORDER).fit(X)


@pytest.mark.parametrize("kwargs, message", [
    ({"settings": {"binwidth": 5}}, r"'binwidth'.*did you mean 'binWidth'.*Valid settings:.*"
                                    r"resampledPixelSpacing"),
    ({"feature_classes": ["firstorder", "glcmm"]}, r"feature class 'glcmm'.*did you mean 'glcm'"),
    ({"feature_classes": {"firstorder": ["Meann"]}}, r"no feature 'Meann'.*did you mean 'Mean'"),
    ({"image_types": ["Original", "Wavelets"]}, r"image type 'Wavelets'.*did you mean 'Wavelet'"),
    ({"params": {"settings": {}}}, r"unknown section.*did you mean 'setting'"),
    ({"settings": {"label": 2}}, r"'label' is fixed"),
    ({"settings": {"binCount": -3}}, r"pyradiomics rejected"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    X, _ = tiny_cohort(2)
    with pytest.raises(InvalidSettingsError, match=message):
        RadiomicsFeatures(**kwargs).fit(X)


def test_file_backed_volumes_extract_in_the_workers_and_equal_in_memory(tmp_path):
    # in-memory volumes are prepared by the parent; a patient with file-backed cells
    # goes to a worker whole (read, hashed, checked there): the same features either way
    from mvikit.imaging import write_image

    X, _ = tiny_cohort(4)
    on_disk = X.copy()
    for pid in X.index[::2]:
        for column in ("HBP", "tumor_mask"):
            on_disk.at[pid, column] = str(write_image(X.at[pid, column],
                                                      tmp_path / f"{pid}_{column}.nii.gz"))
    kwargs = dict(feature_classes=FIRSTORDER, peritumoral_mm=2.0)
    expected = RadiomicsFeatures(**kwargs).fit_transform(X)
    for n_jobs in (None, 2):
        out = RadiomicsFeatures(n_jobs=n_jobs, memory=tmp_path / "cache", **kwargs)
        pd.testing.assert_frame_equal(out.fit_transform(on_disk), expected, rtol=1e-6)
    # the files' entries were cached by the workers: a cached run reads them back
    again = RadiomicsFeatures(memory=tmp_path / "cache", **kwargs).fit_transform(on_disk)
    pd.testing.assert_frame_equal(again, expected, rtol=1e-6)


def test_extraction_workers_import_neither_sklearn_nor_pandas():
    # a joblib worker imports what unpickling its task needs: the extraction module
    # must not pull in scikit-learn, SciPy, pandas or torch (seconds of start-up)
    import subprocess
    import sys

    code = ("import sys, mvikit.radiomics._worker; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'sklearn', 'scipy', 'pandas', 'torch', 'statsmodels'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    # the lazy package attributes still resolve
    import mvikit
    from mvikit.radiomics import RadScore

    assert mvikit.radiomics.RadScore is RadScore and mvikit.Volume is Volume
