"""What the GANs share: input fields, the three adversarial losses, and the base class whose
``training_step`` alternates the discriminator's and the generator's updates.

Losses (``loss`` in the config; D(x) is the discriminator's raw score):

* ``bce``: the non-saturating GAN loss (Goodfellow et al. 2014, section 3): D minimises
  softplus(-D(real)) + softplus(D(fake)), G minimises softplus(-D(fake)).
* ``hinge``: D minimises relu(1 - D(real)) + relu(1 + D(fake)), G minimises -D(fake)
  (Lim & Ye 2017; Miyato et al. 2018 use it with spectral normalisation).
* ``wgan-gp``: D (the critic) minimises D(fake) - D(real) + 10 (|grad D(x_hat)| - 1)^2 on random
  interpolates x_hat, G minimises -D(fake) (Gulrajani et al. 2017, "Improved training of
  Wasserstein GANs").

Images are standardised by the dataset; both players work in [-1, 1] (the generator ends in tanh).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...errors import AnnError
from ..inputs import LabelledImageInput


@dataclass
class GANInput(LabelledImageInput):
    """Config fields every GAN shares; the engine fills the data fields from the dataset."""

    mean: float = field(0.0, "mean the images were standardised with (filled from the dataset)")
    std: float = field(1.0, "std the images were standardised with (filled from the dataset)",
                       positive=True)
    loss: str = field("bce", "adversarial loss: non-saturating bce, hinge, or wgan-gp",
                      choices=("bce", "hinge", "wgan-gp"))
    spectral_norm: bool = field(False, "spectral normalisation of the discriminator's layers "
                                "(Miyato et al. 2018); it then has no batch norm")
    d_steps: int = field(1, "discriminator updates per generator update", positive=True)
    d_lr_scale: float = field(1.0, "the discriminator's learning rate is train.lr times this",
                              positive=True)
    gp_weight: float = field(10.0, "weight of the gradient penalty (loss=wgan-gp)", nonneg=True)


def d_loss_fn(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its scores of real and fake images (B,) each."""
    if kind == "bce":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return fake.mean() - real.mean()                    # wgan-gp; the penalty is added apart


def g_loss_fn(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the discriminator's scores of its images (B,)."""
    return F.softplus(-fake).mean() if kind == "bce" else -fake.mean()


class GAN(nn.Module):
    """Base of the GANs: a ``generator`` mapping noise (and a label) to images in [-1, 1] and a
    ``discriminator`` scoring images (and labels). Subclasses build both and set ``config``.

    The engine calls ``configure_optimizers`` once and ``training_step`` every step; the task
    ``adversarial`` calls ``losses``, ``score`` and ``evaluate_split``.
    """

    task = "adversarial"
    conditional = False

    # -- the generator that draws --------------------------------------------------------------
    def make_average(self, decay: float):
        """With ``decay`` > 0, keep ``generator_ema``: a frozen copy of the generator whose weights
        follow an exponential moving average of the trained ones (Yazici et al. 2019, "The
        unusual effectiveness of averaging in GAN training"). It draws the samples, the
        evaluation and ``ann generate``; the trained generator keeps playing the game."""
        if decay > 0:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    @property
    def drawer(self) -> nn.Module:
        """The generator that draws samples: the averaged one when there is one."""
        average = self._modules.get("generator_ema")
        return self.generator if average is None else average

    @torch.no_grad()
    def update_average(self, decay: float, step: int):
        """One step of the average, ``ema <- d ema + (1 - d) weights``, with ``d`` ramped up as
        ``min(decay, (1 + step) / (10 + step))`` so that early samples are not the random start;
        batch-norm statistics are copied."""
        if "generator_ema" not in self._modules:
            return
        d = min(decay, (1 + step) / (10 + step))
        for avg, now in zip(self.generator_ema.parameters(), self.generator.parameters()):
            avg.lerp_(now, 1 - d)
        for avg, now in zip(self.generator_ema.buffers(), self.generator.buffers()):
            avg.copy_(now)

    # -- data space ----------------------------------------------------------------------------
    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised images to [-1, 1]."""
        return (x * self.config.std + self.config.mean) * 2 - 1

    def labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return y if self.conditional else None

    def noise(self, n: int, generator=None, device=None) -> torch.Tensor:
        device = device or next(self.parameters()).device
        return torch.randn(n, self.config.z_dim, generator=generator, device=device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               label: int | None = None) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [0, 1]; a conditional model draws ``label`` or, without
        one, the classes in turn."""
        z = self.noise(n, generator)
        y = None
        if self.conditional:
            y = (torch.full((n,), label, dtype=torch.long, device=z.device) if label is not None
                 else torch.arange(n, device=z.device) % self.config.num_classes)
        return (self.drawer(z, y) + 1) / 2

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] from noise ``z`` (B, z_dim) and, conditional, labels ``y`` (B,),
        drawn by the averaged generator when there is one."""
        return self.drawer(z, self.labels(y))

    def forward_inputs(self, batch) -> tuple:
        """The arguments of ``forward`` for a batch: fresh noise and the labels."""
        return self.noise(len(batch[0]), device=batch[0].device), batch[1]

    def score(self, batch) -> torch.Tensor:
        """The discriminator's scores (B,) of a batch ``(x, y)`` of standardised real images."""
        y = batch[1] if len(batch) > 1 else None
        return self.discriminator(self.to_unit(batch[0]), self.labels(y))

    # -- training --------------------------------------------------------------------------------
    def configure_optimizers(self, tc) -> dict[str, torch.optim.Optimizer]:
        """Adam for each player (Radford et al. 2015 use lr 2e-4, beta1 0.5): ``train.lr``,
        ``train.beta1``, ``train.beta2``; the discriminator's lr times ``d_lr_scale``."""
        if tc.optimizer != "adamw":
            raise AnnError("GANs train with Adam; set train.optimizer=adamw")
        betas = (tc.beta1, tc.beta2)
        return {"generator": torch.optim.Adam(self.generator.parameters(), tc.lr, betas),
                "discriminator": torch.optim.Adam(self.discriminator.parameters(),
                                                  tc.lr * self.config.d_lr_scale, betas)}

    def _penalty(self, real, fake, y):
        """Gulrajani et al.'s gradient penalty on random interpolates of real and fake."""
        t = torch.rand(len(real), 1, 1, 1, device=real.device)
        mix = (t * real + (1 - t) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.discriminator(mix, y).sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def d_loss(self, real, fake, y) -> torch.Tensor:
        c = self.config
        loss = d_loss_fn(c.loss, self.discriminator(real, y), self.discriminator(fake, y))
        if c.loss == "wgan-gp":
            loss = loss + c.gp_weight * self._penalty(real, fake, y)
        return loss

    def losses(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(discriminator loss, generator loss) of one batch with fresh noise; both differentiable
        (the contract tests check that gradients reach every parameter)."""
        real, y = self.to_unit(batch[0]), self.labels(batch[1])
        z = self.noise(len(real))
        fake = self.generator(z, y)
        d_loss = self.d_loss(real, fake.detach(), y)
        g_loss = g_loss_fn(self.config.loss, self.discriminator(fake, y))
        return self._with_info(d_loss, fake.detach(), z), self._with_info(g_loss, fake, z)

    def info_loss(self, fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor | None:
        """A term both players add for the noise ``z`` behind ``fake`` (InfoGAN's code; none here)."""
        return None

    def _with_info(self, loss: torch.Tensor, fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        info = self.info_loss(fake, z)
        return loss if info is None else loss + info

    def training_step(self, batch, optimizers, step: int) -> dict[str, float]:
        """``d_steps`` discriminator updates on the real batch against fresh fakes, then one
        generator update; noise comes from the global RNG (checkpointed, so resuming is exact)."""
        opt_g, opt_d = optimizers["generator"], optimizers["discriminator"]
        real, y = self.to_unit(batch[0]), self.labels(batch[1])
        for _ in range(self.config.d_steps):
            z = self.noise(len(real))
            fake = self.generator(z, y)
            d_loss = self._with_info(self.d_loss(real, fake.detach(), y), fake.detach(), z)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        g_loss = self._with_info(g_loss_fn(self.config.loss, self.discriminator(fake, y)), fake, z)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        self.update_average(getattr(self.config, "g_ema", 0.0), step)
        d, g = d_loss.item(), g_loss.item()
        return {"loss": d + g, "d_loss": d, "g_loss": g}

    # -- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate_split(self, batches) -> dict[str, float]:
        """Over a split, against as many generated images (noise from a generator seeded with
        0; a conditional model gets the real labels): the mean scores of real and fake images,
        and ``fd_pixels``, the Fréchet distance between the two sets' pixels average-pooled to
        at most 7x7 (a cheap, model-free check of the samples' distribution used to pick the
        best checkpoint; not the Inception FID)."""
        from ...metrics import frechet_distance

        real_f, fake_f, d_real, d_fake, count, g = [], [], 0.0, 0.0, 0, None
        side = min(7, self.config.image_size)
        for batch in batches:
            x, y = batch[0], self.labels(batch[1])
            if g is None:
                g = torch.Generator(device=x.device).manual_seed(0)
            real = self.to_unit(x)
            fake = self.drawer(self.noise(len(x), g, x.device), y)
            d_real += self.discriminator(real, y).float().sum().item()
            d_fake += self.discriminator(fake, y).float().sum().item()
            for images, bag in ((real, real_f), (fake, fake_f)):
                bag.append(F.adaptive_avg_pool2d(images.float(), side).flatten(1).cpu())
            count += len(x)
        return {"fd_pixels": frechet_distance(torch.cat(real_f), torch.cat(fake_f)),
                "d_real": d_real / max(count, 1), "d_fake": d_fake / max(count, 1)}

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A random batch ``(x, y)``: uniform pixels (standardised) and random labels."""
        c = self.config
        u = torch.rand(batch_size, c.in_channels, c.image_size, c.image_size, generator=generator)
        return (u - c.mean) / c.std, torch.randint(0, c.num_classes, (batch_size,),
                                                   generator=generator)
