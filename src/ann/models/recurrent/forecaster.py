"""Recurrent forecaster: read a window of past values, forecast the next ``horizon`` values.

The window is scaled by the train split's mean and std, run through RNN/LSTM/GRU layers, and a
linear layer on the last hidden state gives the ``horizon`` values ahead at once (a direct
multi-step forecast, no feeding back of its own guesses). With ``residual`` the layer predicts
the change from the window's last value, so an untrained model starts near the naive forecast.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Dropout, Linear, Recurrent
from ...layers.recurrent import CELLS
from ...registry import register_model


@dataclass
class ForecasterConfig:
    cell: str = field("lstm", "recurrent cell", choices=CELLS)
    n_layer: int = field(1, "stacked recurrent layers", positive=True)
    hidden: int = field(32, "hidden units per layer", positive=True)
    dropout: float = field(0.0, "dropout between layers and before the output layer",
                           range=(0.0, 0.95))
    window: int = field(20, "past values read (filled from the dataset)", positive=True)
    horizon: int = field(1, "values forecast at once (filled from the dataset)", positive=True)
    max_len: int = field(1000, "the longest window the model accepts", positive=True)
    mean: float = field(0.0, "the series' train mean (filled from the dataset)")
    std: float = field(1.0, "the series' train std (filled from the dataset)", positive=True)
    residual: bool = field(True, "forecast the change from the window's last value")
    fused: bool = field(True, "run the recurrence through PyTorch's fused kernel")


@register_model("rnn-forecaster", config=ForecasterConfig, family="recurrent", presets={
    "tiny": {"hidden": 16, "window": 8, "horizon": 2},
    "small": {"hidden": 32, "n_layer": 1},
})
class Forecaster(nn.Module):
    """Window of past values to the next ``horizon`` values, in the series' own units.

    Shapes:
        x (B, T, 1), T <= max_len -> forecast (B, horizon).
    """

    task = "forecast"

    def __init__(self, config: ForecasterConfig):
        super().__init__()
        self.config = c = config
        if c.window > c.max_len:
            raise AnnError(f"the window of {c.window} values is longer than model.max_len="
                           f"{c.max_len}; set a smaller data.window or raise model.max_len")
        self.rnn = Recurrent(c.cell, 1, c.hidden, c.n_layer, dropout=c.dropout, fused=c.fused)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.head = Linear(c.hidden, c.horizon)
        # A small output layer: the untrained model starts near the naive forecast (residual).
        nn.init.normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.dim() != 3 or x.size(-1) != 1:
            raise AnnError(f"a forecaster reads windows of shape (batch, length, 1), got "
                           f"{tuple(x.shape)}")
        if x.size(1) > c.max_len:
            raise AnnError(f"the window holds {x.size(1)} values but model.max_len is {c.max_len};"
                           " give a shorter window or raise model.max_len")
        z = (x - c.mean) / c.std                                  # (B, T, 1)
        out, _ = self.rnn(z)                                      # (B, T, H)
        delta = self.head(self.drop(out[:, -1]))                  # (B, horizon)
        base = z[:, -1] if c.residual else torch.zeros_like(z[:, -1])   # (B, 1)
        return (base + delta) * c.std + c.mean

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """``(x, y, ar)``: noisy sine windows and their next values (``ar`` = the naive guess)."""
        c = self.config
        phase = torch.rand(batch_size, 1, generator=generator) * 6.28
        t = torch.arange(c.window + c.horizon) * 0.5 + phase      # (B, W + H)
        s = torch.sin(t)
        x, y = s[:, :c.window, None], s[:, c.window:]
        return x, y, x[:, -1].expand_as(y).clone()
