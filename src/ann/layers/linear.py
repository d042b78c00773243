"""Fully connected layers: one affine map, and a multilayer perceptron stack.

The multilayer perceptron trained by back-propagation (Rumelhart, Hinton & Williams 1986,
"Learning representations by back-propagating errors").
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from .activation import get_activation
from .dropout import Dropout


class Linear(nn.Linear):
    """Affine map ``y = x W^T + b`` on the last dimension.

    Shapes:
        input (*, in_features) -> output (*, out_features).
    """


class MLP(nn.Module):
    """A stack of fully connected layers: (Linear -> activation -> dropout) per hidden layer,
    then a final Linear with no activation.

    Args:
        sizes: feature sizes from input to output, e.g. ``(784, 256, 128, 10)``: two hidden layers.
        activation: name for :func:`~ann.layers.get_activation` used after each hidden layer.
        dropout: probability of zeroing a hidden unit during training (0 disables it).
        bias: give every Linear a bias.

    Shapes:
        input (*, sizes[0]) -> output (*, sizes[-1]).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", dropout: float = 0.0,
                 bias: bool = True):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        layers: list[nn.Module] = []
        for fan_in, fan_out in itertools.pairwise(sizes[:-1]):
            layers += [Linear(fan_in, fan_out, bias=bias), get_activation(activation),
                       Dropout(dropout)]
        layers.append(Linear(sizes[-2], sizes[-1], bias=bias))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
