"""LSTM language-model training throughput: ann's fast and readable paths against torch.nn.LSTM.

    python benchmarks/lstm_speed.py                       # Zaremba small: 2 x 200, T 20, B 20
    python benchmarks/lstm_speed.py --rounds 5 --steps 20 --threads 1

Three models with the same configuration (PTB's 10,000-word vocabulary, embedding 200, two LSTM
layers of 200, a linear softmax layer, no dropout) train on the same batches the same way:
truncated BPTT with the state carried and detached between steps, cross-entropy, backward,
gradient clipping and an SGD step:

* ``ann``: ``ann.create_model("rnn-lm", "small")``, the fused path (``torch.nn.LSTM``'s kernel
  running ann's parameters);
* ``readable``: the same model with ``fused=False``: ann's LSTM cell written out as math, one
  time step at a time;
* ``torch``: ``torch.nn.Embedding`` + ``torch.nn.LSTM`` + ``torch.nn.Linear`` used directly (the
  peer).

Each round times ``--steps`` training steps of each model in turn, rotating the order, so a noisy
shared machine slows all alike; throughput is the median over rounds, and each ratio the median
of the per-round ratios (a model against the peer timed next to it). Results go to
benchmarks/results/speed/lstm.json (BENCHMARKS.md is rendered from it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

from ann import fileio  # noqa: E402
from ann.layers import detach_state  # noqa: E402
from ann.registry import create_model  # noqa: E402

HERE = Path(__file__).resolve().parent
CONFIG = dict(vocab_size=10000, n_embd=200, hidden=200, n_layer=2, block_size=20)


class TorchLM(nn.Module):
    """The peer: torch.nn's modules used directly, as in PyTorch's word_language_model example."""

    def __init__(self):
        super().__init__()
        c = CONFIG
        self.emb = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.lstm = nn.LSTM(c["n_embd"], c["hidden"], c["n_layer"], batch_first=True)
        self.out = nn.Linear(c["hidden"], c["vocab_size"])

    def initial_state(self, batch_size):
        h = torch.zeros(CONFIG["n_layer"], batch_size, CONFIG["hidden"])
        return h, torch.zeros_like(h)

    def forward(self, x, state):
        y, state = self.lstm(self.emb(x), state)
        return self.out(y), state


def trainer(model, batch_size):
    """A closure doing one truncated-BPTT training step on a batch (x, y)."""
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    model.train()
    state = [model.initial_state(batch_size)]

    def step(x, y):
        logits, s = model(x, state[0])                     # (B, T, V)
        state[0] = detach_state(s)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return step


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--steps", type=int, default=20, help="timed steps per model per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {"ann": create_model("rnn-lm", "small", **CONFIG),
              "readable": create_model("rnn-lm", "small", **CONFIG, fused=False),
              "torch": TorchLM()}
    B, T = args.batch_size, CONFIG["block_size"]
    steps = {name: trainer(m, B) for name, m in models.items()}
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, CONFIG["vocab_size"], (args.steps, B, T + 1), generator=g)
    for name in steps:  # warm-up: allocator, kernels
        for s in range(2):
            steps[name](data[s, :, :-1], data[s, :, 1:])
    names = list(steps)
    times = {n: [] for n in names}
    for r in range(args.rounds):
        order = names[r % 3:] + names[:r % 3]
        for name in order:
            start = time.perf_counter()
            for s in range(args.steps):
                steps[name](data[s, :, :-1], data[s, :, 1:])
            times[name].append((time.perf_counter() - start) / args.steps)
        print(f"round {r + 1}: " + ", ".join(f"{n} {B * T / times[n][-1]:,.0f} tokens/s"
                                            for n in names), flush=True)
    result = {"kind": "lstm", "config": {**CONFIG, "batch_size": B, "dropout": 0.0},
              "rounds": args.rounds, "steps_per_round": args.steps, "machine": machine(),
              "peer": f"torch.nn.LSTM (torch {torch.__version__})",
              "command": "python benchmarks/lstm_speed.py " + " ".join(argv or sys.argv[1:])}
    for name, model in models.items():
        step_s = statistics.median(times[name])
        result[name] = {"step_s": round(step_s, 5), "tokens_per_s": round(B * T / step_s, 1),
                        "parameters": sum(p.numel() for p in model.parameters())}
    for name in ("ann", "readable"):   # paired by round: a load change hits both of a pair alike
        result[f"{name}_vs_torch"] = round(statistics.median(
            t / a for a, t in zip(times[name], times["torch"])), 3)
    result["date"] = time.strftime("%Y-%m-%d")
    fileio.write_json(HERE / "results" / "speed" / "lstm.json", result)
    print(" | ".join(f"{n} {result[n]['tokens_per_s']:,.0f} tokens/s" for n in names)
          + f" | ann/torch {result['ann_vs_torch']:.3f}x, readable/torch "
            f"{result['readable_vs_torch']:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
