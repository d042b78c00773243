"""Backpropagation from scratch against PyTorch: ann.apps.scratch's NumPy MLP and CNN (hand-written
gradients, SGD with momentum) and ann's PyTorch recipes mlp-digits and cnn-digits, trained on the
same digits splits in the same run, seeds 0..N-1, one thread.

    python benchmarks/scratch_digits.py                  # 3 seeds (a few minutes on one core)
    python benchmarks/scratch_digits.py --seeds 1

Writes benchmarks/results/scratch/digits.json; benchmarks/report.py renders its table into the
``scratch:begin`` / ``scratch:end`` block of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

import ann  # noqa: E402
from ann import fileio  # noqa: E402
from ann.apps.scratch import SETUPS, train_digits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "scratch" / "digits.json"


def _stats(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values),
            "min": min(values), "max": max(values), "values": values}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for model in ("mlp", "cnn"):
        scratch, torch_runs = [], []
        for seed in range(args.seeds):
            r = train_digits(model, seed=seed)
            scratch.append((r.test_accuracy, r.wall_time_s, len(r.history)))
            with tempfile.TemporaryDirectory() as tmp:
                start = time.time()
                run = ann.train(f"{model}-digits", {"train.threads": 1, "train.seed": seed},
                                out=Path(tmp) / "run", quiet=True)
                torch_runs.append((run.summary["test"]["accuracy"], time.time() - start,
                                   run.config.train.epochs))
            print(f"{model} seed {seed}: scratch {scratch[-1][0]:.4f} ({scratch[-1][1]:.1f} s), "
                  f"torch {torch_runs[-1][0]:.4f} ({torch_runs[-1][1]:.1f} s)", flush=True)
        net = SETUPS[model].build(0)
        counts = net.count_parameters()
        for impl, runs in (("ann.apps.scratch (NumPy, hand-written backward)", scratch),
                           (f"ann {model}-digits (PyTorch autograd)", torch_runs)):
            rows.append({"model": model, "implementation": impl,
                         "accuracy": _stats([a for a, _, _ in runs]),
                         "wall_time_s": _stats([w for _, w, _ in runs]), "epochs": runs[0][2],
                         **({"parameters": counts["weights"] + counts["biases"]}
                            if impl.startswith("ann.apps.scratch") else {})})
        gap = rows[-2]["accuracy"]["mean"] - rows[-1]["accuracy"]["mean"]
        rows[-2]["gap_points"] = 100 * gap
    result = {"seeds": args.seeds, "rows": rows, "command": "python benchmarks/scratch_digits.py"
              + (f" --seeds {args.seeds}" if args.seeds != 3 else ""),
              "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    fileio.write_json(OUT, result)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
