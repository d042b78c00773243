"""Kolmogorov-Arnold networks (Z. Liu, Y. Wang, S. Vaidya, F. Ruehle, J. Halverson, M. Soljacic,
T. Y. Hou and M. Tegmark, "KAN: Kolmogorov-Arnold Networks", 2024, https://arxiv.org/abs/2404.19756).

Where an MLP puts a fixed nonlinearity on nodes and learns weights on edges, a KAN learns a
one-dimensional function on every edge and sums at the nodes: layer l maps x (n_in) to
``y_j = sum_i phi_ij(x_i)``, each edge function

    phi(x) = w_b * silu(x) + w_s * sum_m c_m B_m(x)                              (paper eq. 2.10)

a SiLU "base" branch plus a B-spline of order k on a grid of G intervals over ``grid_range``,
extended by k knots on each side so the G + k basis functions B_m cover the range (Cox-de Boor
recursion). Around the paper's recipe:

* grid update (section 2.2, "update of spline grids"; pykan's ``update_grid_from_samples``):
  each input's grid moves to the quantiles of the inputs it sees (mixed with a uniform grid by
  ``grid_eps``), and the spline coefficients are refitted by least squares so the edge keeps its
  curve; during training every ``grid_update_every`` steps until step ``grid_update_until``;
* pruning (section 2.5.1): an edge whose mean |phi(x)| over samples falls below a threshold is
  masked out;
* symbolic read-out (section 2.5.1, step 3): a learned edge's curve is fitted by
  ``a f(b x + c) + d`` for f in a small library (x, x^2, x^3, exp, sin, tanh, ...), (b, c) by
  grid search, (a, d) by least squares; the best fit and its R^2 are reported.

Shapes:
    input (B, in_features) -> (B, out_features) predictions, or (B, num_classes) scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model


def bspline_basis(x: torch.Tensor, knots: torch.Tensor, order: int) -> torch.Tensor:
    """B-spline basis values by the Cox-de Boor recursion.

    Shapes:
        x (B, n), knots (n, M) increasing -> (B, n, M - 1 - order).
    """
    x = x[..., None]                                                        # (B, n, 1)
    t = knots[None]                                                         # (1, n, M)
    b = ((x >= t[..., :-1]) & (x < t[..., 1:])).to(x.dtype)                # order 0, (B, n, M-1)
    for p in range(1, order + 1):
        left = (x - t[..., :-(p + 1)]) / (t[..., p:-1] - t[..., :-(p + 1)])
        right = (t[..., p + 1:] - x) / (t[..., p + 1:] - t[..., 1:-p])
        b = left * b[..., :-1] + right * b[..., 1:]                         # (B, n, M-1-p)
    return b


def extended_grid(points: torch.Tensor, order: int) -> torch.Tensor:
    """(n, G + 1) grid points to (n, G + 1 + 2 order) knots, ``order`` more on each side at the
    mean spacing."""
    h = (points[:, -1:] - points[:, :1]) / (points.shape[1] - 1)            # (n, 1)
    steps = torch.arange(1, order + 1, dtype=points.dtype, device=points.device)
    return torch.cat([points[:, :1] - h * steps.flip(0), points, points[:, -1:] + h * steps], 1)


class KANLayer(nn.Module):
    """One KAN layer: an edge function phi_ij per (input i, output j), summed over i.

    Shapes:
        (B, n_in) -> (B, n_out); :meth:`edges` gives phi_ij(x_i) as (B, n_in, n_out).
    """

    def __init__(self, n_in: int, n_out: int, grid: int, order: int, grid_range: tuple,
                 noise_scale: float, grid_eps: float):
        super().__init__()
        self.order, self.grid_eps = order, grid_eps
        lo, hi = grid_range
        points = torch.linspace(lo, hi, grid + 1).expand(n_in, grid + 1)    # (n_in, G+1)
        self.register_buffer("knots", extended_grid(points, order).contiguous())
        self.coef = nn.Parameter((torch.rand(n_in, n_out, grid + order) - 0.5)
                                 * noise_scale / grid)                      # (n_in, n_out, G+k)
        self.scale_base = nn.Parameter((torch.rand(n_in, n_out) * 2 - 1) / math.sqrt(n_in))
        self.scale_spline = nn.Parameter(torch.ones(n_in, n_out) / math.sqrt(n_in))
        self.register_buffer("mask", torch.ones(n_in, n_out))

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        return bspline_basis(x, self.knots, self.order)                     # (B, n_in, G+k)

    def spline(self, x: torch.Tensor) -> torch.Tensor:
        """The spline parts sum_m c_m B_m(x_i) (B, n_in, n_out)."""
        return torch.einsum("bim,iom->bio", self.basis(x), self.coef)

    def edges(self, x: torch.Tensor) -> torch.Tensor:
        """phi_ij(x_i) of every edge (B, n_in, n_out), pruned edges 0."""
        phi = self.scale_base * F.silu(x)[..., None] + self.scale_spline * self.spline(x)
        return phi * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.edges(x).sum(1)                                         # (B, n_out)

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, ridge: float = 1e-8) -> None:
        """Move each input's grid to the quantiles of its samples ``x`` (B, n_in) (mixed with a
        uniform grid over their range), then refit the coefficients by least squares so each
        spline keeps its values on the samples."""
        before = self.spline(x)                                             # (B, n_in, n_out)
        grid = self.knots.shape[1] - 2 * self.order - 1
        xs = x.sort(0).values                                               # (B, n_in)
        at = torch.linspace(0, len(x) - 1, grid + 1, device=x.device).round().long()
        adaptive = xs[at].T                                                 # (n_in, G+1)
        lo, hi = xs[0], xs[-1]
        span = torch.linspace(0, 1, grid + 1, device=x.device, dtype=x.dtype)
        uniform = lo[:, None] + (hi - lo)[:, None] * span                   # (n_in, G+1)
        points = self.grid_eps * uniform + (1 - self.grid_eps) * adaptive
        self.knots.copy_(extended_grid(points, self.order))
        a = self.basis(x).permute(1, 0, 2)                                  # (n_in, B, G+k)
        gram = a.transpose(1, 2) @ a + ridge * torch.eye(a.shape[2], device=x.device)
        rhs = a.transpose(1, 2) @ before.permute(1, 0, 2)                   # (n_in, G+k, n_out)
        self.coef.copy_(torch.linalg.solve(gram, rhs).transpose(1, 2))      # (n_in, n_out, G+k)


@dataclass
class KANConfig:
    in_features: int = field(2, "input features per example (filled from the dataset)",
                             positive=True)
    out_features: int = field(1, "regression outputs (filled from the dataset)", positive=True)
    hidden: tuple[int, ...] = field((5,), "widths of the hidden layers of nodes")
    grid: int = field(5, "grid intervals G of each edge's B-spline", positive=True)
    order: int = field(3, "order k of the B-splines (3: cubic)", nonneg=True)
    grid_range: tuple[float, ...] = field((-1.0, 1.0), "the starting grid's range (lo, hi)")
    noise_scale: float = field(0.3, "scale of the random starting spline coefficients", nonneg=True)
    grid_eps: float = field(0.02, "grid update: weight of the uniform grid against the "
                            "quantiles (1: uniform)", range=(0.0, 1.0))
    grid_update_every: int = field(5, "training: update the grids from the batch every this many "
                                   "steps (0: never)", nonneg=True)
    grid_update_until: int = field(50, "training: the last step with a grid update", nonneg=True)


@register_model("kan", config=KANConfig, family="kan", presets={
    "tiny": {"in_features": 2, "hidden": (3,), "grid": 3},
    "toy": {"in_features": 2, "hidden": (5,), "grid": 5},
})
class KAN(nn.Module):
    """Kolmogorov-Arnold network (Liu et al. 2024) for regression: learned B-spline + SiLU
    functions on edges, sums on nodes; grid updates while training, pruning and symbolic
    read-out of edges.

    Shapes:
        input (B, in_features) -> predictions (B, out_features).
    """

    task = "regression"

    def __init__(self, config):
        super().__init__()
        self.config = c = config
        if len(c.grid_range) != 2 or not c.grid_range[0] < c.grid_range[1]:
            raise AnnError(f"model.grid_range must be two numbers lo < hi, got {c.grid_range}")
        widths = (c.in_features, *c.hidden, self.outputs)
        self.layers = nn.ModuleList(
            KANLayer(a, b, c.grid, c.order, tuple(c.grid_range), c.noise_scale, c.grid_eps)
            for a, b in zip(widths[:-1], widths[1:]))

    @property
    def outputs(self) -> int:
        return self.config.out_features

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1)                                           # (B, D)
        x = x if x.is_floating_point() else x.float()
        if x.shape[1] != self.config.in_features:
            raise AnnError(f"inputs have {x.shape[1]} features but model.in_features="
                           f"{self.config.in_features}; set it to {x.shape[1]}")
        return x

    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input of every layer (the last entry is the output)."""
        out = [self._flat(x)]
        for layer in self.layers:
            out.append(layer(out[-1]))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_inputs(x)[-1]                                     # (B, outputs)

    # --- the paper's operations ------------------------------------------------------------------
    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Update every layer's grid from the samples ``x``, first layer first (each later
        layer sees its inputs as the updated layers before it compute them)."""
        h = self._flat(x)
        for layer in self.layers:
            layer.update_grid(h)
            h = layer(h)

    @torch.no_grad()
    def edge_scores(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's edge importance (n_in, n_out): mean |phi_ij(x_i)| over the samples
        (the L1 norm of paper section 2.5.1)."""
        return [layer.edges(h).abs().mean(0) for layer, h in zip(self.layers, self.layer_inputs(x))]

    @torch.no_grad()
    def prune(self, x: torch.Tensor, threshold: float = 1e-2) -> int:
        """Mask out every edge whose score on ``x`` is below ``threshold``; the number masked."""
        pruned = 0
        for layer, score in zip(self.layers, self.edge_scores(x)):
            drop = (score < threshold) & (layer.mask > 0)
            layer.mask[drop] = 0.0
            pruned += int(drop.sum())
        return pruned

    def edges_alive(self) -> int:
        return int(sum(layer.mask.sum() for layer in self.layers))

    @torch.no_grad()
    def edge_curve(self, layer: int, i: int, j: int, x: torch.Tensor | None = None,
                   points: int = 201) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, phi values) of edge (i -> j) of ``layer``: over the range its input takes on
        samples ``x``, or over the edge's starting grid range."""
        if not (0 <= layer < len(self.layers)):
            raise AnnError(f"layer {layer} does not exist: the network has {len(self.layers)}")
        kan = self.layers[layer]
        if not (0 <= i < kan.coef.shape[0] and 0 <= j < kan.coef.shape[1]):
            raise AnnError(f"edge {i}->{j} does not exist in layer {layer} "
                           f"({kan.coef.shape[0]} inputs, {kan.coef.shape[1]} outputs)")
        if x is not None:
            h = self.layer_inputs(x)[layer][:, i]
            lo, hi = float(h.min()), float(h.max())
        else:
            lo, hi = self.config.grid_range
        t = torch.linspace(lo, hi, points, device=kan.coef.device)
        h = torch.zeros(points, kan.coef.shape[0], device=t.device)
        h[:, i] = t
        return t, kan.edges(h)[:, i, j]

    def symbolic(self, layer: int, i: int, j: int, x: torch.Tensor | None = None):
        """The best library fit of edge (i -> j) of ``layer`` (:func:`fit_symbolic`)."""
        return fit_symbolic(*self.edge_curve(layer, i, j, x))

    # --- training: Adam steps with grid updates ---------------------------------------------------
    def objective(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self(x).float().reshape(len(x), -1)[:, 0], y.float())

    def configure_optimizers(self, tc) -> dict[str, torch.optim.Optimizer]:
        """AdamW at ``train.lr``, ``train.beta1/beta2``, ``train.weight_decay``."""
        if tc.optimizer != "adamw":
            raise AnnError("a KAN trains with Adam here; set train.optimizer=adamw")
        return {"kan": torch.optim.AdamW(self.parameters(), tc.lr, betas=(tc.beta1, tc.beta2),
                                         weight_decay=tc.weight_decay)}

    def training_step(self, batch, optimizers, step: int) -> dict[str, float]:
        """Update the grids from the batch every ``grid_update_every`` steps up to
        ``grid_update_until`` (pykan's schedule), then one optimizer step."""
        x, y = batch[0], batch[1]
        c = self.config
        if c.grid_update_every and step <= c.grid_update_until and step % c.grid_update_every == 0:
            self.update_grid(x)
        opt = optimizers["kan"]
        opt.zero_grad(set_to_none=True)
        loss = self.objective(x, y)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Inputs uniform on [-1, 1]; the target a smooth function of the first two."""
        x = torch.rand(batch_size, self.config.in_features, generator=generator) * 2 - 1
        return x, torch.sin(math.pi * x[:, 0]) + x[:, -1] ** 2


@dataclass
class KANClassifierConfig(KANConfig):
    num_classes: int = field(3, "number of classes (filled from the dataset)", positive=True)


@register_model("kan-classifier", config=KANClassifierConfig, family="kan", presets={
    "tiny": {"in_features": 4, "num_classes": 3, "hidden": (3,), "grid": 3},
    "tabular": {"hidden": (4,), "grid": 5},
})
class KANClassifier(KAN):
    """Kolmogorov-Arnold network (Liu et al. 2024) whose ``num_classes`` outputs are class
    scores (logits, cross-entropy).

    Shapes:
        input (B, in_features) -> class scores (B, num_classes).
    """

    task = "classify"

    @property
    def outputs(self) -> int:
        return self.config.num_classes

    def objective(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(x).float(), y.long())

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Gaussian blobs, one per class."""
        c = self.config
        y = torch.arange(batch_size) % c.num_classes
        centres = torch.rand(c.num_classes, c.in_features, generator=generator) * 2 - 1
        return centres[y] + 0.1 * torch.randn(batch_size, c.in_features, generator=generator), y


# --- symbolic read-out ---------------------------------------------------------------------------

LIBRARY = {
    "x": lambda u: u,
    "x^2": lambda u: u ** 2,
    "x^3": lambda u: u ** 3,
    "exp": torch.exp,
    "sin": torch.sin,
    "tanh": torch.tanh,
    "abs": torch.abs,
    "1/(1+x^2)": lambda u: 1 / (1 + u ** 2),
}


@dataclass(frozen=True)
class SymbolicFit:
    """``a * f(b x + c) + d`` with f the library function ``name``; ``r2`` of the fit."""

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float

    def __str__(self) -> str:
        return (f"{self.a:.4g} * {self.name}(u) {self.d:+.4g}, u = {self.b:.4g} x {self.c:+.4g}"
                f" (R^2 {self.r2:.6f})")


def _best_affine(f, t: torch.Tensor, y: torch.Tensor, bs: torch.Tensor, cs: torch.Tensor):
    """For every (b, c) on the grid the least-squares (a, d) of ``y ~ a f(b t + c) + d``; the
    best (r2, b, c) over the grid."""
    u = f(bs[:, None, None] * t + cs[None, :, None])                       # (nb, nc, N)
    u = torch.nan_to_num(u, nan=0.0, posinf=0.0, neginf=0.0)
    uc = u - u.mean(-1, keepdim=True)
    yc = y - y.mean()
    cov, var = (uc * yc).sum(-1), (uc ** 2).sum(-1)                         # (nb, nc)
    r2 = torch.where(var > 1e-12, cov ** 2 / (var * (yc ** 2).sum()).clamp_min(1e-30),
                     torch.zeros_like(var))
    best = int(r2.flatten().argmax())
    return float(r2.flatten()[best]), float(bs[best // len(cs)]), float(cs[best % len(cs)])


def fit_symbolic(t: torch.Tensor, y: torch.Tensor, library: dict | None = None,
                 span: float = 10.0, steps: int = 41, rounds: int = 3) -> SymbolicFit:
    """Fit the curve (t, y) by ``a f(b t + c) + d`` for each f of ``library`` (default
    :data:`LIBRARY`): (b, c) by a grid search over [-span, span]^2, zoomed ``rounds`` times
    around the best point, (a, d) by least squares; the fit of highest R^2."""
    t, y = t.double().flatten(), y.double().flatten()
    best: SymbolicFit | None = None
    for name, f in (library or LIBRARY).items():
        b0, c0, width = 0.0, 0.0, span
        for _ in range(rounds):
            bs = torch.linspace(b0 - width, b0 + width, steps, dtype=t.dtype)
            cs = torch.linspace(c0 - width, c0 + width, steps, dtype=t.dtype)
            r2, b0, c0 = _best_affine(f, t, y, bs, cs)
            width = 2 * width / (steps - 1)
        u = f(b0 * t + c0)
        uc = u - u.mean()
        a = float((uc * (y - y.mean())).sum() / (uc ** 2).sum().clamp_min(1e-30))
        d = float(y.mean() - a * u.mean())
        fit = SymbolicFit(name, a, b0, c0, d, r2)
        if best is None or fit.r2 > best.r2 + 1e-9:
            best = fit
    return best
