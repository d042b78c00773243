"""The classic networks of issue 26 (RBF network, LVQ, ELM) against their usual rivals, same data.

    python benchmarks/classic_a.py                      # every row, fold 0 (seconds to a minute)
    python benchmarks/classic_a.py --folds 0,1,2,3,4,5,6,7,8,9
    python benchmarks/classic_a.py --only rbf-iris,lvq-iris

* ``rbf-iris``, ``rbf-digits``, ``lvq-iris``: ann trains the recipe exactly as ``ann train RECIPE
  data.fold=i`` does; scikit-learn's k-NN and RBF-kernel SVC (each with its own 5-fold grid
  search inside the training rows, the peers of benchmarks/classical.py) are fitted on the same
  training rows and scored on the same test rows.
* ``elm-digits``: the extreme learning machine against the backprop MLP of ``mlp-digits`` on the
  same split of the same images: test accuracy and wall time to train (both recipes as they
  stand, one thread).

Wall times are measured in one process, one after the other; on shared cores read them as rough.
Results: benchmarks/results/classic_a/RECIPE.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ann
from ann import fileio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classical import peers  # noqa: E402
from recipes import machine  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "classic_a"
TABLES = ("rbf-iris", "rbf-digits", "lvq-iris")


def _train(recipe: str, overrides: dict) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        run = ann.train(recipe, {"train.threads": 1, **overrides}, out=Path(tmp) / "run",
                        quiet=True)
        return run.summary["test"]["accuracy"], time.time() - start


def table(recipe: str, folds: list[int]) -> dict:
    r = ann.get_recipe(recipe)
    scores: dict[str, list[float]] = {}
    wall: dict[str, float] = {}
    for fold in folds:
        acc, seconds = _train(recipe, {"data.fold": fold})
        scores.setdefault("ann " + r.model, []).append(acc)
        wall["ann " + r.model] = wall.get("ann " + r.model, 0.0) + seconds
        train = ann.load_dataset(r.dataset, "train", fold=fold)
        test = ann.load_dataset(r.dataset, "test", fold=fold)
        for name, est in peers(recipe, True).items():
            start = time.time()
            est.fit(train.x.numpy(), train.y.numpy())
            wall[name] = wall.get(name, 0.0) + time.time() - start
            pred = est.predict(test.x.numpy())
            scores.setdefault(name, []).append(float((pred == test.y.numpy()).mean()))
        print(f"{recipe} fold {fold}: " + ", ".join(f"{n} {s[-1]:.4f}" for n, s in scores.items()),
              flush=True)
    methods = {n: {"accuracy_mean": float(np.mean(s)), "accuracy_std": float(np.std(s)),
                   "folds": s, "wall_time_s": round(wall[n], 2)} for n, s in scores.items()}
    return {"recipe": recipe, "dataset": r.dataset, "folds": folds, "methods": methods}


def elm_vs_mlp() -> dict:
    methods = {}
    for recipe in ("elm-digits", "mlp-digits"):
        acc, seconds = _train(recipe, {})
        methods[recipe] = {"accuracy": acc, "wall_time_s": round(seconds, 2)}
        print(f"{recipe}: accuracy {acc:.4f} in {seconds:.1f} s", flush=True)
    return {"recipe": "elm-digits", "dataset": "digits", "methods": methods,
            "time_ratio_elm_over_mlp": round(methods["elm-digits"]["wall_time_s"]
                                             / methods["mlp-digits"]["wall_time_s"], 3)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join((*TABLES, "elm-digits")))
    p.add_argument("--folds", default="0", help="comma-separated test folds of the tables")
    args = p.parse_args(argv)
    folds = [int(f) for f in args.folds.split(",")]
    for recipe in args.only.split(","):
        result = elm_vs_mlp() if recipe == "elm-digits" else table(recipe, folds)
        result.update(command=f"python benchmarks/classic_a.py --only {recipe} --folds {args.folds}",
                      date=time.strftime("%Y-%m-%d"), machine=machine())
        fileio.write_json(OUT / f"{recipe}.json", result)


if __name__ == "__main__":
    main()
