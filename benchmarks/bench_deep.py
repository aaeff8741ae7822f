"""Deep-estimator benchmarks, printed as ratios against baselines measured in the same run.

1. Paper-size training step (width 1, batch 16, two 16x64x64 sequences, teacher +
   student forward/backward/Adam): its arithmetic rate (GFLOP/s, FLOPs counted by
   ``torch.utils.flop_counter``) against a float32 matrix-multiply rate measured here.
2. Wrapper overhead: ``MDNetClassifier.fit`` (skorch, dict batches, augmentation)
   against a bare PyTorch loop training the same networks on the same tensors.
3. CPU-preset MD-Net fit time on the default simulated cohort (270 patients).

Run: ``python benchmarks/bench_deep.py [--quick]`` (``--quick`` skips part 3).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from mvikit.deep import MDNetClassifier
from mvikit.deep.losses import MDNetLoss
from mvikit.deep.nets import StudentNet, TeacherNet


def matmul_gflops(n: int = 1024, repeat: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n ** 3 * repeat / (time.perf_counter() - start) / 1e9


def paper_step_gflops(width: float = 1.0, batch: int = 16, n_clinical: int = 60,
                      repeat: int = 2) -> tuple[float, float]:
    student, teacher = StudentNet(2, 3, 52, width), TeacherNet(n_clinical, 2, 3, width)
    params = list(student.parameters()) + list(teacher.parameters())
    optimizer = torch.optim.Adam(params, lr=3e-4)
    loss_fn = MDNetLoss()
    volumes = torch.randn(batch, 2, 16, 64, 64)
    clinical = torch.randn(batch, n_clinical)
    target, y = torch.randn(batch, 52), torch.randint(0, 3, (batch,))
    binary = torch.zeros(52, dtype=torch.bool)

    def step():
        optimizer.zero_grad()
        terms = loss_fn(student(volumes), teacher(volumes, clinical=clinical), y, target, binary)
        terms["total"].backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    start = time.perf_counter()
    for _ in range(repeat):
        step()
    seconds = (time.perf_counter() - start) / repeat
    return flops / seconds / 1e9, seconds


def wrapper_overhead(frame, y, **params) -> tuple[float, float]:
    clf = MDNetClassifier(**params)
    start = time.perf_counter()
    clf.fit(frame, y)
    wrapped = time.perf_counter() - start
    # the same networks and batches in a bare loop (no skorch, no augmentation)
    data, y_encoded = clf._prepare_fit(frame, y)
    net = clf.net_
    student, teacher = net.module_, net.teacher_
    optimizer = torch.optim.Adam(list(student.parameters()) + list(teacher.parameters()),
                                 lr=clf.settings_["lr"])
    crop = clf.settings_["crop_size"]
    volumes = net.augmenter.inference(data["volumes"])
    bs = clf.settings_["batch_size"]
    binary = torch.as_tensor(net.clinical_binary, dtype=torch.bool)
    yt = torch.as_tensor(y_encoded)
    start = time.perf_counter()
    for _ in range(clf.settings_["max_epochs"]):
        for i in range(0, len(yt), bs):
            sl = slice(i, i + bs)
            optimizer.zero_grad()
            s = student(volumes[sl])
            t = teacher(volumes[sl], clinical=data["clinical"][sl])
            net.criterion_(s, t, yt[sl], data["clinical_target"][sl], binary)["total"].backward()
            optimizer.step()
    bare = time.perf_counter() - start
    assert volumes.shape[-3:] == crop
    return wrapped, bare


def main(quick: bool) -> None:
    from mvikit.datasets import make_hcc_cohort

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    mm = matmul_gflops()
    rate, seconds = paper_step_gflops()
    print(f"float32 matmul: {mm:.1f} GFLOP/s")
    print(f"paper-size MD-Net training step (batch 16): {seconds:.2f} s, {rate:.1f} GFLOP/s "
          f"= {rate / mm:.2f} x matmul rate")

    cohort = make_hcc_cohort(n_patients=64, random_state=0)
    y = np.asarray(cohort.y)
    small = dict(width=0.125, crop_size=(16, 48, 48), max_epochs=2, batch_size=16,
                 random_state=0, augment=False)
    wrapped, bare = wrapper_overhead(cohort.X, y, **small)
    print(f"MDNetClassifier.fit (64 patients, 2 epochs, incl. crop/normalise): {wrapped:.2f} s;"
          f" bare PyTorch loop: {bare:.2f} s; ratio {wrapped / bare:.2f}")

    if not quick:
        cohort = make_hcc_cohort(random_state=0)
        start = time.perf_counter()
        MDNetClassifier(preset="cpu", random_state=0).fit(cohort.X, np.asarray(cohort.y))
        fit = time.perf_counter() - start
        print(f"CPU preset MD-Net fit on the default cohort (270 patients): {fit:.1f} s "
              f"= {fit / seconds:.0f} paper-size training steps")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
