"""The ``mvikit`` command line.

``simulate`` and ``demo`` run on the simulated cohort; ``check``, ``compare``,
``predict`` and ``validate`` run on the user's own cohort (a CSV with image
paths, or a folder holding ``clinical.csv``).  Exit status: 0 success, 1 the
check found problems in the data, 2 an error (the message names the patient
and the column when the data is at fault).  Errors in the data, the arguments or
the files (mvikit's errors, `ValueError`, `OSError`) print one line;
``--traceback`` shows where they came from.  Anything else is a bug and prints
its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ._version import __version__

__all__ = ["main", "build_parser"]

_TASKS = ("mvi", "mvi_grade", "mavi", "tace", "survival")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mvikit`` command.

    Examples
    --------
    >>> build_parser().parse_args(["simulate", "--out", "cohort"]).n_patients
    270
    """
    parser = argparse.ArgumentParser(
        prog="mvikit",
        description="HCC vascular-invasion models as scikit-learn estimators.",
    )
    parser.add_argument("--version", action="version", version=f"mvikit {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, print the traceback, not one line")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    simulate = commands.add_parser(
        "simulate", help="write a simulated HCC cohort (clinical.csv + NIfTI volumes) to a folder"
    )
    simulate.add_argument("--out", required=True, type=Path, help="folder to create")
    simulate.add_argument("--n-patients", type=int, default=270, help="default: 270")
    simulate.add_argument("--task", choices=_TASKS, default="mvi_grade", help="default: mvi_grade")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    simulate.add_argument("--layout", choices=("roi", "full"), default="roi", help="default: roi")
    simulate.add_argument("--sequences", nargs="+", default=["PRE", "HBP"],
                          help="MRI sequences or CT phases (default: PRE HBP)")
    simulate.add_argument("--overwrite", action="store_true",
                          help="replace the folder if it exists")

    demo = commands.add_parser(
        "demo", help="simulate a cohort, compare every model family under cross-validation, "
                     "write figures and a report"
    )
    demo.add_argument("--out", type=Path, default=Path("mvikit-demo"),
                      help="folder for the report and figures (default: ./mvikit-demo)")
    demo.add_argument("--quick", action="store_true",
                      help="fewer folds, repeats and epochs (about 3 minutes on 2 cores)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--n-jobs", type=int, default=None, help="parallel folds (joblib)")
    demo.add_argument("--sections", type=_sections, default=None,
                      help="seed-paper sections, comma-separated, from cdlm,mtnet,cmir,dmmgnet, "
                           "or 'none' (default: all four in the full demo, none with --quick)")
    demo.add_argument("--overwrite", action="store_true",
                      help="replace the output folder if it exists")
    _study_commands(commands)
    return parser


def _sections(value: str) -> tuple:
    from ._demo_seeds import check_sections

    try:
        return check_sections(value.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cohort_arguments(command, *, outcome_required=False):
    command.add_argument("cohort", type=Path, help="cohort CSV, or a folder with clinical.csv")
    command.add_argument("--id-column", default=None,
                         help="patient-id column of the CSV (default: patient_id)")
    command.add_argument("--outcome", required=outcome_required, default=None,
                         help="outcome column (binary)")


def _study_commands(commands):
    from .study._study_file import MODEL_NAMES

    check = commands.add_parser(
        "check", help="check a cohort: column roles, missing or unreadable images, mask "
                      "geometry, empty masks; print Table 1")
    _cohort_arguments(check)
    check.add_argument("--by", default=None,
                       help="Table 1 grouping column (default: the outcome, if given)")
    check.add_argument("--out", type=Path, default=None,
                       help="also write problems.csv and table1.{md,csv,html} to this folder")
    check.add_argument("--no-masks", action="store_true",
                       help="do not read mask voxels (skips the empty-mask check)")

    compare = commands.add_parser(
        "compare", help="compare models under cross-validation on a cohort, write the "
                        "report, Table 1 and the fitted model files")
    compare.add_argument("cohort", type=Path, nargs="?", default=None,
                         help="cohort CSV or folder (or give --study)")
    compare.add_argument("--study", type=Path, default=None, help="a TOML/YAML study file")
    compare.add_argument("--id-column", default=None)
    compare.add_argument("--outcome", default=None, help="outcome column (binary)")
    compare.add_argument("--centre", default=None, help="centre column (per-centre metrics)")
    compare.add_argument("--models", nargs="+", default=None,
                         help="; ".join(f"{k}: {v}" for k, v in MODEL_NAMES.items()))
    compare.add_argument("--cv", type=int, default=None, help="folds (default: 5)")
    compare.add_argument("--repeats", type=int, default=None, help="repeats (default: 1)")
    compare.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    compare.add_argument("--out", type=Path, default=None, help="output folder")
    compare.add_argument("--overwrite", action="store_true", default=None)
    compare.add_argument("--n-jobs", type=int, default=None)
    shown = compare.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true",
                       help="no progress bars (default: shown when stderr is a terminal)")
    shown.add_argument("--progress", action="store_true",
                       help="progress bars on stderr even when it is not a terminal")

    tables = commands.add_parser(
        "mdnet-tables", help="MD-Net's ablation Tables III-IV (or II) on a cohort: every row "
                             "on the same folds, resumable")
    tables.add_argument("cohort", type=Path, nargs="?", default=None,
                        help="cohort CSV or folder with PRE and HBP images (default: the "
                             "simulated cohort)")
    tables.add_argument("--outcome", default=None, help="outcome column (with a cohort)")
    tables.add_argument("--id-column", default=None)
    tables.add_argument("--n-patients", type=int, default=270,
                        help="simulated cohort size (default: 270)")
    tables.add_argument("--tables", nargs="+", default=["III", "IV"],
                        choices=("II", "III", "IV"))
    tables.add_argument("--preset", choices=("cpu", "demo", "paper"), default="cpu")
    tables.add_argument("--folds", type=int, default=5, help="folds per repeat (default: 5)")
    tables.add_argument("--repeats", type=int, default=5, help="repeats (default: 5)")
    tables.add_argument("--seed", type=int, default=0)
    tables.add_argument("--n-jobs", type=int, default=None)
    tables.add_argument("--cache", type=Path, default=None,
                        help="folder of finished fits (default: OUT.cache); rerun to resume")
    tables.add_argument("--out", type=Path, required=True, help="output folder")
    tables.add_argument("--overwrite", action="store_true")

    predict = commands.add_parser("predict", help="predict a cohort with a saved model file")
    predict.add_argument("model", type=Path, help="a .mvikit model file")
    _cohort_arguments(predict)
    predict.add_argument("--out", type=Path, required=True, help="predictions CSV to write")

    validate = commands.add_parser(
        "validate", help="validate a saved model, unchanged, on a new cohort (discrimination, "
                         "calibration, decision curve, threshold metrics)")
    validate.add_argument("model", type=Path, help="a .mvikit model file")
    _cohort_arguments(validate, outcome_required=True)
    validate.add_argument("--threshold", type=float, default=None,
                          help="decision threshold (default: the one stored in the model file)")
    validate.add_argument("--out", type=Path, required=True, help="report folder")
    validate.add_argument("--overwrite", action="store_true")


def _simulate(args) -> int:
    from .datasets import make_hcc_cohort, write_cohort

    logging.info("Simulating %d patients (task=%s, layout=%s, seed=%d) ...",
                 args.n_patients, args.task, args.layout, args.seed)
    cohort = make_hcc_cohort(n_patients=args.n_patients, task=args.task,
                             sequences=tuple(args.sequences), layout=args.layout,
                             random_state=args.seed)
    path = write_cohort(cohort, args.out, overwrite=args.overwrite)
    sys.stdout.write(f"Wrote {len(cohort.X)} patients to {path}\n")
    return 0


def _demo(args) -> int:
    from ._demo import run_demo

    run_demo(out=args.out, quick=args.quick, random_state=args.seed, n_jobs=args.n_jobs,
             overwrite=args.overwrite, sections=args.sections)
    return 0


def _mdnet_tables(args) -> int:
    from .deep import mdnet_tables

    if args.cohort is None:
        from .datasets import make_hcc_cohort

        cohort = make_hcc_cohort(n_patients=args.n_patients, task="mvi_grade",
                                 random_state=args.seed)
        X, y = cohort.X, cohort.y
    else:
        from .study import read_study_cohort

        cohort = read_study_cohort(args.cohort, id_column=args.id_column,
                                   outcome=args.outcome, images=True)
        X, y = cohort.X, cohort.y
    cache = args.cache or args.out.with_name(args.out.name + ".cache")
    result = mdnet_tables(X, y, tables=args.tables, preset=args.preset, n_splits=args.folds,
                          n_repeats=args.repeats, random_state=args.seed, n_jobs=args.n_jobs,
                          cache_dir=cache, out=args.out, overwrite=args.overwrite)
    sys.stdout.write(result.to_markdown())
    return 0


def main(argv=None) -> int:
    """Entry point of the ``mvikit`` console script.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.

    Examples
    --------
    >>> from mvikit.cli import main
    >>> main([])  # no command: prints the help and returns 1  # doctest: +ELLIPSIS
    usage: mvikit ...
    1
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.command is None:
        parser.print_help()
        return 1
    from .exceptions import MvikitError
    from .study import _commands

    handlers = {"simulate": _simulate, "demo": _demo, "check": _commands.check,
                "compare": _commands.compare, "predict": _commands.predict,
                "validate": _commands.validate, "mdnet-tables": _mdnet_tables}
    try:
        return handlers[args.command](args)
    except (MvikitError, ValueError, OSError) as exc:
        if args.traceback:
            raise
        # mvikit's messages stand alone; another library's need their type to be read
        kind = "" if isinstance(exc, MvikitError) else f"{type(exc).__name__}: "
        hint = "" if isinstance(exc, MvikitError) else " (--traceback shows where)"
        parser.exit(2, f"mvikit {args.command}: error: {kind}{exc}{hint}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
