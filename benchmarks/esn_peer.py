"""ann's echo state network against reservoirpy's, on Mackey-Glass, same reservoir, same run.

    python benchmarks/esn_peer.py                          # 500 units, 84 steps ahead
    python benchmarks/esn_peer.py --units 50 --windows 10  # a tiny check (seconds)

Both sides use one reservoir: ann's ``W``, ``W_in`` and bias (drawn at ``--seed``) are handed to
reservoirpy's ``Reservoir`` node, with the same leak rate, so the two differ only in their own
code: the state updates (ann in torch, batched over windows; reservoirpy in numpy, one step at a
time), the ridge readout over ``[u, x]`` (reservoirpy's ``Ridge`` node, which centres the
features; ann leaves the intercept unpenalised, the same solution) and the closed loop. Both
fit on the same teacher-forced training series (the mackey-glass dataset's train split, the
first ``washout`` states dropped) and free-run ``--horizon`` steps after a ``--window``-step
washout from the first ``--windows`` test windows; the figures are the NRMSE at the last step
(over the train std, as the ``freerun`` task reports it), the fit time (states plus readout)
and the free-run time, and the time ratios reservoirpy / ann (> 1: ann is faster). Results go
to benchmarks/results/esn_peer.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

from ann import fileio  # noqa: E402
from ann.registry import create_model, load_dataset  # noqa: E402
from ann.tasks import get_task  # noqa: E402

HERE = Path(__file__).resolve().parent


def reservoirpy_side(net, train_series, windows, horizon, washout, ridge):
    """Fit and free-run with reservoirpy's nodes on ann's weights; (forecasts, fit s, run s)."""
    from reservoirpy.nodes import Reservoir, Ridge

    c = net.config
    w, w_in, bias = (t.double().numpy() for t in (net.w, net.w_in, net.bias))
    z = (train_series - c.mean) / c.std
    start = time.perf_counter()
    res = Reservoir(W=w, Win=w_in, bias=bias, lr=c.leak)
    states = res.run(z[:-1, None])                                     # (T-1, N)
    feats = np.hstack([z[:-1, None], states])[washout:]
    readout = Ridge(ridge=ridge).fit(feats, z[1:, None][washout:])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    out = []
    for window in windows:                                             # (W,) each, scaled
        res = Reservoir(W=w, Win=w_in, bias=bias, lr=c.leak)
        x = res.run(window[:, None])[-1]
        u, run = window[-1], []
        for _ in range(horizon):
            u = float(readout.step(np.concatenate([[u], x]))[0])     # the next scaled value
            run.append(u)
            x = res.step(np.array([u]))                                # fed back
        out.append(run)
    return np.asarray(out) * c.std + c.mean, fit_s, time.perf_counter() - start


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", type=int, default=500)
    p.add_argument("--window", type=int, default=200)
    p.add_argument("--horizon", type=int, default=84)
    p.add_argument("--windows", type=int, default=50, help="test windows free-run by both sides")
    p.add_argument("--ridge", type=float, default=1e-8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results" / "esn_peer.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = {s: load_dataset("mackey-glass", s, window=a.window, horizon=a.horizon)
            for s in ("train", "test")}
    info = data["train"].info
    torch.manual_seed(a.seed)
    net = create_model("esn", n_reservoir=a.units, ridge=a.ridge, window=a.window,
                       horizon=a.horizon, mean=info["mean"], std=info["std"])
    start = time.perf_counter()
    net.fit(data["train"])
    ours_fit = time.perf_counter() - start
    idx = torch.linspace(0, len(data["test"]) - 1, a.windows).long()
    x, y, ar = data["test"].batch(idx)
    start = time.perf_counter()
    ours = get_task("freerun").evaluate(net, [(x, y, ar)])
    ours_run = time.perf_counter() - start
    series = net._sequences(data["train"])[0].numpy()
    windows = ((x[..., 0].double().numpy()) - net.config.mean) / net.config.std
    theirs, their_fit, their_run = reservoirpy_side(net, series, windows, a.horizon,
                                                    min(net.config.washout, len(series) - 2),
                                                    a.ridge)
    their_nrmse = float(np.sqrt(((theirs[:, -1] - y[:, -1].numpy()) ** 2).mean()) / net.config.std)
    result = {"units": a.units, "window": a.window, "horizon": a.horizon, "windows": a.windows,
              "ridge": a.ridge, "seed": a.seed,
              "ann": {"nrmse": ours["nrmse"], "fit_s": ours_fit, "free_run_s": ours_run},
              "reservoirpy": {"nrmse": their_nrmse, "fit_s": their_fit, "free_run_s": their_run},
              "fit_ratio": their_fit / ours_fit, "free_run_ratio": their_run / ours_run,
              "machine": machine()}
    fileio.write_json(Path(a.out), result)
    print(f"NRMSE{a.horizon}: ann {ours['nrmse']:.3g}, reservoirpy {their_nrmse:.3g} | fit "
          f"ann {ours_fit:.2f}s, reservoirpy {their_fit:.2f}s | free run of {a.windows} windows "
          f"ann {ours_run:.3f}s, reservoirpy {their_run:.3f}s")
    return result


if __name__ == "__main__":
    main()
