"""LeNet-5, adapted (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to
document recognition", Proc. IEEE 86(11), http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf).

C1: conv 5x5 -> 6 maps, S2: 2x2 subsampling, C3: conv 5x5 -> 16 maps, S4: 2x2 subsampling,
C5/F6: fully connected 120 and 84 units, then the classes. The paper fed 32x32 images (MNIST's
28x28 digits centred in a blank border); padding the first convolution by 2 does the same.
Adaptations: C3 connects to all six S2 maps (the paper used a sparse table), subsampling is a plain
average (or max) pool without trainable coefficients, and the output is a linear layer scored with
cross-entropy instead of Euclidean RBF units.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...layers import AvgPool2d, Conv2d, Linear, MaxPool2d, get_activation
from ...registry import register_model
from ..inputs import LabelledImageInput, image_size_field
from .common import ImageClassifier

MIN_IMAGE_SIZE = 12   # 12 -> conv(pad 2) 12 -> pool 6 -> conv 5x5 2 -> pool 1


def feature_size(image_size: int) -> int:
    """Side of the S4 feature map: pool(conv5x5(pool(image)))."""
    return (image_size // 2 - 4) // 2


@dataclass
class LeNetConfig(LabelledImageInput):
    image_size: int = image_size_field(28)
    channels: tuple[int, ...] = field((6, 16), "feature maps of the two convolutions (C1, C3)",
                                      positive=True)
    hidden: tuple[int, ...] = field((120, 84), "sizes of the fully connected layers (C5, F6)",
                                    positive=True)
    activation: str = field("tanh", "activation after each layer (the paper: scaled tanh)",
                            choices=("tanh", "relu", "gelu", "silu", "sigmoid"))
    pool: str = field("avg", "subsampling: avg (the paper) or max", choices=("avg", "max"))

    def __post_check__(self):
        if len(self.channels) != 2:
            raise AnnError(f"lenet channels must be two numbers (C1, C3), got {self.channels}")
        if self.image_size < MIN_IMAGE_SIZE:
            raise AnnError(f"lenet needs images of at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} "
                           f"(two 5x5 convolutions and two 2x2 pools), got image_size="
                           f"{self.image_size}; use model 'cnn' or 'mlp' for small images")


@register_model("lenet", config=LeNetConfig, family="cnn", presets={
    "tiny": {"image_size": 12, "channels": (4, 8), "hidden": (32, 16)},
    "mnist": {"image_size": 28},
    "modern": {"activation": "relu", "pool": "max"},
})
class LeNet5(ImageClassifier):
    """LeNet-5 (LeCun et al. 1998): two conv/pool stages, then three fully connected layers.

    Shapes:
        input (B, C, H, W), H = W = image_size >= 12 -> class scores (B, num_classes).
    """

    def __init__(self, config: LeNetConfig):
        super().__init__()
        validate(config)
        self.config = config
        c = config
        c1, c3 = c.channels
        pool = {"avg": AvgPool2d, "max": MaxPool2d}[c.pool]
        act = c.activation
        self.features = nn.Sequential(
            Conv2d(c.in_channels, c1, 5, padding=2), get_activation(act), pool(2),   # C1, S2
            Conv2d(c1, c3, 5), get_activation(act), pool(2),                         # C3, S4
        )
        self.flatten = nn.Flatten()                          # (B, c3 * s * s)
        sizes = (c3 * feature_size(c.image_size) ** 2, *c.hidden)
        fc: list[nn.Module] = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            fc += [Linear(fan_in, fan_out), get_activation(act)]                     # C5, F6
        self.classifier = nn.Sequential(*fc, Linear(sizes[-1], c.num_classes))
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module):
        # LeCun et al. 1998 (appendix C) draw weights with variance ~ 1 / fan_in so that
        # pre-activations sit in tanh's linear range; He et al. 2015 double it for ReLU units.
        if isinstance(module, (Conv2d, Linear)):
            gain = 1.0 if self.config.activation in ("tanh", "sigmoid") else 2.0
            fan_in = module.weight[0].numel()
            nn.init.normal_(module.weight, std=(gain / fan_in) ** 0.5)
            nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)                                 # (B, c3, s, s)
        return self.classifier(self.flatten(x))              # (B, num_classes)
