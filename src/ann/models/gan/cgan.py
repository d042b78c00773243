"""A conditional DCGAN (Mirza & Osindero 2014, "Conditional generative adversarial nets",
https://arxiv.org/abs/1411.1784): the class is an input of both players, so the class of a
sample is chosen when sampling (``ann generate RUN --label 3``). The generator concatenates a
label embedding to its noise; the discriminator adds a projection term (Miyato & Koyama 2018).
The architecture and losses are DCGAN's (:mod:`ann.models.gan.dcgan`).
"""

from __future__ import annotations

from ...registry import register_model
from .dcgan import DCGAN, DCGAN_PRESETS, DCGANConfig


@register_model("cgan", config=DCGANConfig, family="gan", presets=DCGAN_PRESETS)
class ConditionalDCGAN(DCGAN):
    """Conditional DCGAN: images of a chosen class.

    Shapes:
        noise (B, z_dim), labels (B,) -> images (B, C, S, S) in [-1, 1]; images and labels ->
        scores (B,).
    """

    conditional = True
