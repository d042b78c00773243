"""Learning vector quantization, LVQ1 and LVQ2.1 (T. Kohonen, "The self-organizing map",
Proceedings of the IEEE 78(9):1464-1480, 1990, https://doi.org/10.1109/5.58325, section IV).

A classifier of labelled prototypes: each class holds ``prototypes`` weight vectors, and an input
takes the class of its nearest prototype. Training moves prototypes, one sample at a time:

* LVQ1: the nearest prototype w_c moves towards x if its class is x's,
  ``w_c <- w_c + a(t) (x - w_c)``, and away from it otherwise, ``w_c <- w_c - a(t) (x - w_c)``;
* LVQ2.1 (fine-tuning after LVQ1, ``model.lvq21_epochs``): the two nearest prototypes w_i, w_j,
  when one has x's class and the other not and x falls in the window between them,
  ``min(d_i / d_j, d_j / d_i) > (1 - w) / (1 + w)`` (``model.window`` w, Kohonen: 0.2 to 0.3),
  the right one moves towards x and the wrong one away.

The rate a(t) falls linearly to 0 over each stage (Kohonen 1990). Prototypes start at random
training samples of their class.

Shapes:
    input (B, in_features) -> class scores (B, num_classes): minus the squared distance to each
    class's nearest prototype, so argmax is the nearest prototype's class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model


@dataclass
class LVQConfig:
    in_features: int = field(4, "input features per example (filled from the dataset)",
                             positive=True)
    num_classes: int = field(3, "number of classes (filled from the dataset)", positive=True)
    prototypes: int = field(3, "prototypes per class", positive=True)
    epochs: int = field(30, "LVQ1 passes over the training set", positive=True)
    lr: float = field(0.1, "LVQ1 starting rate a, falling linearly to 0", positive=True)
    lvq21_epochs: int = field(0, "LVQ2.1 fine-tuning passes after LVQ1 (0: LVQ1 only)",
                              nonneg=True)
    lr21: float = field(0.02, "LVQ2.1 starting rate, falling linearly to 0", positive=True)
    window: float = field(0.3, "LVQ2.1 window width w", range=(0.0, 1.0))
    seed: int = field(0, "seed of the starting prototypes and the sample order", nonneg=True)


@register_model("lvq", config=LVQConfig, family="som", presets={
    "tiny": {"in_features": 4, "num_classes": 3, "prototypes": 2, "epochs": 10},
    "lvq2.1": {"lvq21_epochs": 10},
})
class LVQ(nn.Module):
    """Learning vector quantization (Kohonen 1990): labelled prototypes moved by LVQ1, then
    optionally LVQ2.1, in :meth:`fit`.

    Shapes:
        input (B, in_features) -> class scores (B, num_classes).
    """

    task = "classify"

    def __init__(self, config: LVQConfig):
        super().__init__()
        self.config = c = config
        p = c.num_classes * c.prototypes
        self.weight = nn.Parameter(torch.zeros(p, c.in_features))                 # (P, D)
        self.register_buffer("labels", torch.arange(c.num_classes).repeat_interleave(c.prototypes))

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).float()                                     # (B, D)
        if x.shape[1] != self.config.in_features:
            raise AnnError(f"inputs have {x.shape[1]} features but model.in_features="
                           f"{self.config.in_features}; set it to {x.shape[1]}")
        return x

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """Squared distances to every prototype (B, P)."""
        x = self._flat(x)
        return ((x * x).sum(1, keepdim=True) - 2 * x @ self.weight.T
                + (self.weight ** 2).sum(1)).clamp_min(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.distances(x).view(len(x), self.config.num_classes, self.config.prototypes)
        return -d.min(-1).values                                              # (B, C)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Gaussian blobs, one per class, so that a fit on the batch can separate them."""
        c = self.config
        y = torch.arange(batch_size) % c.num_classes
        centres = torch.randn(c.num_classes, c.in_features, generator=generator) * 4
        return centres[y] + torch.randn(batch_size, c.in_features, generator=generator), y

    def lvq1_step(self, x: torch.Tensor, y: int, a: float) -> None:
        """One LVQ1 update from sample ``x`` (D,) of class ``y`` at rate ``a``."""
        w = self.weight.data
        c = int(((w - x) ** 2).sum(1).argmin())
        sign = 1.0 if int(self.labels[c]) == y else -1.0
        w[c] += sign * a * (x - w[c])

    def lvq21_step(self, x: torch.Tensor, y: int, a: float) -> None:
        """One LVQ2.1 update (nothing unless the two nearest differ in rightness and x is in
        the window)."""
        w = self.weight.data
        d = ((w - x) ** 2).sum(1).sqrt()
        i, j = d.topk(2, largest=False).indices.tolist()
        right_i, right_j = int(self.labels[i]) == y, int(self.labels[j]) == y
        if right_i == right_j:
            return
        s = (1 - self.config.window) / (1 + self.config.window)
        if min(d[i] / d[j].clamp_min(1e-12), d[j] / d[i].clamp_min(1e-12)) <= s:
            return
        good, bad = (i, j) if right_i else (j, i)
        w[good] += a * (x - w[good])
        w[bad] -= a * (x - w[bad])

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        """Prototypes from class samples, LVQ1 epochs, then LVQ2.1 epochs; a record per stage."""
        c = self.config
        x, y = (t.to(self.weight.device) for t in train.batch(slice(0, len(train)))[:2])
        x, y = self._flat(x), y.long()
        if int(y.max()) >= c.num_classes:
            raise AnnError(f"the training labels go up to {int(y.max())} but model.num_classes="
                           f"{c.num_classes}")
        g = torch.Generator().manual_seed(c.seed)
        for k in range(c.num_classes):
            members = torch.nonzero(y == k).flatten()
            if len(members) == 0:
                raise AnnError(f"class {k} has no training examples, so LVQ cannot place its "
                               "prototypes; give every class at least one example")
            pick = members[torch.randint(len(members), (c.prototypes,), generator=g).to(members.device)]
            self.weight.data[k * c.prototypes:(k + 1) * c.prototypes] = x[pick]
        records = []
        for stage, epochs, rate, step in (("lvq1", c.epochs, c.lr, self.lvq1_step),
                                          ("lvq2.1", c.lvq21_epochs, c.lr21, self.lvq21_step)):
            total, t = epochs * len(x), 0
            for _ in range(epochs):
                for i in torch.randperm(len(x), generator=g).tolist():
                    step(x[i], int(y[i]), rate * (1 - t / total))
                    t += 1
            if epochs:
                right = (self(x).argmax(-1) == y).float().mean()
                records.append({"stage": stage, "epochs": epochs,
                                "train_accuracy": float(right)})
        if evaluate is not None:
            records[-1]["val"] = evaluate()
        return records
