"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised representation learning with deep
convolutional generative adversarial networks", https://arxiv.org/abs/1511.06434), sized for
small grayscale images (8x8 digits, 28x28 MNIST).

The generator maps noise to a (2w, S/4, S/4) map by a linear layer, then doubles it twice with
4x4 stride-2 transposed convolutions (batch norm and ReLU between, tanh at the end); the
discriminator mirrors it with stride-2 convolutions and leaky ReLUs (slope 0.2) down to one
score. Weights start from N(0, 0.02), batch-norm scales from N(1, 0.02), as in the paper.

With ``spectral_norm`` (or ``loss=wgan-gp``, whose penalty assumes per-example scores) the
discriminator has no batch norm. The conditional model (``cgan``) adds a label embedding to
the generator's noise and a projection term to the discriminator's score (Miyato & Koyama
2018, "cGANs with projection discriminator"). With ``g_ema`` a moving average of the
generator's weights draws the samples (see ``GAN.make_average``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ...config import field, validate
from ...errors import AnnError
from ...layers import Identity
from ...registry import register_model
from .common import GAN, GANInput


@dataclass
class DCGANConfig(GANInput):
    z_dim: int = field(64, "size of the generator's noise vector", positive=True)
    g_width: int = field(32, "generator channels at full resolution (2x at half resolution)",
                         positive=True)
    d_width: int = field(32, "discriminator channels after its first convolution",
                         positive=True)
    g_blocks: int = field(0, "extra 3x3 stride-1 convolutions (batch norm, ReLU) in the generator "
                          "at the lowest resolution, where it starts from 4w channels rather "
                          "than 2w", nonneg=True)
    label_dim: int = field(16, "conditional models: size of the generator's label embedding",
                           positive=True)
    g_ema: float = field(0.0, "decay of a moving average of the generator's weights that draws "
                         "the samples (0: off, the trained generator draws; e.g. 0.999)",
                         nonneg=True)

    def __post_check__(self):
        if self.g_ema >= 1:
            raise AnnError(f"model.g_ema is a decay below 1 (e.g. 0.999), got {self.g_ema}")
        if self.image_size % 4:
            raise AnnError(f"a DCGAN here doubles a map twice, so the image side must be "
                           f"divisible by 4, got {self.image_size}")


class Generator(nn.Module):
    """Noise (B, z_dim) [and labels (B,)] -> images (B, C, S, S) in [-1, 1]."""

    def __init__(self, c: DCGANConfig, conditional: bool):
        super().__init__()
        s, w = c.image_size // 4, c.g_width
        self.embed = nn.Embedding(c.num_classes, c.label_dim) if conditional else None
        width_in = c.z_dim + (c.label_dim if conditional else 0)
        start = 4 * w if c.g_blocks else 2 * w
        blocks = []
        for i in range(c.g_blocks):                                         # (B, 2w, S/4, S/4)
            blocks += [nn.Conv2d(start if i == 0 else 2 * w, 2 * w, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(2 * w), nn.ReLU()]
        self.net = nn.Sequential(
            nn.Linear(width_in, start * s * s, bias=False), nn.BatchNorm1d(start * s * s),
            nn.ReLU(), nn.Unflatten(1, (start, s, s)),                      # (B, start, S/4, S/4)
            *blocks,
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, c.in_channels, 4, 2, 1), nn.Tanh())       # (B, C, S, S)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)                        # (B, z + label_dim)
        return self.net(z)


class Discriminator(nn.Module):
    """Images (B, C, S, S) in [-1, 1] [and labels (B,)] -> scores (B,)."""

    def __init__(self, c: DCGANConfig, conditional: bool):
        super().__init__()
        s, w = c.image_size // 4, c.d_width
        sn = spectral_norm if c.spectral_norm else (lambda m: m)
        batch_norm = not c.spectral_norm and c.loss != "wgan-gp"
        self.features = nn.Sequential(
            sn(nn.Conv2d(c.in_channels, w, 4, 2, 1)), nn.LeakyReLU(0.2),     # (B, w, S/2, S/2)
            sn(nn.Conv2d(w, 2 * w, 4, 2, 1, bias=not batch_norm)),
            nn.BatchNorm2d(2 * w) if batch_norm else Identity(), nn.LeakyReLU(0.2),
            nn.Flatten())                                                    # (B, 2w S^2 / 16)
        self.out = sn(nn.Linear(2 * w * s * s, 1))
        self.project = sn(nn.Embedding(c.num_classes, 2 * w * s * s)) if conditional else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)                                                 # (B, F)
        score = self.out(h).squeeze(1)                                       # (B,)
        if self.project is not None:
            score = score + (self.project(y) * h).sum(1)                     # projection term
        return score


def init_dcgan(module: nn.Module):
    """Radford et al.: weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        weight = getattr(module, "parametrizations", None)
        target = weight.weight.original if weight is not None else module.weight
        nn.init.normal_(target, 0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


DCGAN_PRESETS = {
    "tiny": {"z_dim": 8, "g_width": 8, "d_width": 8},
    "digits": {"z_dim": 32, "g_width": 32, "d_width": 32},
    "mnist": {"z_dim": 64, "g_width": 64, "d_width": 64},
    "hinge-sn": {"z_dim": 64, "g_width": 64, "d_width": 64, "loss": "hinge",
                 "spectral_norm": True},
}


@register_model("dcgan", config=DCGANConfig, family="gan", presets=DCGAN_PRESETS)
class DCGAN(GAN):
    """DCGAN: a transposed-convolution generator against a convolutional discriminator.

    Shapes:
        noise (B, z_dim) -> images (B, C, S, S) in [-1, 1]; images -> scores (B,).
    """

    def __init__(self, config: DCGANConfig):
        super().__init__()
        validate(config)
        self.config = config
        self.generator = Generator(config, self.conditional)
        self.discriminator = Discriminator(config, self.conditional)
        self.apply(init_dcgan)
        self.make_average(config.g_ema)
