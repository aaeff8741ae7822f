"""The study commands of the ``mvikit`` command line: check, compare, predict, validate.

Each takes the parsed arguments (see :func:`mvikit.cli.build_parser`), writes
its result to stdout or to files, and returns the exit status.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import (
    ColumnRoleError,
    DataWarning,
    InvalidSettingsError,
    OutputExistsError,
    TrainingError,
)
from ._cohort import read_study_cohort, scan_images
from ._frozen import check_model_columns, validate_frozen, validate_predictions
from ._model_card import model_card
from ._model_file import load_model, model_file_info, save_model
from ._report import write_validation_report
from ._study_file import IMAGE_MODELS, STUDY_DEFAULTS, build_models, read_study_file
from ._table_one import table_one

__all__ = ["check", "compare", "predict", "validate"]

logger = logging.getLogger("mvikit.cli")


def _say(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _show_warnings(caught) -> None:
    """Data warnings (patients left out, ...) go to stderr once each, as the run's log."""
    for warning in caught:
        if issubclass(warning.category, DataWarning):
            logger.warning("warning: %s", warning.message)




# ------------------------------------------------------------------ check
def check(args) -> int:
    """``mvikit check``: roles, image problems by patient and column, Table 1."""
    problems = scan_images(args.cohort, id_column=args.id_column,
                           read_masks=not args.no_masks, progress=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cohort = read_study_cohort(args.cohort, id_column=args.id_column, outcome=args.outcome)
    _show_warnings(caught)
    from ..utils._roles import resolve_columns

    roles = resolve_columns(cohort.X)
    _say(f"Cohort {cohort.csv}: {len(cohort.X)} patients")
    _say(f"  clinical columns ({len(roles.clinical)}): {', '.join(map(str, roles.clinical))}")
    _say(f"  image/mask columns ({len(cohort.image_columns)}): "
         f"{', '.join(cohort.image_columns) or 'none'}")
    if args.outcome is not None:
        counts = cohort.y.value_counts().sort_index()
        _say(f"  outcome {args.outcome!r}: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    if len(problems):
        _say(f"\n{len(problems)} image problem(s):")
        _say(problems.drop(columns="detail").to_string(index=False))
        _say("\n".join(problems["detail"]))
    else:
        _say("\nEvery image and mask was found and read; masks are on their images' grids.")
    by = cohort.y if args.by is None else args.by
    result = table_one(cohort.X, by=by, by_name=args.outcome if args.by is None else None)
    _say("\nTable 1\n\n" + result.to_markdown())
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        problems.to_csv(args.out / "problems.csv", index=False)
        _write_table_one(result, args.out)
    return 1 if len(problems) else 0


def _write_table_one(result, folder: Path) -> None:
    (folder / "table1.md").write_text(result.to_markdown(), encoding="utf-8")
    (folder / "table1.html").write_text(result.to_html(), encoding="utf-8")
    result.to_csv(folder / "table1.csv")


# ------------------------------------------------------------------ compare
def _settings(args) -> dict:
    settings = dict(STUDY_DEFAULTS)
    if args.study is not None:
        settings = read_study_file(args.study)
    given = {"cohort": args.cohort, "outcome": args.outcome, "id_column": args.id_column,
             "centre": args.centre, "models": args.models, "cv": args.cv,
             "repeats": args.repeats, "seed": args.seed, "out": args.out,
             "overwrite": args.overwrite, "n_jobs": args.n_jobs}
    settings.update({k: v for k, v in given.items() if v is not None})
    missing = [k for k in ("cohort", "outcome", "out") if settings[k] is None]
    if missing:
        raise InvalidSettingsError(f"compare needs {missing}: give them as arguments "
                                   "(COHORT, --outcome, --out) or in the --study file.")
    return settings


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")


def _fit_and_save(models, cohort, result, folder: Path, settings, progress) -> None:
    """Refit every model on the whole cohort; save it with its card and the CV threshold."""
    from tqdm.auto import tqdm

    from ..metrics import youden_threshold

    folder.mkdir()
    for name, model in tqdm(models.items(), desc="final models", unit="model", file=sys.stderr,
                            disable=None if progress is None else not progress):
        failed = result.failures[result.failures["model"] == name]
        if len(failed) == len(result.splits):
            first = failed.iloc[0]
            raise TrainingError(f"Model {name!r} failed in every fold ({first['error']}: "
                                f"{first['message']}); nothing was written. Fix it or leave "
                                "it out of --models.")
        oof = result.oof_predictions(name, 0)
        events = (oof["y_true"].to_numpy() == result.pos_label).astype(int)
        threshold = youden_threshold(events, oof["score"].to_numpy()).threshold
        internal = validate_predictions(oof["y_true"],
                                        oof["score"].to_numpy(), threshold=threshold,
                                        pos_label=result.pos_label)
        model.fit(cohort.X, cohort.y)
        card = model_card(model, X=cohort.X, y=cohort.y, centers=cohort.centers, name=name,
                          validation=internal, validation_label=(
                              f"Internal validation (pooled out-of-fold predictions, "
                              f"{settings['cv']}-fold CV; threshold from the same predictions)"))
        metadata = {"name": name, "outcome": settings["outcome"], "threshold": float(threshold),
                    "threshold_source": "Youden index of the pooled out-of-fold predictions",
                    "positive_class": np.asarray(result.pos_label).item()}
        save_model(model, folder / f"{_slug(name)}.mvikit", card=card, metadata=metadata)
        card.write(folder / f"{_slug(name)}.card.md")


def _progress(args) -> bool | None:
    """--quiet: no bars; --progress: bars; neither: bars when stderr is a terminal."""
    if getattr(args, "quiet", False):
        return False
    return True if getattr(args, "progress", False) else None


def compare(args) -> int:
    """``mvikit compare``: Table 1, the cross-validated comparison report, model files.

    Everything is written into a staging folder next to ``--out``, renamed to
    ``--out`` at the end: a run that fails leaves no partial output.
    """
    settings = _settings(args)
    images = bool(set(settings["models"]) & IMAGE_MODELS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        cohort = read_study_cohort(settings["cohort"], id_column=settings["id_column"],
                                   outcome=settings["outcome"], centre=settings["centre"],
                                   images=images)
    _show_warnings(caught)
    from ..utils._roles import resolve_columns

    roles = resolve_columns(cohort.X)
    models = build_models(settings["models"], clinical=roles.clinical, volumes=roles.volumes,
                          random_state=settings["seed"])
    out = Path(settings["out"])
    if out.exists() and not settings["overwrite"]:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it or choose "
                                "another folder.")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        result = _compare_into(staging, models, cohort, roles, settings, _progress(args))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _say(result.to_markdown())
    _say(f"Wrote {out / 'report'}, {out / 'models'} and Table 1 ({out / 'table1.md'}).")
    return 0


def _compare_into(folder: Path, models, cohort, roles, settings, progress):
    """The work of `compare`, written into ``folder``; returns the comparison."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    from ..model_selection import compare_models
    from ..report import write_report

    _write_table_one(table_one(cohort.X[roles.clinical], by=cohort.y,
                               by_name=settings["outcome"]), folder)
    logger.info("Comparing %s on %d patients (%d-fold CV x %d) ...", ", ".join(models),
                len(cohort.X), settings["cv"], settings["repeats"])
    cv = RepeatedStratifiedKFold(n_splits=settings["cv"], n_repeats=settings["repeats"],
                                 random_state=settings["seed"])
    with warnings.catch_warnings():
        # the centres feed the per-centre metrics; the stratified folds do not use them
        warnings.filterwarnings("ignore", message="The groups parameter is ignored")
        result = compare_models(models, cohort.X, cohort.y, cv=cv, groups=cohort.centers,
                                random_state=settings["seed"], n_jobs=settings["n_jobs"],
                                progress=progress)
    write_report(result, folder / "report", title=settings["title"])
    _fit_and_save(models, cohort, result, folder / "models", settings, progress)
    (folder / "study.json").write_text(json.dumps(
        {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}, indent=1))
    return result


# ------------------------------------------------------------------ predict / validate
def _model_and_cohort(args, outcome):
    model = load_model(args.model)
    names = [str(c) for c in getattr(model, "feature_names_in_", [])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        plain = read_study_cohort(args.cohort, id_column=args.id_column, outcome=outcome)
        images = bool(set(names) & set(plain.image_columns))
        cohort = plain if not images else read_study_cohort(
            args.cohort, id_column=args.id_column, outcome=outcome, images=True)
    _show_warnings(caught)
    check_model_columns(model, cohort.X)
    return model, cohort


def predict(args) -> int:
    """``mvikit predict``: one row per patient with the predicted risk and class."""
    model, cohort = _model_and_cohort(args, args.outcome)
    info = model_file_info(args.model)["metadata"]
    X = check_model_columns(model, cohort.X)
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    positive = info.get("positive_class", classes[-1])
    if positive not in classes:
        raise ColumnRoleError(f"The model file's positive class {positive!r} is not among the "
                              f"model's classes {classes}.")
    risk = proba[:, classes.index(positive)]
    threshold = info.get("threshold", 0.5)
    frame = pd.DataFrame({f"probability_{positive}": risk,
                          "predicted": np.where(risk >= threshold, positive,
                                                next(c for c in classes if c != positive))},
                         index=cohort.X.index)
    if cohort.y is not None:
        frame.insert(0, args.outcome, cohort.y)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index_label=cohort.X.index.name or "patient_id")
    _say(f"Wrote {len(frame)} predictions to {args.out} (threshold {threshold:.3g}).")
    return 0


def validate(args) -> int:
    """``mvikit validate``: the frozen model's validation report on a new cohort."""
    model, cohort = _model_and_cohort(args, args.outcome)
    info = model_file_info(args.model)["metadata"]
    threshold = args.threshold if args.threshold is not None else info.get("threshold", 0.5)
    result = validate_frozen(model, cohort.X, cohort.y, threshold=threshold,
                             pos_label=info.get("positive_class"))
    name = info.get("name", args.model.stem)
    write_validation_report(result, args.out, overwrite=args.overwrite, model_name=name,
                            title=f"External validation of {name}")
    _say(result.summary().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    _say(f"Wrote {args.out}.")
    return 0
