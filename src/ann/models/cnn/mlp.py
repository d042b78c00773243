"""The multilayer perceptron: flatten the image, hidden fully connected layers, class scores.

The plain feed-forward network trained by back-propagation (Rumelhart, Hinton & Williams 1986,
"Learning representations by back-propagating errors", Nature 323). It ignores the image's 2-D
structure, which is what the convolutional models in this folder exploit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...layers import MLP, Linear
from ...registry import register_model
from ..inputs import LabelledImageInput
from .common import ImageClassifier


@dataclass
class MLPConfig(LabelledImageInput):
    hidden: tuple[int, ...] = field((128, 64), "sizes of the hidden layers, input to output",
                                    positive=True)
    activation: str = field("relu", "activation after each hidden layer",
                            choices=("relu", "gelu", "silu", "tanh", "sigmoid"))
    dropout: float = field(0.1, "dropout probability after each hidden layer", range=(0.0, 0.95))


@register_model("mlp", config=MLPConfig, family="cnn", presets={
    "tiny": {"hidden": (32,)},
    "mnist": {"image_size": 28, "hidden": (512, 256), "dropout": 0.2},
})
class MLPClassifier(ImageClassifier):
    """Multilayer perceptron on flattened images (Rumelhart et al. 1986).

    Shapes:
        input (B, C, H, W) -> class scores (B, num_classes).
    """

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        c = config
        n_in = c.in_channels * c.image_size * c.image_size
        self.flatten = nn.Flatten()                          # (B, C*H*W)
        self.mlp = MLP((n_in, *c.hidden, c.num_classes), c.activation, c.dropout)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module):
        # He et al. 2015 uniform init for ReLU-family units (PyTorch's default assumes leaky
        # ReLU with a = sqrt(5) and gives smaller weights); zero biases.
        if isinstance(module, Linear):
            nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.flatten(x))                     # (B, num_classes)
