"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised representation learning with deep
convolutional generative adversarial networks", https://arxiv.org/abs/1511.06434), sized for
small grayscale images (8x8 digits, 28x28 MNIST).

The generator maps noise to a (2w, S/4, S/4) map by a linear layer, then doubles it twice with
4x4 stride-2 transposed convolutions (batch norm and ReLU between, tanh at the end); the
discriminator mirrors it with stride-2 convolutions and leaky ReLUs (slope 0.2) down to one
score. Weights start from N(0, 0.02), batch-norm scales from N(1, 0.02), as in the paper.

``g_hidden`` and ``d_hidden`` add the fully connected layers of InfoGAN's MNIST networks: one
between the noise and the first map, one between the discriminator's convolutions and its
score (the ``mnist-fc`` preset, dcgan-mnist's).

With ``spectral_norm`` (or ``loss=wgan-gp``, whose penalty assumes per-example scores) the
discriminator has no batch norm. The conditional model (``cgan``) adds a label embedding to
the generator's noise and a projection term to the discriminator's score (Miyato & Koyama
2018, "cGANs with projection discriminator"). With ``g_ema`` a moving average of the
generator's weights draws the samples (see ``GAN.make_average``).

With ``cat_code`` = K > 0 the model is an InfoGAN (Chen et al. 2016, "InfoGAN: interpretable
representation learning by information maximizing generative adversarial nets",
https://arxiv.org/abs/1606.03657): the generator's input is the noise and a one-hot code c
drawn uniformly from K values, and a head Q on the discriminator's features guesses c from the
image. Both players also minimise ``info_weight`` times Q's cross-entropy (a lower bound on the
mutual information between c and the image, up to the constant log K), so different codes must
give images that differ visibly. No labels are used; on MNIST with K = 10 Chen et al. find the
codes take the digit classes (measured here only for 2 epochs of the convolution-only networks,
where the codes had not yet taken the classes: see BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
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
    g_hidden: int = field(0, "units of a fully connected layer (batch norm, ReLU) between the "
                          "noise and the first map (0: none; InfoGAN's MNIST networks use 1024)",
                          nonneg=True)
    d_hidden: int = field(0, "units of a fully connected layer (batch norm where the "
                          "discriminator has it, leaky ReLU) between the "
                          "discriminator's convolutions and its score, so that it judges the "
                          "whole image non-linearly (0: none; InfoGAN's MNIST networks use 1024)",
                          nonneg=True)
    label_dim: int = field(16, "conditional models: size of the generator's label embedding",
                           positive=True)
    cat_code: int = field(0, "InfoGAN: values of a uniform categorical code fed to the generator "
                          "beside the noise and read back by a head on the discriminator "
                          "(0: off; e.g. 10 on MNIST)", nonneg=True)
    info_weight: float = field(1.0, "InfoGAN: weight of the code's cross-entropy in both "
                               "players' losses (Chen et al. use 1 for categorical codes)",
                               nonneg=True)
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
        width_in = c.z_dim + c.cat_code + (c.label_dim if conditional else 0)
        start = 4 * w if c.g_blocks else 2 * w
        hidden = []
        if c.g_hidden:                                                      # (B, g_hidden)
            hidden = [nn.Linear(width_in, c.g_hidden, bias=False), nn.BatchNorm1d(c.g_hidden),
                      nn.ReLU()]
            width_in = c.g_hidden
        blocks = []
        for i in range(c.g_blocks):                                         # (B, 2w, S/4, S/4)
            blocks += [nn.Conv2d(start if i == 0 else 2 * w, 2 * w, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(2 * w), nn.ReLU()]
        self.net = nn.Sequential(
            *hidden,
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
        width = 2 * w * s * s
        if c.d_hidden:                                                       # (B, d_hidden)
            self.features.extend([sn(nn.Linear(width, c.d_hidden, bias=not batch_norm)),
                                  nn.BatchNorm1d(c.d_hidden) if batch_norm else Identity(),
                                  nn.LeakyReLU(0.2)])
            width = c.d_hidden
        self.out = sn(nn.Linear(width, 1))
        self.project = sn(nn.Embedding(c.num_classes, width)) if conditional else None
        self.code = (nn.Sequential(nn.Linear(width, 128), nn.LeakyReLU(0.2),
                                   nn.Linear(128, c.cat_code)) if c.cat_code else None)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)                                                 # (B, F)
        score = self.out(h).squeeze(1)                                       # (B,)
        if self.project is not None:
            score = score + (self.project(y) * h).sum(1)                     # projection term
        return score

    def read_code(self, x: torch.Tensor) -> torch.Tensor:
        """InfoGAN's Q: logits (B, K) of the categorical code behind images (B, C, S, S)."""
        return self.code(self.features(x))


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
    # InfoGAN's MNIST networks (Chen et al. 2016, appendix C.1) without the code: a 1024-unit
    # layer after the noise and one before the score; the discriminator's then judges the whole
    # image non-linearly, which the convolutions' linear read-out alone did not (BENCHMARKS.md).
    "mnist-fc": {"z_dim": 64, "g_width": 64, "d_width": 64, "g_hidden": 1024, "d_hidden": 1024},
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
        if config.cat_code and self.conditional:
            raise AnnError("model.cat_code (InfoGAN) is for unconditional models: a conditional "
                           "model already gets its class; set model.cat_code=0")
        self.apply(init_dcgan)
        self.make_average(config.g_ema)

    # -- InfoGAN's categorical code ------------------------------------------------------------
    def noise(self, n: int, generator=None, device=None, code: int | None = None) -> torch.Tensor:
        """Noise (n, z_dim) and, with ``cat_code`` = K, a one-hot code (n, K) after it: drawn
        uniformly, or ``code`` for every row."""
        z = super().noise(n, generator, device)
        k = self.config.cat_code
        if not k:
            return z
        if code is None:
            idx = torch.randint(k, (n,), generator=generator, device=z.device)
        elif not 0 <= code < k:
            raise AnnError(f"code {code} is outside this InfoGAN's {k} code values (0-{k - 1})")
        else:
            idx = torch.full((n,), code, dtype=torch.long, device=z.device)
        return torch.cat([z, F.one_hot(idx, k).to(z.dtype)], dim=1)

    def info_loss(self, fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor | None:
        """``info_weight`` x the cross-entropy of Q's guess of the code behind ``fake``."""
        c = self.config
        if not c.cat_code:
            return None
        target = z[:, c.z_dim:c.z_dim + c.cat_code].argmax(1)
        return c.info_weight * F.cross_entropy(self.discriminator.read_code(fake), target)

    @torch.no_grad()
    def sample_codes(self, per_code: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``per_code`` images of each code value in turn (K * per_code, C, S, S) in [0, 1]."""
        z = torch.cat([self.noise(per_code, generator, code=k) for k in range(self.config.cat_code)])
        return (self.drawer(z) + 1) / 2
