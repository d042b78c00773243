"""The latent ODE for irregularly sampled time series (Chen, Rubanova, Bettencourt & Duvenaud
2018, "Neural ordinary differential equations", NeurIPS, sec. 5, https://arxiv.org/abs/1806.07366;
the encoder idea developed in Rubanova, Chen & Duvenaud 2019, "Latent ODEs for irregularly-sampled
time series", https://arxiv.org/abs/1907.03907).

A variational autoencoder over trajectories. A GRU reads the observations of the observation
span backwards in time (last observation first), each input the observed values and their time;
grid points without an observation leave its state unchanged, so examples may be observed at
any subset of the times. Its final state gives the Gaussian posterior ``q(z0 | x)``. A latent
ODE ``dz/dt = f(z)`` (an MLP) carries ``z0`` over the whole time grid, observation span and
beyond, and an MLP decoder reads each ``z(t)`` as the observation at ``t``. Training maximises
the evidence lower bound: the Gaussian log-likelihood (noise ``obs_std``) of every observed
value of the example, minus KL(q(z0 | x) || N(0, I)).

Times lie on a grid of ``points`` values ``k * dt``; the first ``observed`` form the
observation span the encoder reads, the rest are extrapolated.

Shapes:
    x (B, points, obs_dim) observed values (anything where unobserved), mask (B, points) 1 where
    observed -> trajectory (B, points, obs_dim), decoded from the posterior mean of z0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...registry import register_model
from .odenet import ODESolverFields
from .solvers import solve


class MLPField(nn.Module):
    """The latent vector field f(z) (autonomous: the time is not an input); counts its calls."""

    def __init__(self, latent: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, hidden), nn.ELU(), nn.Linear(hidden, hidden),
                                 nn.ELU(), nn.Linear(hidden, latent))
        self.calls = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(z)


@dataclass
class LatentODEConfig(ODESolverFields):
    obs_dim: int = field(2, "values observed at each time (filled from the dataset)",
                         positive=True)
    points: int = field(50, "times of the grid, observation span and extrapolation (filled "
                        "from the dataset)", positive=True)
    observed: int = field(30, "first grid times the encoder reads (filled from the dataset)",
                          positive=True)
    dt: float = field(0.2, "time between grid points (filled from the dataset)", positive=True)
    latent: int = field(4, "size of the latent state z", positive=True)
    hidden: int = field(32, "width of the latent vector field's MLP", positive=True)
    rnn_hidden: int = field(32, "state size of the backwards GRU encoder", positive=True)
    dec_hidden: int = field(32, "width of the decoder's hidden layer", positive=True)
    obs_std: float = field(0.1, "noise std of the Gaussian likelihood of an observation",
                           positive=True)
    kl_weight: float = field(1.0, "weight of the KL term of the ELBO", nonneg=True)

    def __post_check__(self):
        if self.observed > self.points:
            raise AnnError(f"latent-ode: observed={self.observed} exceeds points={self.points}")


@register_model("latent-ode", config=LatentODEConfig, family="node", presets={
    "tiny": {"points": 8, "observed": 5, "dt": 0.5, "latent": 2, "hidden": 8, "rnn_hidden": 8,
             "dec_hidden": 8, "method": "rk4", "step_size": 0.5},
    "spiral": {"latent": 4, "hidden": 32, "rnn_hidden": 32, "dec_hidden": 32},
})
class LatentODE(nn.Module):
    """Latent ODE (Chen et al. 2018): backwards GRU encoder -> z0 -> ODE -> decoder.

    ``nfe``: the latent field's evaluations in the last solve.

    Shapes:
        x (B, points, obs_dim), mask (B, points) -> trajectory (B, points, obs_dim).
    """

    task = "extrapolate"
    variational = True      # the contract tests expect the loss (an ELBO) to fall, not reach 0

    def __init__(self, config: LatentODEConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        self.encoder = nn.GRUCell(c.obs_dim + 1, c.rnn_hidden)
        self.posterior = nn.Linear(c.rnn_hidden, 2 * c.latent)       # mean and log-variance
        self.field = MLPField(c.latent, c.hidden)
        self.decoder = nn.Sequential(nn.Linear(c.latent, c.dec_hidden), nn.ReLU(),
                                     nn.Linear(c.dec_hidden, c.obs_dim))
        self.register_buffer("times", torch.arange(c.points) * c.dt, persistent=False)
        self.nfe = self.nfe_seen = self.solves_seen = 0

    def encode(self, x: torch.Tensor, mask: torch.Tensor):
        """Posterior mean and log-variance of z0, (B, latent) each, from the observation span."""
        c = self.config
        h = x.new_zeros(len(x), c.rnn_hidden)                       # (B, rnn_hidden)
        for k in range(c.observed - 1, -1, -1):                     # backwards in time
            t = self.times[k].expand(len(x), 1)                     # (B, 1)
            stepped = self.encoder(torch.cat([x[:, k] * mask[:, k, None], t], 1), h)
            h = torch.where(mask[:, k, None] > 0, stepped, h)       # unobserved: unchanged
        mean, logvar = self.posterior(h).chunk(2, dim=-1)
        return mean, logvar

    def decode(self, z0: torch.Tensor) -> torch.Tensor:
        """Trajectories (B, points, obs_dim) from initial latents z0 (B, latent)."""
        c = self.config
        calls = self.field.calls
        z = solve(self.field, z0, self.times, c.adjoint, method=c.method, rtol=c.rtol,
                  atol=c.atol, step_size=c.step_size)              # (points, B, latent)
        self.nfe = self.field.calls - calls
        if self.training:                                           # for the task's train_nfe
            self.nfe_seen, self.solves_seen = self.nfe_seen + self.nfe, self.solves_seen + 1
        return self.decoder(z.transpose(0, 1))                      # (B, points, obs_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self._check(x, mask)
        return self.decode(self.encode(x, mask)[0])

    def losses(self, x: torch.Tensor, mask: torch.Tensor,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-example terms (B,): ``nll`` (Gaussian, over the observed values), ``kl`` and
        ``loss`` = nll + kl_weight * kl, the negative ELBO, per observed value."""
        c = self.config
        self._check(x, mask)
        mean, logvar = self.encode(x, mask)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z0 = mean + eps * (0.5 * logvar).exp()                      # reparameterised sample
        pred = self.decode(z0)
        sq = ((pred - x) / c.obs_std).pow(2).sum(-1)                # (B, points)
        nll_point = 0.5 * sq + c.obs_dim * (math.log(c.obs_std) + 0.5 * math.log(2 * math.pi))
        count = mask.sum(1).clamp_min(1)                            # (B,) observed points
        nll = (nll_point * mask).sum(1) / count
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1) / count
        return {"loss": nll + c.kl_weight * kl, "nll": nll, "kl": kl}

    def _check(self, x: torch.Tensor, mask: torch.Tensor) -> None:
        c = self.config
        if x.dim() != 3 or x.shape[1:] != (c.points, c.obs_dim) or mask.shape != x.shape[:2]:
            raise AnnError(f"latent-ode reads x of shape (batch, {c.points}, {c.obs_dim}) and "
                           f"a mask (batch, {c.points}); got {tuple(x.shape)} and "
                           f"{tuple(mask.shape)}")

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """``(x, mask, y)``: random rotating 2-D curves (one sine per value), observed at a
        random half of the grid with a little noise, and the noiseless curves."""
        c = self.config
        t = self.times                                              # (points,)
        phase = torch.rand(batch_size, 1, c.obs_dim, generator=generator) * 6.28
        y = torch.sin(t[None, :, None] + phase + torch.arange(c.obs_dim) * 1.57)
        x = y + 0.05 * torch.randn(y.shape, generator=generator)
        mask = (torch.rand(batch_size, c.points, generator=generator) < 0.5).float()
        mask[:, 0] = 1.0                                            # at least one observation
        return x * mask[..., None], mask, y
