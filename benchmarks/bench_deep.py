"""Deep-estimator benchmarks, printed as ratios against baselines measured in the same run.

1. Paper-size training step (width 1, batch 4, two 16x64x64 sequences, teacher +
   student forward/backward/Adam): its arithmetic rate (GFLOP/s, FLOPs counted by
   ``torch.utils.flop_counter``) as a fraction of a float32 matrix-multiply rate
   measured here, in the default (contiguous) layout, channels-last 3D, and
   bfloat16 mixed precision (the estimators' ``precision="bfloat16"`` context,
   and bare autocast without its float32 guard for depth-2 convolutions, to show
   what the guard costs).
2. The same for the CPU-preset network size (width 1/16, 16x32x32, batch 16),
   where the layout matters most.
3. (``--compile``) ``torch.compile`` of both networks at both sizes: compile time
   (wall, and CPU seconds of this process + its compile workers) and the
   steady-state step time against eager, same process.
4. Wrapper overhead: ``MDNetClassifier.fit`` (skorch, dict batches, random crops)
   against a bare PyTorch loop training the same networks on the same crops; and
   the same ``fit`` with ``precision="bfloat16"`` against float32.
5. (without ``--quick``) one CPU-preset MD-Net fit on the default cohort
   (270 patients, MVI grade, PRE+HBP): wall and CPU seconds, peak RSS; and
   held-out AUCs of float32 against bfloat16 fits (demo preset, binary MVI,
   3 folds of 270 patients, MD-Net's student and teacher).

Times are CPU seconds of this process (``time.process_time``) as well as wall
seconds: on a machine whose cores are shared, wall time depends on the
neighbours, CPU time much less.

Run: ``python benchmarks/bench_deep.py [--quick] [--compile] [--threads N]``
(default 1 thread).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from contextlib import nullcontext

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from mvikit.deep import MDNetClassifier
from mvikit.deep._base import autocast_context
from mvikit.deep.losses import MDNetLoss
from mvikit.deep.nets import StudentNet, TeacherNet


class Timer:
    """Wall and CPU seconds of a block (``children``: CPU of finished child processes
    too, e.g. torch.compile's compile workers)."""

    def __init__(self, children: bool = False) -> None:
        self.children = children

    def _cpu(self) -> float:
        cpu = time.process_time()
        if self.children:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu += usage.ru_utime + usage.ru_stime
        return cpu

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = self._cpu() - self.cpu


def matmul_gflops(n: int = 1024, repeat: int = 10) -> float:
    """float32 matmul rate (CPU-time based, so shared cores do not lower it)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    with Timer() as t:
        for _ in range(repeat):
            a @ b
    return 2 * n ** 3 * repeat / t.cpu / 1e9


def make_step(width: float, batch: int, crop: tuple, *, channels_last: bool = False,
              precision: str = "float32", guard: bool = True, compiled: bool = False,
              n_clinical: int = 60):
    """One teacher+student training step (forward under the estimators' context)."""
    torch.manual_seed(0)
    student, teacher = StudentNet(2, 3, 52, width), TeacherNet(n_clinical, 2, 3, width)
    params = list(student.parameters()) + list(teacher.parameters())
    optimizer = torch.optim.Adam(params, lr=3e-4)
    loss_fn = MDNetLoss()
    volumes = torch.randn(batch, 2, *crop)
    if channels_last:
        volumes = volumes.contiguous(memory_format=torch.channels_last_3d)
    clinical = torch.randn(batch, n_clinical)
    target, y = torch.randn(batch, 52), torch.randint(0, 3, (batch,))
    binary = torch.zeros(52, dtype=torch.bool)
    if compiled:
        student, teacher = torch.compile(student), torch.compile(teacher)

    def context():
        if precision == "float32":
            return nullcontext()
        if guard:
            return autocast_context(precision, "cpu")
        return torch.autocast("cpu", dtype=torch.bfloat16)

    def step():
        optimizer.zero_grad()
        with context():
            s = student({"volumes": volumes})
            t = teacher({"volumes": volumes, "clinical": clinical})
        s, t = ({k: v.float() for k, v in out.items()} for out in (s, t))
        loss_fn(s, t, y, target, binary)["total"].backward()
        optimizer.step()

    return step


def step_time(step, repeat: int) -> Timer:
    with Timer() as t:
        for _ in range(repeat):
            step()
    t.cpu, t.wall = t.cpu / repeat, t.wall / repeat
    return t


def training_step_rate(width: float, batch: int, crop: tuple, repeat: int = 2,
                       **kwargs) -> tuple[float, float, float]:
    """(GFLOP/s, CPU s per step, wall s per step) of one teacher+student step."""
    step = make_step(width, batch, crop, **kwargs)
    with FlopCounterMode(display=False) as counter:
        step()
    t = step_time(step, repeat)
    return counter.get_total_flops() / t.cpu / 1e9, t.cpu, t.wall


SIZES = (("paper size (width 1, batch 4, 16x64x64)", 1.0, 4, (16, 64, 64), False, 2),
         ("CPU preset (width 1/16, batch 16, 16x32x32)", 0.0625, 16, (16, 32, 32), True, 6))


def bench_steps(mm: float) -> None:
    for label, width, batch, crop, _, repeat in SIZES:
        print(label)
        base = None
        for name, kw in (("float32, contiguous", {}),
                         ("float32, channels_last_3d", {"channels_last": True}),
                         ("bfloat16 (estimators), contiguous", {"precision": "bfloat16"}),
                         ("bfloat16 (estimators), channels_last", {"channels_last": True,
                                                                   "precision": "bfloat16"}),
                         ("bf16 autocast, no guard, ch.-last", {"channels_last": True,
                                                                "precision": "bfloat16",
                                                                "guard": False})):
            rate, cpu, wall = training_step_rate(width, batch, crop, repeat, **kw)
            base = base or cpu
            print(f"  {name:38s} {cpu:6.2f} CPU s/step ({wall:6.2f} wall), {rate:6.1f} GFLOP/s "
                  f"= {rate / mm:5.1%} of matmul; time x{cpu / base:.2f} of float32 contiguous")


def bench_compile() -> None:
    """torch.compile (inductor) of both networks against eager, same process."""
    for label, width, batch, crop, channels_last, repeat in SIZES:
        for precision in ("float32", "bfloat16"):
            kw = dict(channels_last=channels_last, precision=precision)
            eager = make_step(width, batch, crop, **kw)
            eager()
            compiled = make_step(width, batch, crop, compiled=True, **kw)
            with Timer(children=True) as first:
                compiled()
            compiled()
            ratios = []
            for _ in range(2):  # alternate, so load changes hit both
                e, c = step_time(eager, repeat), step_time(compiled, repeat)
                ratios.append(c.cpu / e.cpu)
            print(f"{label}, {precision}: compile (first step) {first.wall:.0f} s wall, "
                  f"{first.cpu:.0f} CPU s with workers; steady step compiled/eager "
                  f"x{ratios[0]:.2f}, x{ratios[1]:.2f} (eager {e.cpu:.3f} CPU s/step)")


def wrapper_overhead(frame, y, repeat: int = 2, **params) -> tuple[float, float]:
    """Best CPU seconds of ``fit`` (volumes already cropped and cached by a first fit)
    and of a bare loop doing the same work, alternated ``repeat`` times."""
    MDNetClassifier(**{**params, "max_epochs": 1}).fit(frame, y)  # fills the crop cache
    clf = MDNetClassifier(**params)
    clf.fit(frame, y)
    data, y_encoded = clf._prepare_fit(frame, y)
    data["clinical_target"] = torch.from_numpy(clf._clinical_targets(frame))
    net = clf.net_
    bs, n = clf.settings_["batch_size"], len(y_encoded)
    binary = torch.as_tensor(net.clinical_binary, dtype=torch.bool)
    yt = torch.as_tensor(y_encoded)

    def bare_fit() -> None:
        torch.manual_seed(0)
        student = type(net.module_)(*_student_args(clf, data))
        teacher = type(net.teacher_)(data["clinical"].shape[1], len(clf.volume_columns_),
                                     len(clf.classes_), clf.settings_["width"])
        optimizer = torch.optim.Adam(list(student.parameters()) + list(teacher.parameters()),
                                     lr=clf.settings_["lr"])
        generator = torch.Generator().manual_seed(0)
        for _ in range(clf.settings_["max_epochs"]):
            order = torch.randperm(n)
            for i in range(0, n - (n % bs == 1), bs):
                idx = order[i:i + bs]
                volumes, masks = net.augmenter.train(data["volumes"][idx],
                                                     data["masks"][idx].float(), generator)
                volumes = net._layout(volumes)
                optimizer.zero_grad()
                s = student({"volumes": volumes, "masks": masks})
                t = teacher({"volumes": volumes, "masks": masks,
                             "clinical": data["clinical"][idx]})
                net.criterion_(s, t, yt[idx], data["clinical_target"][idx],
                               binary)["total"].backward()
                optimizer.step()

    wrapped, bare = [], []
    for _ in range(repeat):
        with Timer() as t:
            MDNetClassifier(**params).fit(frame, y)
        wrapped.append(t.cpu)
        with Timer() as t:
            bare_fit()
        bare.append(t.cpu)
    return min(wrapped), min(bare)


def _student_args(clf, data) -> tuple:
    return (len(clf.volume_columns_), len(clf.classes_), data["clinical_target"].shape[1],
            clf.settings_["width"])


def precision_fit_ratio(frame, y, **params) -> None:
    """``fit`` with precision="bfloat16" against float32 (crops cached), alternating."""
    MDNetClassifier(**{**params, "max_epochs": 1}).fit(frame, y)
    times = {"float32": [], "bfloat16": []}
    for _ in range(2):
        for precision in times:
            with Timer() as t:
                MDNetClassifier(precision=precision, **params).fit(frame, y)
            times[precision].append(t.cpu)
    f32, bf16 = min(times["float32"]), min(times["bfloat16"])
    print(f"MDNetClassifier.fit, CPU preset, {len(y)} patients, {params['max_epochs']} epochs: "
          f"float32 {f32:.2f} CPU s, bfloat16 {bf16:.2f} CPU s: x{bf16 / f32:.2f} "
          "(best of 2 each)")


def precision_auc(n_splits: int = 3, seeds: tuple[int, ...] = (0, 1)) -> None:
    """Held-out AUCs of float32 vs bfloat16 MD-Net fits (demo preset, binary MVI),
    next to the change from another seed (float32), the noise to compare with."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from mvikit.datasets import make_hcc_cohort

    cohort = make_hcc_cohort(n_patients=270, task="mvi", random_state=0)
    X, y = cohort.X, np.asarray(cohort.y)
    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=0).split(X, y))
    auc, cpu = {}, {"float32": 0.0, "bfloat16": 0.0}
    for seed in seeds:
        for precision in cpu:
            rows = []
            for train, test in folds:
                with Timer() as t:
                    clf = MDNetClassifier(preset="demo", precision=precision,
                                          random_state=seed).fit(X.iloc[train], y[train])
                cpu[precision] += t.cpu
                rows.append((roc_auc_score(y[test], clf.predict_proba(X.iloc[test])[:, 1]),
                             roc_auc_score(y[test],
                                           clf.teacher_predict_proba(X.iloc[test])[:, 1])))
            auc[seed, precision] = np.array(rows)
            print(f"  seed {seed} {precision:8s} student AUC "
                  f"{' / '.join(f'{a:.3f}' for a in auc[seed, precision][:, 0])}, teacher "
                  f"{' / '.join(f'{a:.3f}' for a in auc[seed, precision][:, 1])}")
    by_precision = np.concatenate([auc[s, "bfloat16"] - auc[s, "float32"] for s in seeds])
    by_seed = np.concatenate([auc[seeds[1], p] - auc[seeds[0], p] for p in cpu])
    for j, model in enumerate(("student", "teacher")):
        print(f"  {model}: mean AUC float32 {np.mean([auc[s, 'float32'][:, j] for s in seeds]):.3f}"
              f", bfloat16 {np.mean([auc[s, 'bfloat16'][:, j] for s in seeds]):.3f}; mean |AUC "
              f"change| bf16 vs f32 (same seed) {np.abs(by_precision[:, j]).mean():.3f}, seed "
              f"{seeds[1]} vs {seeds[0]} (same precision) {np.abs(by_seed[:, j]).mean():.3f}")
    print(f"  fit time bfloat16/float32 x{cpu['bfloat16'] / cpu['float32']:.2f} "
          f"({cpu['float32']:.0f} vs {cpu['bfloat16']:.0f} CPU s)")


def main() -> None:
    from mvikit.datasets import make_hcc_cohort

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    native = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load "
          f"{os.getloadavg()[0]:.1f}, native bf16: {native or 'none (emulated, slow)'}")
    mm = matmul_gflops()
    print(f"float32 matmul (1024^2, CPU time): {mm:.1f} GFLOP/s")
    bench_steps(mm)
    if args.compile:
        bench_compile()

    cohort = make_hcc_cohort(n_patients=64, random_state=0)
    small = dict(preset="cpu", max_epochs=2, random_state=0, augment=False)
    wrapped, bare = wrapper_overhead(cohort.X, np.asarray(cohort.y), **small)
    print(f"MDNetClassifier.fit, CPU preset, 64 patients, 2 epochs: {wrapped:.2f} CPU s; "
          f"bare PyTorch loop: {bare:.2f} CPU s; overhead {wrapped / bare - 1:+.1%} "
          "(best of 2 each, alternated)")
    precision_fit_ratio(cohort.X, np.asarray(cohort.y), **small)

    if not args.quick:
        cohort = make_hcc_cohort(random_state=0)
        with Timer() as fit:
            MDNetClassifier(preset="cpu", random_state=0).fit(cohort.X, np.asarray(cohort.y))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
        print(f"CPU-preset MD-Net fit, 270 patients: {fit.cpu:.0f} CPU s ({fit.wall:.0f} wall), "
              f"peak RSS {rss:.2f} GiB")
        print("held-out AUC, MDNetClassifier(preset='demo'), binary MVI, 3 folds of 270:")
        precision_auc()


if __name__ == "__main__":
    main()
