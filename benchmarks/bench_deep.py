"""Deep-estimator benchmarks, printed as ratios against baselines measured in the same run.

1. Paper-size training step (width 1, batch 4, two 16x64x64 sequences, teacher +
   student forward/backward/Adam): its arithmetic rate (GFLOP/s, FLOPs counted by
   ``torch.utils.flop_counter``) as a fraction of a float32 matrix-multiply rate
   measured here, in the default (contiguous) layout, channels-last 3D, and
   bfloat16 autocast.
2. The same for the CPU-preset network size (width 1/16, 16x40x40, batch 16),
   where the layout matters most.
3. Wrapper overhead: ``MDNetClassifier.fit`` (skorch, dict batches, random crops)
   against a bare PyTorch loop training the same networks on the same crops.
4. (without ``--quick``) one CPU-preset MD-Net fit on the default cohort
   (270 patients, MVI grade, PRE+HBP): wall and CPU seconds, peak RSS.

Times are CPU seconds of this process (``time.process_time``) as well as wall
seconds: on a machine whose cores are shared, wall time depends on the
neighbours, CPU time much less.

Run: ``python benchmarks/bench_deep.py [--quick] [--threads N]`` (default 1 thread).
"""

from __future__ import annotations

import argparse
import resource
import time
from contextlib import nullcontext

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from mvikit.deep import MDNetClassifier
from mvikit.deep.losses import MDNetLoss
from mvikit.deep.nets import StudentNet, TeacherNet


class Timer:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def matmul_gflops(n: int = 1024, repeat: int = 10) -> float:
    """float32 matmul rate (CPU-time based, so shared cores do not lower it)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    with Timer() as t:
        for _ in range(repeat):
            a @ b
    return 2 * n ** 3 * repeat / t.cpu / 1e9


def training_step_rate(width: float, batch: int, crop: tuple, *, channels_last: bool = False,
                       bf16: bool = False, n_clinical: int = 60,
                       repeat: int = 2) -> tuple[float, float, float]:
    """(GFLOP/s, CPU s per step, wall s per step) of one teacher+student step."""
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
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()

    def step():
        optimizer.zero_grad()
        with autocast:
            terms = loss_fn(student(volumes), teacher(volumes, clinical=clinical), y, target,
                            binary)
        terms["total"].float().backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    with Timer() as t:
        for _ in range(repeat):
            step()
    return flops / (t.cpu / repeat) / 1e9, t.cpu / repeat, t.wall / repeat


def wrapper_overhead(frame, y, **params) -> tuple[Timer, Timer]:
    """``fit`` (volumes already cropped and cached by a first fit) vs a bare loop."""
    MDNetClassifier(**{**params, "max_epochs": 1}).fit(frame, y)  # fills the crop cache
    clf = MDNetClassifier(**params)
    with Timer() as wrapped:
        clf.fit(frame, y)
    data, y_encoded = clf._prepare_fit(frame, y)
    data["clinical_target"] = torch.from_numpy(clf._clinical_targets(frame))
    net = clf.net_
    torch.manual_seed(0)
    student = type(net.module_)(*_student_args(clf, data))
    teacher = type(net.teacher_)(data["clinical"].shape[1], len(clf.volume_columns_),
                                 len(clf.classes_), clf.settings_["width"])
    optimizer = torch.optim.Adam(list(student.parameters()) + list(teacher.parameters()),
                                 lr=clf.settings_["lr"])
    generator = torch.Generator().manual_seed(0)
    bs, n = clf.settings_["batch_size"], len(y_encoded)
    binary = torch.as_tensor(net.clinical_binary, dtype=torch.bool)
    yt = torch.as_tensor(y_encoded)
    with Timer() as bare:
        for _ in range(clf.settings_["max_epochs"]):
            order = torch.randperm(n)
            for i in range(0, n - (n % bs == 1), bs):
                idx = order[i:i + bs]
                volumes, masks = net.augmenter.train(data["volumes"][idx],
                                                     data["masks"][idx].float(), generator)
                volumes = net._layout(volumes)
                optimizer.zero_grad()
                s = student(volumes, masks)
                t = teacher(volumes, masks, clinical=data["clinical"][idx])
                net.criterion_(s, t, yt[idx], data["clinical_target"][idx],
                               binary)["total"].backward()
                optimizer.step()
    return wrapped, bare


def _student_args(clf, data) -> tuple:
    return (len(clf.volume_columns_), len(clf.classes_), data["clinical_target"].shape[1],
            clf.settings_["width"])


def main() -> None:
    from mvikit.datasets import make_hcc_cohort

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"bf16 kernels: {torch.backends.mkldnn.is_available()} (oneDNN)")
    mm = matmul_gflops()
    print(f"float32 matmul (1024^2, CPU time): {mm:.1f} GFLOP/s")

    for label, width, batch, crop in (("paper size (width 1, batch 4, 16x64x64)", 1.0, 4,
                                       (16, 64, 64)),
                                      ("CPU preset (width 1/16, batch 16, 16x40x40)", 0.0625,
                                       16, (16, 40, 40))):
        print(label)
        base = None
        for name, kw in (("float32, contiguous", {}),
                         ("float32, channels_last_3d", {"channels_last": True}),
                         ("bf16 autocast, channels_last_3d", {"channels_last": True,
                                                              "bf16": True})):
            rate, cpu, wall = training_step_rate(width, batch, crop, **kw)
            base = base or cpu
            print(f"  {name:32s} {cpu:6.2f} CPU s/step ({wall:6.2f} wall), {rate:6.1f} GFLOP/s "
                  f"= {rate / mm:5.1%} of matmul; time x{cpu / base:.2f} of contiguous")

    cohort = make_hcc_cohort(n_patients=64, random_state=0)
    small = dict(preset="cpu", max_epochs=2, random_state=0, augment=False)
    wrapped, bare = wrapper_overhead(cohort.X, np.asarray(cohort.y), **small)
    print(f"MDNetClassifier.fit, CPU preset, 64 patients, 2 epochs: {wrapped.cpu:.2f} CPU s "
          f"({wrapped.wall:.2f} wall); bare PyTorch loop: {bare.cpu:.2f} CPU s "
          f"({bare.wall:.2f} wall); overhead {wrapped.cpu / bare.cpu - 1:+.1%} (CPU time)")

    if not args.quick:
        cohort = make_hcc_cohort(random_state=0)
        with Timer() as fit:
            MDNetClassifier(preset="cpu", random_state=0).fit(cohort.X, np.asarray(cohort.y))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
        print(f"CPU-preset MD-Net fit, 270 patients: {fit.cpu:.0f} CPU s ({fit.wall:.0f} wall), "
              f"peak RSS {rss:.2f} GiB")


if __name__ == "__main__":
    main()
