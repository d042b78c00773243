"""A convolutional autoencoder: stride-2 convolutions down to a small code, transposed
convolutions back up (Masci, Meier, Ciresan & Schmidhuber 2011, "Stacked convolutional
auto-encoders for hierarchical feature extraction").
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import field, validate
from ...layers import Linear
from ...registry import register_model
from .common import Autoencoder, AutoencoderInput, conv_decoder, conv_encoder, init_weights, smallest_side


@dataclass
class ConvAEConfig(AutoencoderInput):
    widths: tuple[int, ...] = field((16, 32), "channels of each stride-2 stage (one per stage; "
                                    "each halves the image side)", positive=True)
    code_size: int = field(16, "size of the code (the bottleneck)", positive=True)
    activation: str = field("relu", "activation after each convolution",
                            choices=("relu", "gelu", "silu"))


@register_model("conv-ae", config=ConvAEConfig, family="autoencoder", presets={
    "tiny": {"widths": (8, 16), "code_size": 16},
    "mnist": {"widths": (32, 64), "code_size": 32},
})
class ConvAE(Autoencoder):
    """Convolutional autoencoder; the loss is the mean squared error in data space.

    Shapes:
        input (B, C, S, S) -> code (B, code_size) -> reconstruction (B, C, S, S) in [0, 1].
    """

    def __init__(self, config: ConvAEConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        side = smallest_side(c, c.widths)
        self.encoder = conv_encoder(c, c.widths, c.activation)
        self.to_code = Linear(c.widths[-1] * side * side, c.code_size)
        self.decoder = conv_decoder(c, c.widths, c.activation, c.code_size)
        self.apply(init_weights)

    def encode(self, x):
        return self.to_code(self.encoder(x))                 # (B, code_size)
