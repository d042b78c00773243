"""CycleGAN-style unpaired image-to-image translation (Zhu, Park, Isola & Efros 2017, "Unpaired
image-to-image translation using cycle-consistent adversarial networks",
https://arxiv.org/abs/1703.10593), scaled down for small grayscale images.

Two generators map domain A to B and B to A; two discriminators tell each domain's real images
from translated ones. The generators minimise the least-squares adversarial loss (Mao et al.
2017, as CycleGAN uses) plus ``cycle_weight`` times the cycle-consistency loss
|G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1, and ``identity_weight`` times the identity loss
|G_AB(b) - b|_1 + |G_BA(a) - a|_1 (section 5.2 of the paper). Generators: a 3x3 convolution,
``blocks`` residual blocks (as SRGAN's), a 3x3 convolution to a sigmoid. Discriminators: a small
PatchGAN (Isola et al. 2017): two stride-2 4x4 convolutions and a 3x3 one giving a score per
patch.

A batch stacks (a, b, truth) as channels (see :mod:`ann.data.domains`); training reads a and b
only, evaluation also the true translation of a.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field, validate
from ...registry import register_model
from .common import GAN, GANInput
from .srgan import ResidualBlock


@dataclass
class CycleGANConfig(GANInput):
    width: int = field(32, "channels of the generators' residual blocks", positive=True)
    blocks: int = field(3, "residual blocks per generator", positive=True)
    d_width: int = field(32, "discriminator channels after its first convolution",
                         positive=True)
    cycle_weight: float = field(10.0, "weight of the cycle-consistency loss (paper: 10)",
                                nonneg=True)
    identity_weight: float = field(5.0, "weight of the identity loss (paper: half the cycle "
                                   "weight)", nonneg=True)


def generator(c: CycleGANConfig) -> nn.Sequential:
    """Images (B, C, S, S) in [0, 1] -> (B, C, S, S) in [0, 1]."""
    return nn.Sequential(nn.Conv2d(c.in_channels, c.width, 3, padding=1), nn.ReLU(),
                         *[ResidualBlock(c.width) for _ in range(c.blocks)],
                         nn.Conv2d(c.width, c.in_channels, 3, padding=1), nn.Sigmoid())


def patch_discriminator(c: CycleGANConfig) -> nn.Sequential:
    """Images (B, C, S, S) in [0, 1] -> patch scores (B, 1, S/4, S/4)."""
    w = c.d_width
    return nn.Sequential(nn.Conv2d(c.in_channels, w, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(2 * w, 1, 3, 1, 1))


def lsgan(scores: torch.Tensor, target: float) -> torch.Tensor:
    return (scores - target).pow(2).mean()


@register_model("cyclegan", config=CycleGANConfig, family="gan", presets={
    "tiny": {"width": 8, "blocks": 1, "d_width": 8},
    "digits": {"width": 16, "blocks": 2, "d_width": 16},
    "mnist": {"width": 32, "blocks": 3, "d_width": 32},
})
class CycleGAN(GAN):
    """Two generators (A->B, B->A) and two PatchGAN discriminators with cycle consistency.

    Shapes:
        batch x (B, 3, S, S): channels (a, b, truth of a); ``forward(a)`` (B, C, S, S) -> the
        translation to domain B, (B, C, S, S) in [0, 1].
    """

    task = "image2image"

    def __init__(self, config: CycleGANConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        self.generator = nn.ModuleDict({"ab": generator(c), "ba": generator(c)})
        self.discriminator = nn.ModuleDict({"a": patch_discriminator(c),
                                            "b": patch_discriminator(c)})
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    @staticmethod
    def split(x: torch.Tensor):
        """(a, b, truth), each (B, 1, S, S)."""
        return x[:, 0:1], x[:, 1:2], x[:, 2:3]

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.generator["ab"](a)

    def forward_inputs(self, batch) -> tuple:
        return (self.split(batch[0])[0],)

    def _d_loss(self, a, b, fake_a, fake_b):
        d = self.discriminator
        return 0.5 * (lsgan(d["a"](a), 1) + lsgan(d["a"](fake_a.detach()), 0)
                      + lsgan(d["b"](b), 1) + lsgan(d["b"](fake_b.detach()), 0))

    def _g_loss(self, a, b, fake_a, fake_b):
        g, d, c = self.generator, self.discriminator, self.config
        adv = lsgan(d["b"](fake_b), 1) + lsgan(d["a"](fake_a), 1)
        cycle = F.l1_loss(g["ba"](fake_b), a) + F.l1_loss(g["ab"](fake_a), b)
        identity = F.l1_loss(g["ab"](b), b) + F.l1_loss(g["ba"](a), a)
        return adv + c.cycle_weight * cycle + c.identity_weight * identity, cycle

    def losses(self, batch):
        a, b, _ = self.split(batch[0])
        fake_b, fake_a = self.generator["ab"](a), self.generator["ba"](b)
        return self._d_loss(a, b, fake_a, fake_b), self._g_loss(a, b, fake_a, fake_b)[0]

    def training_step(self, batch, optimizers, step):
        """One update of both generators, then one of both discriminators (the paper's order)."""
        a, b, _ = self.split(batch[0])
        fake_b, fake_a = self.generator["ab"](a), self.generator["ba"](b)
        g_loss, cycle = self._g_loss(a, b, fake_a, fake_b)
        optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        optimizers["generator"].step()
        d_loss = self._d_loss(a, b, fake_a, fake_b)
        optimizers["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        optimizers["discriminator"].step()
        return {"loss": g_loss.item(), "d_loss": d_loss.item(), "cycle": cycle.item()}

    @torch.no_grad()
    def evaluate_split(self, batches) -> dict[str, float]:
        """``psnr``: mean per-image PSNR of G_AB(a) against the true translation of a;
        ``psnr_identity``: of a itself against it (the do-nothing baseline); ``cycle_l1``: the
        mean |G_BA(G_AB(a)) - a|."""
        sums, count = {"psnr": 0.0, "psnr_identity": 0.0, "cycle_l1": 0.0}, 0
        for batch in batches:
            a, _, truth = self.split(batch[0])
            out = self.generator["ab"](a)
            for key, image in (("psnr", out), ("psnr_identity", a)):
                mse = (image - truth).pow(2).flatten(1).mean(1).clamp_min(1e-10)
                sums[key] += float((10 * torch.log10(1 / mse)).sum())
            sums["cycle_l1"] += float((self.generator["ba"](out) - a).abs().flatten(1).mean(1).sum())
            count += len(a)
        return {k: v / max(count, 1) for k, v in sums.items()}

    def score(self, batch):
        return self.discriminator["a"](self.split(batch[0])[0]).flatten(1).mean(1)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A random batch: (B, 3, S, S) black-or-white pixels, random labels."""
        c = self.config
        x = torch.rand(batch_size, 3, c.image_size, c.image_size, generator=generator).round()
        return x, torch.randint(0, c.num_classes, (batch_size,), generator=generator)
