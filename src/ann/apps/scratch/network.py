"""A ``Sequential`` container and SGD with momentum for the NumPy layers of ``ann.apps.scratch``."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .layers import Layer


class Sequential(Layer):
    """Layers applied in order; backpropagation visits them in reverse, each turning
    dL/d(its output) into dL/d(its input) for the layer before it."""

    def __init__(self, *layers: Layer):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def train(self, mode: bool = True) -> Sequential:
        for layer in self.layers:
            layer.training = mode
        self.training = mode
        return self

    def eval(self) -> Sequential:
        return self.train(False)

    def parameters(self) -> Iterator[tuple[Layer, str]]:
        """(layer, name) for every parameter: ``layer.params[name]``, ``layer.grads[name]``."""
        for layer in self.layers:
            for name in layer.params:
                yield layer, name

    def count_parameters(self) -> dict[str, int]:
        """Weights and bias terms counted apart (batch norm's gamma counts as a weight and
        beta as a bias, as ann's layer table counts them)."""
        counts = {"weights": 0, "biases": 0}
        for layer, name in self.parameters():
            counts["biases" if name == "bias" else "weights"] += layer.params[name].size
        return counts

    def __repr__(self):
        return "Sequential(\n" + "\n".join(f"  {layer!r}" for layer in self.layers) + "\n)"


class SGD:
    """Stochastic gradient descent with momentum, in PyTorch's form:
    v <- mu v + (g + wd w);  w <- w - lr v.  Weight decay skips bias terms and norm parameters
    (1-D arrays), a common choice that keeps the shifts free."""

    def __init__(self, model: Sequential, lr: float = 0.1, momentum: float = 0.9,
                 weight_decay: float = 0.0):
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self.velocity = {(id(layer), name): np.zeros_like(layer.params[name])
                         for layer, name in model.parameters()}

    def step(self):
        for layer, name in self.model.parameters():
            w, g = layer.params[name], layer.grads[name]
            if self.weight_decay and w.ndim > 1:
                g = g + self.weight_decay * w
            v = self.velocity[(id(layer), name)]
            v *= self.momentum
            v += g
            w -= self.lr * v          # in place: the layer sees the new value
