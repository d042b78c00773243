"""The radial basis function network (D. S. Broomhead & D. Lowe, "Multivariable functional
interpolation and adaptive networks", Complex Systems 2:321-355, 1988,
https://www.complex-systems.com/abstracts/v02_i03_a05/), with the centres and widths of
J. Moody & C. J. Darken, "Fast learning in networks of locally-tuned processing units", Neural
Computation 1(2):281-294, 1989, https://doi.org/10.1162/neco.1989.1.2.281.

One hidden layer of M Gaussian units, ``phi_j(x) = exp(-||x - c_j||^2 / (2 s_j^2))``, and a
linear output ``y = [phi(x), 1] W``. Broomhead & Lowe fit W by linear least squares once the
centres are fixed; Moody & Darken place the centres by k-means (unsupervised) and set each
width from the distances to the nearest other centres. Fitting here follows them, in closed
form (``ann.train.fitted``):

1. centres: k-means (k-means++ seeding, Arthur & Vassilvitskii 2007, then Lloyd iterations);
2. widths: ``widths=nearest``: s_j = the root-mean-square distance from c_j to its
   ``model.neighbours`` nearest centres (Moody & Darken, section 3); ``widths=global``: one
   width d_max / sqrt(2 M) for all (d_max the largest distance between centres; Haykin,
   "Neural Networks", 1999, section 5.13); either times ``model.width_scale``;
3. output: least squares of the one-hot targets, ``W = (P^T P + ridge I)^-1 P^T T``.

Optionally (``model.refine_steps`` > 0) centres, widths and output are then trained end to end
by full-batch Adam on the cross-entropy, from the closed-form solution.

Shapes:
    input (B, in_features) (images flattened) -> class scores (B, num_classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model


@dataclass
class RBFConfig:
    in_features: int = field(4, "input features per example (filled from the dataset)",
                             positive=True)
    num_classes: int = field(3, "number of classes (filled from the dataset)", positive=True)
    centres: int = field(30, "Gaussian hidden units (k-means centres)", positive=True)
    kmeans_iters: int = field(100, "most Lloyd iterations of k-means", positive=True)
    widths: str = field("nearest", "unit widths: from each centre's nearest centres, or one "
                        "global width", choices=("nearest", "global"))
    neighbours: int = field(2, "widths=nearest: centres whose distances set a unit's width",
                            positive=True)
    width_scale: float = field(1.0, "factor on every width", positive=True)
    ridge: float = field(1e-6, "ridge term of the output least squares", nonneg=True)
    refine_steps: int = field(0, "full-batch Adam steps training everything end to end after "
                              "the closed-form fit (0: none)", nonneg=True)
    refine_lr: float = field(0.01, "learning rate of the end-to-end refinement", positive=True)
    seed: int = field(0, "seed of the k-means++ seeding", nonneg=True)


def square_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||a_i - b_j||^2 for a (N, D), b (M, D) -> (N, M), clamped at 0 against rounding."""
    return ((a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)).clamp_min(0)


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k starting centres (k, D): each next one drawn with probability proportional to its
    squared distance from the nearest centre so far (Arthur & Vassilvitskii 2007)."""
    first = torch.randint(len(x), (1,), generator=generator)
    centres = x[first]
    d = square_distances(x, centres)[:, 0]                                # (N,)
    for _ in range(1, k):
        p = d / d.sum() if d.sum() > 0 else torch.full_like(d, 1 / len(d))
        nxt = torch.multinomial(p.cpu(), 1, generator=generator).to(x.device)
        centres = torch.cat([centres, x[nxt]])
        d = torch.minimum(d, square_distances(x, x[nxt])[:, 0])
    return centres


def kmeans(x: torch.Tensor, init: torch.Tensor, iters: int) -> tuple[torch.Tensor, int]:
    """Lloyd's iterations from centres ``init`` (k, D) until no assignment changes; an empty
    cluster keeps its centre. Returns the centres (k, D) and the iterations run."""
    centres, assign = init.clone(), None
    for it in range(1, iters + 1):
        new = square_distances(x, centres).argmin(1)                      # (N,)
        if assign is not None and torch.equal(new, assign):
            return centres, it - 1
        assign = new
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=len(centres)).to(x.dtype)[:, None]
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
    return centres, iters


@register_model("rbf", config=RBFConfig, family="rbf", presets={
    "tiny": {"in_features": 4, "num_classes": 3, "centres": 8, "kmeans_iters": 20},
})
class RBFNetwork(nn.Module):
    """RBF network (Broomhead & Lowe 1988): Gaussian units at k-means centres (Moody & Darken
    1989), output weights by least squares in :meth:`fit`.

    Shapes:
        input (B, in_features) (images flattened) -> class scores (B, num_classes).
    """

    task = "classify"

    def __init__(self, config: RBFConfig):
        super().__init__()
        self.config = c = config
        self.centres = nn.Parameter(torch.zeros(c.centres, c.in_features))    # (M, D)
        self.log_width = nn.Parameter(torch.zeros(c.centres))                  # (M,)
        self.out = nn.Parameter(torch.zeros(c.centres + 1, c.num_classes))     # (M + 1, C)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).float()                                     # (B, D)
        if x.shape[1] != self.config.in_features:
            raise AnnError(f"inputs have {x.shape[1]} features but model.in_features="
                           f"{self.config.in_features}; set it to {x.shape[1]}")
        return x

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """``[phi_1(x) .. phi_M(x), 1]`` (B, M + 1)."""
        d = square_distances(self._flat(x), self.centres)                    # (B, M)
        phi = torch.exp(-0.5 * d * torch.exp(-2 * self.log_width))
        return torch.cat([phi, phi.new_ones(len(phi), 1)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x) @ self.out                                      # (B, C)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Gaussian blobs, one per class, so that a fit on the batch can separate them."""
        c = self.config
        y = torch.arange(batch_size) % c.num_classes
        centres = torch.randn(c.num_classes, c.in_features, generator=generator) * 4
        return centres[y] + torch.randn(batch_size, c.in_features, generator=generator), y

    def _widths(self, centres: torch.Tensor) -> torch.Tensor:
        c = self.config
        d = square_distances(centres, centres)                                # (M, M)
        if c.widths == "global" or len(centres) == 1:
            s = d.max().sqrt() / (2 * len(centres)) ** 0.5
            s = torch.full((len(centres),), float(s) if s > 0 else 1.0, device=d.device)
        else:
            d = d + torch.diag(torch.full((len(centres),), float("inf"),
                                          device=d.device))                 # not itself
            p = min(c.neighbours, len(centres) - 1)
            s = d.topk(p, 1, largest=False).values.mean(1).sqrt()            # RMS distance
            s = torch.where(s > 0, s, s[s > 0].min() if (s > 0).any() else torch.ones(()))
        return s * c.width_scale

    def solve_output(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """The least-squares output weights for the current centres and widths."""
        p = self.hidden(x).double()                                           # (N, M + 1)
        t = F.one_hot(y.long(), self.config.num_classes).double()            # (N, C)
        gram = p.T @ p + self.config.ridge * torch.eye(p.shape[1], dtype=p.dtype,
                                                       device=p.device)
        self.out.copy_(torch.linalg.lstsq(gram, p.T @ t).solution.float())

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        """k-means centres, widths, least-squares output; then the optional refinement."""
        c = self.config
        x, y = (t.to(self.out.device) for t in train.batch(slice(0, len(train)))[:2])
        x = self._flat(x)
        if int(y.max()) >= c.num_classes:
            raise AnnError(f"the training labels go up to {int(y.max())} but model.num_classes="
                           f"{c.num_classes}")
        if len(x) < c.centres:
            raise AnnError(f"model.centres={c.centres} is more than the {len(x)} training "
                           "examples; give at most that many centres")
        init = kmeans_plus_plus(x, c.centres, torch.Generator().manual_seed(c.seed))
        centres, iters = kmeans(x, init, c.kmeans_iters)
        self.centres.copy_(centres)
        self.log_width.copy_(self._widths(centres).log())
        self.solve_output(x, y)
        records = [{"stage": "least squares", "kmeans_iterations": iters,
                    "width_mean": float(self.log_width.exp().mean()),
                    "train_accuracy": float((self(x).argmax(-1) == y).float().mean())}]
        if evaluate is not None:
            records[-1]["val"] = evaluate()
        if c.refine_steps:
            records.append(self._refine(x, y, evaluate))
        return records

    def _refine(self, x, y, evaluate) -> dict:
        """End-to-end training of centres, widths and output by full-batch Adam."""
        opt = torch.optim.Adam(self.parameters(), lr=self.config.refine_lr)
        with torch.enable_grad():
            for _ in range(self.config.refine_steps):
                opt.zero_grad()
                loss = F.cross_entropy(self(x), y)
                loss.backward()
                opt.step()
        record = {"stage": "end to end", "steps": self.config.refine_steps,
                  "train_loss": float(loss)}
        if evaluate is not None:
            record["val"] = evaluate()
        return record
