"""A denoising autoencoder: the convolutional autoencoder trained to rebuild the clean input from
a corrupted copy (Vincent, Larochelle, Bengio & Manzagol 2008, "Extracting and composing robust
features with denoising autoencoders", ICML).

Three corruptions, applied in data space (pixels in [0, 1]):

* ``gaussian``: add N(0, noise^2) to every pixel, then clip to [0, 1];
* ``mask``: set each pixel to 0 with probability ``noise`` (the paper's masking noise);
* ``salt_pepper``: set each pixel with probability ``noise`` to 0 or 1, one half each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...config import field
from ...registry import register_model
from .conv_ae import ConvAE, ConvAEConfig


@dataclass
class DAEConfig(ConvAEConfig):
    corruption: str = field("gaussian", "how inputs are corrupted",
                            choices=("gaussian", "mask", "salt_pepper"))
    noise: float = field(0.5, "corruption strength: the noise std (gaussian) or the share of "
                         "pixels hit (mask, salt_pepper)", range=(0.0, 1.0))


def corrupt_pixels(x: torch.Tensor, kind: str, noise: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A corrupted copy of data-space images ``x`` (values in [0, 1]), same shape; random numbers
    come from ``generator`` (on ``x``'s device) or from the global RNG when it is ``None``."""
    draw = {"generator": generator, "device": x.device, "dtype": x.dtype}
    if kind == "gaussian":
        return (x + noise * torch.randn(x.shape, **draw)).clamp(0.0, 1.0)
    hit = torch.rand(x.shape, **draw) < noise
    if kind == "mask":
        return x.masked_fill(hit, 0.0)
    salt = (torch.rand(x.shape, **draw) < 0.5).to(x.dtype)     # 1 = salt (white), 0 = pepper
    return torch.where(hit, salt, x)


@register_model("dae", config=DAEConfig, family="autoencoder", presets={
    "tiny": {"widths": (8, 16), "code_size": 16},
    "mnist": {"widths": (32, 64), "code_size": 64},
})
class DenoisingAE(ConvAE):
    """Convolutional denoising autoencoder: rebuild the clean image from a corrupted one.

    ``losses`` also reports ``mse_input``, the error of the corrupted input itself, so that the
    PSNR before and after denoising can be compared on the same draws.

    Shapes:
        input (B, C, S, S) -> reconstruction (B, C, S, S) in [0, 1].
    """

    def corrupt(self, x, generator=None):
        c = self.config
        return self.from_data(corrupt_pixels(self.to_data(x), c.corruption, c.noise, generator))

    def losses(self, x, generator=None):
        clean = self.to_data(x).float()
        noisy = self.corrupt(x, generator)
        recon = self.output(self.decode(self.encode(noisy))).float()
        mse = (recon - clean).pow(2).flatten(1).mean(1)
        mse_input = (self.to_data(noisy).float() - clean).pow(2).flatten(1).mean(1)
        return {"loss": mse, "mse": mse, "mse_input": mse_input.detach()}
