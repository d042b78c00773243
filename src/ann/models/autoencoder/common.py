"""What the autoencoders share: the input fields, the data space, the conv stacks and the base
class with its per-example losses.

Inputs arrive standardised, ``(raw / scale - mean) / std``; reconstructions live in the data
space ``x * std + mean``: pixels in [0, 1] for images (the dataset fills ``mean`` and ``std``),
the standardised features themselves for tabular data (``mean`` 0, ``std`` 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Conv2d, Linear, get_activation
from ..inputs import ImageInput


@dataclass
class AutoencoderInput(ImageInput):
    """Config fields of every autoencoder; the engine fills them from the dataset."""

    in_features: int = field(0, "length of a feature vector for tabular data (filled from the "
                             "dataset); 0: the input is an image", nonneg=True)
    mean: float = field(0.0, "mean the inputs were standardised with (filled from the dataset)")
    std: float = field(1.0, "std the inputs were standardised with (filled from the dataset)",
                       positive=True)

    @property
    def images(self) -> bool:
        return self.in_features == 0

    @property
    def shape(self) -> tuple[int, ...]:
        """One example's shape: (C, H, W) or (D,)."""
        if self.images:
            return (self.in_channels, self.image_size, self.image_size)
        return (self.in_features,)


def conv_encoder(c: AutoencoderInput, widths: tuple[int, ...], activation: str) -> nn.Sequential:
    """Stride-2 3x3 convolutions, one per width, then a flatten.

    Shapes:
        (B, C, S, S) -> (B, widths[-1] * (S / 2^len(widths))^2).
    """
    layers: list[nn.Module] = []
    for w_in, w_out in zip((c.in_channels, *widths[:-1]), widths):
        layers += [Conv2d(w_in, w_out, 3, stride=2, padding=1), get_activation(activation)]
    return nn.Sequential(*layers, nn.Flatten())


def conv_decoder(c: AutoencoderInput, widths: tuple[int, ...], activation: str,
                 code: int) -> nn.Sequential:
    """The mirror of :func:`conv_encoder`: a linear map to the smallest feature map, then 4x4
    stride-2 transposed convolutions doubling the size, the last one to ``in_channels`` with no
    activation (logits or means).

    Shapes:
        (B, code) -> (B, C, S, S).
    """
    side = smallest_side(c, widths)
    layers: list[nn.Module] = [Linear(code, widths[-1] * side * side), get_activation(activation),
                               nn.Unflatten(1, (widths[-1], side, side))]  # (B, w, s, s)
    outs = (*reversed(widths[:-1]), c.in_channels)
    for i, (w_in, w_out) in enumerate(zip(reversed(widths), outs)):
        layers.append(nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1))
        if i < len(widths) - 1:
            layers.append(get_activation(activation))
    return nn.Sequential(*layers)


def smallest_side(c: AutoencoderInput, widths: tuple[int, ...]) -> int:
    """Side of the encoder's last feature map; the image must halve exactly at every stage."""
    factor = 2 ** len(widths)
    if not c.images:
        raise AnnError("a convolutional autoencoder reads images; use model ae for tabular data")
    if c.image_size % factor:
        raise AnnError(f"{len(widths)} stride-2 stages need an image side divisible by {factor}, "
                       f"got {c.image_size}; use fewer widths")
    return c.image_size // factor


def init_weights(module: nn.Module):
    """He-normal weights for ReLU stacks (He et al. 2015), zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class Autoencoder(nn.Module):
    """Base of the autoencoders: ``encode``, ``decode`` (to logits or means), ``forward`` (a
    reconstruction in data space) and ``losses`` (per-example terms the ``reconstruct`` task
    averages). Subclasses set ``self.config``, ``self.encoder`` and ``self.decoder``."""

    task = "reconstruct"

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised inputs to the data space (pixels in [0, 1])."""
        return x * self.config.std + self.config.mean

    def from_data(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.config.mean) / self.config.std

    def output(self, h: torch.Tensor) -> torch.Tensor:
        """Decoder output to data space: a sigmoid for images, the identity for features."""
        return torch.sigmoid(h) if self.config.images else h

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)                               # (B, code)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(z.shape[0], *self.config.shape)    # (B, *shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.decode(self.encode(x)))      # same shape as x, data space

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The encoder's input; plain autoencoders see ``x`` itself."""
        return x

    def losses(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        """Per-example mean squared error in data space, (B,): the loss and ``mse``."""
        recon = self.output(self.decode(self.encode(self.corrupt(x, generator))))
        mse = (recon.float() - self.to_data(x).float()).pow(2).flatten(1).mean(1)
        return {"loss": mse, "mse": mse}

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A random batch ``(x, y)``: black-or-white pixels (standardised) or standard normal
        features, and random labels."""
        c = self.config
        if c.images:
            x = self.from_data(torch.rand(batch_size, *c.shape, generator=generator).round())
        else:
            x = torch.randn(batch_size, *c.shape, generator=generator)
        return x, torch.randint(0, 2, (batch_size,), generator=generator)
