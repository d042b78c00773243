"""Probabilistic neural network (PNN) and general regression neural network (GRNN).

PNN: D. F. Specht, "Probabilistic neural networks", Neural Networks 3(1):109-118, 1990,
https://doi.org/10.1016/0893-6080(90)90049-Q. GRNN: D. F. Specht, "A general regression neural
network", IEEE Transactions on Neural Networks 2(6):568-576, 1991, https://doi.org/10.1109/72.97934.

Both are Parzen-window estimators laid out as a network. The pattern layer holds one unit per
training example, exp(-||x - x_k||^2 / 2 sigma^2); a PNN's summation layer adds the units of each
class, giving a density estimate f_c(x) per class, and its output layer picks the class with the
largest h_c l_c f_c(x) (prior h_c, loss of misclassifying c, l_c: the Bayes decision rule of
Specht's section 2). A GRNN's summation layer forms the kernel-weighted mean of the training
targets (Nadaraya-Watson), its estimate of E[y | x].

"Training" stores the examples (buffers, sized at fit) and picks the smoothing parameter sigma by
leave-one-out cross-validation over a grid (Specht 1990, section 4: sigma "can be found
experimentally"), one global sigma or, as an option, a sigma per feature refined from the best
global one by gradient steps on the leave-one-out loss (the adaptation of Specht 1991, section
V; Montana 1992's weighted PNN). Distances are computed chunk by chunk over the stored examples
with log-sum-exp accumulation, so memory stays bounded and no class density underflows to zero.
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


@dataclass
class KernelConfig:
    in_features: int = field(4, "input features per example (filled from the dataset)",
                             positive=True)
    sigma: float | None = field(None, "kernel width on standardised features; none: chosen by "
                                "leave-one-out cross-validation")
    per_feature: bool = field(False, "one sigma per feature, refined by gradient steps from the "
                              "best global sigma")
    grid: int = field(25, "sigma candidates tried by cross-validation", range=(1, 200))
    cv_queries: int = field(2000, "training examples held out (one at a time) to choose sigma",
                            positive=True)
    refine_steps: int = field(100, "Adam steps refining per-feature sigmas", nonneg=True)
    chunk: int = field(4096, "stored examples per distance block (bounds memory)", positive=True)
    seed: int = field(0, "seed for choosing the held-out examples", nonneg=True)

    def __post_check__(self):
        if self.sigma is not None and not self.sigma > 0:
            raise AnnError(f"model.sigma={self.sigma} is not a usable kernel width (it must be "
                           "greater than 0); give a positive value, or model.sigma=none to "
                           "choose it by cross-validation")


@dataclass
class PNNConfig(KernelConfig):
    num_classes: int = field(3, "number of classes (filled from the dataset)", positive=True)
    priors: str = field("data", "class priors h_c: class frequencies of the training set, or "
                        "uniform", choices=("data", "uniform"))
    losses: tuple[float, ...] = field((), "loss l_c of misclassifying each class (empty: all 1)",
                                      positive=True)

    def __post_check__(self):
        super().__post_check__()
        if self.losses and len(self.losses) != self.num_classes:
            raise AnnError(f"model.losses has {len(self.losses)} values but there are "
                           f"{self.num_classes} classes; give one loss per class or none")


# --- the pattern layer, in blocks -------------------------------------------------------------

def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), -1).float()                    # (B, D)


def square_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||a_i - b_j||^2 for a (B, D), b (N, D) -> (B, N), clamped at 0 against rounding."""
    d = (a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)
    return d.clamp_min(0)


def _blocks(n_start: int, n_stop: int, chunk: int):
    for a in range(n_start, n_stop, chunk):
        yield a, min(a + chunk, n_stop)


def log_kernel_sums(x, patterns, starts, scale, chunk, exclude=None, widths=None):
    """log sum_k exp(-||(x - p_k) * scale||^2 / 2 / w^2) over each group of stored examples.

    ``patterns`` (N, D) are grouped by ``starts`` (G+1,) offsets (a PNN's classes); ``scale``
    (D,) or (1,) divides features; ``widths`` (S,) extra global widths (the sigma grid, 1 when
    None); ``exclude`` (B,) the stored index each query must skip (leave-one-out) or None.

    Shapes:
        x (B, D) -> (S, B, G) (S = 1 when ``widths`` is None).
    """
    widths = torch.ones(1, device=x.device) if widths is None else widths
    xs = x * scale
    groups = []
    for g in range(len(starts) - 1):
        acc = x.new_full((len(widths), len(x)), -math.inf)                # (S, B)
        for a, b in _blocks(int(starts[g]), int(starts[g + 1]), chunk):
            d = square_distances(xs, patterns[a:b] * scale)             # (B, n)
            if exclude is not None:
                own = exclude[:, None] == torch.arange(a, b, device=x.device)
                d = d.masked_fill(own, math.inf)
            logk = -0.5 * d[None] / widths[:, None, None] ** 2          # (S, B, n)
            acc = torch.logaddexp(acc, torch.logsumexp(logk, -1))
        groups.append(acc)
    return torch.stack(groups, -1)                                      # (S, B, G)


def weighted_means(x, patterns, targets, scale, chunk, exclude=None, widths=None):
    """sum_k w_k y_k / sum_k w_k with w_k the Gaussian kernel (GRNN, Specht 1991 eq. 5).

    Shapes:
        x (B, D), patterns (N, D), targets (N,) -> (S, B).
    """
    widths = torch.ones(1, device=x.device) if widths is None else widths
    xs = x * scale
    top = x.new_full((len(widths), len(x)), -math.inf)                   # running max log-weight
    den, num = x.new_zeros(len(widths), len(x)), x.new_zeros(len(widths), len(x))
    for a, b in _blocks(0, len(patterns), chunk):
        d = square_distances(xs, patterns[a:b] * scale)
        if exclude is not None:
            d = d.masked_fill(exclude[:, None] == torch.arange(a, b, device=x.device), math.inf)
        logk = -0.5 * d[None] / widths[:, None, None] ** 2               # (S, B, n)
        new_top = torch.maximum(top, logk.amax(-1))
        keep = torch.exp(top - new_top).nan_to_num(0.0)                  # rescale old sums
        w = torch.exp(logk - new_top[..., None]).nan_to_num(0.0)
        den = den * keep + w.sum(-1)
        num = num * keep + (w * targets[a:b]).sum(-1)
        top = new_top
    return num / den.clamp_min(1e-30)


class KernelNetwork(nn.Module):
    """What PNN and GRNN share: stored examples, the kernel width, choosing it."""

    def __init__(self, config: KernelConfig):
        super().__init__()
        self.config = c = config
        width = c.in_features if c.per_feature else 1
        start = math.log(c.sigma) if c.sigma is not None else 0.0
        self.log_sigma = nn.Parameter(torch.full((width,), start))     # (D,) or (1,)
        self.register_buffer("patterns", torch.empty(0, c.in_features))  # (N, D), set by fit

    @property
    def scale(self) -> torch.Tensor:
        return torch.exp(-self.log_sigma)

    def _check_fitted(self, x):
        if len(self.patterns) == 0:
            raise AnnError(f"this {type(self).__name__} has not been fitted yet (no stored "
                           "examples); call fit(train, val) or load a trained run")
        if x.shape[1] != self.patterns.shape[1]:
            raise AnnError(f"inputs have {x.shape[1]} features but the network stores examples "
                           f"with {self.patterns.shape[1]}")

    def _queries(self, n: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.config.seed)
        return torch.randperm(n, generator=g)[:min(n, self.config.cv_queries)].sort().values

    def _candidates(self, x, queries) -> torch.Tensor:
        """The sigma grid: log-spaced from 0.1x to 3x the median nearest-neighbour distance."""
        q = x[queries[:500]]
        d = square_distances(q, x[:20000])
        d = d.masked_fill(queries[:500, None] == torch.arange(min(len(x), 20000), device=x.device),
                          math.inf)
        nn_dist = float(d.min(1).values.clamp_min(1e-12).sqrt().median())
        if not math.isfinite(nn_dist) or nn_dist <= 0:
            nn_dist = 1.0
        return nn_dist * torch.logspace(-1, math.log10(3.0), self.config.grid, device=x.device)

    def _choose_sigma(self, loo_loss, x, queries) -> list[dict]:
        """Fill ``log_sigma``: the grid's best (``loo_loss(widths) -> (score (S,), record)``,
        lower score better), then optionally per-feature refinement."""
        c, records = self.config, []
        if c.sigma is None:
            grid = self._candidates(x, queries).to(x.device)
            with torch.no_grad():
                scores, stats = loo_loss(torch.ones_like(self.log_sigma), grid)
            for s, sigma in enumerate(grid.tolist()):
                records.append({"stage": f"sigma {sigma:.4g}", "sigma": sigma,
                                **{k: float(v[s]) for k, v in stats.items()}})
            best = int(torch.argmin(scores))
            with torch.no_grad():
                self.log_sigma.fill_(math.log(float(grid[best])))
            records.append({"stage": "chosen", "sigma": float(grid[best])})
        if c.per_feature and c.refine_steps:
            opt = torch.optim.Adam([self.log_sigma], lr=0.05)
            for _ in range(c.refine_steps):
                opt.zero_grad()
                with torch.enable_grad():
                    scores, _ = loo_loss(None, None, differentiable=True)
                    scores.sum().backward()
                opt.step()
            records.append({"stage": "per-feature sigma", "loo_loss": float(scores.sum()),
                            "sigma_min": float(self.log_sigma.exp().min()),
                            "sigma_max": float(self.log_sigma.exp().max())})
        return records


@register_model("pnn", config=PNNConfig, family="other", presets={
    "tiny": {"in_features": 4, "num_classes": 3, "grid": 5, "cv_queries": 64},
    "per-feature": {"per_feature": True},
})
class PNN(KernelNetwork):
    """Probabilistic neural network (Specht 1990): Parzen class densities, Bayes decision.

    Fitted in closed form by :meth:`fit` (stores the training set, chooses sigma).

    Shapes:
        input (B, D) or (B, C, H, W) (flattened) -> class scores (B, num_classes), the log of
        h_c l_c f_c(x) up to a constant: softmax gives the posterior (for equal losses).
    """

    task = "classify"

    def __init__(self, config: PNNConfig):
        super().__init__(config)
        c = config
        self.register_buffer("starts", torch.zeros(c.num_classes + 1, dtype=torch.long))
        self.register_buffer("log_prior", torch.full((c.num_classes,), -math.log(c.num_classes)))
        losses = torch.tensor(c.losses or [1.0] * c.num_classes)
        self.register_buffer("log_loss", losses.log())

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Gaussian blobs, one per class, so that a fit on the batch can separate them."""
        c = self.config
        y = torch.arange(batch_size) % c.num_classes
        centres = torch.randn(c.num_classes, c.in_features, generator=generator) * 6
        x = centres[y] + torch.randn(batch_size, c.in_features, generator=generator)
        return x, y

    def _scores(self, log_sums: torch.Tensor) -> torch.Tensor:
        counts = (self.starts[1:] - self.starts[:-1]).clamp_min(1)
        return log_sums - counts.log() + self.log_prior + self.log_loss      # (..., B, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _flat(x)
        self._check_fitted(x)
        return self._scores(log_kernel_sums(x, self.patterns, self.starts, self.scale,
                                            self.config.chunk)[0])   # (B, C)

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        """Store the training set sorted by class, set the priors, choose sigma."""
        c = self.config
        device = self.log_sigma.device
        x, y = (t.to(device) for t in train.batch(slice(0, len(train))))
        x = _flat(x)
        if x.shape[1] != c.in_features:
            raise AnnError(f"the training inputs have {x.shape[1]} features but "
                           f"model.in_features={c.in_features}; set it to {x.shape[1]}")
        counts = torch.bincount(y, minlength=c.num_classes)
        if len(counts) > c.num_classes:
            raise AnnError(f"the training labels go up to {len(counts) - 1} but "
                           f"model.num_classes={c.num_classes}")
        if (counts == 0).any():
            empty = ", ".join(str(i) for i in torch.nonzero(counts == 0).flatten().tolist())
            raise AnnError(f"class {empty} has no training examples, so the PNN has no pattern "
                           "units to estimate its density; give every class at least one "
                           "example (or fewer data.folds)")
        order = torch.argsort(y, stable=True)
        x, y = x[order], y[order]
        self.patterns = x.clone()
        self.starts = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        if c.priors == "data":
            self.log_prior = (counts.float() / len(y)).log()
        queries = self._queries(len(x)).to(device)

        def loo_loss(scale, widths, differentiable=False):
            """Leave-one-out error (plus cross-entropy to break ties) of each width."""
            with torch.set_grad_enabled(differentiable):
                scale = self.scale if scale is None else scale
                logits = self._scores(log_kernel_sums(x[queries], x, self.starts, scale,
                                                      c.chunk, queries, widths))   # (S, Q, C)
                target = y[queries]
                ce = F.cross_entropy(logits.flatten(0, 1), target.repeat(len(logits)),
                                     reduction="none").view(len(logits), -1).mean(1)
                if differentiable:
                    return ce, {}
                error = (logits.argmax(-1) != target).float().mean(1)
                return error + 1e-3 * ce.clamp_max(100), {"loo_error": error, "loo_ce": ce}

        records = self._choose_sigma(loo_loss, x, queries)
        return records + [{"stage": "fitted", "patterns": len(x)}]


@dataclass
class GRNNConfig(KernelConfig):
    out_features: int = field(1, "targets per example (GRNN predicts one; filled from the "
                              "dataset)", range=(1, 1))


@register_model("grnn", config=GRNNConfig, family="other", presets={
    "tiny": {"in_features": 4, "grid": 5, "cv_queries": 64},
    "per-feature": {"per_feature": True},
})
class GRNN(KernelNetwork):
    """General regression neural network (Specht 1991): the kernel-weighted mean of the
    training targets. Fitted in closed form by :meth:`fit`.

    Shapes:
        input (B, D) -> prediction (B,).
    """

    task = "regression"

    def __init__(self, config: GRNNConfig):
        super().__init__(config)
        self.register_buffer("targets", torch.empty(0))                  # (N,), set by fit

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """x (B, D) standard normal, y (B,) a smooth function of x."""
        x = torch.randn(batch_size, self.config.in_features, generator=generator)
        return x, torch.sin(x[:, 0]) + 0.5 * x[:, -1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _flat(x)
        self._check_fitted(x)
        return weighted_means(x, self.patterns, self.targets, self.scale, self.config.chunk)[0]

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        """Store the training set, choose sigma by leave-one-out squared error."""
        c = self.config
        device = self.log_sigma.device
        x, y = (t.to(device) for t in train.batch(slice(0, len(train))))
        x, y = _flat(x), y.float().reshape(-1)
        if x.shape[1] != c.in_features:
            raise AnnError(f"the training inputs have {x.shape[1]} features but "
                           f"model.in_features={c.in_features}; set it to {x.shape[1]}")
        if len(x) < 2:
            raise AnnError("a GRNN needs at least 2 training examples")
        self.patterns, self.targets = x.clone(), y.clone()
        queries = self._queries(len(x)).to(device)

        def loo_loss(scale, widths, differentiable=False):
            with torch.set_grad_enabled(differentiable):
                scale = self.scale if scale is None else scale
                pred = weighted_means(x[queries], x, y, scale, c.chunk, queries, widths)
                mse = ((pred - y[queries]) ** 2).mean(-1)                    # (S,)
                return mse, {"loo_rmse": mse.sqrt()}

        records = self._choose_sigma(loo_loss, x, queries)
        return records + [{"stage": "fitted", "patterns": len(x)}]
