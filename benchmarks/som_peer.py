"""ann's self-organizing map against minisom: the same grid, data, starting weights and schedule.

    python benchmarks/som_peer.py                 # som-iris and som-digits at the recipes' size
    python benchmarks/som_peer.py --tiny          # a 4x4 map, 2 epochs: a quick check, not a timing
    python benchmarks/som_peer.py --only som-iris

For each recipe the training split is read through ann (the same standardised features), ann's
map is built from the recipe's model settings and initialized, and minisom (``pip install
minisom``, the ``peers`` extra) gets a copy of those starting weights and the same schedule:

* online recipes: samples in order (``model.shuffle=false`` here, since minisom's own shuffling
  draws another order), minisom's asymptotic decay ``a / (1 + 2 t / T)`` over T = epochs x
  samples (``MiniSom.train(data, epochs * samples)``);
* batch recipes: ``MiniSom.train_batch_offline(data, epochs)``; the recipe's learning-rate
  schedule is handed to minisom as a callable, its linear radius decay to 1 as
  ``linear_decay_to_one`` (so the recipe's ``sigma_end`` must be 1).

Both maps are then scored on the test split: quantization and topographic error (minisom's own
functions for its map), and the time to train as a ratio (measured in the same process, one
thread). Results: benchmarks/results/som_peer/RECIPE.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import ann
from ann import fileio
from ann.registry import create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "som_peer"
RECIPES = ("som-iris", "som-digits")
TINY = dict(rows=4, cols=4, epochs=2)


def _schedule(c):
    """minisom's keyword arguments reproducing ann's schedule for config ``c``."""
    from ann.models.som.som import decayed

    if c.mode == "online":
        if c.decay != "asymptotic":
            raise SystemExit(f"online comparison needs model.decay=asymptotic, not {c.decay}")
        return {}
    if c.decay == "asymptotic":
        return {}
    if c.decay != "linear" or c.sigma_end != 1.0:
        raise SystemExit("batch comparison: model.decay=linear with model.sigma_end=1 "
                         "(minisom's linear_decay_to_one) or the asymptotic decay")
    return {"decay_function": lambda lr, t, total: decayed(c.lr, c.lr_end, t, total, "linear"),
            "sigma_decay_function": "linear_decay_to_one"}


def compare(recipe: str, tiny: bool) -> dict:
    import minisom

    torch.set_num_threads(1)
    r = ann.get_recipe(recipe)
    train = ann.load_dataset(r.dataset, "train")
    test = ann.load_dataset(r.dataset, "test")
    x, xt = train.x.double(), test.x.double()
    settings = {**r.model_overrides, **(TINY if tiny else {}), "shuffle": False,
                "in_features": x.shape[1]}
    som = create_model(r.model, r.preset, **settings).double()
    c = som.config
    som.initialize(x, torch.Generator().manual_seed(c.seed))
    start_weights = som.weight.clone()
    t0 = time.perf_counter()
    som.fit(train_as(x, train))
    ours_s = time.perf_counter() - t0
    qe, te = som.errors(xt)

    peer = minisom.MiniSom(c.rows, c.cols, x.shape[1], sigma=som.radius, learning_rate=c.lr,
                           neighborhood_function="gaussian", random_seed=c.seed, **_schedule(c))
    peer._weights = start_weights.view(c.rows, c.cols, -1).numpy().copy()
    data = x.numpy()
    t0 = time.perf_counter()
    if c.mode == "online":
        peer.train(data, c.epochs * len(data))
    else:
        peer.train_batch_offline(data, c.epochs)
    peer_s = time.perf_counter() - t0
    gap = float((som.weight.view(c.rows, c.cols, -1) - torch.from_numpy(peer.get_weights()))
                .abs().max())
    result = {
        "recipe": recipe, "tiny": tiny, "grid": [c.rows, c.cols], "mode": c.mode,
        "epochs": c.epochs, "train_samples": len(data), "test_samples": len(xt),
        "ann": {"quantization_error": qe.mean().item(), "topographic_error": te.mean().item(),
                "train_s": round(ours_s, 3)},
        "minisom": {"quantization_error": float(peer.quantization_error(xt.numpy())),
                    "topographic_error": float(peer.topographic_error(xt.numpy())),
                    "train_s": round(peer_s, 3), "version": getattr(minisom, "__version__", "")},
        "max_weight_difference": gap, "time_ratio_ann_over_minisom": round(ours_s / peer_s, 3),
        "command": f"python benchmarks/som_peer.py --only {recipe}" + (" --tiny" if tiny else ""),
        "date": time.strftime("%Y-%m-%d"), "machine": machine(),
    }
    fileio.write_json(OUT / (f"{recipe}-tiny.json" if tiny else f"{recipe}.json"), result)
    return result


def train_as(x, train):
    """The training split with its inputs as ``x`` (float64, as minisom computes)."""
    from ann.data import ArrayDataset

    return ArrayDataset(x, train.y, train.info)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(RECIPES), help="comma-separated recipes")
    p.add_argument("--tiny", action="store_true", help="a 4x4 map for 2 epochs (a check)")
    args = p.parse_args(argv)
    for recipe in args.only.split(","):
        res = compare(recipe, args.tiny)
        a, m = res["ann"], res["minisom"]
        print(f"{recipe} ({res['grid'][0]}x{res['grid'][1]}, {res['mode']}, {res['epochs']} "
              f"epochs): QE ann {a['quantization_error']:.4f} minisom {m['quantization_error']:.4f}"
              f" | TE ann {a['topographic_error']:.4f} minisom {m['topographic_error']:.4f} | "
              f"weights differ by {res['max_weight_difference']:.2e} | time ann/minisom "
              f"{res['time_ratio_ann_over_minisom']:.2f}", flush=True)


if __name__ == "__main__":
    main()
