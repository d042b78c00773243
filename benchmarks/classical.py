"""Cross-validated comparisons of ann's closed-form families against scikit-learn on the same folds.

    python benchmarks/classical.py                        # every comparison (minutes, one core)
    python benchmarks/classical.py --only pnn-iris,grnn-diabetes
    python benchmarks/classical.py --only pnn-mnist       # official split, k-NN only (needs MNIST)
    python benchmarks/classical.py --write                # render the tables into BENCHMARKS.md

For each recipe and each fold i of the stratified 10-fold split (``ann.data.tabular``), ann trains
the recipe exactly as ``ann train RECIPE data.fold=i`` does, and scikit-learn's peers are fitted
on the same training rows (the same standardised features) and scored on the same test rows.
Peers choose their hyperparameters by 5-fold grid search inside the training rows, as ann's PNN
chooses sigma by leave-one-out inside them; nobody sees the validation or test rows.

PNN/GRNN peers: k-nearest neighbours and an RBF support-vector machine (SVC / SVR).
GMDH peers: linear (or logistic) regression and a small MLP (one hidden layer of 32).
Results: benchmarks/results/classical/RECIPE.json; the tables sit between the
``classical:begin`` / ``classical:end`` markers of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import ann
from ann import fileio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "classical"
BEGIN, END = "<!-- classical:begin -->", "<!-- classical:end -->"
COMPARISONS = ["pnn-iris", "pnn-wine", "pnn-breast-cancer", "pnn-digits", "grnn-diabetes",
               "gmdh-diabetes", "gmdh-breast-cancer"]


def peers(recipe: str, classify: bool) -> dict:
    """name -> unfitted scikit-learn estimator (with its own inner grid search)."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import SVC, SVR

    if recipe.startswith("gmdh"):
        if classify:
            return {"logistic regression": LogisticRegression(max_iter=5000),
                    "MLP 32": MLPClassifier(hidden_layer_sizes=(32,), max_iter=2000, random_state=0)}
        return {"linear regression": LinearRegression(),
                "MLP 32": MLPRegressor(hidden_layer_sizes=(32,), max_iter=5000, random_state=0, alpha=1e-3)}
    ks = {"n_neighbors": [1, 3, 5, 7, 9, 11, 15]}
    svm = {"C": [0.1, 1, 10, 100], "gamma": ["scale", 0.01, 0.1]}
    if classify:
        return {"k-NN": GridSearchCV(KNeighborsClassifier(), ks, cv=5),
                "SVM (RBF)": GridSearchCV(SVC(), svm, cv=5)}
    return {"k-NN": GridSearchCV(KNeighborsRegressor(), ks, cv=5),
            "SVR (RBF)": GridSearchCV(SVR(), {**svm, "C": [1, 10, 100, 1000]}, cv=5)}


def _score(classify: bool, pred: np.ndarray, y: np.ndarray) -> dict:
    if classify:
        return {"accuracy": float((pred == y).mean())}
    sse = float(((pred - y) ** 2).sum())
    return {"r2": 1 - sse / float(((y - y.mean()) ** 2).sum()), "rmse": float(np.sqrt(sse / len(y)))}


def compare(recipe: str, folds: int = 10) -> dict:
    r = ann.get_recipe(recipe)
    info = ann.registry.dataset_entry(r.dataset).info
    classify = info["task"] == "classify"
    scores: dict[str, list[dict]] = {"ann " + r.model: []}
    wall: dict[str, float] = {"ann " + r.model: 0.0}
    for fold in range(folds):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.time()
            run = ann.train(recipe, {"data.fold": fold, "train.threads": 1}, out=Path(tmp) / "run",
                            quiet=True)
            wall["ann " + r.model] += time.time() - start
            scores["ann " + r.model].append({k: run.summary["test"][k] for k in
                                             (("accuracy",) if classify else ("r2", "rmse"))})
        train = ann.load_dataset(r.dataset, "train", fold=fold, folds=folds)
        test = ann.load_dataset(r.dataset, "test", fold=fold, folds=folds)
        for name, est in peers(recipe, classify).items():
            start = time.time()
            est.fit(train.x.numpy(), train.y.numpy())
            wall[name] = wall.get(name, 0.0) + time.time() - start
            scores.setdefault(name, []).append(_score(classify, est.predict(test.x.numpy()),
                                                      test.y.numpy()))
        print(f"{recipe} fold {fold}: " + ", ".join(
            f"{n} {next(iter(s[-1].values())):.4f}" for n, s in scores.items()), flush=True)
    summary = {}
    for name, rows in scores.items():
        summary[name] = {k: {"mean": float(np.mean([row[k] for row in rows])),
                             "std": float(np.std([row[k] for row in rows])),
                             "folds": [row[k] for row in rows]} for k in rows[0]}
        summary[name]["wall_time_s"] = round(wall[name], 1)
    result = {"recipe": recipe, "dataset": r.dataset, "folds": folds, "task": info["task"],
              "methods": summary, "command": f"python benchmarks/classical.py --only {recipe}",
              "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    fileio.write_json(OUT / f"{recipe}.json", result)
    return result


def mnist() -> dict:
    """``pnn-mnist`` on MNIST's official split against k-NN (k = 3, the LeCun et al. table's
    setting) on the same 55,000 standardised training images; no SVM (hours at one thread)."""
    from sklearn.neighbors import KNeighborsClassifier

    methods = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        run = ann.train("pnn-mnist", {"train.threads": 1}, out=Path(tmp) / "run", quiet=True)
        methods["ann pnn"] = run.summary["test"]["accuracy"], time.time() - start
    train, test = ann.load_dataset("mnist", "train"), ann.load_dataset("mnist", "test")
    start = time.time()
    knn = KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(
        train.x.flatten(1).numpy(), train.y.numpy())
    acc = float((knn.predict(test.x.flatten(1).numpy()) == test.y.numpy()).mean())
    methods["k-NN (k=3)"] = acc, time.time() - start
    result = {"recipe": "pnn-mnist", "dataset": "mnist", "folds": 1, "task": "classify",
              "methods": {name: {"accuracy": {"mean": a, "std": 0.0, "folds": [a]},
                                 "wall_time_s": round(w, 1)} for name, (a, w) in methods.items()},
              "command": "python benchmarks/classical.py --only pnn-mnist",
              "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    fileio.write_json(OUT / "pnn-mnist.json", result)
    return result


def table() -> str:
    rows = ["| recipe | method | accuracy / R² (mean ± std over folds) | RMSE | fit time (all folds) |",
            "|---|---|---|---|---|"]
    for path in sorted(OUT.glob("*.json")):
        r = json.loads(path.read_text())
        for name, m in r["methods"].items():
            if "accuracy" in m:
                acc = m["accuracy"]
                spread = f" ± {100 * acc['std']:.2f}" if r["folds"] > 1 else ""
                value, rmse = f"accuracy {100 * acc['mean']:.2f}%{spread}", "-"
            else:
                value = f"R² {m['r2']['mean']:.4f} ± {m['r2']['std']:.4f}"
                rmse = f"{m['rmse']['mean']:.2f}"
            label = f"**{name}**" if name.startswith("ann") else name
            split = f"{r['folds']} folds" if r["folds"] > 1 else "official split"
            rows.append(f"| `{r['recipe']}` ({split}) | {label} | {value} | {rmse} | "
                        f"{m['wall_time_s']:.1f} s |")
    first = json.loads(next(iter(sorted(OUT.glob("*.json")))).read_text()) if rows[2:] else None
    if first:
        m = first["machine"]
        rows.append(f"\nMachine: {m['cores']} cores ({m['cpu']}), one thread, torch {m['torch']}; "
                    f"command `python benchmarks/classical.py`; date {first['date']}.")
    return "\n".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(COMPARISONS), help="comma-separated recipe names")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--write", action="store_true", help="only render the tables into BENCHMARKS.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not args.write:
        for recipe in args.only.split(","):
            mnist() if recipe == "pnn-mnist" else compare(recipe, args.folds)
    text = table()
    print(text)
    if args.write:
        doc = HERE.parent / "BENCHMARKS.md"
        body = doc.read_text()
        start, stop = body.index(BEGIN) + len(BEGIN), body.index(END)
        doc.write_text(body[:start] + "\n" + text + "\n" + body[stop:])


if __name__ == "__main__":
    sys.exit(main())
