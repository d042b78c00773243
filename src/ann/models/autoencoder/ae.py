"""A fully connected autoencoder: an MLP squeezes the input to a small code, a mirrored MLP
rebuilds it (Hinton & Salakhutdinov 2006, "Reducing the dimensionality of data with neural
networks", Science 313). Images are flattened; tabular rows are read as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...config import field, validate
from ...layers import MLP
from ...registry import register_model
from .common import Autoencoder, AutoencoderInput, init_weights


@dataclass
class AEConfig(AutoencoderInput):
    hidden: tuple[int, ...] = field((64,), "widths of the encoder's hidden layers (the decoder "
                                    "mirrors them)", positive=True)
    code_size: int = field(2, "size of the code (the bottleneck)", positive=True)
    activation: str = field("relu", "activation of the hidden layers",
                            choices=("relu", "gelu", "silu", "tanh"))


@register_model("ae", config=AEConfig, family="autoencoder", presets={
    "tiny": {"hidden": (32,), "code_size": 8},
    "digits": {"hidden": (128, 64), "code_size": 2},
    "mnist": {"hidden": (512, 256), "code_size": 32},
    "tabular": {"hidden": (16,), "code_size": 4},
})
class FullyConnectedAE(Autoencoder):
    """Fully connected autoencoder; the loss is the mean squared error in data space.

    Shapes:
        input (B, C, H, W) or (B, D) -> code (B, code_size) -> reconstruction like the input.
    """

    def __init__(self, config: AEConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        d = math.prod(c.shape)
        self.encoder = MLP((d, *c.hidden, c.code_size), activation=c.activation)
        self.decoder = MLP((c.code_size, *reversed(c.hidden), d), activation=c.activation)
        self.apply(init_weights)

    def encode(self, x):
        return self.encoder(x.flatten(1))                    # (B, D) -> (B, code_size)
