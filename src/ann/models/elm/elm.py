"""The extreme learning machine (G.-B. Huang, Q.-Y. Zhu & C.-K. Siew, "Extreme learning machine:
Theory and applications", Neurocomputing 70(1-3):489-501, 2006,
https://doi.org/10.1016/j.neucom.2005.12.126).

A single-hidden-layer feed-forward network whose hidden layer is never trained: its input weights
W and biases b are drawn at random once, the hidden outputs are ``H = g(X W + b)``, and only the
output weights beta are fitted, in closed form, as the least-squares solution of ``H beta = T``
for one-hot targets T: ``beta = H^+ T`` (Huang et al. 2006, section 3, eq. 17: the smallest-norm
least-squares solution, through the Moore-Penrose pseudo-inverse). With ``model.ridge`` > 0 the
solve is the regularised one of Huang et al. 2012 ("Extreme learning machine for regression and
multiclass classification", eq. 38): ``beta = (H^T H + I / C)^-1 H^T T`` with ``ridge = 1 / C``.

Fitting is one pass over the training set and one linear solve (``ann.train.fitted``), which is
why an ELM fits in a fraction of the time a backprop MLP of the same width trains.

Shapes:
    input (B, in_features) or (B, C, H, W) flattened to in_features -> class scores
    (B, num_classes), the least-squares fit of the one-hot targets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


@dataclass
class ELMConfig:
    in_features: int = field(64, "input features per example (filled from the dataset; images "
                             "are flattened)", positive=True)
    num_classes: int = field(10, "number of classes (filled from the dataset)", positive=True)
    hidden: int = field(1000, "random hidden units", positive=True)
    activation: str = field("sigmoid", "hidden activation g", choices=tuple(ACTIVATIONS))
    weight_scale: float = field(1.0, "hidden weights ~ N(0, scale^2 / in_features), biases "
                                "~ N(0, 1)", positive=True)
    ridge: float = field(0.0, "regularisation 1/C of the output solve (0: the pseudo-inverse)",
                         nonneg=True)
    seed: int = field(0, "seed of the random hidden layer", nonneg=True)
    chunk: int = field(4096, "examples per block of the ridge solve's sums (bounds memory)",
                       positive=True)


@register_model("elm", config=ELMConfig, family="elm", presets={
    "tiny": {"in_features": 4, "num_classes": 3, "hidden": 32},
})
class ELM(nn.Module):
    """Extreme learning machine (Huang et al. 2006): random hidden layer, output weights by one
    least-squares solve in :meth:`fit`.

    Shapes:
        input (B, in_features) (images flattened) -> class scores (B, num_classes).
    """

    task = "classify"

    def __init__(self, config: ELMConfig):
        super().__init__()
        self.config = c = config
        g = torch.Generator().manual_seed(c.seed)     # the hidden layer is part of the model
        scale = c.weight_scale / c.in_features ** 0.5
        self.register_buffer("hidden_weight", torch.randn(c.in_features, c.hidden, generator=g)
                             * scale)                                         # (D, H)
        self.register_buffer("hidden_bias", torch.randn(c.hidden, generator=g))  # (H,)
        # beta is a parameter so that the run can be fine-tuned or exported like any other net
        self.beta = nn.Parameter(torch.zeros(c.hidden + 1, c.num_classes))     # (H + 1, C)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).float()                                     # (B, D)
        if x.shape[1] != self.config.in_features:
            raise AnnError(f"inputs have {x.shape[1]} features but model.in_features="
                           f"{self.config.in_features}; set it to {x.shape[1]}")
        return x

    def hidden_layer(self, x: torch.Tensor) -> torch.Tensor:
        """``[g(X W + b), 1]``: the random features and a constant for the output bias (B, H+1)."""
        h = ACTIVATIONS[self.config.activation](self._flat(x) @ self.hidden_weight + self.hidden_bias)
        return torch.cat([h, h.new_ones(len(h), 1)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden_layer(x) @ self.beta                               # (B, C)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Gaussian blobs, one per class, so that a fit on the batch can separate them."""
        c = self.config
        y = torch.arange(batch_size) % c.num_classes
        centres = torch.randn(c.num_classes, c.in_features, generator=generator) * 4
        return centres[y] + torch.randn(batch_size, c.in_features, generator=generator), y

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        """beta = H^+ T (or the ridge solve) over the whole training split. The ridge solve
        accumulates H^T H and H^T T over blocks of ``model.chunk`` examples, so that a large
        training set (MNIST's 55,000 images) never holds all of H at once."""
        c = self.config
        start = time.perf_counter()
        x, y = (t.to(self.beta.device) for t in train.batch(slice(0, len(train)))[:2])
        if int(y.max()) >= c.num_classes:
            raise AnnError(f"the training labels go up to {int(y.max())} but model.num_classes="
                           f"{c.num_classes}")
        t = torch.nn.functional.one_hot(y.long(), c.num_classes).double()    # (N, C)
        if c.ridge > 0:          # (H^T H + I/C) beta = H^T T
            width = c.hidden + 1
            gram = c.ridge * torch.eye(width, dtype=torch.float64, device=x.device)
            rhs = torch.zeros(width, c.num_classes, dtype=torch.float64, device=x.device)
            for a in range(0, len(x), c.chunk):
                h = self.hidden_layer(x[a:a + c.chunk]).double()              # (n, H+1)
                gram += h.T @ h
                rhs += h.T @ t[a:a + c.chunk]
            beta = torch.linalg.solve(gram, rhs)
        else:
            beta = torch.linalg.pinv(self.hidden_layer(x).double()) @ t
        self.beta.copy_(beta.float())
        right = sum(int((self(x[a:a + c.chunk]).argmax(-1) == y[a:a + c.chunk]).sum())
                    for a in range(0, len(x), c.chunk))
        record = {"stage": "solved", "hidden": c.hidden, "examples": len(x),
                  "train_accuracy": right / len(x), "fit_seconds": time.perf_counter() - start}
        if evaluate is not None:
            record["val"] = evaluate()
        return [record]
