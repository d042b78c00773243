"""Irregularly sampled noisy 2-D spirals (generated), the latent ODE's data (after the spiral
experiment of Chen et al. 2018, sec. 5.1; the spirals here are our own).

Each spiral solves the linear ODE of a damped rotation, ``dz/dt = [[-a, w], [-w, -a]] z``:
``z(t) = r0 e^{-a t} (cos(s w t + p), sin(s w t + p))`` with ``a`` = 0.1, ``w`` = 1, a random
direction ``s`` (clockwise or counter-clockwise), start angle ``p`` and radius ``r0`` in
[1.5, 2.5]. It lives on a grid of ``points`` times ``k * dt``; each time is observed with
probability ``keep``, with Gaussian noise of std ``noise`` (so every example is seen at its own
irregular times). The first ``observed`` times are the observation span the model reads; the
rest are extrapolated. A batch is ``(x, mask, y)``: x (B, points, 2) the noisy observations
(0 where unobserved), mask (B, points) 1 where observed, y (B, points, 2) the noiseless spiral.
Splits are drawn from their own seeds: 1,000 train, 200 val, 200 test spirals.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import config
from ..registry import register_dataset
from ..split import Split

COUNTS = {"train": 1000, "val": 200, "test": 200}
SEEDS = {"train": 0, "val": 1, "test": 2}
DECAY, SPEED = 0.1, 1.0
INFO = {"task": "extrapolate", "obs_dim": 2, "points": 50, "observed": 30, "dt": 0.2,
        "description": "noisy 2-D spirals observed at irregular times (generated), the last "
                       "20 of 50 times extrapolated",
        "source": "generated (damped rotations, after Chen et al. 2018, sec. 5.1)"}


@dataclass
class SpiralOptions:
    """The ``data.*`` settings of the spirals."""

    keep: float = config.field(0.3, "probability that a grid time is observed",
                               range=(0.01, 1.0))
    noise: float = config.field(0.1, "std of the Gaussian observation noise", nonneg=True)


@dataclass
class Trajectories(Split):
    """Trajectories observed at irregular times of a grid (see the module docstring).

    Shapes:
        batch(index) -> x (B, T, D), mask (B, T), y (B, T, D), float32.
    """

    x: torch.Tensor
    mask: torch.Tensor
    y: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def batch(self, index):
        return self.x[index], self.mask[index], self.y[index]

    def head(self, n: int) -> Trajectories:
        """The first ``n`` examples (``data.train_subset``)."""
        return dataclasses.replace(self, x=self.x[:n], mask=self.mask[:n], y=self.y[:n])


def spirals(count: int, seed: int, keep: float = 0.3, noise: float = 0.1) -> Trajectories:
    """``count`` spirals drawn from generator ``seed``."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(INFO["points"], dtype=torch.float64) * INFO["dt"]          # (T,)
    sign = torch.randint(0, 2, (count, 1), generator=g) * 2 - 1                # (N, 1) +-1
    phase = torch.rand(count, 1, generator=g, dtype=torch.float64) * 2 * math.pi
    radius = 1.5 + torch.rand(count, 1, generator=g, dtype=torch.float64)
    angle = sign * SPEED * t + phase                                           # (N, T)
    r = radius * torch.exp(-DECAY * t)                                         # (N, T)
    y = torch.stack([r * angle.cos(), r * angle.sin()], -1).float()            # (N, T, 2)
    mask = (torch.rand(count, len(t), generator=g) < keep).float()
    mask[:, 0] = 1.0                                   # every spiral is seen at least once
    x = (y + noise * torch.randn(y.shape, generator=g)) * mask[..., None]
    return Trajectories(x, mask, y, dict(INFO))


@register_dataset("spirals", info=INFO, embedded=True, options=SpiralOptions)
def load_spirals(split: str, keep: float = 0.3, noise: float = 0.1) -> Trajectories:
    """The generated spirals of one split."""
    return spirals(COUNTS[split], SEEDS[split], keep, noise)
