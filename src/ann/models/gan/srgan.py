"""Super-resolution GAN for small grayscale images (Ledig et al. 2017, "Photo-realistic single
image super-resolution using a generative adversarial network", https://arxiv.org/abs/1609.04802),
scaled down: 7x7 or 14x14 inputs to 28x28.

The low-resolution input is the high-resolution image average-pooled by ``factor`` (made inside
the model from each batch, so any image dataset serves). The generator adds a learned residual
to the bicubic upsampling: a 3x3 convolution, ``blocks`` residual blocks (conv-BN-ReLU-conv-BN,
as SRResNet), and one sub-pixel convolution (Shi et al. 2016, PixelShuffle) per doubling. The
discriminator is DCGAN's (:mod:`ann.models.gan.dcgan`). The generator's loss is the pixel loss
(mean squared error) plus ``adv_weight`` times the non-saturating adversarial loss (SRGAN uses
1e-3); ``adv_weight=0`` trains the same generator with the pixel loss alone (SRResNet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...registry import register_model
from .common import GAN, GANInput, g_loss_fn
from .dcgan import DCGANConfig, Discriminator, init_dcgan


@dataclass
class SRGANConfig(GANInput):
    factor: int = field(4, "upscaling factor: the input is the image average-pooled by it",
                        choices=(2, 4))
    width: int = field(32, "channels of the generator's residual blocks", positive=True)
    blocks: int = field(4, "residual blocks in the generator", positive=True)
    d_width: int = field(32, "discriminator channels after its first convolution",
                         positive=True)
    adv_weight: float = field(1e-3, "weight of the adversarial loss beside the pixel loss "
                              "(0: pixel loss alone)", nonneg=True)

    def __post_check__(self):
        if self.image_size % 4 or self.image_size % self.factor:
            raise AnnError(f"srgan needs an image side divisible by 4 and by the factor "
                           f"{self.factor}, got {self.image_size}")


class ResidualBlock(nn.Module):
    """x + BN(conv(ReLU(BN(conv(x))))), SRResNet's block. Shapes: (B, w, H, W) in and out."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),
                                  nn.ReLU(), nn.Conv2d(width, width, 3, padding=1),
                                  nn.BatchNorm2d(width))

    def forward(self, x):
        return x + self.body(x)


class SRGenerator(nn.Module):
    """Low-resolution images (B, C, s, s) in [0, 1] -> (B, C, s*factor, s*factor) in [0, 1]."""

    def __init__(self, c: SRGANConfig):
        super().__init__()
        self.factor = c.factor
        ups = []
        for _ in range(int(math.log2(c.factor))):     # sub-pixel convolution: x2 per stage
            ups += [nn.Conv2d(c.width, 4 * c.width, 3, padding=1), nn.PixelShuffle(2), nn.ReLU()]
        self.head = nn.Sequential(nn.Conv2d(c.in_channels, c.width, 3, padding=1), nn.ReLU())
        self.body = nn.Sequential(*[ResidualBlock(c.width) for _ in range(c.blocks)])
        self.up = nn.Sequential(*ups, nn.Conv2d(c.width, c.in_channels, 3, padding=1))

    def forward(self, lr: torch.Tensor, _label=None) -> torch.Tensor:
        h = self.head(lr)                                            # (B, w, s, s)
        residual = self.up(h + self.body(h))                         # (B, C, S, S)
        return (bicubic(lr, self.factor) + residual).clamp(0.0, 1.0)


def bicubic(lr: torch.Tensor, factor: int) -> torch.Tensor:
    """Bicubic upsampling (the baseline), clipped to [0, 1]."""
    return F.interpolate(lr, scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)


@register_model("srgan", config=SRGANConfig, family="gan", presets={
    "tiny": {"width": 8, "blocks": 1, "d_width": 8},
    "mnist": {"width": 32, "blocks": 4, "d_width": 32, "factor": 4},
    "mnist-x2": {"width": 32, "blocks": 4, "d_width": 32, "factor": 2},
})
class SRGAN(GAN):
    """Super-resolution GAN: a residual generator upsampling average-pooled images, against
    DCGAN's discriminator.

    Shapes:
        low-resolution (B, C, S/factor, S/factor) -> (B, C, S, S) in [0, 1].
    """

    task = "image2image"

    def __init__(self, config: SRGANConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        self.generator = SRGenerator(c)
        d_config = DCGANConfig(in_channels=c.in_channels, image_size=c.image_size,
                               d_width=c.d_width, spectral_norm=c.spectral_norm, loss=c.loss)
        self.discriminator = Discriminator(d_config, conditional=False)
        self.apply(init_dcgan)
        for m in self.generator.modules():        # the generator: He init, residuals start small
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def low_res(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised high-resolution images -> their low-resolution version in [0, 1]."""
        return F.avg_pool2d((x * self.config.std + self.config.mean).clamp(0, 1),
                            self.config.factor)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        c = self.config
        want = c.image_size // c.factor
        if lr.ndim != 4 or lr.shape[1] != c.in_channels or lr.shape[-2:] != (want, want):
            raise AnnError(f"this model upscales {want}x{want} images with {c.in_channels} "
                           f"channel(s) to {c.image_size}x{c.image_size}; got shape "
                           f"{tuple(lr.shape)}")
        return self.generator(lr)

    def configure_optimizers(self, tc):
        """The GAN's two Adam optimizers; the generator's alone with the pixel loss alone."""
        optimizers = super().configure_optimizers(tc)
        return optimizers if self.config.adv_weight > 0 else {"generator": optimizers["generator"]}

    def forward_inputs(self, batch) -> tuple:
        return (self.low_res(batch[0]),)

    def _g_loss(self, hr01, sr01):
        pixel = F.mse_loss(sr01, hr01)
        adv = g_loss_fn(self.config.loss, self.discriminator(sr01 * 2 - 1))
        return pixel + self.config.adv_weight * adv, pixel

    def losses(self, batch):
        hr = (batch[0] * self.config.std + self.config.mean).clamp(0, 1)
        sr = self.generator(self.low_res(batch[0]))
        d = self.d_loss(hr * 2 - 1, sr.detach() * 2 - 1, None)
        return d, self._g_loss(hr, sr)[0]

    def training_step(self, batch, optimizers, step):
        hr = (batch[0] * self.config.std + self.config.mean).clamp(0, 1)
        sr = self.generator(self.low_res(batch[0]))
        d_loss = torch.zeros(())
        if self.config.adv_weight > 0:
            d_loss = self.d_loss(hr * 2 - 1, sr.detach() * 2 - 1, None)
            optimizers["discriminator"].zero_grad(set_to_none=True)
            d_loss.backward()
            optimizers["discriminator"].step()
        g_loss, pixel = self._g_loss(hr, sr)
        optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        optimizers["generator"].step()
        return {"loss": g_loss.item(), "pixel": pixel.item(), "d_loss": d_loss.item()}

    @torch.no_grad()
    def evaluate_split(self, batches) -> dict[str, float]:
        """Mean per-image PSNR (dB) and SSIM of the generator's output and of bicubic
        upsampling against the high-resolution images, data in [0, 1]."""
        from ...metrics import ssim

        sums, count = {}, 0
        for batch in batches:
            hr = (batch[0] * self.config.std + self.config.mean).clamp(0, 1)
            lr = self.low_res(batch[0])
            outputs = (("", self.generator(lr)), ("_bicubic", bicubic(lr, self.config.factor)))
            for name, out in outputs:
                mse = (out - hr).pow(2).flatten(1).mean(1).clamp_min(1e-10)
                sums["psnr" + name] = sums.get("psnr" + name, 0.0) + float(
                    (10 * torch.log10(1 / mse)).sum())
                sums["ssim" + name] = sums.get("ssim" + name, 0.0) + ssim(out, hr) * len(hr)
                sums["mse" + name] = sums.get("mse" + name, 0.0) + float(mse.sum())
            count += len(hr)
        return {k: v / max(count, 1) for k, v in sums.items()}

    def score(self, batch):
        hr = (batch[0] * self.config.std + self.config.mean).clamp(0, 1)
        return self.discriminator(hr * 2 - 1)

