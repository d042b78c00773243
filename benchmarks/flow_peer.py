"""ann's RealNVP against zuko's flows on the same two-moons points, trained by the same loop.

    python benchmarks/flow_peer.py                # 1,500 steps each (the realnvp-moons budget)
    python benchmarks/flow_peer.py --steps 200    # a quick check

The moons' train and test splits are read through ann (``ann.load_dataset("moons")``). Three
flows of about the same size train one after the other in this process, one torch thread, with
the same batches (a seeded permutation per epoch), Adam at 3e-3 with a cosine decay to 0 and
batch 256 (the recipe's settings):

* ann ``realnvp`` preset ``moons``: 8 affine couplings, MLP 2-64-64-4, ActNorm;
* ``zuko.flows.RealNVP(2, transforms=8, hidden_features=(64, 64))``: zuko's affine couplings
  (its own parametrization of the scale, no ActNorm);
* ``zuko.flows.NSF(2, transforms=4, hidden_features=(64, 64))``: neural spline couplings
  (Durkan et al. 2019), a stronger flow per layer.

Reported: test NLL in nats (the mean of ``-log_prob`` over the 2,000 test points), parameters,
and the mean time of a training step (forward, backward, Adam) as a ratio to ann's. Results:
benchmarks/results/flow_peer/moons.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

import ann
from ann import fileio
from ann.registry import create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "flow_peer"


def _train(log_prob, params, x: torch.Tensor, steps: int, batch: int, lr: float) -> float:
    """Adam with a cosine decay on ``-log_prob``; the mean seconds of a step."""
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    g = torch.Generator().manual_seed(0)
    order, at = torch.randperm(len(x), generator=g), 0
    seconds = 0.0
    for _ in range(steps):
        if at + batch > len(x):
            order, at = torch.randperm(len(x), generator=g), 0
        xb = x[order[at:at + batch]]
        at += batch
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = -log_prob(xb).mean()
        loss.backward()
        opt.step()
        sched.step()
        seconds += time.perf_counter() - t0
    return seconds / steps


def main(argv=None) -> int:
    import zuko

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    x = ann.load_dataset("moons", "train").x
    xt = ann.load_dataset("moons", "test").x
    torch.manual_seed(0)
    ours = create_model("realnvp", "moons")
    flows = {"ann realnvp": (ours.log_prob, ours)}
    torch.manual_seed(0)
    nvp = zuko.flows.RealNVP(2, transforms=8, hidden_features=(64, 64))
    flows["zuko RealNVP"] = (lambda v: nvp().log_prob(v), nvp)
    torch.manual_seed(0)
    nsf = zuko.flows.NSF(2, transforms=4, hidden_features=(64, 64))
    flows["zuko NSF"] = (lambda v: nsf().log_prob(v), nsf)
    rows = {}
    for name, (log_prob, module) in flows.items():
        module.train()
        step = _train(log_prob, module.parameters(), x, args.steps, 256, 3e-3)
        module.eval()
        with torch.no_grad():
            nll = -float(log_prob(xt).double().mean())
        rows[name] = {"test_nll": nll, "step_s": step,
                      "parameters": sum(q.numel() for q in module.parameters())}
        print(f"{name:14s} test NLL {nll:.4f} nats  {step * 1e3:.2f} ms/step  "
              f"{rows[name]['parameters']:,} parameters", flush=True)
    base = rows["ann realnvp"]["step_s"]
    for r in rows.values():
        r["step_ratio_to_ann"] = r["step_s"] / base
    out = {"data": "moons (ann.load_dataset, 4,000 train / 2,000 test points)",
           "steps": args.steps, "batch": 256, "lr": 3e-3, "zuko": zuko.__version__,
           "flows": rows, "machine": machine(),
           "command": "python benchmarks/flow_peer.py" + (f" --steps {args.steps}"
                                                          if args.steps != 1500 else "")}
    OUT.mkdir(parents=True, exist_ok=True)
    fileio.write_json(OUT / "moons.json", out)
    print(f"wrote {OUT / 'moons.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
