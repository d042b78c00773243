"""Recipes trained to their targets: accuracy, loss or perplexity against published numbers.

    python benchmarks/recipes.py                       # every recipe with a benchmark
    python benchmarks/recipes.py --only cnn-mnist      # one
    python benchmarks/recipes.py --only cnn-digits --repeat 3

Each run trains the recipe exactly as `ann train NAME` would, then stores the summary with the
command, machine and wall time in benchmarks/results/NAME.json (BENCHMARKS.md is written from
these files). Real datasets are read through $ANN_DATA_DIR.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

import ann
from ann import fileio

HERE = Path(__file__).resolve().parent
RECIPES = ["mlp-digits", "cnn-digits", "mlp-mnist", "lenet-mnist", "cnn-mnist", "cnn-fashion",
           "gpt-pydoc", "gpt-shakespeare"]


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform()}


def bench(name: str, repeat: int, overrides: list[str]) -> dict:
    runs = []
    for i in range(repeat):
        seed = [f"train.seed={i}"] if repeat > 1 else []
        out = HERE / "results" / "runs" / f"{name}-{i}"
        shutil.rmtree(out, ignore_errors=True)       # the benchmark's own scratch run
        start = time.time()
        run = ann.train(name, [*overrides, *seed], out=out)
        runs.append({"seed": i, "test": run.summary["test"], "best_val": run.summary["best_val"],
                     "reached": run.summary.get("reached"),
                     "wall_time_s": round(time.time() - start, 1),
                     "train_time_s": run.summary["wall_time_s"], "steps": run.summary["steps"]})
    recipe = ann.get_recipe(name)
    accs = [r["test"][recipe.metric] for r in runs]
    result = {"recipe": name, "metric": recipe.metric, "target": recipe.target,
              "reference": recipe.reference, "mean": sum(accs) / len(accs), "min": min(accs),
              "max": max(accs), "reached": all(r["reached"] for r in runs), "runs": runs,
              "parameters": run.summary["parameters"]["total"],
              "command": f"python benchmarks/recipes.py --only {name}"
                         + (f" --repeat {repeat}" if repeat > 1 else "")
                         + "".join(f" {o}" for o in overrides),
              "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    fileio.write_json(HERE / "results" / f"{name}.json", result)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(RECIPES), help="comma-separated recipe names")
    p.add_argument("--repeat", type=int, default=1, help="runs with seeds 0..N-1")
    p.add_argument("overrides", nargs="*", help="key=value overrides for every recipe")
    args = p.parse_args(argv)
    for name in args.only.split(","):
        r = bench(name, args.repeat, args.overrides)
        print(f"{name}: test {r['metric']} mean {r['mean']:.4f} (min {r['min']:.4f}) target "
              f"{r['target']} -> {'reached' if r['reached'] else 'NOT reached'}; "
              f"{r['runs'][0]['wall_time_s']}s per run", flush=True)


if __name__ == "__main__":
    sys.exit(main())
