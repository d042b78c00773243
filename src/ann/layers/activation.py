"""Activation functions, by name.

PyTorch already has the kernels; these thin subclasses give each a documented place in ann, and
:func:`get_activation` turns a config string (``activation="gelu"``) into a module.

Shapes (all of them): input (*) -> output (*), same shape; Softmax normalises along ``dim``.
"""

from __future__ import annotations

from torch import nn

from ..errors import unknown


class Identity(nn.Identity):
    """Returns its input unchanged: what a disabled activation becomes."""


class ReLU(nn.ReLU):
    """max(0, x) (Nair & Hinton 2010; Glorot et al. 2011)."""


class GELU(nn.GELU):
    """x * Phi(x), the Gaussian error linear unit (Hendrycks & Gimpel 2016,
    https://arxiv.org/abs/1606.08415); ``approximate="tanh"`` for the GPT-2 variant."""


class SiLU(nn.SiLU):
    """x * sigmoid(x), a.k.a. swish (Elfwing et al. 2017; Ramachandran et al. 2017)."""


class Tanh(nn.Tanh):
    """Hyperbolic tangent, the squashing function of early networks (LeNet-5, RNNs)."""


class Sigmoid(nn.Sigmoid):
    """1 / (1 + exp(-x)): squashes to (0, 1); gates and binary outputs."""


class Softmax(nn.Softmax):
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (default: the last); entries sum to 1 there."""

    def __init__(self, dim: int = -1):
        super().__init__(dim=dim)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": Identity,
    "relu": ReLU,
    "gelu": GELU,
    "silu": SiLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "softmax": Softmax,
}


def get_activation(name: str | None) -> nn.Module:
    """A new activation module from its name (``None`` or ``"identity"``: no activation).

    Raises :class:`~ann.errors.AnnError` listing the valid names for an unknown one.
    """
    key = "identity" if name is None else str(name).lower()
    if key not in ACTIVATIONS:
        raise unknown("activation", name, ACTIVATIONS)
    return ACTIVATIONS[key]()
