"""ann's Mamba against mambapy (speed), and against ann's GPT at equal steps (loss).

    python benchmarks/mamba_peer.py --speed            # train-step tokens/s, ann / mambapy
    python benchmarks/mamba_peer.py --steps 40         # GPT and Mamba, same batches, val loss
    python benchmarks/mamba_peer.py --speed --tiny     # a quick check, not a timing

``--speed``: the ``mamba-shakespeare`` size (7 blocks of width 128, state 16, batch 12 x 64
tokens). mambapy (``pip install mambapy``, the ``peers`` extra) gets a copy of ann's weights (so
the two compute the same function, checked before timing) and both run forward + backward of the
mean of the outputs, in alternating rounds in one process on one thread; mambapy runs its own
parallel scan (``pscan``), ann its :func:`ann.models.ssm.parallel_scan`.

``--steps N``: ``gpt-shakespeare`` and ``mamba-shakespeare`` models (about 0.81 M parameters
each) trained N steps on the same batches of tiny Shakespeare with the recipes' AdamW settings
(lr 1e-3 after a warmup of N/5 steps, cosine to 1e-4, weight decay 0.1, clip 1), then scored on
the first ``--val-windows`` windows of the validation split: a shortened run, since a full
2000-step Mamba run takes hours on 2 shared CPU cores (the scan materialises a (B, T, E, N)
state where attention keeps (B, T, C)). Results: benchmarks/results/mamba_peer/*.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import ann  # noqa: F401  (registers the models and datasets)
from ann import fileio
from ann.registry import create_model, load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "mamba_peer"


def peer_copy(model):
    """mambapy's block stack holding ann's weights (embedding and head stay ann's)."""
    from mambapy.mamba import Mamba as PeerMamba
    from mambapy.mamba import MambaConfig as PeerConfig

    c = model.config
    peer = PeerMamba(PeerConfig(d_model=c.d_model, n_layers=c.n_layer, d_state=c.d_state,
                                expand_factor=c.expand, d_conv=c.d_conv,
                                dt_rank=model.layers[0].mixer.ssm.rank, rms_norm_eps=c.norm_eps))
    peer.load_state_dict({k.replace("mixer.ssm.", "mixer."): v for k, v in
                          model.state_dict().items() if k.startswith("layers.")})
    return peer


def ann_blocks(model, x):
    state = model.initial_state(x.size(0))
    for layer, past, h in zip(model.layers, *state, strict=True):
        x, _ = layer(x, (past, h))
    return x


def speed(tiny: bool, rounds: int, steps: int) -> dict:
    torch.manual_seed(0)
    size = dict(n_layer=2, d_model=32) if tiny else {}
    model = create_model("mamba", "cpu", **size)
    peer = peer_copy(model)
    B, T = 12, model.config.block_size
    x = torch.randn(B, T, model.config.d_model)
    with torch.no_grad():
        err = (ann_blocks(model, x) - peer(x)).abs().max().item()
    runs = {"ann": lambda: ann_blocks(model, x).mean().backward(),
            "mambapy": lambda: peer(x).mean().backward()}
    times = {k: [] for k in runs}
    for f in runs.values():
        f()                                               # warm up
    for _ in range(rounds):
        for name, f in runs.items():                      # alternating rounds
            t0 = time.perf_counter()
            for _ in range(steps):
                f()
            times[name].append((time.perf_counter() - t0) / steps)
    best = {k: min(v) for k, v in times.items()}
    return {"kind": "mamba_speed", "config": {**model.config.__dict__, "batch": B},
            "max_abs_diff": err, "seconds_per_step": best,
            "tokens_per_s": {k: B * T / v for k, v in best.items()},
            "ann_over_peer": best["mambapy"] / best["ann"], "rounds": rounds, "steps": steps}


def lr_at(step: int, total: int, warmup: int, lr=1e-3, min_lr=1e-4) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


def equal_steps(n_steps: int, val_windows: int) -> dict:
    train = load_dataset("shakespeare", "train", block_size=64)
    val = load_dataset("shakespeare", "val", block_size=64)
    vx, vy = val[torch.arange(min(val_windows, len(val)))]
    order = torch.randint(0, len(train), (n_steps, 12), generator=torch.Generator().manual_seed(0))
    out = {}
    for name in ("gpt", "mamba"):
        torch.manual_seed(0)
        model = create_model(name, "cpu", vocab_size=65)
        decay = [p for p in model.parameters() if p.dim() >= 2]
        rest = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                 {"params": rest, "weight_decay": 0.0}], lr=1e-3,
                                betas=(0.9, 0.99))
        t0 = time.perf_counter()
        for step in range(n_steps):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, n_steps, max(n_steps // 5, 1))
            x, y = train[order[step]]
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        wall = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            val_loss = F.cross_entropy(model(vx).flatten(0, 1), vy.flatten()).item()
        out[name] = {"val_loss": val_loss, "train_s": wall, "s_per_step": wall / n_steps,
                     "parameters": sum(p.numel() for p in model.parameters())}
        print(name, out[name], flush=True)
    return {"kind": "mamba_vs_gpt", "steps": n_steps, "val_windows": len(vx), "runs": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--steps", type=int, default=0, help="equal-steps GPT vs Mamba run")
    ap.add_argument("--val-windows", type=int, default=128)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    common = {"machine": machine(), "load_average": load, "command": "python " + " ".join(sys.argv),
              "date": time.strftime("%Y-%m-%d")}
    if args.speed:
        r = {**speed(args.tiny, args.rounds, 1 if args.tiny else 2), **common}
        print(r)
        if not args.tiny:
            fileio.write_json(OUT / "speed.json", r)
    if args.steps:
        r = {**equal_steps(args.steps, args.val_windows), **common}
        fileio.write_json(OUT / f"equal-steps-{args.steps}.json", r)


if __name__ == "__main__":
    main()
