"""Recurrent language model: embedding, a stack of RNN/LSTM/GRU layers, a linear softmax layer.

Zaremba, Sutskever & Vinyals 2014, "Recurrent neural network regularization"
(https://arxiv.org/abs/1409.2329): word-level PTB with a 2-layer LSTM, trained by truncated
backpropagation through time with the state carried across batches (the ``lm_stream`` task),
SGD with gradient clipping, uniform initialisation in [-0.1, 0.1] and dropout only on the
non-recurrent connections (embedding output, between layers, before the softmax).

The model has no context limit: ``block_size`` is only the training window (the BPTT length),
and generation feeds one token at a time with the state carried.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Dropout, Embedding, Linear, Recurrent
from ...layers.recurrent import CELLS
from ...registry import register_model
from ..examples import recurrence_tokens
from ..sampling import StatefulGeneration


@dataclass
class RecurrentLMConfig:
    vocab_size: int = field(65, "number of token ids (filled from the dataset)", positive=True)
    block_size: int = field(20, "training window: tokens per BPTT segment", positive=True)
    cell: str = field("lstm", "recurrent cell", choices=CELLS)
    n_layer: int = field(2, "stacked recurrent layers", positive=True)
    n_embd: int = field(200, "embedding width", positive=True)
    hidden: int = field(200, "hidden units per layer", positive=True)
    dropout: float = field(0.0, "dropout on non-recurrent connections (Zaremba et al.)",
                           range=(0.0, 0.95))
    init_range: float = field(0.1, "weights start uniform in [-init_range, init_range]",
                              positive=True)
    tie_weights: bool = field(False, "share the softmax weight with the embedding (needs "
                              "n_embd == hidden)")
    fused: bool = field(True, "run the recurrence through PyTorch's fused kernel (else the "
                        "readable cells; same weights)")

    def __post_check__(self):
        if self.tie_weights and self.n_embd != self.hidden:
            raise AnnError(f"tie_weights needs n_embd == hidden, got {self.n_embd} and "
                           f"{self.hidden}; set model.n_embd={self.hidden}")


@register_model("rnn-lm", config=RecurrentLMConfig, family="recurrent", presets={
    "tiny": {"vocab_size": 32, "block_size": 16, "n_layer": 1, "n_embd": 32, "hidden": 64},
    # Zaremba et al. 2014, small: 2 x 200, 20 steps, no dropout.
    "small": {"block_size": 20, "n_layer": 2, "n_embd": 200, "hidden": 200, "dropout": 0.0},
    # Zaremba et al. 2014, medium: 2 x 650, 35 steps, dropout 0.5.
    "medium": {"block_size": 35, "n_layer": 2, "n_embd": 650, "hidden": 650, "dropout": 0.5,
               "init_range": 0.05},
})
class RecurrentLM(StatefulGeneration, nn.Module):
    """Word- or character-level language model over RNN, LSTM or GRU layers.

    ``forward(idx)`` starts from the zero state and returns logits; ``forward(idx, state)``
    continues from ``state`` (``initial_state(B)`` to start) and returns ``(logits, state)``.

    Shapes:
        idx (B, T) int64 -> logits (B, T, vocab_size).
    """

    task = "lm_stream"
    context_length = None           # no limit: the state carries the whole history

    def __init__(self, config: RecurrentLMConfig):
        super().__init__()
        self.config = c = config
        self.wte = Embedding(c.vocab_size, c.n_embd)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.rnn = Recurrent(c.cell, c.n_embd, c.hidden, c.n_layer, dropout=c.dropout,
                             fused=c.fused)
        self.head = Linear(c.hidden, c.vocab_size)
        for p in self.parameters():      # Zaremba et al.: every parameter uniform in +-init_range
            nn.init.uniform_(p, -c.init_range, c.init_range)
        if c.tie_weights:
            self.head.weight = self.wte.weight

    def initial_state(self, batch_size: int, device=None):
        return self.rnn.initial_state(batch_size, device, self.head.weight.dtype)

    def forward(self, idx: torch.Tensor, state=None):
        out, new_state = self.rnn(self.drop(self.wte(idx)), state)   # (B, T, H)
        logits = self.head(self.drop(out))                           # (B, T, V)
        return logits if state is None else (logits, new_state)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """``(x, y)`` int64 (B, block_size): s[t+1] = (s[t] + s[t-1] + 1) mod vocab_size from a
        random start, so each target follows from the two tokens before it."""
        return recurrence_tokens(batch_size, self.config.block_size, self.config.vocab_size,
                                 generator)
