"""Benchmark: mvikit model files (JSON + npy, no pickle) against pickle and torch.save.

1. The backward-selected clinical nomogram pipeline fitted on the simulated
   cohort (the model ``mvikit compare`` saves): :func:`mvikit.study.save_model` /
   :func:`mvikit.study.load_model` against ``pickle``.
2. A deep model, MD-Net (``MDNetClassifier``, preset "cpu": student and teacher,
   one epoch on ``--deep-patients`` simulated patients; the file size does not
   depend on the epochs): the model file against ``torch.save`` of the state
   dicts of its networks (the weights alone, the usual way to keep a network) and
   ``torch.load(weights_only=True)`` + ``load_state_dict`` into the fitted
   networks.  The model file holds more: the tensorizer, the clinical
   preprocessing, the trainer's settings and history, and loading rebuilds the
   networks from the register.

Prints median times, their ratios measured in this process and the file sizes.
Loading also checks the trust policy of every class named.
Run: ``python benchmarks/bench_model_file.py [--repeats 5] [--deep-patients 60]``.
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


def _deep(repeats: int, n_patients: int, folder: Path) -> None:
    import torch

    from mvikit.deep import MDNetClassifier

    torch.set_num_threads(1)
    cohort = make_hcc_cohort(n_patients=n_patients, task="mvi", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MDNetClassifier(preset="cpu", max_epochs=1, random_state=0).fit(cohort.X,
                                                                                cohort.y)
    networks = {"student": model.net_.module_, "teacher": model.net_.teacher_}
    mvikit_file, torch_file = folder / "mdnet.mvikit", folder / "mdnet.pt"

    def torch_save():
        torch.save({k: m.state_dict() for k, m in networks.items()}, torch_file)

    def torch_load():
        state = torch.load(torch_file, weights_only=True)
        for key, module in networks.items():
            module.load_state_dict(state[key])

    save = _median_time(lambda: save_model(model, mvikit_file, overwrite=True), repeats)
    dump = _median_time(torch_save, repeats)
    load = _median_time(lambda: load_model(mvikit_file), repeats)
    torch_time = _median_time(torch_load, repeats)
    same = np.array_equal(load_model(mvikit_file).predict_proba(cohort.X),
                          model.predict_proba(cohort.X))
    n_parameters = sum(p.numel() for m in networks.values() for p in m.parameters())
    size, torch_size = mvikit_file.stat().st_size, torch_file.stat().st_size
    print(f"MD-Net ({n_parameters} parameters, student + teacher, preset 'cpu')")
    print(f"save {save * 1e3:.1f} ms vs torch.save {dump * 1e3:.1f} ms: ratio {save / dump:.1f}")
    print(f"load {load * 1e3:.1f} ms vs torch.load + load_state_dict {torch_time * 1e3:.1f} ms: "
          f"ratio {load / torch_time:.1f}")
    print(f"file {size / 1024:.0f} KiB vs torch.save {torch_size / 1024:.0f} KiB: ratio "
          f"{size / torch_size:.2f}; identical predictions: {same}")


def main(repeats: int, deep_patients: int) -> None:
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
    if deep_patients:
        _deep(repeats, deep_patients, folder)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--deep-patients", type=int, default=60,
                        help="patients of the MD-Net fit (0: no deep model)")
    arguments = parser.parse_args()
    main(arguments.repeats, arguments.deep_patients)
