"""ann's ODE solvers against torchdiffeq, and a shortened node-mnist run.

    python benchmarks/node_peer.py                    # solver rounds, then node-mnist (--steps 300)
    python benchmarks/node_peer.py --only solvers     # the solver comparison alone (a minute)
    python benchmarks/node_peer.py --only mnist --steps 100

Solvers: one vector field (an MLP 16-64-64-16 with tanh, the time as an extra input, float32,
a batch of 64 states, 11 output times over [0, 4]) is solved by ann's ``dopri5`` and by
``torchdiffeq.odeint(method="dopri5")`` at the same rtol/atol, in alternating rounds (ann,
torchdiffeq, ann, ...; the median of each side's times is reported), one thread. For each
tolerance: the function evaluations of a forward solve, its time, the largest difference of
the two solutions, and the same for a gradient by the adjoint (``odeint_adjoint`` on both
sides: evaluations of the forward and the backward solve together).

node-mnist: the recipe trained for ``--steps`` optimizer steps (from ANN_DATA_DIR), its test
accuracy, evaluations per forward pass and wall time. Results:
benchmarks/results/node_peer/{solvers,mnist}.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from ann import fileio
from ann.models.node.solvers import odeint, odeint_adjoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "node_peer"
TOLERANCES = (1e-3, 1e-5, 1e-7)


class Field(torch.nn.Module):
    """dy/dt = MLP([y, t]); counts its calls."""

    def __init__(self, dim=16, hidden=64):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(dim + 1, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, dim))
        self.calls = 0

    def forward(self, t, y):
        self.calls += 1
        return self.net(torch.cat([y, t.expand(len(y), 1)], 1))


def _timed(fn, field):
    field.calls = 0
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, field.calls, out


def _gradient(solve, field, y0, t):
    field.zero_grad()
    y = y0.clone().requires_grad_(True)
    solve(field, y, t)[-1].pow(2).sum().backward()
    return torch.cat([y.grad.reshape(-1), *(p.grad.reshape(-1) for p in field.parameters())])


def _sides(torchdiffeq, field, y0, t, kw) -> dict:
    """Each side's (forward solve, adjoint gradient) at the tolerances ``kw``."""
    return {
        "ann": (lambda: odeint(field, y0, t, **kw),
                lambda: _gradient(lambda *a: odeint_adjoint(*a, **kw), field, y0, t)),
        "torchdiffeq": (lambda: torchdiffeq.odeint(field, y0, t, **kw),
                        lambda: _gradient(lambda *a: torchdiffeq.odeint_adjoint(*a, **kw),
                                          field, y0, t)),
    }


def solvers(rounds: int) -> dict:
    import torchdiffeq

    field = Field()
    y0 = torch.randn(64, 16, generator=torch.Generator().manual_seed(1))
    t = torch.linspace(0, 4, 11)
    rows = []
    for tol in TOLERANCES:
        sides = _sides(torchdiffeq, field, y0, t, dict(rtol=tol, atol=tol))
        times = {k: {"forward": [], "adjoint": []} for k in sides}
        nfe, outs = {}, {}
        for _ in range(rounds):                    # alternating: ann, torchdiffeq, ann, ...
            for name, (forward, adjoint) in sides.items():
                with torch.no_grad():
                    s, n, out = _timed(forward, field)
                times[name]["forward"].append(s)
                s2, n2, grad = _timed(adjoint, field)
                times[name]["adjoint"].append(s2)
                nfe[name], outs[name] = (n, n2), (out, grad)
        row = {"rtol": tol, "atol": tol}
        for name in sides:
            row[name] = {"nfe_forward": nfe[name][0], "nfe_adjoint": nfe[name][1],
                         "forward_s": statistics.median(times[name]["forward"]),
                         "adjoint_s": statistics.median(times[name]["adjoint"])}
        row["max_diff_solution"] = (outs["ann"][0] - outs["torchdiffeq"][0]).abs().max().item()
        row["max_diff_gradient"] = (outs["ann"][1] - outs["torchdiffeq"][1]).abs().max().item()
        row["gradient_scale"] = outs["torchdiffeq"][1].abs().max().item()
        rows.append(row)
        a, p = row["ann"], row["torchdiffeq"]
        print(f"tol {tol:g}: nfe {a['nfe_forward']} vs {p['nfe_forward']}, forward "
              f"{a['forward_s'] * 1e3:.1f} vs {p['forward_s'] * 1e3:.1f} ms; adjoint nfe "
              f"{a['nfe_adjoint']} vs {p['nfe_adjoint']}, {a['adjoint_s'] * 1e3:.1f} vs "
              f"{p['adjoint_s'] * 1e3:.1f} ms; |dy| {row['max_diff_solution']:.2g}, "
              f"|dgrad| {row['max_diff_gradient']:.2g} of {row['gradient_scale']:.3g}",
              flush=True)
    return {"rounds": rounds, "system": "MLP 16-64-64-16 tanh, batch 64, t in [0, 4], 11 outputs",
            "rows": rows}


def mnist(steps: int) -> dict:
    import ann

    start = time.perf_counter()
    overrides = {"train.threads": 1, "train.epochs": 0, "train.max_steps": steps,
                 "train.warmup_steps": min(200, steps // 5), "train.eval_every": steps}
    run = ann.train("node-mnist", overrides, out=OUT.parent / "runs" / "node-mnist", quiet=True)
    wall = time.perf_counter() - start
    test = run.summary["test"]
    print(f"node-mnist, {steps} steps: test accuracy {test['accuracy']:.4f}, nfe "
          f"{test['nfe']:.0f}, {wall:.0f} s", flush=True)
    return {"steps": steps, "batch_size": 128, "test": test, "wall_s": wall,
            "command": "ann train node-mnist " + " ".join(f"{k}={v}" for k, v in overrides.items())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("solvers", "mnist"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    info = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
            "load_average": list(__import__("os").getloadavg())}
    if args.only in (None, "solvers"):
        fileio.write_json(OUT / "solvers.json", {**info, **solvers(args.rounds)})
    if args.only in (None, "mnist"):
        fileio.write_json(OUT / "mnist.json", {**info, **mnist(args.steps)})


if __name__ == "__main__":
    main()
