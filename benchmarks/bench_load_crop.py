"""Benchmark: load a full-size cohort lazily and crop ROIs, against bare SimpleITK reads.

Writes ``--n-patients`` patients x 2 sequences (PRE, HBP) of ``full``-layout
volumes (48 x 192 x 192) with tumour and liver masks as ``.nii.gz`` (from
``make_hcc_cohort(layout="full")``, or synthetic volumes of the same size with
``--synthetic``), then times, each in
a fresh subprocess:

* baseline: ``sitk.ReadImage`` of every file the cropper reads;
* mvikit: ``load_cohort(csv)`` + ``ROICropper().fit_transform(X)``, keeping the
  (20, 80, 80) crops of all patients in memory.

Printed: the time ratio mvikit / baseline (target <= 1.3) and each process'
peak RSS (target for mvikit < 1 GB: full volumes are read one at a time and
dropped, only crops are kept).  Run: ``python benchmarks/bench_load_crop.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COLUMNS = ("PRE", "HBP", "tumor_mask", "liver_mask")
SHAPE = (48, 192, 192)


def _synthetic_patient(i: int, rng) -> dict:
    from mvikit import Volume

    grid = np.indices(SHAPE, dtype=np.float32)
    center = np.array([24, 96, 96]) + rng.integers(-8, 9, 3) * np.array([1, 4, 4])
    radius = rng.uniform(4, 10)
    spacing = (2.5, 0.75, 0.75)
    dist = np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grid, center, spacing)))
    tumor = (dist <= radius * 2.5).astype(np.uint8)
    liver = (np.abs(grid[1] - 96) < 70) & (np.abs(grid[2] - 96) < 80) | tumor.astype(bool)
    cells = {"tumor_mask": tumor, "liver_mask": liver.astype(np.uint8)}
    for name, base in (("PRE", 200.0), ("HBP", 600.0)):
        noise = rng.normal(0, 20, SHAPE).astype(np.float32)
        cells[name] = base + 150 * liver - 100 * tumor + noise
    return {k: Volume(v, spacing=spacing) for k, v in cells.items()}


def _patients(n: int, synthetic: bool, done, chunk: int = 10):
    """Yield (patient id, {column: Volume}) chunk by chunk, never the whole cohort in
    memory; chunks whose patients are all in ``done`` are not generated again."""
    if not synthetic:
        from mvikit.datasets import make_hcc_cohort

        for start in range(0, n, chunk):
            ids = [f"P{i:04d}" for i in range(start, min(start + chunk, n))]
            if all(done(pid) for pid in ids):
                yield from ((pid, None) for pid in ids)
                continue
            cohort = make_hcc_cohort(n_patients=len(ids), layout="full",
                                     random_state=1000 + start, n_jobs=1)
            for pid, (_, row) in zip(ids, cohort.X.iterrows()):
                yield pid, {c: row[c] for c in COLUMNS}
        return
    rng = np.random.default_rng(0)
    for i in range(n):
        yield f"P{i:04d}", _synthetic_patient(i, rng)


def make_cohort(folder: Path, n: int, synthetic: bool) -> None:
    """Write the images (resuming: existing files are kept), then clinical.csv."""
    import pandas as pd

    from mvikit.imaging import write_image

    (folder / "images").mkdir(parents=True, exist_ok=True)

    def relative(pid, column):
        return f"images/{pid}_{column}.nii.gz"

    def done(pid):
        return all((folder / relative(pid, c)).exists() for c in COLUMNS)

    rows = []
    for pid, cells in _patients(n, synthetic, done):
        for column, volume in (cells or {}).items():
            if not (folder / relative(pid, column)).exists():
                write_image(volume, folder / relative(pid, column))
        rows.append({"patient_id": pid, "age": 50 + len(rows) % 30,
                     **{c: relative(pid, c) for c in COLUMNS}})
    pd.DataFrame(rows).to_csv(folder / "clinical.csv", index=False)


def _peak_rss_mb() -> float:
    # VmHWM is this process image's own peak (ru_maxrss would include the parent's
    # peak, inherited through fork + exec).
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_baseline(folder: Path) -> dict:
    import pandas as pd
    import SimpleITK as sitk

    table = pd.read_csv(folder / "clinical.csv")
    start = time.perf_counter()
    for _, row in table.iterrows():
        for column in COLUMNS:
            image = sitk.ReadImage(str(folder / row[column]))
            del image
    return {"seconds": time.perf_counter() - start, "peak_rss_mb": _peak_rss_mb()}


def run_mvikit(folder: Path) -> dict:
    from mvikit.datasets import load_cohort
    from mvikit.imaging import ROICropper

    start = time.perf_counter()
    X = load_cohort(folder / "clinical.csv").X
    crops = ROICropper(size=(20, 80, 80)).fit_transform(X)
    seconds = time.perf_counter() - start
    kept = sum(crops.at[p, c].array.nbytes for p in crops.index for c in COLUMNS)
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "crop_mb": kept / 2**20,
            "n_patients": len(crops)}


def _in_subprocess(phase: str, folder: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--dir", str(folder)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mvikit_bench_load_crop"))
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--phase", choices=["baseline", "mvikit"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = run_baseline(args.dir) if args.phase == "baseline" else run_mvikit(args.dir)
        print(json.dumps(result))
        return
    csv = args.dir / "clinical.csv"
    if not csv.exists() or sum(1 for _ in csv.open()) - 1 != args.n_patients:
        start = time.perf_counter()
        make_cohort(args.dir, args.n_patients, args.synthetic)
        print(f"wrote {args.n_patients} patients x {len(COLUMNS)} files "
              f"in {time.perf_counter() - start:.0f} s to {args.dir}")
    size = sum((args.dir / p).stat().st_size for p in
               __import__("pandas").read_csv(csv)[list(COLUMNS)].to_numpy().ravel()) / 2**20
    print(f"cohort on disk: {size:.0f} MB")
    results = {"baseline": [], "mvikit": []}
    _in_subprocess("baseline", args.dir)  # warm the page cache for both
    for _ in range(args.repeats):
        for phase in results:
            results[phase].append(_in_subprocess(phase, args.dir))
    base = min(r["seconds"] for r in results["baseline"])
    ours = min(r["seconds"] for r in results["mvikit"])
    info = results["mvikit"][0]
    print(f"baseline sitk.ReadImage of {info['n_patients'] * len(COLUMNS)} files: {base:.1f} s, "
          f"peak RSS {results['baseline'][0]['peak_rss_mb']:.0f} MB")
    print(f"load_cohort + ROICropper: {ours:.1f} s, peak RSS "
          f"{max(r['peak_rss_mb'] for r in results['mvikit']):.0f} MB, "
          f"crops kept {info['crop_mb']:.0f} MB")
    print(f"time ratio mvikit / baseline: {ours / base:.2f} (target <= 1.3)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
