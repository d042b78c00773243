"""Deep stacking network (DSN), also called deep convex network.

L. Deng and D. Yu, "Deep convex net: a scalable architecture for speech pattern classification",
Interspeech 2011, https://www.isca-archive.org/interspeech_2011/deng11_interspeech.html; L. Deng,
D. Yu and J. Platt, "Scalable stacking and learning for building deep architectures", ICASSP
2012, https://doi.org/10.1109/ICASSP.2012.6288333.

A DSN is a stack of simple modules. Module k sees the raw input concatenated with the outputs of
all modules below it, X_k = [x, y_1, ..., y_{k-1}], computes a sigmoid hidden layer
H = sigmoid(X_k W_k + b_k) and a linear output y_k = H U_k. Given H, the upper weights are a
convex problem with a closed-form solution, ridge regression onto the one-hot targets T:

    U_k = (H^T H + lambda I)^{-1} H^T T.

The lower weights W_k start random, or (``init=previous``) from the module below for the rows
the two share, and may be refined by gradient steps on ||H U_k - T||^2 (the papers' batch
fine-tuning; here mini-batch Adam epochs on W_k, b_k and U_k together, at a constant or
cosine-decayed rate, optionally on randomly shifted images (the run's data.augment_shift), after
which U_k is solved again in closed form for the refined hidden layer). Modules
are added while the validation error improves; the last module's output is the prediction.
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
class DSNConfig:
    in_features: int = field(64, "input features (flattened; filled from the dataset)",
                             positive=True)
    num_classes: int = field(10, "number of classes (filled from the dataset)", positive=True)
    hidden: int = field(500, "sigmoid hidden units per module", positive=True)
    max_modules: int = field(6, "most modules stacked", positive=True)
    patience: int = field(1, "modules added without a better validation error before stopping",
                          positive=True)
    ridge: float = field(1e-3, "ridge lambda of the closed-form upper weights (relative to the "
                         "mean diagonal of H^T H)", nonneg=True)
    init: str = field("random", "lower weights of a new module: random, or copied from the "
                      "module below where the inputs are shared", choices=("random", "previous"))
    init_scale: float = field(1.0, "std of random lower weights x sqrt(1 / inputs)", positive=True)
    refine_epochs: int = field(0, "epochs of gradient refinement of each module's lower weights",
                               nonneg=True)
    refine_lr: float = field(1e-3, "Adam learning rate of that refinement", positive=True)
    refine_batch: int = field(256, "mini-batch size of that refinement", positive=True)
    refine_schedule: str = field("constant", "learning rate over the refinement: constant, or "
                                 "cosine (decays to zero by its last step)",
                                 choices=("constant", "cosine"))
    chunk: int = field(8192, "rows per block when accumulating H^T H (bounds memory)",
                       positive=True)
    seed: int = field(0, "seed of the random lower weights and the refinement order", nonneg=True)


class StackingModule(nn.Module):
    """One DSN module; its weights are created empty and sized when it is fitted.

    Shapes:
        input (B, D + k C) -> hidden (B, hidden) -> output (B, C).
    """

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(0, 0))      # (inputs, hidden)
        self.b = nn.Parameter(torch.empty(0))         # (hidden,)
        self.u = nn.Parameter(torch.empty(0, 0))      # (hidden, C), closed form

    @property
    def fitted(self) -> bool:
        return self.u.numel() > 0

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x @ self.w + self.b)                          # (B, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x) @ self.u                                     # (B, C)


@register_model("dsn", config=DSNConfig, family="other", presets={
    "tiny": {"in_features": 8, "num_classes": 3, "hidden": 16, "max_modules": 2},
    "mnist": {"in_features": 784, "hidden": 3000, "max_modules": 3, "init": "previous",
              "refine_epochs": 25, "refine_lr": 2e-3, "refine_batch": 128,
              "refine_schedule": "cosine"},
})
class DSN(nn.Module):
    """Deep stacking network (Deng & Yu 2011; Deng, Yu & Platt 2012): modules of sigmoid
    hidden units with closed-form (ridge) linear outputs, each fed the input and all lower
    modules' outputs. Fitted by :meth:`fit`.

    Shapes:
        input (B, D) or (B, C, H, W) (flattened) -> class scores (B, num_classes), the top
        module's linear output (near one-hot: argmax decides).
    """

    task = "classify"

    def __init__(self, config: DSNConfig):
        super().__init__()
        self.config = c = config
        self.stack = nn.ModuleList(StackingModule() for _ in range(c.max_modules))

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Gaussian blobs, one per class."""
        c = self.config
        y = torch.arange(batch_size) % c.num_classes
        centres = torch.randn(c.num_classes, c.in_features, generator=generator) * 2
        return centres[y] + torch.randn(batch_size, c.in_features, generator=generator), y

    @property
    def depth(self) -> int:
        return sum(m.fitted for m in self.stack)

    def outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every fitted module's output, bottom first: [(B, C), ...]."""
        x = x.reshape(len(x), -1).float()                                  # (B, D)
        if self.depth == 0:
            raise AnnError("this DSN has not been fitted yet; call fit(train, val) or load a "
                           "trained run")
        if x.shape[1] != self.config.in_features:
            raise AnnError(f"inputs have {x.shape[1]} features but this DSN takes "
                           f"{self.config.in_features}")
        outs = []
        for module in self.stack[:self.depth]:
            outs.append(module(torch.cat([x, *outs], 1)))                  # (B, C)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputs(x)[-1]

    # -- fitting ---------------------------------------------------------------------------
    def _solve_upper(self, module: StackingModule, X: torch.Tensor, T: torch.Tensor):
        """U = (H^T H + lambda I)^{-1} H^T T, accumulated over row blocks."""
        c = self.config
        n_h = module.w.shape[1]
        gram = X.new_zeros(n_h, n_h, dtype=torch.float64)
        cross = X.new_zeros(n_h, T.shape[1], dtype=torch.float64)
        for i in range(0, len(X), c.chunk):
            H = module.hidden(X[i:i + c.chunk]).double()
            gram += H.T @ H
            cross += H.T @ T[i:i + c.chunk].double()
        lam = c.ridge * gram.diagonal().mean().clamp_min(1e-12)
        gram.diagonal().add_(lam)
        module.u.data = torch.linalg.solve(gram, cross).float().contiguous()

    def _init_lower(self, k: int, n_in: int, generator: torch.Generator, device):
        c, module = self.config, self.stack[k]
        w = torch.randn(n_in, c.hidden, generator=generator) * c.init_scale / math.sqrt(n_in)
        b = torch.zeros(c.hidden)
        if c.init == "previous" and k > 0:
            below = self.stack[k - 1]
            shared = below.w.shape[0]
            w[:shared] = below.w.detach().cpu()
            b = below.b.detach().cpu().clone()
        module.w = nn.Parameter(w.to(device))
        module.b = nn.Parameter(b.to(device))

    def _refine(self, k: int, X, T, generator, images=None, augment=None):
        """Mini-batch epochs of gradient steps on ||H U - T||^2 for module ``k``; U then solved
        again in closed form, so the module's upper weights stay the ridge solution for its
        hidden layer. With ``augment`` each mini-batch of ``images`` (N, C, H, W) is moved
        afresh and the lower modules' outputs are recomputed for the moved images."""
        c, module = self.config, self.stack[k]
        opt = torch.optim.Adam(module.parameters(), lr=c.refine_lr)
        steps, step = c.refine_epochs * math.ceil(len(X) / c.refine_batch), 0
        for _ in range(c.refine_epochs):
            order = torch.randperm(len(X), generator=generator).to(X.device)
            for i in range(0, len(X), c.refine_batch):
                rows = order[i:i + c.refine_batch]
                inputs = X[rows]                                           # (B, D + k C)
                if augment is not None:
                    moved = augment(images[rows], generator).reshape(len(rows), -1)
                    outs = []
                    for below in self.stack[:k]:
                        outs.append(below(torch.cat([moved, *outs], 1)))
                    inputs = torch.cat([moved, *outs], 1)
                with torch.enable_grad():
                    loss = F.mse_loss(module(inputs), T[rows])
                    opt.zero_grad()
                    loss.backward()
                if c.refine_schedule == "cosine":
                    for group in opt.param_groups:
                        group["lr"] = c.refine_lr * 0.5 * (1 + math.cos(math.pi * step / steps))
                opt.step()
                step += 1
        self._solve_upper(module, X, T)

    def _clear(self, k: int, device):
        for name in ("w", "u"):
            setattr(self.stack[k], name, nn.Parameter(torch.empty(0, 0, device=device)))
        self.stack[k].b = nn.Parameter(torch.empty(0, device=device))

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None, augment=None) -> list[dict]:
        """Stack modules on ``train``; ``evaluate()`` gives the validation metrics after each.
        ``augment(images, generator)`` (the run's ``data.augment_shift``/``augment_flip``), if
        given, moves the images of every refinement mini-batch; the closed-form solves see
        the training images as they are."""
        c = self.config
        device = next(self.parameters()).device
        batch = train.batch(slice(0, len(train)))
        if augment is not None and (c.refine_epochs == 0 or batch[0].dim() != 4):
            raise AnnError("data augmentation moves the images of the DSN's gradient refinement: "
                           "it needs image inputs and model.refine_epochs > 0")
        images = batch[0].float().to(device)                               # (N, C, H, W) or (N, D)
        x = images.reshape(len(images), -1)                                # (N, D)
        y = batch[1].to(device)
        if x.shape[1] != c.in_features:
            raise AnnError(f"the training inputs have {x.shape[1]} features but "
                           f"model.in_features={c.in_features}; set it to {x.shape[1]}")
        if int(y.max()) >= c.num_classes:
            raise AnnError(f"the training labels go up to {int(y.max())} but "
                           f"model.num_classes={c.num_classes}")
        T = F.one_hot(y, c.num_classes).float()                           # (N, C)
        generator = torch.Generator().manual_seed(c.seed)
        for k in range(c.max_modules):
            self._clear(k, device)
        records, outs, best, best_k, waited = [], [], math.inf, 0, 0
        for k in range(c.max_modules):
            X = torch.cat([x, *outs], 1)                                   # (N, D + k C)
            self._init_lower(k, X.shape[1], generator, device)
            self._solve_upper(self.stack[k], X, T)
            if c.refine_epochs:
                self._refine(k, X, T, generator, images, augment)
            out = self.stack[k](X)
            outs.append(out)
            record = {"stage": f"module {k + 1}", "modules": k + 1,
                      "train_error": float((out.argmax(-1) != y).float().mean()),
                      "train_mse": float(((out - T) ** 2).mean())}
            if evaluate is not None:
                record["val"] = evaluate()
                error = 1.0 - record["val"]["accuracy"]
            else:
                error = record["train_error"]
            records.append(record)
            if error < best:
                best, best_k, waited = error, k + 1, 0
            else:
                waited += 1
                if waited >= c.patience:
                    break
        for k in range(best_k, c.max_modules):     # keep the modules up to the best
            self._clear(k, device)
        records.append({"stage": "fitted", "modules": best_k})
        return records
