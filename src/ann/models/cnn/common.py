"""What the CNN family shares: the image classifiers' task and example batch, He initialisation."""

from __future__ import annotations

import torch
from torch import nn


class ImageClassifier(nn.Module):
    """Base of models mapping images (B, C, H, W) to class scores (B, num_classes).

    Subclasses set ``self.config``, a :class:`~ann.models.inputs.LabelledImageInput`.
    """

    task = "classify"

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A random batch ``(x, y)``: x (B, C, H, W) standard normal, y (B,) random labels."""
        c = self.config
        x = torch.randn(batch_size, c.in_channels, c.image_size, c.image_size,
                        generator=generator)
        y = torch.randint(0, c.num_classes, (batch_size,), generator=generator)
        return x, y


def he_init(module: nn.Module) -> None:
    """He et al. 2015 ("Delving deep into rectifiers") normal init for a ReLU network, fan-out as in
    ResNet, zero biases; batch norm starts as the identity. Use as ``model.apply(he_init)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
