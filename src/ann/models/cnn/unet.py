"""U-Net: an encoder-decoder for segmentation whose decoder reads the encoder's features through
skip connections.

Ronneberger, Fischer & Brox 2015, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", https://arxiv.org/abs/1505.04597. The contracting path repeats two 3x3 convolutions
and a 2x2 max pool (doubling the channels); the expanding path upsamples with a 2x2 transposed
convolution ("up-convolution", halving the channels), concatenates the encoder's feature map of
the same resolution and applies two 3x3 convolutions; a 1x1 convolution gives the class scores.
Two departures from the paper, both now customary: padded ("same") convolutions, so the output
has the input's size and no cropping is needed, and batch norm after every convolution (Ioffe &
Szegedy 2015). The network is fully convolutional: it takes any height and width that are
multiples of ``2 ** depth`` (``size_multiple``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...layers import Conv2d, ConvBNAct, Dropout2d, MaxPool2d
from ...registry import register_model
from .common import he_init


@dataclass
class SegmenterConfig:
    """Config fields every segmentation network shares; the engine fills the data ones."""

    in_channels: int = field(3, "channels of the input images (filled from the dataset)",
                             positive=True)
    image_size: int = field(64, "side of the square training images (filled from the dataset)",
                            positive=True)
    num_classes: int = field(4, "classes per pixel, background included (filled from the "
                             "dataset)", range=(2, 1000))
    classes: tuple[str, ...] = field((), "class names, background first (filled from the dataset)")
    loss: str = field("ce", "training loss: per-pixel cross-entropy, soft Dice (Milletari et al. "
                      "2016), or their sum", choices=("ce", "dice", "ce+dice"))

    @property
    def depth(self) -> int:
        raise NotImplementedError

    def __post_check__(self):
        if self.classes and len(self.classes) != self.num_classes:
            raise AnnError(f"{len(self.classes)} class names for {self.num_classes} classes; give "
                           "one name per class or none")
        multiple = 2 ** self.depth
        if self.image_size % multiple:
            raise AnnError(f"image_size {self.image_size} is not a multiple of 2^depth = "
                           f"{multiple}; choose fewer widths or another image size")


class Segmenter(nn.Module):
    """Base of models mapping images (B, C, H, W) to class scores per pixel (B, K, H, W).

    Fully convolutional: any H and W that are multiples of ``size_multiple`` are accepted.
    Subclasses set ``self.config`` (a :class:`SegmenterConfig`).
    """

    task = "segment"

    @property
    def size_multiple(self) -> int:
        return 2 ** self.config.depth

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A learnable random batch: masks of random classes in 4x4 blocks, pictures whose pixels
        are a fixed random colour per class plus noise.

        Shapes:
            x (B, C, S, S) float, y (B, S, S) int64 with S = image_size.
        """
        c = self.config
        s, k = c.image_size, c.num_classes
        blocks = torch.randint(0, k, (batch_size, -(-s // 4), -(-s // 4)), generator=generator)
        y = blocks.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, :s, :s]     # (B, S, S)
        colours = torch.randn(k, c.in_channels, generator=generator)            # (K, C)
        x = colours[y].permute(0, 3, 1, 2)                                      # (B, C, S, S)
        return x + 0.1 * torch.randn(x.shape, generator=generator), y


@dataclass
class UNetConfig(SegmenterConfig):
    widths: tuple[int, ...] = field((16, 32, 64), "channels at each resolution, finest first; "
                                    "depth (the number of 2x2 poolings) is len(widths) - 1",
                                    positive=True)
    dropout: float = field(0.0, "channel dropout in the bottleneck (the paper's drop-out at the "
                           "end of the contracting path)", range=(0.0, 0.9))

    def __post_check__(self):
        if len(self.widths) < 2:
            raise AnnError("unet widths must list at least two resolutions, e.g. widths=16,32")
        super().__post_check__()

    @property
    def depth(self) -> int:
        return len(self.widths) - 1


class DoubleConv(nn.Sequential):
    """Two 3x3 conv-BN-ReLU layers, the unit of both U-Net paths.

    Shapes:
        input (B, C_in, H, W) -> output (B, C_out, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(ConvBNAct(in_channels, out_channels, 3), ConvBNAct(out_channels, out_channels, 3))


class Up(nn.Module):
    """Up-convolution (2x2 transposed conv, stride 2), concatenation with the skip, DoubleConv.

    Shapes:
        x (B, C_in, H, W), skip (B, C_skip, 2H, 2W) -> output (B, C_out, 2H, 2W).
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        self.conv = DoubleConv(out_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)                                       # (B, C_out, 2H, 2W)
        return self.conv(torch.cat([skip, x], dim=1))        # (B, C_out, 2H, 2W)


@register_model("unet", config=UNetConfig, family="cnn", presets={
    "tiny": {"image_size": 16, "widths": (4, 8)},
    "shapes": {"widths": (16, 32, 64)},
    "mnist-scenes": {"widths": (16, 32, 64, 128)},
    "paper": {"widths": (64, 128, 256, 512, 1024), "dropout": 0.5},
})
class UNet(Segmenter):
    """U-Net (Ronneberger et al. 2015) with padded convolutions and batch norm.

    Shapes:
        input (B, C, H, W), H and W multiples of 2 ** depth -> class scores (B, num_classes, H, W).
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        self.down = nn.ModuleList([DoubleConv(c.in_channels, c.widths[0])])
        self.down.extend(DoubleConv(w_in, w) for w_in, w in zip(c.widths[:-1], c.widths[1:]))
        self.pool = MaxPool2d(2)
        self.dropout = Dropout2d(c.dropout)
        # decoder: from the coarsest resolution back to the finest
        self.up = nn.ModuleList(Up(w_in, w, w) for w_in, w in zip(c.widths[:0:-1], c.widths[-2::-1]))
        self.head = Conv2d(c.widths[0], c.num_classes, 1)
        self.apply(he_init)  # He normal init, as the U-Net paper uses

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))         # (B, widths[i], H / 2^i, W / 2^i)
            skips.append(x)
        x = self.dropout(skips.pop())                        # (B, widths[-1], H / 2^depth, ...)
        for up in self.up:
            x = up(x, skips.pop())                           # one resolution finer
        return self.head(x)                                  # (B, num_classes, H, W)
