"""GMDH: the Group Method of Data Handling, multilayer iterative (MIA) and combinatorial (COMBI).

A. G. Ivakhnenko, "Polynomial theory of complex systems", IEEE Transactions on Systems, Man, and
Cybernetics SMC-1(4):364-378, 1971, https://doi.org/10.1109/TSMC.1971.4308320; the criteria as in
Ivakhnenko & Ivakhnenko, "The review of problems solvable by algorithms of the group method of
data handling", Pattern Recognition and Image Analysis 5(4):527-535, 1995.

Multilayer iterative algorithm: every neuron of a layer takes a pair (z_i, z_j) of the previous
layer's outputs (the inputs, for the first layer) and computes the Ivakhnenko polynomial

    y = a0 + a1 z_i + a2 z_j + a3 z_i z_j + a4 z_i^2 + a5 z_j^2,

its six coefficients fitted by least squares on a training part A of the data. All pairs are
tried; an external criterion on a separate selection part B ranks them (regularity: the mean
squared error on B; combined: regularity plus unbiasedness, the disagreement between the models
fitted on A and on B), the best F survive as the next layer's inputs, and layers are added while
the best criterion improves. The model's output is the best neuron of the last layer.

COMBI: every subset of the inputs enters a linear model fitted on A; the criterion on B picks
the subset (for a few inputs: 2^D - 1 models).

Constant or duplicate input columns carry no information and make the least-squares systems
singular; they are dropped before fitting (the record says which). A small ridge term keeps
near-collinear pairs solvable. The fitted structure prints as a readable formula and as a layer
diagram (:meth:`GMDH.describe`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model


@dataclass
class GMDHConfig:
    in_features: int = field(10, "input features (filled from the dataset)", positive=True)
    algorithm: str = field("multilayer", "multilayer iterative (pairs, quadratic) or "
                           "combinatorial (subsets, linear)", choices=("multilayer", "combi"))
    width: int = field(8, "neurons kept per layer (F)", positive=True)
    max_layers: int = field(6, "most layers grown", positive=True)
    tolerance: float = field(0.01, "a new layer must lower the criterion by this fraction",
                             range=(0.0, 0.5))
    criterion: str = field("regularity", "external criterion on the selection part",
                           choices=("regularity", "combined"))
    selection: float = field(0.33, "fraction of the training rows in the selection part B",
                             range=(0.05, 0.8))
    ridge: float = field(1e-6, "ridge term of the least-squares fits (relative)", nonneg=True)
    refit: bool = field(False, "refit the chosen neurons on all training rows at the end")
    combi_max_inputs: int = field(12, "COMBI tries 2^D - 1 subsets: at most this many inputs",
                                  range=(1, 20))
    seed: int = field(0, "seed for drawing the selection part", nonneg=True)


def _quadratic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The Ivakhnenko polynomial's terms: (..., N) pairs -> (..., N, 6)."""
    return torch.stack([torch.ones_like(a), a, b, a * b, a * a, b * b], -1)


def _solve(X: torch.Tensor, y: torch.Tensor, ridge: float) -> torch.Tensor:
    """Batched ridge least squares: X (P, N, K), y (N,) -> coefficients (P, K)."""
    k = X.shape[-1]
    gram = X.transpose(1, 2) @ X                                  # (P, K, K)
    scale = gram.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-12)
    gram = gram + (ridge * scale)[:, None, None] * torch.eye(k, dtype=X.dtype)
    return torch.linalg.solve(gram, X.transpose(1, 2) @ y)        # (P, K)


def usable_columns(x: torch.Tensor) -> tuple[list[int], list[str]]:
    """Indices of the columns worth using, and a note per dropped one (constant, duplicate)."""
    keep, notes = [], []
    for j in range(x.shape[1]):
        col = x[:, j]
        if float(col.std()) < 1e-9:
            notes.append(f"x{j} constant")
            continue
        twin = next((i for i in keep if torch.allclose(x[:, i], col, atol=1e-9)), None)
        if twin is not None:
            notes.append(f"x{j} duplicates x{twin}")
            continue
        keep.append(j)
    return keep, notes


@register_model("gmdh", config=GMDHConfig, family="other", presets={
    "tiny": {"in_features": 4, "width": 4, "max_layers": 3},
    "combi": {"algorithm": "combi"},
    "combined": {"criterion": "combined"},
})
class GMDH(nn.Module):
    """Group Method of Data Handling (Ivakhnenko 1971): layers of quadratic two-input neurons
    grown and selected by an external criterion, or COMBI's best linear subset.

    Fitted in closed form by :meth:`fit`. The fitted structure lives in buffers sized at fit:
    ``pairs`` (L, F, 2) the inputs of each neuron, ``coefs`` (L, F, 6) its polynomial,
    ``alive`` (L, F) which neurons exist; COMBI uses ``coefs`` (1, 1, D + 1), bias first.

    Shapes:
        input (B, D) -> prediction (B,) on the target's scale.
    """

    task = "regression"

    def __init__(self, config: GMDHConfig):
        super().__init__()
        self.config = c = config
        self.n_inputs = self._inputs(config)
        self.coefs = nn.Parameter(torch.empty(0, 0, 6 if c.algorithm == "multilayer" else 0),
                                  requires_grad=False)
        self.register_buffer("pairs", torch.empty(0, 0, 2, dtype=torch.long))
        self.register_buffer("alive", torch.empty(0, 0, dtype=torch.bool))
        self.register_buffer("x_mean", torch.zeros(self.n_inputs))
        self.register_buffer("x_std", torch.ones(self.n_inputs))
        self.register_buffer("y_mean", torch.zeros(1))
        self.register_buffer("y_std", torch.ones(1))

    @staticmethod
    def _inputs(config) -> int:
        return config.in_features

    def _names(self) -> list[str]:
        return [f"x{j}" for j in range(self.n_inputs)]

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """x (B, D) standard normal; y a quadratic in two of the inputs (GMDH's own form)."""
        x = torch.randn(batch_size, self.n_inputs, generator=generator)
        return x, 1.0 + x[:, 0] - 0.5 * x[:, 0] * x[:, -1] + 0.3 * x[:, -1] ** 2

    # -- prediction ------------------------------------------------------------------------
    def _normalised(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).to(self.x_mean.dtype)
        if x.shape[1] != self.n_inputs:
            raise AnnError(f"inputs have {x.shape[1]} features but this GMDH was built for "
                           f"{self.n_inputs}")
        return (x - self.x_mean) / self.x_std                             # (B, D)

    def standard_output(self, x: torch.Tensor) -> torch.Tensor:
        """The output on the standardised target scale, (B,)."""
        if self.coefs.numel() == 0:
            raise AnnError("this GMDH has not been fitted yet; call fit(train, val) or load a "
                           "trained run")
        z = self._normalised(x).double()
        coefs = self.coefs.double()
        if self.config.algorithm == "combi":
            return (coefs[0, 0, 0] + z @ coefs[0, 0, 1:]).float()
        for layer in range(len(coefs)):
            p = self.pairs[layer]                                          # (F, 2)
            terms = _quadratic(z[:, p[:, 0]].T, z[:, p[:, 1]].T)           # (F, B, 6)
            z = (terms * coefs[layer][:, None]).sum(-1).T                  # (B, F)
        return z[:, 0].float()                                            # the best neuron

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.standard_output(x) * self.y_std + self.y_mean          # (B,)

    # -- fitting ---------------------------------------------------------------------------
    def _target(self, y: torch.Tensor) -> torch.Tensor:
        return y.double()

    @torch.no_grad()
    def fit(self, train, val=None, evaluate=None) -> list[dict]:
        c = self.config
        batch = train.batch(slice(0, len(train)))
        x = batch[0].reshape(len(batch[0]), -1).double().cpu()
        y = self._target(batch[1].reshape(len(x), -1)[:, 0].cpu())
        if x.shape[1] != self.n_inputs:
            raise AnnError(f"the training inputs have {x.shape[1]} features but the model was "
                           f"built for {self.n_inputs}; set model.in_features={x.shape[1]}")
        if len(x) < 8:
            raise AnnError(f"GMDH needs at least 8 training rows to fit and select neurons on "
                           f"separate parts; got {len(x)}")
        mean, std = x.mean(0), x.std(0)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        self.x_mean.copy_(mean.float())
        self.x_std.copy_(std.float())
        self.y_mean.fill_(float(y.mean()))
        self.y_std.fill_(float(y.std().clamp_min(1e-12)))
        z, t = (x - mean) / std, (y - y.mean()) / y.std().clamp_min(1e-12)
        keep, notes = usable_columns(z)
        if len(keep) < (2 if c.algorithm == "multilayer" else 1):
            raise AnnError(f"GMDH needs at least {2 if c.algorithm == 'multilayer' else 1} "
                           f"informative inputs, but {', '.join(notes) or 'there are none'}; "
                           "give the model more varied features")
        g = torch.Generator().manual_seed(c.seed)
        order = torch.randperm(len(x), generator=g)
        n_b = max(2, int(round(c.selection * len(x))))
        part_b, part_a = order[:n_b], order[n_b:]
        records = [{"stage": "inputs", "used": len(keep), "dropped": "; ".join(notes) or "none"}]
        if c.algorithm == "combi":
            records += self._fit_combi(z, t, keep, part_a, part_b)
        else:
            records += self._fit_multilayer(z, t, keep, part_a, part_b, evaluate,
                                            self._val_error(val))
        return records

    def _val_error(self, val):
        """A function giving the current model's mean squared error on the validation split
        (standardised target), or None without one."""
        if val is None or len(val) == 0:
            return None
        batch = val.batch(slice(0, len(val)))
        x, y = batch[0].to(self.x_mean.device), self._target(batch[1].reshape(len(batch[0]), -1)[:, 0].cpu())
        t = (y - float(self.y_mean)) / float(self.y_std)

        def error():
            return float(((self.standard_output(x).double().cpu() - t) ** 2).mean())
        return error

    def _criterion(self, X: torch.Tensor, t: torch.Tensor, a, b) -> tuple[torch.Tensor, ...]:
        """Coefficients fitted on A, the criterion on B, predictions on all rows.

        Shapes: X (P, N, K) -> (P, K), (P,), (P, N)."""
        c = self.config
        w = _solve(X[:, a], t[a], c.ridge)
        pred = (X * w[:, None]).sum(-1)                                     # (P, N)
        var = t.var().clamp_min(1e-12)
        crit = ((pred[:, b] - t[b]) ** 2).mean(-1) / var                    # regularity
        if c.criterion == "combined":                                       # + unbiasedness
            w_b = _solve(X[:, b], t[b], c.ridge)
            other = (X * w_b[:, None]).sum(-1)
            crit = crit + ((pred - other) ** 2).mean(-1) / var
        return w, crit, pred

    def _fit_multilayer(self, z, t, keep, a, b, evaluate, val_error=None) -> list[dict]:
        """Grow layers while the external criterion improves; with a validation split, keep
        the depth whose validation error is lowest (deep stacks of quadratics can extrapolate
        wildly: polynomials of degree 2^layers)."""
        c = self.config
        inputs = z[:, keep]                                                  # (N, m)
        index = torch.tensor(keep)
        layers, records, best = [], [], float("inf")
        for layer in range(c.max_layers):
            pairs = torch.tensor(list(itertools.combinations(range(inputs.shape[1]), 2)))
            X = _quadratic(inputs[:, pairs[:, 0]].T, inputs[:, pairs[:, 1]].T)   # (P, N, 6)
            w, crit, pred = self._criterion(X, t, a, b)
            top = torch.argsort(crit)[:c.width]
            record = {"stage": f"layer {layer + 1}", "candidates": len(pairs),
                      "criterion": float(crit[top[0]])}
            if float(crit[top[0]]) >= best * (1 - c.tolerance):
                records.append({**record, "kept": 0, "note": "no improvement: stop"})
                break
            best = float(crit[top[0]])
            src = pairs[top] if layer else index[pairs[top]]                  # (F, 2)
            layers.append((src, w[top], pairs[top]))
            inputs = pred[top].T                                              # (N, F)
            self._store(layers)
            if val_error is not None:
                record["val_mse"] = val_error()
            if evaluate is not None:
                record["val"] = evaluate()
            records.append({**record, "kept": len(top)})
            if len(top) < 2:
                break
        if val_error is not None:
            errors = [r["val_mse"] for r in records if "val_mse" in r]
            layers = layers[:1 + min(range(len(errors)), key=errors.__getitem__)]
        if c.refit:
            self._refit(z, t, layers)
        self._store(layers)
        records.append({"stage": "fitted", "layers": len(layers), "criterion": best})
        return records

    def _refit(self, z, t, layers):
        """Refit every kept neuron on all rows, layer by layer (the structure stays)."""
        inputs = z
        for i, (src, w, _) in enumerate(layers):
            X = _quadratic(inputs[:, src[:, 0]].T, inputs[:, src[:, 1]].T)
            w = _solve(X, t, self.config.ridge)
            layers[i] = (src, w, layers[i][2])
            inputs = (X * w[:, None]).sum(-1).T

    def _store(self, layers):
        f = max(len(s) for s, _, _ in layers)
        pairs = torch.zeros(len(layers), f, 2, dtype=torch.long)
        coefs = torch.zeros(len(layers), f, 6, dtype=torch.float64)
        alive = torch.zeros(len(layers), f, dtype=torch.bool)
        for i, (src, w, _) in enumerate(layers):
            pairs[i, :len(src)], coefs[i, :len(src)], alive[i, :len(src)] = src, w, True
        device = self.x_mean.device
        self.pairs, self.alive = pairs.to(device), alive.to(device)
        self.coefs = nn.Parameter(coefs.float().to(device), requires_grad=False)

    def _fit_combi(self, z, t, keep, a, b) -> list[dict]:
        c = self.config
        if len(keep) > c.combi_max_inputs:
            raise AnnError(f"COMBI tries every subset of the inputs, 2^{len(keep)} - 1 here; "
                           f"that is too many (model.combi_max_inputs={c.combi_max_inputs}): use "
                           "model.algorithm=multilayer or fewer features")
        records, best = [], (float("inf"), None, None)
        for k in range(1, len(keep) + 1):
            subsets = torch.tensor(list(itertools.combinations(keep, k)))          # (S, k)
            X = torch.cat([torch.ones(len(subsets), len(z), 1, dtype=z.dtype),
                           z[:, subsets].permute(1, 0, 2)], -1)                    # (S, N, k+1)
            w, crit, _ = self._criterion(X, t, a, b)
            i = int(torch.argmin(crit))
            records.append({"stage": f"{k} inputs", "candidates": len(subsets),
                            "criterion": float(crit[i])})
            if float(crit[i]) < best[0]:
                best = (float(crit[i]), subsets[i], w[i])
        _, subset, w = best
        if c.refit:
            X = torch.cat([torch.ones(1, len(z), 1, dtype=z.dtype), z[:, subset][None]], -1)
            w = _solve(X, t, c.ridge)[0]
        coefs = torch.zeros(1, 1, self.n_inputs + 1, dtype=torch.float64)
        coefs[0, 0, 0] = w[0]
        coefs[0, 0, 1 + subset] = w[1:]
        self.coefs = nn.Parameter(coefs.float().to(self.x_mean.device), requires_grad=False)
        records.append({"stage": "fitted", "inputs": len(subset), "criterion": best[0]})
        return records

    # -- reading the fitted model ------------------------------------------------------------
    def _used(self) -> list[set[int]]:
        """Per layer, the neurons the output depends on (walking back from neuron 0)."""
        used = [set() for _ in range(len(self.pairs))]
        if not used:
            return used
        used[-1] = {0}
        for layer in range(len(self.pairs) - 1, 0, -1):
            for n in used[layer]:
                used[layer - 1].update(int(i) for i in self.pairs[layer, n])
        return used

    def describe(self, names: list[str] | None = None) -> str:
        """The fitted model as a formula (one equation per surviving neuron, on standardised
        inputs) and a layer diagram (which inputs feed which neuron)."""
        if self.coefs.numel() == 0:
            return "GMDH (not fitted)"
        names = list(names or self._names())
        std = [f"{n}'" for n in names]
        head = (f"y = {float(self.y_mean):.4g} + {float(self.y_std):.4g} * out,   where x' = "
                "(x - mean) / std of the training rows")
        if self.config.algorithm == "combi":
            w = self.coefs[0, 0]
            terms = [f"{float(w[0]):+.4f}"] + [f"{float(w[1 + j]):+.4f}*{std[j]}"
                                                for j in range(len(names)) if float(w[1 + j]) != 0]
            return f"GMDH COMBI\n{head}\nout = {' '.join(terms)}"
        used = self._used()
        lines, diagram = ["GMDH multilayer", head], []

        def label(layer, n):
            return std[n] if layer < 0 else f"n{layer + 1}.{n}"

        for layer in range(len(self.pairs)):
            row = []
            for n in sorted(used[layer]):
                i, j = (int(v) for v in self.pairs[layer, n])
                a, b = label(layer - 1, i), label(layer - 1, j)
                w = [float(v) for v in self.coefs[layer, n]]
                lines.append(f"{label(layer, n)} = {w[0]:+.4f} {w[1]:+.4f}*{a} {w[2]:+.4f}*{b} "
                             f"{w[3]:+.4f}*{a}*{b} {w[4]:+.4f}*{a}^2 {w[5]:+.4f}*{b}^2")
                row.append(f"({a}, {b}) -> {label(layer, n)}")
            diagram.append(f"layer {layer + 1}: " + "   ".join(row))
        lines.append(f"out = {label(len(self.pairs) - 1, 0)}")
        return "\n".join(lines + ["", "layer diagram (surviving neurons only):"] + diagram)

    def extra_repr(self) -> str:
        layers = len(self.pairs) if self.config.algorithm == "multilayer" else 0
        return f"algorithm={self.config.algorithm}, layers={layers}, fitted={self.coefs.numel() > 0}"


@dataclass
class GMDHClassifierConfig(GMDHConfig):
    num_classes: int = field(2, "classes: two, separated by thresholding the output at 0.5",
                             range=(2, 2))
    sharpness: float = field(8.0, "logit = sharpness * (output - 0.5): softmax sharpness only; "
                             "the decision is the threshold", positive=True)


@register_model("gmdh-classifier", config=GMDHClassifierConfig, family="other", presets={
    "tiny": {"in_features": 4, "width": 4, "max_layers": 3},
    "combi": {"algorithm": "combi"},
})
class GMDHClassifier(GMDH):
    """GMDH for two classes (Ivakhnenko 1971): the polynomial network is fitted to the 0/1
    label and its output thresholded at 0.5.

    Shapes:
        input (B, D) -> class scores (B, 2): (0, sharpness * (output - 0.5)).
    """

    task = "classify"

    def example_batch(self, batch_size: int, generator: torch.Generator):
        x, y = super().example_batch(batch_size, generator)
        return x, (y > y.median()).long()

    def _target(self, y: torch.Tensor) -> torch.Tensor:
        if y.dtype.is_floating_point or (len(y) and int(y.max()) > 1) or (len(y) and int(y.min()) < 0):
            raise AnnError("gmdh-classifier separates two classes labelled 0 and 1; for more "
                           "classes use another model (pnn, dsn)")
        return y.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)                                             # (B,) ~ P(y = 1)
        logit = self.config.sharpness * (out - 0.5)
        return torch.stack([torch.zeros_like(logit), logit], -1)             # (B, 2)


@dataclass
class GMDHForecasterConfig(GMDHConfig):
    window: int = field(20, "past values the model sees (its inputs; filled from the dataset)",
                        positive=True)
    horizon: int = field(1, "values forecast: one step ahead (filled from the dataset)",
                         range=(1, 1))
    mean: float = field(0.0, "the train series' mean (filled from the dataset)")
    std: float = field(1.0, "the train series' std (filled from the dataset)", positive=True)


@register_model("gmdh-forecaster", config=GMDHForecasterConfig, family="other", presets={
    "tiny": {"window": 4, "width": 4, "max_layers": 3},
})
class GMDHForecaster(GMDH):
    """GMDH forecasting one step ahead from lagged values (Ivakhnenko 1971; forecasting from
    lags was GMDH's first application). The inputs are the ``window`` past values.

    Shapes:
        input (B, window, 1) -> forecast (B, 1).
    """

    task = "forecast"

    @staticmethod
    def _inputs(config) -> int:
        return config.window

    def _names(self) -> list[str]:
        return [f"y[t-{self.n_inputs - j}]" for j in range(self.n_inputs)]

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """x (B, window, 1) noisy sine windows, y (B, 1) the next value."""
        w = self.config.window
        phase = torch.rand(batch_size, 1, generator=generator) * 6.28
        t = phase + 0.5 * torch.arange(w + 1)
        series = torch.sin(t)
        return series[:, :w, None], series[:, w:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)[:, None]                                   # (B, 1)
