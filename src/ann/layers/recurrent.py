"""Recurrent layers: the Elman RNN, the LSTM and the GRU, written out as math and run fused.

* Elman 1990, "Finding structure in time": ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``.
* LSTM, Hochreiter & Schmidhuber 1997 with the forget gate of Gers et al. 2000
  (https://www.bioinf.jku.at/publications/older/2604.pdf): input, forget and output gates
  ``i, f, o = sigmoid(.)``, a candidate ``g = tanh(.)``, then ``c' = f * c + i * g`` and
  ``h' = o * tanh(c')``. The additive cell update is what lets gradients travel far back.
* GRU, Cho et al. 2014 (https://arxiv.org/abs/1406.1078): reset gate ``r``, update gate ``z``,
  candidate ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` and ``h' = (1 - z) * n + z * h``.

:class:`Recurrent` holds its parameters in a ``torch.nn.RNN``/``LSTM``/``GRU`` (same names and
gate order: LSTM ``i, f, g, o``, GRU ``r, z, n``), so the same weights run either through the
readable cells below, one time step at a time (``fused=False``), or through PyTorch's fused
kernel (``fused=True``, the default and the fast path). ``tests/test_recurrent.py`` checks that
both paths agree with each other and with ``torch.nn`` in outputs and gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AnnError

CELLS = ("rnn", "lstm", "gru")


def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """Elman step. x (B, I), h (B, H) -> h' (B, H)."""
    return torch.tanh(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))


def lstm_cell(x, state, w_ih, w_hh, b_ih, b_hh):
    """LSTM step. x (B, I), state ``(h, c)`` each (B, H) -> ``(h', c')``."""
    h, c = state
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)  # (B, 4H): i, f, g, o
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """GRU step. x (B, I), h (B, H) -> h' (B, H). The reset gate scales the recurrent term
    *after* its linear map (Cho et al.'s v3 formulation, as cuDNN and torch.nn.GRU compute it)."""
    xr, xz, xn = F.linear(x, w_ih, b_ih).chunk(3, dim=-1)   # (B, H) each
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


class Recurrent(nn.Module):
    """A stack of recurrent layers (``cell``: ``rnn``, ``lstm`` or ``gru``), batch-first,
    optionally bidirectional, with dropout on the outputs of every layer but the last.

    ``forward(x, state=None)`` returns ``(outputs, state)``; ``state`` is ``h`` for rnn/gru and
    ``(h, c)`` for lstm, each ``(num_layers * directions, B, hidden_size)``, zeros when ``None``.

    Shapes:
        x (B, T, input_size) -> outputs (B, T, directions * hidden_size).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, fused: bool = True):
        super().__init__()
        if cell not in CELLS:
            raise AnnError(f"unknown recurrent cell {cell!r}; choose one of {', '.join(CELLS)}")
        self.cell, self.fused, self.dropout = cell, fused, dropout
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.directions = 2 if bidirectional else 1
        kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        # torch.nn warns about dropout with one layer; it does nothing there either way.
        self.net = kind(input_size, hidden_size, num_layers, batch_first=True,
                        bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)

    def initial_state(self, batch_size: int, device=None, dtype=None):
        """Zeros: ``h`` or ``(h, c)``, each (num_layers * directions, B, hidden_size)."""
        shape = (self.num_layers * self.directions, batch_size, self.hidden_size)
        h = torch.zeros(shape, device=device, dtype=dtype)
        return (h, torch.zeros_like(h)) if self.cell == "lstm" else h

    def forward(self, x: torch.Tensor, state=None):
        if state is None:
            state = self.initial_state(x.size(0), x.device, x.dtype)
        if self.fused:
            return self.net(x, state)
        return self.readable(x, state)

    def _weights(self, layer: int, direction: int):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return [getattr(self.net, name + suffix)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def readable(self, x: torch.Tensor, state):
        """The same computation as the fused kernel, one cell step at a time."""
        lstm = self.cell == "lstm"
        h0, c0 = state if lstm else (state, None)
        step = {"rnn": rnn_cell, "lstm": lstm_cell, "gru": gru_cell}[self.cell]
        T = x.size(1)
        last_h, last_c, inputs = [], [], x
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                k = layer * self.directions + d
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                s = (h0[k], c0[k]) if lstm else h0[k]
                ys = [None] * T
                for t in (range(T) if d == 0 else reversed(range(T))):
                    s = step(inputs[:, t], s, w_ih, w_hh, b_ih, b_hh)
                    ys[t] = s[0] if lstm else s
                outs.append(torch.stack(ys, dim=1))                 # (B, T, H)
                last_h.append(s[0] if lstm else s)
                if lstm:
                    last_c.append(s[1])
            inputs = torch.cat(outs, dim=-1)                        # (B, T, D*H)
            if layer < self.num_layers - 1:
                inputs = F.dropout(inputs, self.dropout, self.training)
        h = torch.stack(last_h)                                     # (L*D, B, H)
        return inputs, ((h, torch.stack(last_c)) if lstm else h)


def detach_state(state):
    """A recurrent state cut from the graph that made it (truncated backpropagation)."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
