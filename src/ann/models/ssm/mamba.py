"""Mamba: a language model of selective state-space layers, no attention.

Gu & Dao 2023, "Mamba: Linear-time sequence modeling with selective state spaces"
(https://arxiv.org/abs/2312.00752).

Each channel of a layer runs a linear recurrence over time, h_t = A_bar_t h_{t-1} + B_bar_t x_t,
y_t = C_t h_t + D x_t, with a hidden state of ``d_state`` numbers per channel. What makes it
*selective* (section 3.2, Algorithm 2) is that the step size Delta_t and the projections B_t and
C_t are computed from the input x_t, so the layer decides, token by token, what to write into
its state and what to let decay. The continuous parameters are discretised with the step
Delta_t: zero-order hold for A, A_bar = exp(Delta A), and the simpler Euler rule for B,
B_bar = Delta B (section 3.5 / equation 4 of the paper's discussion).

Because A_bar depends on the input the recurrence is no convolution, so it is computed by a scan:
:func:`sequential_scan` (the reference, one step at a time, also the generation step) or
:func:`parallel_scan`, an associative scan (Blelloch 1990; the doubling form of Hillis & Steele
1986) that takes log2(T) whole-sequence steps. The two agree to rounding (tests/test_mamba.py).

The block (figure 3): ``in_proj`` to two branches of width ``expand * d_model``; one goes through
a short depthwise causal convolution, SiLU and the selective SSM, the other is a SiLU gate
multiplied in; ``out_proj`` back to ``d_model``. Blocks are pre-RMSNorm residual, as in the
reference implementation; the head shares its weight with the embedding.

The model has no context limit: ``block_size`` is only the training window. ``forward(idx,
state)`` carries the state (each layer's last ``d_conv - 1`` conv inputs and its SSM state), so
generation reads one token at a time at constant cost per token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...layers import Embedding, Linear, RMSNorm
from ...registry import register_model
from ..examples import recurrence_tokens
from ..sampling import StatefulGeneration

SCANS = ("parallel", "sequential")


@dataclass
class MambaConfig:
    vocab_size: int = field(65, "number of token ids (filled from the dataset)", positive=True)
    block_size: int = field(64, "training window in tokens (the model itself has no context "
                            "limit)", positive=True)
    n_layer: int = field(4, "number of Mamba blocks", positive=True)
    d_model: int = field(128, "width of the residual stream", positive=True)
    d_state: int = field(16, "SSM state size N per channel", positive=True)
    expand: int = field(2, "inner width = expand * d_model", positive=True)
    d_conv: int = field(4, "kernel size of the depthwise causal convolution", positive=True)
    dt_rank: int = field(0, "rank of the Delta projection; 0 = ceil(d_model / 16)", nonneg=True)
    dt_min: float = field(0.001, "smallest initial step Delta", positive=True)
    dt_max: float = field(0.1, "largest initial step Delta", positive=True)
    norm_eps: float = field(1e-5, "epsilon of every RMSNorm", positive=True)
    scan: str = field("parallel", "how the recurrence is computed in training (same result)",
                      choices=SCANS)


def sequential_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t from h_{-1} = h0, one step at a time (the reference).

    Shapes:
        a, b (B, T, E, N), h0 (B, E, N) -> h (B, T, E, N).
    """
    hs, h = [], h0
    for t in range(a.size(1)):
        h = a[:, t] * h + b[:, t]                                   # (B, E, N)
        hs.append(h)
    return torch.stack(hs, dim=1)                                   # (B, T, E, N)


def _doubling_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t by recursive doubling (Hillis & Steele 1986): see
    :func:`parallel_scan`. (B, T, E, N) each, h0 (B, E, N)."""
    a, b = a.clone(), b.clone()                     # updated in place below (no autograd here)
    b[:, 0] += a[:, 0] * h0                         # fold h0 into step 0
    T, s = a.size(1), 1
    while s < T:
        # position t composes with t - s; positions t < s compose with the identity (1, 0).
        # The right-hand sides are computed before the writes, so they read the old values.
        b[:, s:] += a[:, s:] * b[:, :-s]            # (B, T - s, E, N)
        if 2 * s < T:
            a[:, s:] = a[:, s:] * a[:, :-s]
        s *= 2
    return b


class _ParallelScan(torch.autograd.Function):
    """The scan's backward pass is the same recurrence run backwards in time (Martin & Cundy
    2018, https://arxiv.org/abs/1709.04057): with lambda_t = dL/dh_t + a_{t+1} lambda_{t+1},
    dL/db_t = lambda_t, dL/da_t = lambda_t h_{t-1} and dL/dh0 = a_0 lambda_0. Only a and h are
    kept for it, not every intermediate of the doubling steps."""

    @staticmethod
    def forward(ctx, a, b, h0):
        h = _doubling_scan(a, b, h0)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        a, h, h0 = ctx.saved_tensors
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1)   # a_{t+1}, 0 at the end
        lam = _doubling_scan(a_next.flip(1), grad_h.flip(1), torch.zeros_like(h0)).flip(1)
        h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)                 # h_{t-1}
        return lam * h_prev, lam, a[:, 0] * lam[:, 0]


def parallel_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """The same recurrence by an associative scan in ceil(log2 T) steps over the whole sequence.

    An element (a, b) stands for the map h -> a h + b; composing the map at t - s after the one
    at t gives (a_t a_{t-s}, a_t b_{t-s} + b_t), which is associative, so after the steps
    s = 1, 2, 4, ... every position holds the composition of all maps up to it (Hillis & Steele
    1986). Positions before the start compose with the identity (1, 0). Only products of
    a in (0, 1] appear: no division, no overflow. The gradient is a second scan, backwards.

    Shapes:
        a, b (B, T, E, N), h0 (B, E, N) -> h (B, T, E, N).
    """
    return _ParallelScan.apply(a, b, h0)


class SelectiveSSM(nn.Module):
    """The selective state-space layer (Algorithm 2): Delta, B, C from the input, ZOH for A.

    Shapes:
        x (B, T, E), h0 (B, E, N) -> y (B, T, E), h_T (B, E, N).
    """

    def __init__(self, c: MambaConfig):
        super().__init__()
        e, self.rank, self.n = c.expand * c.d_model, c.dt_rank or math.ceil(c.d_model / 16), c.d_state
        self.x_proj = Linear(e, self.rank + 2 * c.d_state, bias=False)
        self.dt_proj = Linear(self.rank, e, bias=True)
        # S4D-real initialisation (Gu et al. 2022): A = -(1, 2, ..., N) in every channel, kept
        # as log(-A) so that A stays negative and the state decays.
        self.A_log = nn.Parameter(torch.log(torch.arange(1, c.d_state + 1.0)).repeat(e, 1))
        self.D = nn.Parameter(torch.ones(e))                        # the skip y += D x
        self.scan = parallel_scan if c.scan == "parallel" else sequential_scan

    def forward(self, x: torch.Tensor, h0: torch.Tensor):
        A = -torch.exp(self.A_log)                                  # (E, N)
        dt, B, C = self.x_proj(x).split([self.rank, self.n, self.n], dim=-1)  # (B,T,R),(B,T,N)x2
        delta = F.softplus(self.dt_proj(dt))                        # (B, T, E), Delta > 0
        a = torch.exp(delta[..., None] * A)                         # (B, T, E, N): ZOH, exp(Delta A)
        b = (delta * x)[..., None] * B[:, :, None]                  # (B, T, E, N): Delta B x
        h = self.scan(a, b, h0)                                     # (B, T, E, N)
        y = torch.einsum("bten,btn->bte", h, C) + self.D * x      # (B, T, E): C h + D x
        return y, h[:, -1]


class MambaBlock(nn.Module):
    """in_proj -> (causal depthwise conv -> SiLU -> selective SSM) * SiLU(gate) -> out_proj.

    ``state`` is the pair (last ``d_conv - 1`` conv inputs (B, E, d_conv - 1), SSM state
    (B, E, N)); the block returns the new pair with its output.

    Shapes:
        x (B, T, d_model) -> (B, T, d_model).
    """

    def __init__(self, c: MambaConfig):
        super().__init__()
        e = c.expand * c.d_model
        self.in_proj = Linear(c.d_model, 2 * e, bias=False)
        # Depthwise (one filter per channel) and causal: the cached or zero past is prepended,
        # so no padding here.
        self.conv1d = nn.Conv1d(e, e, c.d_conv, groups=e, bias=True)
        self.ssm = SelectiveSSM(c)
        self.out_proj = Linear(e, c.d_model, bias=False)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        past, h0 = state
        u, gate = self.in_proj(x).chunk(2, dim=-1)                  # (B, T, E) each
        u = torch.cat([past, u.transpose(1, 2)], dim=2)             # (B, E, d_conv - 1 + T)
        new_past = u[:, :, u.size(2) - past.size(2):]               # (B, E, d_conv - 1)
        u = F.silu(self.conv1d(u)).transpose(1, 2)                  # (B, T, E)
        y, h = self.ssm(u, h0)                                      # (B, T, E)
        return self.out_proj(y * F.silu(gate)), (new_past, h)       # (B, T, d_model)


class Residual(nn.Module):
    """``x + mixer(norm(x))``, the pre-norm residual of the reference implementation."""

    def __init__(self, c: MambaConfig):
        super().__init__()
        self.norm = RMSNorm(c.d_model, eps=c.norm_eps)
        self.mixer = MambaBlock(c)

    def forward(self, x, state):
        y, state = self.mixer(self.norm(x), state)
        return x + y, state


@register_model("mamba", config=MambaConfig, family="ssm", presets={
    "tiny": {"vocab_size": 32, "block_size": 16, "n_layer": 2, "d_model": 32, "d_state": 8},
    # gpt-shakespeare's parameter count (~0.8 M) at its width: a Mamba block holds about half
    # the weights of a Transformer block (6 d^2 against 12 d^2), so 7 blocks against GPT's 4.
    "cpu": {"block_size": 64, "n_layer": 7, "d_model": 128, "d_state": 16},
})
class Mamba(StatefulGeneration, nn.Module):
    """Mamba language model: embedding, ``n_layer`` residual Mamba blocks, RMSNorm, tied head.

    ``forward(idx)`` starts from the zero state and returns logits; ``forward(idx, state)``
    continues from ``state`` (``initial_state(B)`` to start) and returns ``(logits, state)``;
    a state is ``(conv inputs (L, B, E, d_conv - 1), SSM states (L, B, E, N))``.

    Shapes:
        idx (B, T) int64 -> logits (B, T, vocab_size).
    """

    task = "lm"
    context_length = None           # no limit: the state carries the whole history

    def __init__(self, config: MambaConfig):
        super().__init__()
        self.config = c = config
        self.wte = Embedding(c.vocab_size, c.d_model)
        self.layers = nn.ModuleList(Residual(c) for _ in range(c.n_layer))
        self.norm_f = RMSNorm(c.d_model, eps=c.norm_eps)
        self.lm_head = Linear(c.d_model, c.vocab_size, bias=False)
        self.apply(self._init_weights)
        self.lm_head.weight = self.wte.weight

    def _init_weights(self, m: nn.Module):
        c = self.config
        if isinstance(m, Linear | Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, SelectiveSSM):
            # Delta starts log-uniform in [dt_min, dt_max] (section 3.6): the bias of dt_proj is
            # softplus^-1 of it, log(exp(dt) - 1) = dt + log(1 - exp(-dt)).
            nn.init.uniform_(m.dt_proj.weight, -m.rank ** -0.5, m.rank ** -0.5)
            u = torch.rand(m.dt_proj.bias.shape)
            dt = torch.exp(u * (math.log(c.dt_max) - math.log(c.dt_min)) + math.log(c.dt_min))
            with torch.no_grad():
                m.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        if isinstance(m, MambaBlock):   # writes into the residual stream: GPT-2's 1/sqrt(2 L)
            nn.init.normal_(m.out_proj.weight, std=0.02 / math.sqrt(2 * c.n_layer))

    def initial_state(self, batch_size: int, device=None):
        c, w = self.config, self.lm_head.weight
        e = c.expand * c.d_model
        return (torch.zeros(c.n_layer, batch_size, e, c.d_conv - 1, device=device, dtype=w.dtype),
                torch.zeros(c.n_layer, batch_size, e, c.d_state, device=device, dtype=w.dtype))

    def forward(self, idx: torch.Tensor, state=None):
        start = state if state is not None else self.initial_state(idx.size(0), idx.device)
        x, pasts, hs = self.wte(idx), [], []                        # (B, T, C)
        for layer, past, h in zip(self.layers, *start, strict=True):
            x, (past, h) = layer(x, (past, h))                      # (B, T, C)
            pasts.append(past)
            hs.append(h)
        logits = self.lm_head(self.norm_f(x))                       # (B, T, V)
        return logits if state is None else (logits, (torch.stack(pasts), torch.stack(hs)))

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """``(x, y)`` int64 (B, block_size): s[t+1] = (s[t] + s[t-1] + 1) mod vocab_size."""
        return recurrence_tokens(batch_size, self.config.block_size, self.config.vocab_size,
                                 generator)
