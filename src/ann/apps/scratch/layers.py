"""Layers written out in NumPy, each with its forward pass and a hand-written backward pass.

No autograd: every ``backward(grad)`` applies the chain rule by hand. It receives dL/d(output),
stores dL/d(parameter) in ``self.grads`` (same keys as ``self.params``) and returns dL/d(input).
A layer remembers what its backward pass needs (its input, a mask, normalised values) in the
forward pass, so ``backward`` must follow the ``forward`` it differentiates.

Shapes (batch first, as in the rest of ann):
    Linear (N, in) -> (N, out);  Conv2d, pooling, BatchNorm (N, C, H, W);  Embedding (N, ...) ints
    -> (N, ..., dim);  SoftmaxCrossEntropy (N, classes) logits and (N,) labels -> a scalar.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Layer:
    """A differentiable step. ``params``/``grads``: name -> array; ``training`` picks the mode
    of the layers that behave differently at training and test time (dropout, batch norm)."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# --------------------------------------------------------------------------- fully connected

class Linear(Layer):
    """y = x W^T + b: a weight per (input, output) pair plus one bias term per output unit.

    Init: He et al. 2015 uniform (bound sqrt(6 / fan_in)) for the weights, zero biases.
    Backward: dW = g^T x, db = sum of g over the batch, dx = g W.
    """

    def __init__(self, n_in: int, n_out: int, rng=None, dtype=np.float64):
        super().__init__()
        bound = np.sqrt(6.0 / n_in)
        self.params["weight"] = _rng(rng).uniform(-bound, bound, (n_out, n_in)).astype(dtype)
        self.params["bias"] = np.zeros(n_out, dtype)

    def forward(self, x):
        self.x = x                                               # (N, in)
        return x @ self.params["weight"].T + self.params["bias"]  # (N, out)

    def backward(self, grad):                                    # grad (N, out)
        self.grads["weight"] = grad.T @ self.x                   # (out, in)
        self.grads["bias"] = grad.sum(axis=0)                    # (out,)
        return grad @ self.params["weight"]                      # (N, in)


# --------------------------------------------------------------------------- activations

class ReLU(Layer):
    """max(0, x); its derivative is 1 where x > 0 and 0 elsewhere (0 at x = 0, as PyTorch)."""

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad):
        return grad * self.mask


class Tanh(Layer):
    """tanh(x); d/dx = 1 - tanh(x)^2, computed from the saved output."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1.0 - self.y ** 2)


class Sigmoid(Layer):
    """1 / (1 + e^-x); d/dx = s (1 - s). Written to avoid overflow for large negative x."""

    def forward(self, x):
        e = np.exp(-np.abs(x))
        self.y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self.y

    def backward(self, grad):
        return grad * self.y * (1.0 - self.y)


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W); backward restores the shape."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad):
        return grad.reshape(self.shape)


# --------------------------------------------------------------------------- convolution

def _windows(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Every k x k window of x (N, C, H, W) at the given stride: (N, C, Ho, Wo, k, k), a view."""
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]


class Conv2d(Layer):
    """2-D convolution (cross-correlation, as in every framework) by im2col.

    Each output position's k x k x C input patch becomes a row of a matrix (im2col), so the
    convolution is one matrix product with the (out_channels, C*k*k) weight matrix. Backward:
    dW = g^T cols, db = sum of g, and dcols = g W, whose entries are added back to the input
    positions they were copied from (col2im).

    Shapes: (N, C, H, W) -> (N, out_channels, (H + 2p - k) // s + 1, (W + 2p - k) // s + 1).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, rng=None, dtype=np.float64):
        super().__init__()
        self.k, self.stride, self.padding = kernel_size, stride, padding
        fan_in = in_channels * kernel_size * kernel_size
        self.params["weight"] = (_rng(rng).standard_normal(
            (out_channels, in_channels, kernel_size, kernel_size)) * np.sqrt(2.0 / fan_in)).astype(dtype)
        self.params["bias"] = np.zeros(out_channels, dtype)

    def forward(self, x):
        p, k = self.padding, self.k
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        self.x_shape, self.xp_shape = x.shape, xp.shape
        win = _windows(xp, k, self.stride)                        # (N, C, Ho, Wo, k, k)
        n, c, ho, wo = win.shape[:4]
        self.cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)
        w = self.params["weight"].reshape(len(self.params["weight"]), -1)   # (F, C*k*k)
        out = self.cols @ w.T + self.params["bias"]               # (N*Ho*Wo, F)
        return out.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)   # (N, F, Ho, Wo)

    def backward(self, grad):                                     # grad (N, F, Ho, Wo)
        n, f, ho, wo = grad.shape
        weight = self.params["weight"]
        g = grad.transpose(0, 2, 3, 1).reshape(-1, f)             # (N*Ho*Wo, F)
        self.grads["weight"] = (g.T @ self.cols).reshape(weight.shape)
        self.grads["bias"] = g.sum(axis=0)
        c, k, s, p = weight.shape[1], self.k, self.stride, self.padding
        dcols = (g @ weight.reshape(f, -1)).reshape(n, ho, wo, c, k, k)
        dxp = np.zeros(self.xp_shape, dtype=grad.dtype)
        for i in range(k):          # col2im: a loop over the k*k kernel offsets, not positions
            for j in range(k):
                dxp[:, :, i:i + s * ho:s, j:j + s * wo:s] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        h, w = self.x_shape[2:]
        return dxp[:, :, p:p + h, p:p + w]


# --------------------------------------------------------------------------- pooling

class MaxPool2d(Layer):
    """The largest value of each k x k window; the gradient flows only to that position.

    Shapes: (N, C, H, W) -> (N, C, (H - k) // s + 1, (W - k) // s + 1).
    """

    def __init__(self, kernel_size: int = 2, stride: int | None = None):
        super().__init__()
        self.k, self.stride = kernel_size, stride or kernel_size

    def forward(self, x):
        win = _windows(x, self.k, self.stride)                    # (N, C, Ho, Wo, k, k)
        flat = win.reshape(*win.shape[:4], -1)                    # (N, C, Ho, Wo, k*k)
        self.arg = flat.argmax(axis=-1)                           # the winner of each window
        self.x_shape = x.shape
        return np.take_along_axis(flat, self.arg[..., None], -1)[..., 0]

    def backward(self, grad):
        k, s = self.k, self.stride
        ho, wo = grad.shape[2:]
        dx = np.zeros(self.x_shape, dtype=grad.dtype)
        for i in range(k):
            for j in range(k):
                dx[:, :, i:i + s * ho:s, j:j + s * wo:s] += grad * (self.arg == i * k + j)
        return dx


class AvgPool2d(Layer):
    """The mean of each k x k window; each input receives 1/k^2 of its windows' gradients."""

    def __init__(self, kernel_size: int = 2, stride: int | None = None):
        super().__init__()
        self.k, self.stride = kernel_size, stride or kernel_size

    def forward(self, x):
        self.x_shape = x.shape
        return _windows(x, self.k, self.stride).mean(axis=(-2, -1))

    def backward(self, grad):
        k, s = self.k, self.stride
        ho, wo = grad.shape[2:]
        dx = np.zeros(self.x_shape, dtype=grad.dtype)
        for i in range(k):
            for j in range(k):
                dx[:, :, i:i + s * ho:s, j:j + s * wo:s] += grad / (k * k)
        return dx


# --------------------------------------------------------------------------- normalisation

class BatchNorm(Layer):
    """Batch normalization (Ioffe & Szegedy 2015) over (N, C) or (N, C, H, W) inputs.

    Training: normalise with the batch's mean and (biased) variance per channel, then scale by
    gamma and shift by beta; keep running averages (momentum 0.1; the running variance is the
    unbiased one, as PyTorch keeps it). Evaluation: normalise with the running averages.
    Backward in training mode, with xhat the normalised input and m values per channel:
    dx = gamma / (m sigma) * (m g - sum(g) - xhat sum(g xhat)).
    """

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float64):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.params["weight"] = np.ones(channels, dtype)     # gamma
        self.params["bias"] = np.zeros(channels, dtype)      # beta
        self.running_mean = np.zeros(channels, dtype)
        self.running_var = np.ones(channels, dtype)

    def _view(self, v, ndim):          # a per-channel vector shaped to broadcast over x
        return v.reshape(1, -1, *([1] * (ndim - 2)))

    def forward(self, x):
        axes = (0,) + tuple(range(2, x.ndim))
        if self.training:
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            m = x.size // x.shape[1]
            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
            self.running_var = ((1 - self.momentum) * self.running_var
                                + self.momentum * var * m / max(m - 1, 1))
        else:
            mean, var = self.running_mean, self.running_var
        self.inv_std = self._view(1.0 / np.sqrt(var + self.eps), x.ndim)
        self.xhat = (x - self._view(mean, x.ndim)) * self.inv_std
        self.axes, self.mode = axes, self.training
        gamma, beta = (self._view(self.params[k], x.ndim) for k in ("weight", "bias"))
        return gamma * self.xhat + beta

    def backward(self, grad):
        axes, xhat = self.axes, self.xhat
        self.grads["weight"] = (grad * xhat).sum(axis=axes)
        self.grads["bias"] = grad.sum(axis=axes)
        gamma = self._view(self.params["weight"], grad.ndim)
        if not self.mode:              # eval: the statistics are constants
            return grad * gamma * self.inv_std
        m = grad.size // grad.shape[1]
        sum_g = grad.sum(axis=axes, keepdims=True)
        sum_gx = (grad * xhat).sum(axis=axes, keepdims=True)
        return gamma * self.inv_std / m * (m * grad - sum_g - xhat * sum_gx)


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014): in training, zero each value with probability
    p and scale the survivors by 1/(1-p), so evaluation needs no rescaling. Seeded: the masks
    come from the layer's own generator."""

    def __init__(self, p: float = 0.5, seed: int = 0):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.rng = p, np.random.default_rng(seed)

    def forward(self, x):
        if not self.training or self.p == 0:
            self.mask = None
            return x
        self.mask = (self.rng.random(x.shape) >= self.p).astype(x.dtype) / (1 - self.p)
        return x * self.mask

    def backward(self, grad):
        return grad if self.mask is None else grad * self.mask


class Embedding(Layer):
    """A table of vectors, one row per token id: forward looks rows up. Backward adds each
    position's gradient to the row it read (``np.add.at``: a repeated id accumulates); token ids
    have no gradient, so it returns None."""

    def __init__(self, num_embeddings: int, dim: int, rng=None, dtype=np.float64):
        super().__init__()
        self.params["weight"] = _rng(rng).standard_normal((num_embeddings, dim)).astype(dtype)

    def forward(self, ids):
        self.ids = ids
        return self.params["weight"][ids]                         # (*ids.shape, dim)

    def backward(self, grad):
        dw = np.zeros_like(self.params["weight"])
        np.add.at(dw, self.ids.reshape(-1), grad.reshape(-1, dw.shape[1]))
        self.grads["weight"] = dw
        return None


# --------------------------------------------------------------------------- loss

class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels.

    Softmax and the log are fused (log-sum-exp with the max subtracted) for stability, and so is
    the gradient: dL/dlogits = (softmax(logits) - onehot(labels)) / N.
    """

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        z = logits - logits.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))   # (N, classes)
        self.p, self.labels = np.exp(log_p), labels
        return float(-log_p[np.arange(len(labels)), labels].mean())

    __call__ = forward

    def backward(self) -> np.ndarray:
        g = self.p.copy()
        g[np.arange(len(self.labels)), self.labels] -= 1.0
        return g / len(self.labels)
