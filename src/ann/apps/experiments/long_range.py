"""Long-range dependencies: why gated recurrent networks, and then attention, replaced the RNN.

The task (a one-symbol copy-memory task, after Hochreiter & Schmidhuber 1997, experiment 2): a
sequence of ``length`` tokens, the first one of 8 kinds and the rest a blank; the label is the
first token, so the model must carry it in memory to the end. An Elman RNN, an LSTM and
a GRU (each reading the sequence and classifying from its last state) and a small Transformer
(attending over all positions from a query token appended at the end) train on fresh batches
for the same number of steps at each length, then are scored on held-out sequences (chance:
1/8 = 12.5%).

A second measurement shows why: at initialisation, the norm of the loss's gradient with respect
to the input at step t, against the distance from t to the end of the sequence. Through the
Elman RNN it shrinks geometrically (Bengio et al. 1994, "Learning long-term dependencies with
gradient descent is difficult"; Hochreiter 1991); the LSTM's additive cell path (Hochreiter &
Schmidhuber 1997) and the GRU's update gate let more of it through; attention reaches every
position in one step.

Writes ``results.json``, ``table.md``, ``accuracy.png`` and ``gradients.png`` to the output
folder. ``ann experiment long-range`` runs it; the defaults take a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ... import fileio
from ...errors import AnnError
from ...layers import Recurrent

KINDS = 8                # token kinds; the label is one of them
MODELS = ("rnn", "lstm", "gru", "transformer")


class RecurrentReader(nn.Module):
    """Embedding, one recurrent layer, a linear layer on the last state.

    Shapes:
        x (B, T) int64 -> logits (B, KINDS).
    """

    def __init__(self, cell: str, width: int):
        super().__init__()
        self.embed = nn.Embedding(KINDS + 1, width)               # + the blank
        self.rnn = Recurrent(cell, width, width)
        self.head = nn.Linear(width, KINDS)
        if cell == "lstm":   # forget-gate bias 1 (Gers et al. 2000; Jozefowicz et al. 2015)
            for name in ("bias_ih_l0", "bias_hh_l0"):
                nn.init.constant_(getattr(self.rnn.net, name)[width:2 * width], 0.5)

    def forward(self, x, embedded=None):
        e = self.embed(x) if embedded is None else embedded      # (B, T, C)
        out, _ = self.rnn(e)                                     # (B, T, C)
        return self.head(out[:, -1])


class AttentionReader(nn.Module):
    """Two Transformer encoder layers over the tokens and a query token appended at the end,
    learned positions; the query's output is classified.

    Shapes:
        x (B, T) int64 -> logits (B, KINDS).
    """

    def __init__(self, width: int, max_len: int):
        super().__init__()
        self.embed = nn.Embedding(KINDS + 2, width)              # + the blank, the query token
        self.pos = nn.Parameter(torch.randn(max_len + 1, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(width, KINDS)

    def forward(self, x, embedded=None):
        e = self.embed(x) if embedded is None else embedded      # (B, T, C)
        query = self.embed.weight[KINDS + 1].expand(len(e), 1, -1)   # (B, 1, C)
        h = torch.cat([e, query], dim=1) + self.pos[:e.size(1) + 1]
        return self.head(self.encoder(h)[:, -1])


def batch(size: int, length: int, generator: torch.Generator):
    """The first token is one of KINDS, the rest the blank (id KINDS); the label is the first."""
    x = torch.full((size, length), KINDS)
    x[:, 0] = torch.randint(0, KINDS, (size,), generator=generator)
    return x, x[:, 0].clone()


def build(name: str, width: int, max_len: int) -> nn.Module:
    return AttentionReader(width, max_len) if name == "transformer" else RecurrentReader(name, width)


def train_one(name: str, length: int, steps: int, batch_size: int, width: int, lr: float,
              seed: int) -> float:
    """Test accuracy of model ``name`` trained ``steps`` steps at sequence length ``length``."""
    torch.manual_seed(seed)
    model = build(name, width, length)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x, y = batch(batch_size, length, g)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y = batch(EVAL_BATCH, length, torch.Generator().manual_seed(10_000 + seed))
    with torch.no_grad():
        return (model.eval()(x).argmax(-1) == y).float().mean().item()


def gradient_by_distance(name: str, length: int, width: int, seed: int = 0) -> list[float]:
    """Mean norm of d loss / d input at each step, at initialisation, by distance to the end
    (index 0: the last step)."""
    torch.manual_seed(seed)
    model = build(name, width, length)
    x, y = batch(64, length, torch.Generator().manual_seed(seed))
    e = model.embed(x).detach().requires_grad_(True)             # (B, T, C)
    F.cross_entropy(model(x, embedded=e), y).backward()
    norms = e.grad.norm(dim=-1).mean(0)                          # (T,)
    return norms.flip(0).tolist()


EVAL_BATCH = 512         # held-out sequences scored per model and length


def _check_memory(length: int, batch_size: int, width: int) -> None:
    """Refuse in one line a length whose embedded batch alone, float32 (B, T, C), exceeds this
    machine's memory (``--lengths 100000000`` asked for 12 TiB), before anything is written."""
    from ...registry import machine_memory

    need, memory = 4 * batch_size * length * width, machine_memory()
    if memory is not None and need > memory:
        raise AnnError(f"--lengths {length} needs at least {need / 2**30:,.0f} GiB for one "
                       f"batch of {batch_size} sequences (this machine has "
                       f"{memory / 2**30:,.0f} GiB); give shorter lengths, e.g. --lengths 10,50,100")


def check(lengths=(10, 20, 50, 100, 200), batch_size: int = 32, width: int = 64,
          models=MODELS, **_) -> None:
    """Refuse in one line what :func:`run` cannot do: lengths under 2, unknown models, lengths
    whose batch would not fit in memory."""
    if not lengths or min(lengths) < 2:
        raise AnnError("give sequence lengths of at least 2, e.g. --lengths 10,50,100")
    for m in models:
        if m not in MODELS:
            raise AnnError(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    _check_memory(max(lengths), max(batch_size, EVAL_BATCH), width)


def run(out, lengths=(10, 20, 50, 100, 200), steps: int = 200, batch_size: int = 32,
        width: int = 64, lr: float = 3e-3, seed: int = 0, models=MODELS, quiet: bool = False) -> dict:
    """Train every model at every length and measure the gradients; write the table and plots
    to ``out``; return the results."""
    check(lengths, batch_size=batch_size, width=width, models=models)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    accuracy = {m: {} for m in models}
    for length in lengths:
        for m in models:
            accuracy[m][length] = train_one(m, length, steps, batch_size, width, lr, seed)
            if not quiet:
                print(f"length {length:4d} | {m:11s} | accuracy {accuracy[m][length]:.3f} "
                      f"| {time.time() - start:.0f}s", flush=True)
    grad_len = max(lengths)
    gradients = {m: gradient_by_distance(m, grad_len, width, seed) for m in models}
    results = {"task": "label = the first token (8 kinds; chance 0.125), then length-1 blanks",
               "lengths": list(lengths), "steps": steps, "batch_size": batch_size, "width": width,
               "lr": lr, "seed": seed, "accuracy": accuracy, "gradient_length": grad_len,
               "gradient_norm_by_distance": gradients, "wall_time_s": round(time.time() - start, 1)}
    fileio.write_json(out / "results.json", json.loads(json.dumps(results)))
    fileio.write_text(out / "table.md", table(results) + "\n")
    _plots(results, out)
    return results


def table(results: dict) -> str:
    lengths = results["lengths"]
    rows = ["| model | " + " | ".join(f"T={n}" for n in lengths) + " |",
            "|---|" + "---|" * len(lengths)]
    for m, acc in results["accuracy"].items():
        rows.append(f"| {m} | " + " | ".join(f"{acc[n]:.2f}" for n in lengths) + " |")
    return "\n".join(rows)


def _plots(results: dict, out: Path):
    from matplotlib.figure import Figure  # a figure of its own: no pyplot, no backend chosen

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for m, acc in results["accuracy"].items():
        ax.plot(results["lengths"], [acc[n] for n in results["lengths"]], marker="o", label=m)
    ax.axhline(1 / KINDS, color="gray", ls=":", label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("sequence length (the answer is the first token)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Long-range memory, {results['steps']} training steps each")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "accuracy.png", dpi=100)

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for m, g in results["gradient_norm_by_distance"].items():
        ax.plot(range(len(g)), [max(v, 1e-30) for v in g], label=m)
    ax.set_yscale("log")
    ax.set_xlabel("distance from the loss (steps back from the end)")
    ax.set_ylabel("|d loss / d input|, at initialisation")
    ax.set_title(f"Gradient reaching each step, T={results['gradient_length']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "gradients.png", dpi=100)
