"""The Hopfield network (Hopfield 1982, https://doi.org/10.1073/pnas.79.8.2554) and the modern,
continuous Hopfield network (Ramsauer et al. 2020, "Hopfield Networks is All You Need",
https://arxiv.org/abs/2008.02217).

A classical network holds N units of state +1/-1 and a symmetric weight matrix W with a zero
diagonal. Storing patterns sets W in closed form; recall starts from a (noisy) pattern and lets
units take the sign of their input, ``s_i <- sign(sum_j W_ij s_j)``, until nothing changes. With
asynchronous updates (one unit at a time, in random order) every flip lowers the energy
``E(s) = -1/2 s^T W s``, so recall ends in a fixed point, ideally the stored pattern nearest the
start.

* ``rule=hebbian``: ``W = (1/N) sum_mu xi_mu xi_mu^T`` (diagonal 0). Random patterns are recalled
  while there are fewer than about 0.138 N of them (Amit, Gutfreund & Sompolinsky 1985); correlated
  patterns (digits) interfere much earlier.
* ``rule=pseudoinverse``: ``W = X^T (X X^T)^-1 X`` for patterns X (K, N), the projection onto their
  span (Personnaz, Guyon & Dreyfus 1985): every stored pattern is a fixed point up to K < N, however
  correlated; the diagonal is zeroed as is usual (it keeps the basins wide).
* ``rule=modern``: no W. One update is attention over the stored patterns,
  ``xi <- X^T softmax(beta X xi)`` (Ramsauer et al., eq. 3), on continuous states; its capacity
  grows exponentially with N and it usually converges in one step. The state is read out as signs.

Fitted in closed form by :meth:`fit` (see ``ann.train.fitted``): the training split's patterns are
the memories. ``forward`` recalls: noisy states in, recalled states out.

Shapes:
    input (B, N) or (B, C, H, W) flattened, values of either sign (0 counts as +1)
    -> recalled states (B, N) of +1/-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model


@dataclass
class HopfieldConfig:
    n_units: int = field(64, "units (pixels of a pattern; filled from the dataset)", positive=True)
    rule: str = field("pseudoinverse", "storage rule", choices=("hebbian", "pseudoinverse", "modern"))
    update: str = field("async", "classical recall: one unit at a time in random order (async) or "
                        "all at once (sync)", choices=("async", "sync"))
    max_sweeps: int = field(30, "most recall sweeps over all units (recall stops at a fixed point)",
                            positive=True)
    beta: float = field(8.0, "modern rule: inverse temperature of the softmax over stored patterns",
                        positive=True)
    recall_noise: float = field(0.15, "evaluation: share of a pattern's units flipped before recall",
                                range=(0.0, 0.5))
    image_size: int = field(0, "side of square patterns for pictures (0: not images; filled)",
                            nonneg=True)


def _signs(x: torch.Tensor) -> torch.Tensor:
    """+1/-1 states of any real tensor (0 counts as +1)."""
    return torch.where(x >= 0, 1.0, -1.0)


@register_model("hopfield", config=HopfieldConfig, family="hopfield", presets={
    "tiny": {"n_units": 64, "max_sweeps": 10},
    "hebbian": {"rule": "hebbian"},
    "modern": {"rule": "modern"},
})
class HopfieldNetwork(nn.Module):
    """A Hopfield network: stores patterns in closed form, recalls them from noisy starts.

    Shapes:
        input (B, N) (or images flattened to N) -> recalled states (B, N) of +1/-1.
    """

    task = "recall"

    def __init__(self, config: HopfieldConfig):
        super().__init__()
        self.config = c = config
        self.register_buffer("weight", torch.zeros(c.n_units, c.n_units))     # (N, N), classical
        self.register_buffer("patterns", torch.empty(0, c.n_units))           # (K, N), sized by fit

    # --- storage -------------------------------------------------------------------------
    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1).float()                                             # (B, N)
        if x.shape[1] != self.config.n_units:
            raise AnnError(f"a pattern has {x.shape[1]} units but this network has "
                           f"model.n_units={self.config.n_units}; give patterns of that size")
        return x

    @torch.no_grad()
    def store(self, patterns: torch.Tensor) -> None:
        """Set the memories to ``patterns`` (K, N), read as signs, by the configured rule."""
        xi = _signs(self._flat(patterns))                                    # (K, N)
        n = xi.shape[1]
        self.patterns = xi.clone()
        if self.config.rule == "hebbian":
            w = xi.T @ xi / n                                                # (N, N)
        elif self.config.rule == "pseudoinverse":                            # X^+ X = X^T (X X^T)^-1 X
            w = (torch.linalg.pinv(xi.double()) @ xi.double()).float()        # (N, K) @ (K, N)
        else:
            w = torch.zeros(n, n, device=xi.device)
        self.weight = w.fill_diagonal_(0.0) if self.config.rule != "modern" else w

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        """Store every pattern of the training split (its targets, the clean patterns)."""
        y = train.batch(slice(0, len(train)))[1]
        self.store(y.to(self.weight.device))
        k, n = self.patterns.shape
        record = {"stage": "stored", "patterns": k, "load": k / n}
        if evaluate is not None:
            record["val"] = evaluate()
        return [record]

    # --- recall ----------------------------------------------------------------------------
    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """``E(s) = -1/2 s^T W s`` of each state (B,) (classical rules); the modern rule's
        energy ``-1/beta logsumexp(beta X s) + 1/2 s^T s`` (Ramsauer et al., eq. 2)."""
        s = self._flat(s)
        if self.config.rule == "modern":
            b = self.config.beta
            return -torch.logsumexp(b * s @ self.patterns.T, -1) / b + 0.5 * (s * s).sum(-1)
        return -0.5 * ((s @ self.weight) * s).sum(-1)

    def step(self, s: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One sweep of updates from states ``s`` (B, N)."""
        c = self.config
        if c.rule == "modern":                      # attention over the memories (B, K) -> (B, N)
            return torch.softmax(c.beta * s @ self.patterns.T, -1) @ self.patterns
        if c.update == "sync":
            return _signs(s @ self.weight)
        s = s.clone()
        order = torch.randperm(s.shape[1], generator=generator, device=s.device)
        for i in order.tolist():                    # each unit sees the others' newest states
            s[:, i] = _signs(s @ self.weight[:, i])
        return s

    @torch.no_grad()
    def recall(self, x: torch.Tensor, generator: torch.Generator | None = None,
               trace: bool = False):
        """Update from ``x`` until a fixed point or ``max_sweeps``; returns the final states
        (B, N) of +1/-1 and, with ``trace``, the energy (B,) after each sweep."""
        if len(self.patterns) == 0:
            raise AnnError("this Hopfield network stores no patterns yet; fit it first "
                           "(ann train hopfield-digits)")
        s = self._flat(x)
        s = _signs(s) if self.config.rule != "modern" else s
        energies = [self.energy(s)]
        for _ in range(self.config.max_sweeps):
            new = self.step(s, generator)
            done = torch.equal(new, s) if self.config.rule != "modern" else \
                bool(((new - s).abs() < 1e-6).all())
            s = new
            energies.append(self.energy(s))
            if done:
                break
        out = _signs(s)
        return (out, torch.stack(energies, 1)) if trace else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.recall(x, torch.Generator(device=x.device).manual_seed(0))

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """``(x, x)``: random +1/-1 patterns (B, N), each its own target."""
        x = _signs(torch.rand(batch_size, self.config.n_units, generator=generator) - 0.5)
        return x, x.clone()
