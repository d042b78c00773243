"""A from-scratch MLP and CNN trained on scikit-learn's 8x8 digits by hand-written gradients.

The same data and splits as ``ann train mlp-digits`` / ``cnn-digits`` (``ann.load_dataset``),
the same mini-batch loop the engine runs: forward, loss, backward, optimizer step, one epoch at
a time, then the validation accuracy; the weights with the best validation accuracy are kept and
scored on the test split. Everything between the arrays and the update is ``ann.apps.scratch``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...errors import AnnError, unknown
from .layers import (
    BatchNorm,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    SoftmaxCrossEntropy,
)
from .network import SGD, Sequential

DTYPE = np.float32   # training precision (the gradient tests run in float64)


def build_mlp(seed: int = 0, dtype=DTYPE) -> Sequential:
    """64-128-64-10 with ReLU and dropout 0.1: the shape of ann's ``mlp`` on digits."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Flatten(),                                           # (N, 64)
        Linear(64, 128, rng, dtype), ReLU(), Dropout(0.1, seed + 1),
        Linear(128, 64, rng, dtype), ReLU(), Dropout(0.1, seed + 2),
        Linear(64, 10, rng, dtype))                          # (N, 10)


def build_cnn(seed: int = 0, dtype=DTYPE) -> Sequential:
    """Three conv-BN-ReLU layers (16, 32, 64 channels; 3x3, padding 1) with 2x2 max pooling
    after the second and third (8x8 -> 4x4 -> 2x2), then dropout and a fully connected
    classifier."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(1, 16, 3, 1, 1, rng, dtype), BatchNorm(16, dtype=dtype), ReLU(),   # (N, 16, 8, 8)
        Conv2d(16, 32, 3, 1, 1, rng, dtype), BatchNorm(32, dtype=dtype), ReLU(),  # (N, 32, 8, 8)
        MaxPool2d(2),                                                             # (N, 32, 4, 4)
        Conv2d(32, 64, 3, 1, 1, rng, dtype), BatchNorm(64, dtype=dtype), ReLU(),  # (N, 64, 4, 4)
        MaxPool2d(2),                                                             # (N, 64, 2, 2)
        Flatten(), Dropout(0.3, seed + 1),                                        # (N, 256)
        Linear(256, 10, rng, dtype))                                              # (N, 10)


@dataclass(frozen=True)
class Setup:
    build: Callable[..., Sequential]
    epochs: int
    lr: float
    weight_decay: float
    shift: int          # random translation of training images by up to this many pixels
    batch_size: int = 32
    momentum: float = 0.9


SETUPS = {
    "mlp": Setup(build_mlp, epochs=40, lr=0.05, weight_decay=1e-4, shift=0),
    "cnn": Setup(build_cnn, epochs=40, lr=0.05, weight_decay=5e-4, shift=1),
}


@dataclass
class Result:
    model: str
    net: Sequential
    history: list[dict] = field(default_factory=list)   # one dict per epoch
    test_accuracy: float = 0.0
    best_epoch: int = 0
    wall_time_s: float = 0.0


def load_digits_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """ann's ``digits`` split as NumPy arrays: x (N, 1, 8, 8) standardised, y (N,) int64."""
    from ...registry import load_dataset

    data = load_dataset("digits", split)
    return data.x.numpy().astype(DTYPE), data.y.numpy()


def accuracy(net: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    net.eval()
    hits = sum(int((net.forward(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
               for i in range(0, len(y), batch_size))
    return hits / len(y)


def _shift(x: np.ndarray, rng: np.random.Generator, most: int) -> np.ndarray:
    """Translate each image by up to ``most`` pixels each way, filling with the background."""
    n, _, h, w = x.shape
    background = x.min()
    padded = np.pad(x, ((0, 0), (0, 0), (most, most), (most, most)), constant_values=background)
    dy, dx = rng.integers(0, 2 * most + 1, (2, n))
    return np.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def check_options(model: str = "mlp", epochs: int | None = None, seed: int = 0) -> None:
    """One line for a model, epoch count or seed :func:`train_digits` cannot take (the command
    checks them before it prints its table's header)."""
    if model not in SETUPS:
        raise unknown("scratch model", model, SETUPS)
    if epochs is not None and epochs < 1:
        raise AnnError(f"--epochs must be at least 1, got {epochs}")
    if not 0 <= seed < 2**32:
        raise AnnError(f"--seed must be between 0 and {2**32 - 1}, got {seed}")


def train_digits(model: str = "mlp", epochs: int | None = None, seed: int = 0,
                 on_epoch: Callable[[dict], None] | None = None) -> Result:
    """Train the scratch ``model`` ('mlp' or 'cnn') on digits; ``on_epoch`` gets each epoch's
    record (epoch, loss, train_accuracy, val_accuracy, lr, seconds)."""
    check_options(model, epochs, seed)
    s = SETUPS[model]
    epochs = s.epochs if epochs is None else epochs
    start = time.perf_counter()
    (x_tr, y_tr), (x_val, y_val), (x_te, y_te) = (load_digits_arrays(k)
                                                  for k in ("train", "val", "test"))
    rng = np.random.default_rng(seed)
    net = s.build(seed)
    opt, loss_fn = SGD(net, s.lr, s.momentum, s.weight_decay), SoftmaxCrossEntropy()
    steps_per_epoch = math.ceil(len(y_tr) / s.batch_size)
    total, step = epochs * steps_per_epoch, 0
    result, best = Result(model, net), (-1.0, None)
    for epoch in range(1, epochs + 1):
        t0, net = time.perf_counter(), net.train()
        order = rng.permutation(len(y_tr))
        loss_sum = hits = 0.0
        for i in range(0, len(order), s.batch_size):
            idx = order[i:i + s.batch_size]
            xb = _shift(x_tr[idx], rng, s.shift) if s.shift else x_tr[idx]
            opt.lr = 0.5 * s.lr * (1 + math.cos(math.pi * step / total))   # cosine decay
            logits = net.forward(xb)
            loss_sum += loss_fn(logits, y_tr[idx]) * len(idx)
            hits += int((logits.argmax(1) == y_tr[idx]).sum())
            net.backward(loss_fn.backward())
            opt.step()
            step += 1
        record = {"epoch": epoch, "loss": loss_sum / len(y_tr), "train_accuracy": hits / len(y_tr),
                  "val_accuracy": accuracy(net, x_val, y_val), "lr": opt.lr,
                  "seconds": time.perf_counter() - t0}
        result.history.append(record)
        if record["val_accuracy"] >= best[0]:     # ties: the later, longer-trained weights
            best = (record["val_accuracy"], _snapshot(net))
            result.best_epoch = epoch
        if on_epoch:
            on_epoch(record)
    _restore(net, best[1])
    result.test_accuracy = accuracy(net, x_te, y_te)
    result.wall_time_s = time.perf_counter() - start
    return result


def _snapshot(net: Sequential) -> list:
    state = [layer.params[name].copy() for layer, name in net.parameters()]
    stats = [(layer.running_mean.copy(), layer.running_var.copy())
             for layer in net.layers if isinstance(layer, BatchNorm)]
    return [state, stats]


def _restore(net: Sequential, snap: list):
    state, stats = snap
    for (layer, name), value in zip(net.parameters(), state):
        layer.params[name][...] = value
    for layer, (mean, var) in zip((m for m in net.layers if isinstance(m, BatchNorm)), stats):
        layer.running_mean, layer.running_var = mean, var
