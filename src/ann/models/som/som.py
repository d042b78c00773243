"""The self-organizing map (T. Kohonen, "Self-organized formation of topologically correct
feature maps", Biological Cybernetics 43:59-69, 1982, https://doi.org/10.1007/BF00337288; the
batch map of T. Kohonen, "Essentials of the self-organizing map", Neural Networks 37:52-65,
2013, https://doi.org/10.1016/j.neunet.2012.09.018).

A grid of ``rows x cols`` units, each holding a weight vector in input space. For an input x the
best-matching unit (BMU) c is the unit whose weights are nearest; training pulls the BMU and its
grid neighbours towards x, so that neighbouring units come to answer to neighbouring inputs:

* ``mode=online`` (Kohonen 1982): one sample at a time,
  ``w_k <- w_k + eta(t) h_ck(t) (x - w_k)``, ``h_ck = exp(-||r_c - r_k||^2 / 2 sigma(t)^2)``
  for grid positions r (the Gaussian neighbourhood);
* ``mode=batch`` (Kohonen 2013, eq. 6): once per epoch, every unit moves to the neighbourhood-
  weighted mean of all samples, ``m_k = sum_i h_c(i)k x_i / sum_i h_c(i)k``; here blended as
  ``w_k <- (1 - eta) w_k + eta m_k`` (eta = 1 throughout is Kohonen's pure batch map).

Both the learning rate eta and the radius sigma decay with time t over T updates (T = epochs x
samples online, epochs in batch mode): ``decay=asymptotic``, ``a / (1 + 2 t / T)``; ``linear``,
from a to ``a_end``; ``exponential``, ``a (a_end / a)^(t / T)``. (The asymptotic schedule and
the update are those of the ``minisom`` package, against which the tests check this file.)

Two figures judge a map (``ann.tasks.quantize``): the quantization error, the mean distance
from each sample to its BMU's weights, and the topographic error, the share of samples whose
two best-matching units are not grid neighbours (Kiviluoto 1996).

Shapes:
    input (B, in_features) (images flattened) -> squared distances to every unit (B, rows*cols);
    the BMU is their argmin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model


@dataclass
class SOMConfig:
    in_features: int = field(4, "input features per example (filled from the dataset)",
                             positive=True)
    rows: int = field(8, "rows of the map's grid", positive=True)
    cols: int = field(8, "columns of the map's grid", positive=True)
    mode: str = field("online", "one sample at a time (online) or one neighbourhood-weighted "
                      "mean per epoch (batch)", choices=("online", "batch"))
    epochs: int = field(20, "passes over the training set", positive=True)
    lr: float = field(0.5, "starting learning rate eta", positive=True)
    lr_end: float = field(0.01, "linear/exponential decay: the last learning rate", positive=True)
    sigma: float = field(0.0, "starting neighbourhood radius in grid units (0: half the "
                         "grid's larger side)", nonneg=True)
    sigma_end: float = field(0.5, "linear/exponential decay: the last radius", positive=True)
    decay: str = field("asymptotic", "how eta and sigma fall: a / (1 + 2t/T), linearly or "
                       "exponentially to their end values",
                       choices=("asymptotic", "linear", "exponential"))
    init: str = field("samples", "starting weights: random training samples, or the plane of "
                      "the first two principal components", choices=("samples", "pca"))
    shuffle: bool = field(True, "online mode: visit the samples in a new random order each epoch")
    seed: int = field(0, "seed of the initialization and the sample order", nonneg=True)
    num_classes: int = field(0, "classes of the data's labels, to label units in pictures "
                             "(filled from the dataset; 0: none)", nonneg=True)


def decayed(start: float, end: float, t: float, total: float, how: str) -> float:
    """The value of a decaying rate at time ``t`` of ``total``."""
    if how == "asymptotic":
        return start / (1 + t / (total / 2))
    if how == "linear":
        return start + (end - start) * t / total
    return start * (end / start) ** (t / total)


@register_model("som", config=SOMConfig, family="som", presets={
    "tiny": {"in_features": 4, "rows": 3, "cols": 3, "epochs": 10},
    "batch": {"mode": "batch"},
})
class SOM(nn.Module):
    """Self-organizing map (Kohonen 1982): a grid of units trained by the online or batch
    update in :meth:`fit`.

    Shapes:
        input (B, in_features) -> squared distances to the units (B, rows * cols).
    """

    task = "quantize"

    def __init__(self, config: SOMConfig):
        super().__init__()
        self.config = c = config
        self.register_buffer("weight", torch.zeros(c.rows * c.cols, c.in_features))   # (M, D)
        r, q = torch.meshgrid(torch.arange(c.rows), torch.arange(c.cols), indexing="ij")
        # unit k = i * cols + j sits at grid position (i, j)
        self.register_buffer("grid", torch.stack([r.flatten(), q.flatten()], 1).float(),
                             persistent=False)                                         # (M, 2)

    @property
    def radius(self) -> float:
        c = self.config
        return c.sigma if c.sigma > 0 else max(c.rows, c.cols) / 2

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).to(self.weight.dtype)                      # (B, D)
        if x.shape[1] != self.config.in_features:
            raise AnnError(f"inputs have {x.shape[1]} features but model.in_features="
                           f"{self.config.in_features}; set it to {x.shape[1]}")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._flat(x)
        return ((x * x).sum(1, keepdim=True) - 2 * x @ self.weight.T
                + (self.weight ** 2).sum(1)).clamp_min(0)                    # (B, M)

    def best_units(self, x: torch.Tensor, k: int = 1) -> torch.Tensor:
        """The ``k`` best-matching units of each input, nearest first (B, k); ties go to the
        lower unit index, as argmin breaks them."""
        return torch.sort(self(x), dim=1, stable=True).indices[:, :k]

    def neighbourhood(self, units: torch.Tensor, sigma: float) -> torch.Tensor:
        """Gaussian neighbourhood h (B, M) of each unit in ``units`` (B,) over the grid."""
        d = ((self.grid[units][:, None, :] - self.grid[None]) ** 2).sum(-1)  # (B, M)
        return torch.exp(-d / (2 * sigma * sigma))

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Tight clusters (one per label 0, 1, 2), which a small map quantizes closely."""
        y = torch.arange(batch_size) % 3
        centres = torch.randn(3, self.config.in_features, generator=generator) * 2
        x = centres[y] + 0.01 * torch.randn(batch_size, self.config.in_features,
                                            generator=generator)
        return x, y

    # --- training: Kohonen's rules, no gradients ----------------------------------------------
    def initialize(self, x: torch.Tensor, generator: torch.Generator) -> None:
        """Starting weights from the training inputs ``x`` (N, D)."""
        c = self.config
        if c.init == "samples":
            m = c.rows * c.cols          # distinct samples while there are enough
            pick = torch.randperm(len(x), generator=generator)[:m] if len(x) >= m else \
                torch.randint(len(x), (m,), generator=generator)
            self.weight = x[pick.to(x.device)].clone()
            return
        mean = x.mean(0)                 # the grid spread over the two leading components
        _, s, v = torch.linalg.svd(x - mean, full_matrices=False)
        scale = s[:2] / math.sqrt(max(len(x) - 1, 1))                        # their std devs
        v = v[:2] if len(v) >= 2 else torch.cat([v, torch.zeros_like(v)])
        lin = [torch.linspace(-1, 1, n, device=x.device) if n > 1 else torch.zeros(1, device=x.device)
               for n in (c.rows, c.cols)]
        coords = torch.stack([lin[0][self.grid[:, 0].long()], lin[1][self.grid[:, 1].long()]], 1)
        self.weight = mean + (coords * scale) @ v                           # (M, D)

    def online_epoch(self, x: torch.Tensor, order: torch.Tensor, t0: int, total: int) -> int:
        """One pass of online updates over ``x`` in ``order``, times t0, t0+1, ...; returns t."""
        c, t = self.config, t0
        w = self.weight
        for i in order.tolist():
            eta = decayed(c.lr, c.lr_end, t, total, c.decay)
            sigma = decayed(self.radius, c.sigma_end, t, total, c.decay)
            xi = x[i]                                                        # (D,)
            bmu = ((w - xi) ** 2).sum(1).argmin()
            h = self.neighbourhood(bmu[None], sigma)[0]                      # (M,)
            w += (eta * h)[:, None] * (xi - w)
            t += 1
        return t

    def batch_epoch(self, x: torch.Tensor, t: int, total: int) -> None:
        """One batch-map update at epoch ``t`` of ``total``."""
        c = self.config
        eta = decayed(c.lr, c.lr_end, t, total, c.decay)
        sigma = decayed(self.radius, c.sigma_end, t, total, c.decay)
        h = self.neighbourhood(self.best_units(x)[:, 0], sigma)              # (N, M)
        den = h.sum(0)                                                       # (M,)
        mean = (h.T @ x) / den.clamp_min(1e-30)[:, None]                     # (M, D)
        moved = (den > 0)[:, None]
        self.weight = torch.where(moved, (1 - eta) * self.weight + eta * mean, self.weight)

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        """Initialize, then ``epochs`` passes of the online or batch rule; one record per epoch
        with the training quantization error."""
        c = self.config
        x = self._flat(train.batch(slice(0, len(train)))[0].to(self.weight.device))
        if len(x) == 0:
            raise AnnError("the training split is empty; a map needs samples to organize")
        g = torch.Generator().manual_seed(c.seed)
        self.initialize(x, g)
        total = c.epochs * len(x) if c.mode == "online" else c.epochs
        records, t = [], 0
        for epoch in range(c.epochs):
            if c.mode == "online":
                order = torch.randperm(len(x), generator=g) if c.shuffle else torch.arange(len(x))
                t = self.online_epoch(x, order, t, total)
            else:
                self.batch_epoch(x, epoch, total)
            qe = float(self(x).min(1).values.sqrt().mean())
            records.append({"stage": f"epoch {epoch + 1}", "train_quantization_error": qe})
        if evaluate is not None:
            records[-1]["val"] = evaluate()
        return records

    # --- what a map is judged and drawn by -------------------------------------------------
    @torch.no_grad()
    def errors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sample: the distance to its BMU (B,) and whether its two best units are not grid
        neighbours (B,), diagonal neighbours counting as neighbours."""
        d = self(x)
        two = torch.sort(d, dim=1, stable=True).indices[:, :2]                   # (B, 2)
        qe = d.gather(1, two[:, :1])[:, 0].sqrt()
        if two.shape[1] < 2:
            return qe, torch.zeros_like(qe)
        step = (self.grid[two[:, 0]] - self.grid[two[:, 1]]).abs().amax(1)   # Chebyshev on grid
        return qe, (step > 1).to(qe.dtype)

    @torch.no_grad()
    def u_matrix(self) -> torch.Tensor:
        """Mean distance from each unit's weights to its (up to 8) grid neighbours' (rows, cols)."""
        c = self.config
        w = self.weight.view(c.rows, c.cols, -1)
        total = torch.zeros(c.rows, c.cols, device=w.device)
        count = torch.zeros_like(total)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if di == dj == 0:
                    continue
                a = w[max(di, 0):c.rows + min(di, 0), max(dj, 0):c.cols + min(dj, 0)]
                b = w[max(-di, 0):c.rows + min(-di, 0), max(-dj, 0):c.cols + min(-dj, 0)]
                d = (a - b).norm(dim=-1)
                total[max(-di, 0):c.rows + min(-di, 0), max(-dj, 0):c.cols + min(-dj, 0)] += d
                count[max(-di, 0):c.rows + min(-di, 0), max(-dj, 0):c.cols + min(-dj, 0)] += 1
        return total / count.clamp_min(1)
