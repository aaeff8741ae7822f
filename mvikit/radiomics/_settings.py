"""Resolve `RadiomicsFeatures`' parameters into one pyradiomics parameter dict.

pyradiomics is configured by a "parameter file" (YAML or dict) with the
sections ``imageType`` (Original, LoG with sigmas, Wavelet, ...),
``featureClass`` (firstorder, shape, glcm, ... with optional feature lists)
and ``setting`` (binWidth, resampledPixelSpacing, normalize, ...).  Here the
estimator's keyword arguments are laid over such a dict, every name is
checked against what pyradiomics knows (its own parameter schema, image types
and feature classes), and a clear error lists the valid names.  The result is
what the extraction runs with and what the cache key hashes.
"""

from __future__ import annotations

import copy
import difflib
import os
from functools import lru_cache
from pathlib import Path

from ..exceptions import InvalidSettingsError

__all__ = ["resolve_params", "valid_setting_keys", "DEFAULT_FEATURE_CLASSES"]

#: The 3D feature classes pyradiomics enables by default (shape2D needs force2D).
DEFAULT_FEATURE_CLASSES = ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm")

_SECTIONS = ("imageType", "featureClass", "setting", "voxelSetting")
# Masks are binarised (voxel > 0) before extraction, and diagnostics are not
# features: these settings are fixed by mvikit.
_FIXED_SETTINGS = {"label": 1, "additionalInfo": False}


def _did_you_mean(name, valid) -> str:
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@lru_cache(maxsize=1)
def _schema() -> dict:
    import yaml
    from radiomics import getParameterValidationFiles

    schema_file, _ = getParameterValidationFiles()
    with open(schema_file, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def valid_setting_keys() -> list:
    """The keys pyradiomics accepts in the ``setting`` section (from its schema)."""
    return sorted(_schema()["mapping"]["setting"]["mapping"])


def _valid_voxel_setting_keys() -> list:
    return sorted(_schema()["mapping"]["voxelSetting"]["mapping"])


def _load_params(params) -> dict:
    if params is None:
        return {}
    if isinstance(params, dict):
        loaded = copy.deepcopy(params)
    elif isinstance(params, (str, os.PathLike)):
        import yaml

        path = Path(os.fspath(params))
        if not path.is_file():
            raise InvalidSettingsError(
                f"RadiomicsFeatures: pyradiomics parameter file {str(path)!r} does not exist. "
                "Give the path of a YAML/JSON parameter file, or a dict."
            )
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
    else:
        raise InvalidSettingsError(
            "RadiomicsFeatures: `params` must be a dict or the path of a pyradiomics YAML "
            f"parameter file, got {type(params).__name__}."
        )
    unknown = [k for k in loaded if k not in _SECTIONS]
    if unknown:
        raise InvalidSettingsError(
            f"RadiomicsFeatures: unknown section(s) {unknown} in the pyradiomics parameters"
            f"{_did_you_mean(unknown[0], _SECTIONS)}; valid sections: {list(_SECTIONS)}."
        )
    return {k: (v if v is not None else {}) for k, v in loaded.items()}


def _as_image_types(value) -> dict:
    if isinstance(value, str):
        return {value: {}}
    if isinstance(value, dict):
        return {k: dict(v or {}) for k, v in value.items()}
    return {name: {} for name in value}


def _check_image_types(image_types: dict) -> None:
    from radiomics import getImageTypes

    valid = getImageTypes()
    for name, options in image_types.items():
        if name not in valid:
            raise InvalidSettingsError(
                f"RadiomicsFeatures: unknown pyradiomics image type {name!r}"
                f"{_did_you_mean(name, valid)}; valid image types: {sorted(valid)}."
            )
        _check_setting_keys(options, where=f"image type {name!r}")


def _as_feature_classes(value) -> dict:
    if isinstance(value, str):
        return {value: None}
    if isinstance(value, dict):
        return {k: (list(v) if v else None) for k, v in value.items()}
    return {name: None for name in value}


def _check_feature_classes(classes: dict) -> None:
    from radiomics import getFeatureClasses

    valid = getFeatureClasses()
    for name, features in classes.items():
        if name not in valid:
            raise InvalidSettingsError(
                f"RadiomicsFeatures: unknown pyradiomics feature class {name!r}"
                f"{_did_you_mean(name, valid)}; valid classes: {sorted(valid)}."
            )
        known = valid[name].getFeatureNames()
        for feature in features or ():
            if feature not in known:
                raise InvalidSettingsError(
                    f"RadiomicsFeatures: feature class {name!r} has no feature {feature!r}"
                    f"{_did_you_mean(feature, known)}; its features: {sorted(known)}."
                )


def _check_setting_keys(settings: dict, *, where: str = "settings") -> None:
    valid = valid_setting_keys()
    for key in settings:
        if key not in valid:
            raise InvalidSettingsError(
                f"RadiomicsFeatures: {key!r} in {where} is not a pyradiomics setting"
                f"{_did_you_mean(key, valid)}. Valid settings: {', '.join(valid)}."
            )


def _check_voxel_setting_keys(settings: dict) -> None:
    valid = _valid_voxel_setting_keys()
    for key in settings:
        if key not in valid:
            raise InvalidSettingsError(
                f"RadiomicsFeatures: {key!r} is not a pyradiomics voxelSetting"
                f"{_did_you_mean(key, valid)}; valid: {valid}."
            )


def _keyword_settings(estimator) -> dict:
    """The settings given as keyword arguments (None = not given)."""
    settings = {}
    if estimator.bin_width is not None:
        settings["binWidth"] = float(estimator.bin_width)
    if estimator.resampled_spacing is not None:
        spacing = [float(s) for s in estimator.resampled_spacing]
        if len(spacing) != 3 or min(spacing) <= 0:
            raise InvalidSettingsError(
                "RadiomicsFeatures: `resampled_spacing` must be 3 positive voxel sizes in mm "
                f"along (D, H, W), got {estimator.resampled_spacing!r}."
            )
        # mvikit orders spacing (D, H, W); pyradiomics/SimpleITK order it (x, y, z).
        settings["resampledPixelSpacing"] = spacing[::-1]
    if estimator.normalize is not None:
        settings["normalize"] = bool(estimator.normalize)
    return settings


def resolve_params(estimator) -> dict:
    """The pyradiomics parameter dict of a `RadiomicsFeatures` (checked).

    Precedence: keyword arguments (``image_types``, ``feature_classes``,
    ``bin_width``, ``resampled_spacing``, ``normalize``, ``settings``) over
    the ``params`` dict/file over the defaults (Original image, the seven 3D
    feature classes, pyradiomics' default settings).
    """
    params = _load_params(estimator.params)
    if estimator.image_types is not None:
        image_types = _as_image_types(estimator.image_types)
    else:
        image_types = _as_image_types(params.get("imageType") or {"Original": {}})
    if estimator.feature_classes is not None:
        classes = _as_feature_classes(estimator.feature_classes)
    else:
        classes = _as_feature_classes(params.get("featureClass") or DEFAULT_FEATURE_CLASSES)
    if not image_types or not classes:
        raise InvalidSettingsError(
            "RadiomicsFeatures: at least one image type and one feature class are needed, got "
            f"image_types={image_types!r}, feature_classes={classes!r}."
        )
    settings = dict(params.get("setting") or {})
    _check_setting_keys(settings, where="the `params` setting section")
    extra = dict(estimator.settings or {})
    _check_setting_keys(extra, where="`settings`")
    settings.update(extra)
    settings.update(_keyword_settings(estimator))
    for key, value in _FIXED_SETTINGS.items():
        if key in settings and settings[key] != value:
            raise InvalidSettingsError(
                f"RadiomicsFeatures: the pyradiomics setting {key!r} is fixed to {value!r} by "
                "mvikit (masks are binarised: voxel > 0 is the ROI; each ROI is its own mask "
                "column). Remove it from the settings."
            )
        settings[key] = value
    _check_image_types(image_types)
    _check_feature_classes(classes)
    voxel = dict(params.get("voxelSetting") or {})
    _check_voxel_setting_keys(voxel)
    resolved = {"imageType": image_types, "featureClass": classes, "setting": settings}
    if voxel:
        resolved["voxelSetting"] = voxel
    return resolved
