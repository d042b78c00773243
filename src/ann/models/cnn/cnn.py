"""A small modern CNN: a conv-BN-ReLU stem, stages of residual blocks, global average pooling.

Residual blocks (He, Zhang, Ren & Sun 2016, "Deep residual learning for image recognition",
https://arxiv.org/abs/1512.03385): two 3x3 conv-BN layers whose output is added to the block's
input (or to a 1x1 conv-BN projection of it when the width or resolution changes). Batch norm:
Ioffe & Szegedy 2015. Global average pooling head: Lin et al. 2013 (Network In Network).
Each stage after the first halves the resolution, by a strided first block or a 2x2 max pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...layers import (
    ConvBNAct,
    Dropout,
    GlobalAvgPool2d,
    Identity,
    Linear,
    MaxPool2d,
    get_activation,
)
from ...registry import register_model
from ..inputs import LabelledImageInput
from .common import ImageClassifier, he_init


@dataclass
class CNNConfig(LabelledImageInput):
    widths: tuple[int, ...] = field((16, 32, 64), "channels of each stage (one entry per stage)",
                                    positive=True)
    blocks: int = field(1, "residual blocks per stage", positive=True)
    stem_stride: int = field(1, "stride of the stem convolution (2 halves the input first)",
                             choices=(1, 2))
    downsample: str = field("stride", "how stages after the first halve the resolution: a "
                            "stride-2 first block, or a 2x2 max pool", choices=("stride", "pool"))
    dropout: float = field(0.1, "dropout probability before the classifier", range=(0.0, 0.95))
    activation: str = field("relu", "activation of the stem and blocks",
                            choices=("relu", "gelu", "silu"))

    def __post_check__(self):
        if len(self.widths) == 0:
            raise AnnError("cnn widths must list at least one stage, e.g. widths=16,32")
        smallest = self.image_size // self.stem_stride // 2 ** (len(self.widths) - 1)
        if smallest < 1:
            raise AnnError(f"cnn: {len(self.widths)} stages halve a {self.image_size}x"
                           f"{self.image_size} image to nothing; use fewer widths or stem_stride=1")


class ResidualBlock(nn.Module):
    """Basic residual block (He et al. 2016): act(BN(conv(act(BN(conv(x))))) + skip(x)).

    The skip is the identity when shape is kept, else a 1x1 conv-BN projection ("option B").

    Shapes:
        input (B, C_in, H, W) -> output (B, C_out, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, activation: str):
        super().__init__()
        self.body = nn.Sequential(
            ConvBNAct(in_channels, out_channels, 3, stride, activation=activation),
            ConvBNAct(out_channels, out_channels, 3, 1, activation=None),
        )
        keep = stride == 1 and in_channels == out_channels
        self.skip = Identity() if keep else ConvBNAct(in_channels, out_channels, 1, stride,
                                                      activation=None)
        self.act = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


def make_stage(in_channels: int, width: int, config: CNNConfig, first: bool) -> nn.Sequential:
    """Downsampling (none for the first stage), then ``config.blocks`` residual blocks."""
    by_pool = config.downsample == "pool" and not first
    stride = 1 if first or by_pool else 2
    blocks: list[nn.Module] = [MaxPool2d(2, ceil_mode=True) if by_pool else Identity()]
    for i in range(config.blocks):
        blocks.append(ResidualBlock(in_channels if i == 0 else width, width,
                                    stride if i == 0 else 1, config.activation))
    return nn.Sequential(*blocks)


@register_model("cnn", config=CNNConfig, family="cnn", presets={
    "tiny": {"widths": (8, 16), "blocks": 1},
    "mnist": {"image_size": 28, "widths": (24, 48, 96), "stem_stride": 2, "dropout": 0.1},
    "fashion": {"image_size": 28, "widths": (16, 32, 64, 128), "stem_stride": 1, "dropout": 0.2},
})
class CNN(ImageClassifier):
    """Residual CNN classifier (He et al. 2016) with a global-average-pool head.

    Shapes:
        input (B, C, H, W) -> class scores (B, num_classes).
    """

    def __init__(self, config: CNNConfig):
        super().__init__()
        validate(config)
        self.config = config
        c = config
        self.stem = ConvBNAct(c.in_channels, c.widths[0], 3, c.stem_stride,
                              activation=c.activation)
        widths_in = (c.widths[0], *c.widths[:-1])
        self.stages = nn.Sequential(*[make_stage(w_in, w, c, first=i == 0)
                                      for i, (w_in, w) in enumerate(zip(widths_in, c.widths))])
        self.pool = GlobalAvgPool2d()                        # (B, widths[-1])
        self.dropout = Dropout(c.dropout)
        self.head = Linear(c.widths[-1], c.num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module):
        # He init for the convolutions (``he_init``); a small head keeps the first logits near
        # uniform.
        he_init(module)
        if isinstance(module, Linear):
            nn.init.normal_(module.weight, std=0.01)
            nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))                        # (B, widths[-1], H', W')
        return self.head(self.dropout(self.pool(x)))         # (B, num_classes)
