"""Import cost of ``mvikit.survival`` (a Cox/Kaplan-Meier user must not import torch).

Each measurement is a fresh interpreter (``python -X importtime`` would add overhead,
so wall time of ``import`` inside the child is read instead); the baseline is the
import of what the survival package cannot avoid (lifelines and scikit-survival) in
another fresh interpreter, alternated, best of ``--repeat``.

Run: ``python benchmarks/bench_import.py [--repeat 5]``.
"""

import argparse
import subprocess
import sys

CHILD = ("import sys, time; t = time.perf_counter(); import {module}; "
         "print(time.perf_counter() - t, 'torch' in sys.modules, 'skorch' in sys.modules)")


def timed(module: str) -> tuple[float, bool, bool]:
    out = subprocess.run([sys.executable, "-c", CHILD.format(module=module)], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), out[1] == "True", out[2] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    targets = {"mvikit.survival": "mvikit.survival",
               "lifelines + sksurv (baseline)": "lifelines, sksurv.linear_model, sksurv.metrics",
               "mvikit.deep (for reference)": "mvikit.deep"}
    best = {name: (float("inf"), False, False) for name in targets}
    for _ in range(args.repeat):
        for name, module in targets.items():
            result = timed(module)
            if result[0] < best[name][0]:
                best[name] = result
    for name, (seconds, torch, skorch) in best.items():
        print(f"{name:32s} {seconds:6.3f} s   torch imported: {torch}   skorch: {skorch}")
    ratio = best["mvikit.survival"][0] / best["lifelines + sksurv (baseline)"][0]
    print(f"mvikit.survival / baseline: {ratio:.2f}x (target: < 1 s, torch absent)")


if __name__ == "__main__":
    main()
