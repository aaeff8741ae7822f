"""One CPU-preset DMMGNet fit on the default ``tace`` cohort: CPU seconds and wall time.

The issue's budget: one fit with ``preset="cpu"`` on the default simulated ``tace``
cohort (270 patients, T2 + PV, ``layout="full"`` for the liver mask) in at most five
minutes on two cores.  Reported separately: simulating the cohort, the tensor stage
(normalisation, liver and tumour slabs), the Cox fit (``DeepCoxSurvival``, which
includes its own tensor stage and the inference pass for the Breslow baseline), and
the baseline architecture's fit in the same process as the reference.

    python benchmarks/bench_dmmgnet.py [--n-patients 270] [--threads 2] [--image-dir DIR]

The cohort's images are written to ``--image-dir`` (default: a temporary folder,
removed at the end) as they are simulated and read back lazily
(``make_hcc_cohort(image_dir=...)``), so memory holds the slabs, not the ~4.6 GB of
full-layout volumes; each fit starts with an empty volume cache, so it includes its
own tensor stage.

CPU seconds are the process's user + system time (all torch threads); on a shared
machine the wall time also counts waiting for the cores.

Measured (2026-12, shared 2-core machine, load ~13, ``--threads 1``): 270 patients were
killed for memory (7 GB resident while simulating, other jobs running); with
``--n-patients 120``: simulate 26.7 CPU s, tensor stage 5.0 CPU s, ``"dmmgnet"`` fit
102.3 CPU s (8 epochs, 12.8 CPU s per epoch with the Breslow pass), ``"dmmgnet_baseline"``
38.5 CPU s (2.7x less), peak 5.1 GiB.  The fit is linear in patients: about 230 CPU s
(3.9 min on one core) for the 270-patient default cohort, within the 5-minute budget.

Memory since the images go to disk and the tensor stage keeps only slabs (2026-12, same
machine, load ~9, one torch thread; ``/usr/bin/time -v`` on simulate 270 patients +
one ``"dmmgnet"`` Cox fit with ``max_epochs=1`` + ``predict``): peak resident 1.80 GiB
(the cohort's lazy cells 0.2 GiB over the 0.4 GiB of imports; the slabs 169 MB);
simulate 58.8 CPU s, the one-epoch fit 63.4 CPU s including its tensor stage and the
Breslow pass.  The 8-epoch fit was not run there (its estimate, about 5 CPU min, is
above).

The 270-patient fit itself (2026-12, 2-core machine, the other core busy with a test,
``--threads 1 --image-dir /tmp/benchimg``): simulate 57.5 CPU s, tensor stage 16.4 CPU s,
``"dmmgnet"`` Cox fit **201.5 CPU s** (3.4 minutes on one core, 25.2 CPU s per epoch with
the Breslow pass; within the 5-minute budget), ``"dmmgnet_baseline"`` 93.2 CPU s; peak
resident 2.1 GiB for the whole script (``/usr/bin/time -v``).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings

import torch


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Clock:
    def __init__(self, label: str) -> None:
        self.label = label

    def __enter__(self):
        self.cpu, self.wall = _cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.cpu_s = _cpu() - self.cpu
        self.wall_s = time.perf_counter() - self.wall
        print(f"{self.label:<40} {self.cpu_s:8.1f} CPU s {self.wall_s:8.1f} wall s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=270)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--architectures", default="dmmgnet,dmmgnet_baseline")
    parser.add_argument("--image-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.image_dir is None:
        with tempfile.TemporaryDirectory() as folder:
            run(args, folder)
    else:
        run(args, args.image_dir)


def run(args, image_dir) -> None:
    from mvikit.datasets import make_hcc_cohort
    from mvikit.deep import CohortTensorizer
    from mvikit.imaging import clear_volume_cache
    from mvikit.survival import DeepCoxSurvival

    print(f"torch threads {torch.get_num_threads()}, {args.n_patients} patients")
    with Clock("simulate (one process, images to disk)"):
        cohort = make_hcc_cohort(args.n_patients, task="tace", sequences=("T2", "PV"),
                                 layout="full", random_state=0, image_dir=image_dir)
    X, y = cohort.X, cohort.survival
    warnings.simplefilter("ignore")  # the thin-tumour DataWarning, once per fit
    settings = {"n_slices": 10, "slice_size": 56}  # the cpu preset's slabs
    with Clock("tensor stage (slabs 10 x 56 x 56)"):
        CohortTensorizer("liver_tumor", volumes=["T2", "PV"], **settings).fit(X).transform(X)
    for name in args.architectures.split(","):
        clear_volume_cache()  # each fit cuts its own slabs
        with Clock(f"DeepCoxSurvival({name!r}) fit, cpu") as clock:
            model = DeepCoxSurvival(name, volumes=["T2", "PV"], preset="cpu",
                                    random_state=0).fit(X, y)
        epochs = len(model.net_.history)
        print(f"    {epochs} epochs, {clock.cpu_s / epochs:.1f} CPU s per epoch incl. "
              f"overheads; training C-index {model.score(X, y):.3f}; settings "
              f"{ {k: model.settings_[k] for k in ('width', 'lr', 'batch_size', 'grid')} }")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident memory {peak:.1f} GiB")


if __name__ == "__main__":
    main()
