"""The ``mvikit`` command line: ``--version``, ``simulate`` and ``demo``."""

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
    demo.add_argument("--overwrite", action="store_true",
                      help="replace the output folder if it exists")
    return parser


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
             overwrite=args.overwrite)
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

    try:
        return {"simulate": _simulate, "demo": _demo}[args.command](args)
    except (MvikitError, FileExistsError) as exc:
        parser.exit(2, f"mvikit {args.command}: error: {exc}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
