"""Pooling: local max/average windows, and global pools that turn a feature map into a vector.

Pooling summarises a neighbourhood, making features tolerant to small shifts (LeCun et al. 1998
"subsampling"); global average pooling replaces large fully connected heads (Lin et al. 2013,
"Network In Network", https://arxiv.org/abs/1312.4400).
"""

from __future__ import annotations

import torch
from torch import nn


class MaxPool2d(nn.MaxPool2d):
    """Maximum over each ``kernel_size`` window, moving by ``stride`` (default: the kernel size).

    Shapes:
        input (B, C, H, W) -> output (B, C, floor((H - k) / s) + 1, floor((W - k) / s) + 1).
    """


class AvgPool2d(nn.AvgPool2d):
    """Mean over each ``kernel_size`` window, moving by ``stride`` (default: the kernel size).

    Shapes:
        input (B, C, H, W) -> output (B, C, floor((H - k) / s) + 1, floor((W - k) / s) + 1).
    """


class GlobalAvgPool2d(nn.Module):
    """Mean of every channel over all pixels: one feature vector per image.

    Shapes:
        input (B, C, H, W) -> output (B, C).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))                            # (B, C)


class GlobalMaxPool2d(nn.Module):
    """Maximum of every channel over all pixels: one feature vector per image.

    Shapes:
        input (B, C, H, W) -> output (B, C).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=(2, 3))                            # (B, C)
