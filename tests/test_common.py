"""scikit-learn's estimator checks over every public mvikit estimator.

``INSTANCES`` gives constructor arguments where the defaults are too slow or
need data-specific settings; ``EXPECTED_FAILED_CHECKS`` lists, per estimator
class name, each check expected to fail *and why*.  Never a blanket skip:
every entry names the check and the reason.
"""

from __future__ import annotations

from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from mvikit.utils import all_estimators

# Estimators whose defaults do not suit the generic checks: class name -> kwargs.
INSTANCES: dict[str, dict] = {
    # the checks pass several feature columns: score them with a regressor
    "RiskStratifier": {"estimator": LinearRegression()},
    # the checks give transformers 3-class targets: select for ordered grades
    "StepwiseSelector": {"selection": None, "ordinal": True},
    # a frozen model is fitted before the checks see it; "refit" checks the wrapper contract
    "RecalibratedClassifier": {"estimator": LogisticRegression(), "method": "refit"},
}

_SURVIVAL_Y = ("scikit-learn's checks pass y as 1-D numbers; a survival model needs the "
               "structured (event, time) target (scikit-survival convention), so fit raises "
               "SurvivalTargetError")

# class name -> {check name: reason}.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    # mvikit.survival: every failure below is the 1-D numeric y of the generic checks
    # (pickling, pipelines, dtypes... are tested with real targets in
    # tests/test_survival_cox.py)
    "CoxPHSurvival": {
        "check_dict_unchanged": _SURVIVAL_Y,
        "check_dont_overwrite_parameters": _SURVIVAL_Y,
        "check_dtype_object": _SURVIVAL_Y,
        "check_estimators_dtypes": _SURVIVAL_Y,
        "check_estimators_fit_returns_self": _SURVIVAL_Y,
        "check_estimators_nan_inf": _SURVIVAL_Y,
        "check_estimators_overwrite_params": _SURVIVAL_Y,
        "check_estimators_pickle": _SURVIVAL_Y,
        "check_estimators_pickle(readonly_memmap=True)": _SURVIVAL_Y,
        "check_f_contiguous_array_estimator": _SURVIVAL_Y,
        "check_fit2d_1feature": _SURVIVAL_Y,
        "check_fit2d_predict1d": _SURVIVAL_Y,
        "check_fit_check_is_fitted": _SURVIVAL_Y,
        "check_fit_idempotent": _SURVIVAL_Y,
        "check_fit_score_takes_y": _SURVIVAL_Y,
        "check_methods_sample_order_invariance": _SURVIVAL_Y,
        "check_methods_subset_invariance": _SURVIVAL_Y,
        "check_n_features_in": _SURVIVAL_Y,
        "check_n_features_in_after_fitting": _SURVIVAL_Y,
        "check_pipeline_consistency": _SURVIVAL_Y,
        "check_positive_only_tag_during_fit": _SURVIVAL_Y,
        "check_readonly_memmap_input": _SURVIVAL_Y,
    },
}


# mvikit.imaging ROI transformers: they take a cohort DataFrame whose cells are
# Volumes (images, masks) and reject numeric arrays with CohortError, so every
# check that feeds random numeric arrays fails at the first line of fit.  The
# contract itself (fit/transform, clone, pipelines, cross-validation, pickling,
# get_feature_names_out, bad input) is tested on volume frames in
# tests/test_roi_transforms.py.
_COHORT_FRAME = ("the check fits on a numeric array; ROI transformers need a cohort "
                 "DataFrame with Volume image/mask cells and raise CohortError")
_COHORT_FRAME_MSG = ("the check expects sklearn's message for this array; ROI transformers "
                     "reject any non-DataFrame input first, with CohortError's message")
_ROI_TRANSFORMER_FAILS = {
    **{name: _COHORT_FRAME for name in (
        "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
        "check_estimators_dtypes", "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params", "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent",
        "check_fit_score_takes_y", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_n_features_in",
        "check_n_features_in_after_fitting", "check_pipeline_consistency",
        "check_positive_only_tag_during_fit", "check_readonly_memmap_input",
        "check_transformer_data_not_an_array", "check_transformer_general",
        "check_transformer_preserve_dtypes",
        "check_estimator_sparse_tag")},
    **{name: _COHORT_FRAME_MSG for name in (
        "check_complex_data", "check_estimators_empty_data_messages", "check_fit2d_1feature",
        "check_fit2d_1sample", "check_estimator_sparse_array",
        "check_estimator_sparse_matrix")},
    "check_estimators_nan_inf": ("numeric arrays are rejected before any NaN check; NaN/inf "
                                 "voxels raise VolumeError naming patient and column "
                                 "(tests/test_roi_transforms.py)"),
}
EXPECTED_FAILED_CHECKS.update({name: dict(_ROI_TRANSFORMER_FAILS) for name in (
    "IntensityNormalizer", "PeritumoralShell", "ROICropper", "VolumeResampler",
    "VolumeDownsampler", "HeterogeneityScore")})


# mvikit.deep: VolumeNetClassifier, MDNetClassifier and CDLMClassifier train networks on a cohort
# DataFrame whose cells are Volumes (a tumour-mask column centres the crop; MD-Net
# also needs clinical columns) and reject numeric arrays with CohortError, so every
# check that fits on a random numeric array fails at the first line of fit.  The
# contract (clone, cross_val_score, pickling, skorch save/load, bit-identical reruns,
# not-fitted errors, bad input) is tested on volume frames in
# tests/test_deep_estimators.py, tests/test_deep_mdnet.py and tests/test_deep_cdlm.py.
_DEEP_FRAME = ("the check fits on a numeric array; deep estimators need a cohort DataFrame "
               "with Volume cells (and a tumour mask) and raise CohortError")
_DEEP_FRAME_MSG = ("the check expects sklearn's message for this array or target; deep "
                   "estimators reject any non-DataFrame X first, with CohortError's message")
_DEEP_FAILS = {
    **{name: _DEEP_FRAME for name in (
        "check_class_weight_classifiers", "check_classifier_data_not_an_array",
        "check_classifiers_classes", "check_classifiers_train",
        "check_classifiers_train(readonly_memmap=True)",
        "check_classifiers_train(readonly_memmap=True,X_dtype=float32)",
        "check_decision_proba_consistency", "check_dict_unchanged",
        "check_dont_overwrite_parameters", "check_dtype_object", "check_estimator_sparse_tag",
        "check_estimators_dtypes", "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params", "check_estimators_pickle",
        "check_estimators_pickle(readonly_memmap=True)", "check_f_contiguous_array_estimator",
        "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent",
        "check_fit_score_takes_y", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_n_features_in",
        "check_n_features_in_after_fitting", "check_pipeline_consistency",
        "check_positive_only_tag_during_fit", "check_readonly_memmap_input",
        "check_transformer_data_not_an_array", "check_transformer_general",
        "check_transformer_general(readonly_memmap=True)")},
    **{name: _DEEP_FRAME_MSG for name in (
        "check_classifiers_one_label", "check_classifiers_regression_target",
        "check_complex_data", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
        "check_estimators_empty_data_messages", "check_fit2d_1feature", "check_fit2d_1sample",
        "check_requires_y_none", "check_supervised_y_2d")},
}
EXPECTED_FAILED_CHECKS.update({name: dict(_DEEP_FAILS) for name in (
    "CDLMClassifier", "MDNetClassifier", "MTNetClassifier", "VolumeNetClassifier")})
# MTNetClassifier.fit takes sample_weight (IPCW horizon labels), so sklearn adds its
# sample-weight checks, which fit on numeric arrays as well; tested on volume frames in
# tests/test_deep_mtnet.py (ones = no weights, a weighted mean of the loss, bad weights)
EXPECTED_FAILED_CHECKS["MTNetClassifier"].update({
    **{name: _DEEP_FRAME for name in (
        "check_sample_weights_pandas_series", "check_sample_weights_not_an_array",
        "check_sample_weights_list", "check_sample_weights_shape",
        "check_sample_weights_not_overwritten", "check_sample_weight_equivalence_on_dense_data")},
    **{name: _DEEP_FRAME_MSG for name in (
        "check_all_zero_sample_weights_error", "check_classifiers_one_label_sample_weights")}})
# tiny networks: the checks that do run (construction, params, not-fitted errors) stay fast
INSTANCES.update({name: {"width": 0.0625, "max_epochs": 1, "crop_size": (8, 16, 16),
                         "random_state": 0} for name in ("MDNetClassifier",
                                                         "MTNetClassifier",
                                                         "VolumeNetClassifier")})
INSTANCES["CDLMClassifier"] = {"width": 0.0625, "max_epochs": 1, "slice_size": 16,
                               "random_state": 0}


# mvikit.radiomics: RadiomicsFeatures takes a cohort frame with Volume cells, and
# ComBat a frame with the centre column (batch="center"); both reject numeric
# arrays with CohortError at the first line of fit, so the checks below (which
# are the ROI transformers' list) fail there.  Their contract (clone, pipelines,
# GridSearchCV, pickling, names, bad input) is tested in tests/test_radiomics_*.py.
_RADIOMICS_FRAME = {
    "RadiomicsFeatures": ("the check fits on a numeric array; RadiomicsFeatures needs a cohort "
                          "DataFrame with Volume image/mask cells and raises CohortError"),
    "ComBat": ("the check fits on a numeric array; ComBat needs a DataFrame holding the "
               "centre column (batch='center') and raises CohortError"),
}
EXPECTED_FAILED_CHECKS.update({
    name: {check: reason for check in _ROI_TRANSFORMER_FAILS}
    for name, reason in _RADIOMICS_FRAME.items()})
# random check data carries no signal: a fixed C keeps the L1 models non-empty,
# and k=1 keeps the univariate filter non-empty (an empty selection is an error)
INSTANCES.update({"LassoSelector": {"Cs": [1.0]}, "RadScore": {"Cs": [1.0]},
                  "UnivariateFilter": {"k": 1}})


# mvikit.survival.DeepCoxSurvival: a 3D network over a cohort DataFrame with Volume
# cells and a structured survival target; every check below fits on a random numeric
# array (CohortError) or passes a 1-D numeric y.  Its contract (clone, pickling,
# bit-identical reruns, Breslow curves, bad targets) is tested on volume frames in
# tests/test_survival_deep_cox.py.
_DEEP_COX_FRAME = ("the check fits on a numeric array (with a 1-D numeric y); DeepCoxSurvival "
                   "needs a cohort DataFrame with Volume cells and a structured survival "
                   "target, and raises CohortError")
_DEEP_COX_FRAME_MSG = ("the check expects sklearn's message for this array or target; "
                       "DeepCoxSurvival rejects any non-DataFrame X first, with CohortError's "
                       "message")
EXPECTED_FAILED_CHECKS["DeepCoxSurvival"] = {
    **{name: _DEEP_COX_FRAME for name in (
        "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
        "check_estimator_sparse_tag", "check_estimators_dtypes",
        "check_estimators_fit_returns_self", "check_estimators_overwrite_params",
        "check_estimators_pickle", "check_estimators_pickle(readonly_memmap=True)",
        "check_f_contiguous_array_estimator", "check_fit2d_predict1d",
        "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance",
        "check_n_features_in", "check_n_features_in_after_fitting",
        "check_pipeline_consistency", "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input", "check_transformer_data_not_an_array",
        "check_transformer_general", "check_transformer_general(readonly_memmap=True)")},
    **{name: _DEEP_COX_FRAME_MSG for name in (
        "check_complex_data", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
        "check_estimators_empty_data_messages", "check_fit2d_1feature", "check_fit2d_1sample",
        "check_requires_y_none")},
}
INSTANCES["DeepCoxSurvival"] = {"width": 0.0625, "max_epochs": 1, "crop_size": (8, 16, 16),
                                "random_state": 0}


def _instances():
    for name, cls in all_estimators():
        yield cls(**INSTANCES.get(name, {}))


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def test_registry_lists_public_estimators():
    names = [name for name, _ in all_estimators()]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    # every INSTANCES / EXPECTED_FAILED_CHECKS key names a real estimator
    assert set(INSTANCES) <= set(names)
    assert set(EXPECTED_FAILED_CHECKS) <= set(names)


@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_registry_type_filters():
    from sklearn.base import is_classifier

    classifiers = dict(all_estimators(type_filter="classifier"))
    survival = dict(all_estimators(type_filter="survival"))
    transformers = dict(all_estimators(type_filter="transformer"))
    assert {"NomogramClassifier", "MDNetClassifier", "VolumeNetClassifier"} <= set(classifiers)
    assert {"CoxPHSurvival", "DeepCoxSurvival"} <= set(survival)
    assert {"ClinicalPreprocessor", "ROICropper", "RadiomicsFeatures"} <= set(transformers)
    assert not set(classifiers) & set(survival)
    assert all(is_classifier(cls()) for cls in classifiers.values())
