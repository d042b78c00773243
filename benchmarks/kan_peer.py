"""ann's KAN against pykan's of the same width and grid, and MLPs, on f(x, y) = exp(sin(pi x) + y^2).

    python benchmarks/kan_peer.py                # 1,500 full-batch steps each (the kan-toy budget)
    python benchmarks/kan_peer.py --steps 200    # a quick check

pykan (``import kan``) needs pandas, which its package imports but does not require: install it
beside (``pip install pandas``). The train and test splits of ``exp-sin`` are read through ann.
Every network trains one after the other in this process, one torch thread, by the same loop:
full batch (1,000 points), Adam at 1e-2 with a cosine decay to 0, mean squared error; the two
KANs update their grids from the batch every 5 steps up to step 50 (pykan's own schedule in its
``fit``: ``update_grid_from_samples``, here ``MultKAN.update_grid``).

* ann ``kan`` preset ``toy``: width [2, 5, 1], grid 5, cubic splines;
* ``kan.MultKAN(width=[2, 5, 1], grid=5, k=3)``, symbolic branch off (pykan's
  ``symbolic_enabled=False``: ann's KAN has none), activations not saved;
* an MLP with about the same number of parameters as ann's KAN (2-37-1, SiLU), and a larger one
  (2-64-64-1) for scale.

Reported: test RMSE, parameters, and the mean time of a training step (forward, backward,
Adam; grid updates excluded) as a ratio to ann's KAN. Results:
benchmarks/results/kan_peer/exp-sin.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

import ann
from ann import fileio
from ann.registry import create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "kan_peer"


def _train(model, update_grid, x, y, steps: int, lr: float) -> float:
    """Full-batch Adam with a cosine decay on the squared error; the grids (when
    ``update_grid``) from the batch every 5 steps to step 50. The mean seconds of a step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    seconds = 0.0
    for step in range(steps):
        if update_grid is not None and step <= 50 and step % 5 == 0:
            with torch.no_grad():
                update_grid(x)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = ((model(x).reshape(-1) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
        seconds += time.perf_counter() - t0
    return seconds / steps


def _mlp(sizes) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


def main(argv=None) -> int:
    import kan

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    train, test = ann.load_dataset("exp-sin", "train"), ann.load_dataset("exp-sin", "test")
    x, y, xt, yt = train.x, train.y, test.x, test.y
    torch.manual_seed(0)
    ours = create_model("kan", "toy")
    peer = kan.MultKAN(width=[2, 5, 1], grid=5, k=3, seed=0, symbolic_enabled=False,
                       save_act=False, auto_save=False)
    torch.manual_seed(0)
    nets = {"ann KAN [2,5,1] G5": (ours, ours.update_grid),
            "pykan MultKAN [2,5,1] G5": (peer, peer.update_grid),
            "MLP 2-37-1 (SiLU)": (_mlp((2, 37, 1)), None),
            "MLP 2-64-64-1 (SiLU)": (_mlp((2, 64, 64, 1)), None)}
    rows = {}
    for name, (model, update) in nets.items():
        model.train()
        step = _train(model, update, x, y, args.steps, 1e-2)
        model.eval()
        with torch.no_grad():
            rmse = float(((model(xt).reshape(-1) - yt) ** 2).mean().sqrt())
        rows[name] = {"test_rmse": rmse, "step_s": step,
                      "parameters": sum(q.numel() for q in model.parameters() if q.requires_grad)}
        print(f"{name:26s} test RMSE {rmse:.4f}  {step * 1e3:.2f} ms/step  "
              f"{rows[name]['parameters']:,} parameters", flush=True)
    base = rows["ann KAN [2,5,1] G5"]["step_s"]
    for r in rows.values():
        r["step_ratio_to_ann"] = r["step_s"] / base
    out = {"data": "exp-sin (ann.load_dataset: 1,000 train / 1,000 test points on [-1, 1]^2)",
           "steps": args.steps, "lr": 1e-2, "pykan": getattr(kan, "__version__", "0.2.x"),
           "networks": rows, "machine": machine(),
           "command": "python benchmarks/kan_peer.py" + (f" --steps {args.steps}"
                                                         if args.steps != 1500 else "")}
    OUT.mkdir(parents=True, exist_ok=True)
    fileio.write_json(OUT / "exp-sin.json", out)
    print(f"wrote {OUT / 'exp-sin.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
