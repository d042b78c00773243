"""Convolution: a 2-D convolution with "same" padding for any stride, and the conv-BN-act block.

Convolutional layers share one small kernel across every position of the image (LeCun et al.
1989/1998, "Gradient-based learning applied to document recognition").
"""

from __future__ import annotations

import torch
from torch import nn

from .activation import get_activation
from .norm import BatchNorm2d


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int, int, int]:
    """Zero padding (left, right, top, bottom) that makes a convolution's output ceil(H / stride).

    The kernel covers ``dilation * (kernel_size - 1) + 1`` pixels, so that many minus one must be
    added in total; an odd total puts the extra pixel on the right/bottom (as TensorFlow and
    ``nn.Conv2d(padding="same")`` do). With that total, ``(H + total - span) // s + 1`` equals
    ``ceil(H / s)`` for every stride ``s``.
    """
    total = dilation * (kernel_size - 1)
    before = total // 2
    return before, total - before, before, total - before


class Conv2d(nn.Conv2d):
    """2-D convolution; ``padding="same"`` keeps the size (stride 1) or gives ceil(H / stride).

    Unlike ``nn.Conv2d``, "same" here also works with stride > 1 and pads an even kernel
    asymmetrically with an explicit zero-pad layer. Integer padding behaves as in ``nn.Conv2d``.

    Args:
        in_channels, out_channels: channels of the input and the output.
        kernel_size: side of the square kernel.
        stride, dilation, groups, bias: as in ``nn.Conv2d``.
        padding: an int (each side) or ``"same"``.

    Shapes:
        input (B, C_in, H, W) -> output (B, C_out, H', W'); with "same", H' = ceil(H / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | str = 0, dilation: int = 1, groups: int = 1,
                 bias: bool = True):
        if padding == "same":
            pads = same_padding(kernel_size, dilation)
            symmetric = pads[0] == pads[1]
            inner = pads[0] if symmetric else 0
            pad = nn.Identity() if symmetric else nn.ZeroPad2d(pads)
        else:
            inner, pad = padding, nn.Identity()
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=inner,
                         dilation=dilation, groups=groups, bias=bias)
        self.pad = pad       # asymmetric "same" padding; Identity otherwise (no parameters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pad(x))


class ConvBNAct(nn.Module):
    """Convolution (no bias) -> batch normalisation -> activation.

    The building block of modern CNNs (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167):
    the convolution has no bias because the batch norm's shift replaces it.

    Args:
        in_channels, out_channels, kernel_size, stride, groups: of the convolution ("same" padding).
        activation: a name for :func:`get_activation`; ``None`` or ``"identity"`` for none (e.g.
            before a residual addition).

    Shapes:
        input (B, C_in, H, W) -> output (B, C_out, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, activation: str | None = "relu"):
        super().__init__()
        self.conv = Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding="same",
                           groups=groups, bias=False)
        self.bn = BatchNorm2d(out_channels)
        self.act = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))
