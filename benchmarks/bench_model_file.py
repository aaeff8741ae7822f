"""Benchmark: mvikit model files (JSON + npy, no pickle) against pickle.

Saves and loads the backward-selected clinical nomogram pipeline fitted on the
simulated cohort (the model ``mvikit compare`` saves) with
:func:`mvikit.study.save_model` / :func:`mvikit.study.load_model` and with
``pickle``; prints the median times, their ratios measured in this process and
the file sizes.  Loading also checks the trust policy of every class named.
Run: ``python benchmarks/bench_model_file.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from mvikit.datasets import make_hcc_cohort
from mvikit.study import build_models, load_model, save_model


def _median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(repeats: int) -> None:
    cohort = make_hcc_cohort(n_patients=270, task="mvi", random_state=0)
    X = cohort.X[cohort.clinical_columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_models(["nomogram"], clinical=cohort.clinical_columns)["nomogram"]
        model.fit(X, cohort.y)
    folder = Path(tempfile.mkdtemp())
    mvikit_file, pickle_file = folder / "model.mvikit", folder / "model.pkl"
    save = _median_time(lambda: save_model(model, mvikit_file, overwrite=True), repeats)
    dump = _median_time(lambda: pickle_file.write_bytes(pickle.dumps(model)), repeats)
    load = _median_time(lambda: load_model(mvikit_file), repeats)
    unpickle = _median_time(lambda: pickle.loads(pickle_file.read_bytes()), repeats)
    same = np.array_equal(load_model(mvikit_file).predict_proba(X), model.predict_proba(X))
    print(f"save {save * 1e3:.1f} ms vs pickle {dump * 1e3:.1f} ms: ratio {save / dump:.1f}")
    print(f"load {load * 1e3:.1f} ms vs unpickle {unpickle * 1e3:.1f} ms: "
          f"ratio {load / unpickle:.1f}")
    print(f"file {mvikit_file.stat().st_size / 1024:.0f} KiB vs pickle "
          f"{pickle_file.stat().st_size / 1024:.0f} KiB; identical predictions: {same}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
