"""The echo state network (Jaeger 2001, "The 'echo state' approach to analysing and training
recurrent neural networks", GMD Report 148; Jaeger & Haas 2004, https://doi.org/10.1126/science.1091277).

A reservoir of N tanh units with fixed random weights is driven by the (scaled) series
``u(t)``; only the linear readout is trained, in closed form. The leaky state update
(Lukosevicius 2012, "A practical guide to applying echo state networks", eq. 2-3) is

    x(t) = (1 - a) x(t-1) + a tanh(W_in u(t) + W x(t-1) + b)

with ``W`` sparse (``density``) and rescaled so that its spectral radius (largest absolute
eigenvalue) is ``spectral_radius`` (below about 1 the reservoir forgets its start: the echo state
property), ``W_in`` and ``b`` uniform in ``[-input_scaling, input_scaling]`` and
``[-bias_scaling, bias_scaling]``, and ``a`` the leak rate. The readout reads ``[1, u(t), x(t)]``
and predicts ``u(t+1)``; its weights solve the ridge regression
``w = (F^T F + ridge I')^-1 F^T y`` (``I'``: the identity without the intercept's 1) over the
teacher-forced states of the training series, the first ``washout`` states dropped (they still
remember the zero start).

Forecasting is generative (closed loop): the reservoir reads a window of the past
(teacher-forced, which also washes its start out), then each prediction is fed back as the next
input, ``horizon`` times: the 84-step-ahead Mackey-Glass figure of Jaeger's report is this
free run's error at its 84th step.

Fitted by :meth:`fit` (``ann.train.fitted``). Shapes:
    x (B, T, 1) past values in the series' units -> forecast (B, horizon).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model


@dataclass
class ESNConfig:
    n_reservoir: int = field(400, "reservoir units", positive=True)
    spectral_radius: float = field(1.25, "largest absolute eigenvalue W is rescaled to",
                                   positive=True)
    leak: float = field(0.3, "leak rate a of the state update (1: no leak)", range=(1e-6, 1.0))
    input_scaling: float = field(1.0, "W_in is uniform in [-input_scaling, input_scaling]",
                                 nonneg=True)
    bias_scaling: float = field(0.2, "the reservoir bias is uniform in [-bias_scaling, "
                                "bias_scaling]", nonneg=True)
    density: float = field(0.1, "share of nonzero reservoir weights", range=(1e-6, 1.0))
    ridge: float = field(1e-7, "ridge (Tikhonov) penalty of the readout's least squares",
                         nonneg=True)
    washout: int = field(100, "teacher-forced states dropped from the start of each training "
                         "sequence", nonneg=True)
    window: int = field(200, "past values read before forecasting (filled from the dataset)",
                        positive=True)
    horizon: int = field(1, "values forecast in closed loop (filled from the dataset)",
                         positive=True)
    mean: float = field(0.0, "the series' train mean (filled from the dataset)")
    std: float = field(1.0, "the series' train std (filled from the dataset)", positive=True)


@register_model("esn", config=ESNConfig, family="esn", presets={
    "tiny": {"n_reservoir": 20, "washout": 2, "window": 8, "horizon": 2, "spectral_radius": 0.9,
             "ridge": 1e-4},
    "small": {"n_reservoir": 100},
})
class EchoStateNetwork(nn.Module):
    """An echo state network forecaster: random leaky reservoir, ridge readout, closed-loop runs.

    Shapes:
        x (B, T, 1) -> forecast (B, horizon), in the series' own units.
    """

    task = "freerun"

    def __init__(self, config: ESNConfig):
        super().__init__()
        self.config = c = config
        n = c.n_reservoir
        w = torch.rand(n, n) * 2 - 1
        w = w * (torch.rand(n, n) < c.density)                              # (N, N), sparse
        radius = torch.linalg.eigvals(w.double()).abs().max().item()
        w = w * (c.spectral_radius / radius) if radius > 0 else w
        self.register_buffer("w", w)                                        # (N, N) reservoir
        self.register_buffer("w_in", (torch.rand(n, 1) * 2 - 1) * c.input_scaling)   # (N, 1)
        self.register_buffer("bias", (torch.rand(n) * 2 - 1) * c.bias_scaling)       # (N,)
        self.register_buffer("w_out", torch.zeros(n + 2))                   # over [1, u, x]
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    # --- the reservoir ---------------------------------------------------------------------
    def step(self, state: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """One leaky update from states (B, N) and scaled inputs (B,) -> states (B, N)."""
        a = self.config.leak
        pre = u[:, None] * self.w_in[:, 0] + state @ self.w.T + self.bias    # (B, N)
        return (1 - a) * state + a * torch.tanh(pre)

    def states(self, z: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced states (B, T, N) of scaled inputs ``z`` (B, T) from ``state``
        (B, N; zeros when None)."""
        state = z.new_zeros(len(z), self.config.n_reservoir) if state is None else state
        out = []
        for t in range(z.shape[1]):
            state = self.step(state, z[:, t])
            out.append(state)
        return torch.stack(out, 1)                                          # (B, T, N)

    def readout(self, z: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The next scaled value from inputs (...,) and states (..., N)."""
        return self.w_out[0] + self.w_out[1] * z + state @ self.w_out[2:]

    # --- fitting -----------------------------------------------------------------------------
    def _sequences(self, train) -> torch.Tensor:
        """The training split as sequences (S, T): consecutive windows of one series (a series
        dataset) are read back as that series (S = 1); otherwise each window with its targets."""
        x, y = train.batch(slice(0, len(train)))[:2]
        x, y = x[..., 0].double(), y.double()                               # (B, W), (B, H)
        if len(x) > 1 and torch.equal(x[1:, :-1], x[:-1, 1:]) and torch.equal(x[1:, -1], y[:-1, 0]):
            return torch.cat([x[0], y[:, 0], y[-1, 1:]])[None]              # (1, T)
        return torch.cat([x, y], 1)                                         # (B, W + H)

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        """Ridge readout over the teacher-forced states of the training series."""
        c = self.config
        seq = ((self._sequences(train) - c.mean) / c.std).to(self.w)        # (S, T)
        washout = min(c.washout, seq.shape[1] - 2)
        if washout < 0:
            raise AnnError("an echo state network needs sequences of at least 2 values to fit")
        s = self.states(seq[:, :-1])                                        # (S, T-1, N)
        feats = torch.cat([torch.ones_like(seq[:, :-1, None]), seq[:, :-1, None], s], -1)
        feats = feats[:, washout:].reshape(-1, c.n_reservoir + 2).double()  # (R, N + 2)
        target = seq[:, 1 + washout:].reshape(-1).double()                  # (R,)
        penalty = torch.eye(feats.shape[1], dtype=torch.float64) * c.ridge
        penalty[0, 0] = 0.0                                  # the intercept is not shrunk
        gram = feats.T @ feats + penalty
        self.w_out = torch.linalg.solve(gram, feats.T @ target).to(self.w)
        self.fitted = torch.ones((), dtype=torch.bool)
        fit_nrmse = ((feats @ self.w_out.double() - target).pow(2).mean().sqrt()).item()
        record = {"stage": "ridge readout", "states": len(target), "train_nrmse_1step": fit_nrmse}
        if evaluate is not None:
            record["val"] = evaluate()
        return [record]

    # --- forecasting ---------------------------------------------------------------------------
    def generate(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """Read windows ``x`` (B, T, 1), then run ``steps`` values in closed loop, each
        prediction fed back as the next input. (B, steps) in the series' units."""
        c = self.config
        if not bool(self.fitted):
            raise AnnError("this echo state network has no readout yet; fit it first "
                           "(ann train esn-mackey-glass)")
        if x.dim() != 3 or x.size(-1) != 1:
            raise AnnError(f"an echo state network reads windows of shape (batch, length, 1), "
                           f"got {tuple(x.shape)}")
        z = (x[..., 0].to(self.w) - c.mean) / c.std                          # (B, T)
        state = self.states(z)[:, -1]                                        # (B, N)
        u, out = z[:, -1], []
        for _ in range(steps):
            u = self.readout(u, state)                                       # (B,) next value
            out.append(u)
            state = self.step(state, u)
        return torch.stack(out, 1) * c.std + c.mean                          # (B, steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.generate(x, self.config.horizon)

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """``(x, y, ar)``: noisy sine windows and the values after them (``ar``: the last
        value held, a stand-in for the AR baseline)."""
        c = self.config
        t = torch.arange(c.window + c.horizon, dtype=torch.float32)
        phase = torch.rand(batch_size, 1, generator=generator) * 6.28
        s = torch.sin(0.5 * t + phase) + 0.01 * torch.randn(batch_size, len(t), generator=generator)
        x, y = s[:, :c.window, None], s[:, c.window:]
        return x, y, x[:, -1, :].expand_as(y).clone()
