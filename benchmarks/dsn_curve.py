"""Deep stacking network: test error against the number of stacked modules.

    python benchmarks/dsn_curve.py --only dsn-digits
    python benchmarks/dsn_curve.py --only dsn-mnist model.hidden=1000     # overrides as in ann train
    python benchmarks/dsn_curve.py --only dsn-mnist --tag h3000 model.hidden=3000   # a variant
    python benchmarks/dsn_curve.py --run runs/dsn-mnist-...                # a finished run's curve

The recipe's model is fitted with every module kept (``patience`` = ``max_modules``), and after
each module the validation and test errors of the stack so far are measured (the model's
``fit`` calls back after each module). The run's own model (as ``ann train`` would keep it:
the depth with the best validation error) is what the recipe reports; this script records the
whole curve in benchmarks/results/dsn/RECIPE.json and draws RECIPE.png beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

import ann
from ann import fileio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "dsn"


def error(model, data, batch=2000) -> float:
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(data), batch):
            x, y = data.batch(slice(i, i + batch))[:2]
            wrong += int((model(x).argmax(-1) != y).sum())
    return wrong / len(data)


def curve(recipe: str, overrides: list[str], tag: str = "") -> dict:
    rc = ann.build_config(recipe, overrides)
    rc.model.patience = rc.model.max_modules
    from ann.api import load_split
    from ann.registry import get_task
    from ann.runner import _augmenter

    train, val, test = (load_split(rc, s) for s in ("train", "val", "test"))
    torch.manual_seed(rc.train.seed)
    model = ann.registry.build_model(rc.model_name, rc.model)
    rows, start = [], time.time()

    def evaluate():
        model.eval()
        row = {"modules": model.depth, "val_error": error(model, val),
               "test_error": error(model, test), "seconds": round(time.time() - start, 1)}
        rows.append(row)
        print(f"{recipe}: {row}", flush=True)
        return {"accuracy": 1 - row["val_error"]}

    augment = _augmenter(rc, get_task("classify"), train.info)
    model.fit(train, val, evaluate, **({"augment": augment} if augment else {}))
    best = min(rows, key=lambda r: r["val_error"])
    result = {"recipe": recipe, "overrides": overrides, "curve": rows,
              "chosen_on_val": best, "parameters": sum(p.numel() for p in model.parameters()),
              "command": " ".join(["python benchmarks/dsn_curve.py --only", recipe,
                                   *(["--tag", tag] if tag else []), *overrides]),
              "wall_time_s": round(time.time() - start, 1), "date": time.strftime("%Y-%m-%d"),
              "machine": machine()}
    name = f"{recipe}-{tag}" if tag else recipe
    fileio.write_json(OUT / f"{name}.json", result)
    _plot(result, OUT / f"{name}.png")
    return result


def from_run(run_dir: str) -> dict:
    """The curve of a finished run (``ann train dsn-...``): the errors of its first k modules
    for every k it kept (modules past the best validation error are not kept)."""
    run = ann.load(run_dir)
    model, rc = run.model, run.config
    from ann.api import load_split

    val, test = load_split(rc, "val"), load_split(rc, "test")
    rows = []
    with torch.no_grad():
        outs = {name: [torch.cat([o.argmax(-1) for o in _chunked(model, data)[k]])
                       for k in range(model.depth)] for name, data in (("val", val), ("test", test))}
    for k in range(model.depth):
        rows.append({"modules": k + 1,
                     "val_error": float((outs["val"][k] != val.y).float().mean()),
                     "test_error": float((outs["test"][k] != test.y).float().mean())})
    result = {"recipe": rc.recipe, "run": str(run_dir), "curve": rows,
              "chosen_on_val": rows[-1], "test": run.summary.get("test"),
              "parameters": sum(p.numel() for p in model.parameters()),
              "command": f"ann train {rc.recipe} train.threads=1; python benchmarks/dsn_curve.py "
                         f"--run RUN_DIR", "wall_time_s": run.summary.get("wall_time_s"),
              "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    fileio.write_json(OUT / f"{rc.recipe}.json", result)
    _plot(result, OUT / f"{rc.recipe}.png")
    return result


def _chunked(model, data, batch=2000):
    """Per module, the list of its output chunks over ``data``."""
    per = [[] for _ in range(model.depth)]
    for i in range(0, len(data), batch):
        for k, o in enumerate(model.outputs(data.batch(slice(i, i + batch))[0])):
            per[k].append(o)
    return per


def _plot(result: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = [r["modules"] for r in result["curve"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(k, [100 * r["test_error"] for r in result["curve"]], "o-", label="test")
    ax.plot(k, [100 * r["val_error"] for r in result["curve"]], "s--", label="val")
    ax.set(xlabel="stacked modules", ylabel="error (%)", title=result["recipe"])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="dsn-digits", help="comma-separated DSN recipes")
    p.add_argument("--run", metavar="RUN_DIR", help="the curve of a finished run instead")
    p.add_argument("--tag", default="", help="a variant's name: results/dsn/RECIPE-TAG.json")
    p.add_argument("overrides", nargs="*", help="key=value overrides, as for ann train")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.run:
        r = from_run(args.run)
        print(", ".join(f"{row['modules']}: {100 * row['test_error']:.2f}%" for row in r["curve"]))
        return
    for recipe in args.only.split(","):
        r = curve(recipe, args.overrides, args.tag)
        print(", ".join(f"{row['modules']}: {100 * row['test_error']:.2f}%" for row in r["curve"]))


if __name__ == "__main__":
    sys.exit(main())
