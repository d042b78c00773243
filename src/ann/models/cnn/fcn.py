"""A plain fully convolutional network (FCN-32s style): U-Net's simpler sibling, with no skips.

Long, Shelhamer & Darrell 2015, "Fully Convolutional Networks for Semantic Segmentation",
https://arxiv.org/abs/1411.4038. A classification network whose fully connected layers become
convolutions scores every position of a coarse grid; one upsampling back to the input's size turns
the coarse scores into a score per pixel. This is the paper's single-stream FCN-32s (the upsampling
here is fixed bilinear interpolation, as the paper fixes its final 32x upsampling): with no skip
connections from finer layers the output is only as sharp as the coarsest grid, which is what
U-Net's skips fix (compare ``fcn-shapes`` with ``unet-shapes``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...layers import Conv2d, ConvBNAct, Dropout2d, MaxPool2d
from ...registry import register_model
from .common import he_init
from .unet import Segmenter, SegmenterConfig


@dataclass
class FCNConfig(SegmenterConfig):
    widths: tuple[int, ...] = field((16, 32, 64), "channels of each stage; every stage after the "
                                    "first starts with a 2x2 max pool, so the scores are "
                                    "2^(len(widths) - 1) times coarser than the input",
                                    positive=True)
    convs: int = field(2, "3x3 conv-BN-ReLU layers per stage", positive=True)
    head_width: int = field(128, "channels of the 3x3 convolution before the 1x1 classifier "
                            "(the paper's convolutionalised fc6/fc7)", positive=True)
    dropout: float = field(0.0, "channel dropout before the classifier", range=(0.0, 0.9))

    def __post_check__(self):
        if len(self.widths) < 1:
            raise AnnError("fcn widths must list at least one stage, e.g. widths=16,32,64")
        super().__post_check__()

    @property
    def depth(self) -> int:
        return len(self.widths) - 1


@register_model("fcn", config=FCNConfig, family="cnn", presets={
    "tiny": {"image_size": 16, "widths": (4, 8), "convs": 1, "head_width": 8},
    "shapes": {"widths": (16, 32, 64)},
})
class FCN(Segmenter):
    """Fully convolutional network, FCN-32s style: conv stages, 1x1 classifier, bilinear upsampling.

    Shapes:
        input (B, C, H, W), H and W multiples of 2 ** depth -> class scores (B, num_classes, H, W).
    """

    def __init__(self, config: FCNConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        stages = []
        for i, (w_in, w) in enumerate(zip((c.in_channels, *c.widths[:-1]), c.widths)):
            layers = [MaxPool2d(2)] if i > 0 else []
            layers += [ConvBNAct(w_in if j == 0 else w, w, 3) for j in range(c.convs)]
            stages.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*stages)
        self.head = nn.Sequential(ConvBNAct(c.widths[-1], c.head_width, 3), Dropout2d(c.dropout),
                                  Conv2d(c.head_width, c.num_classes, 1))
        self.apply(he_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        scores = self.head(self.features(x))                 # (B, K, H / 2^depth, W / 2^depth)
        return F.interpolate(scores, size=size, mode="bilinear", align_corners=False)  # (B, K, H, W)
