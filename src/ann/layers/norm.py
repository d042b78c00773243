"""Normalisation layers: batch norm, layer norm, and RMS norm (ann's own math).

Batch norm standardises each channel over the batch (Ioffe & Szegedy 2015,
https://arxiv.org/abs/1502.03167); layer norm standardises each sample over its features (Ba et
al. 2016, https://arxiv.org/abs/1607.06450); RMS norm only rescales by the root mean square
(Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467).
"""

from __future__ import annotations

import torch
from torch import nn


class BatchNorm1d(nn.BatchNorm1d):
    """Batch normalisation over (B,) or (B, L) per channel, running statistics for eval.

    Shapes:
        input (B, C) or (B, C, L) -> output of the same shape.
    """


class BatchNorm2d(nn.BatchNorm2d):
    """Batch normalisation of images per channel, over batch and pixels.

    Shapes:
        input (B, C, H, W) -> output (B, C, H, W).
    """


class LayerNorm(nn.LayerNorm):
    """Layer normalisation over the trailing ``normalized_shape`` dimensions of each sample.

    Shapes:
        input (*, *normalized_shape) -> output of the same shape.
    """


class RMSNorm(nn.Module):
    """Root-mean-square normalisation: ``x / sqrt(mean(x^2) + eps) * weight``.

    Cheaper than layer norm (no mean subtracted, no bias) and as good in Transformers (Zhang &
    Sennrich 2019, https://arxiv.org/abs/1910.07467; used by T5 and LLaMA). Computed in float32
    and cast back, so half-precision inputs do not overflow when squared.

    Args:
        normalized_shape: size (or shape) of the trailing dimensions normalised together.
        eps: added to the mean square before the square root.
        elementwise_affine: learn a per-feature scale ``weight`` (initialised to 1).

    Shapes:
        input (*, *normalized_shape) -> output of the same shape.
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-6,
                 elementwise_affine: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(shape)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.normalized_shape),
                                   requires_grad=elementwise_affine)
        self.dims = tuple(range(-len(self.normalized_shape), 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        inv_rms = torch.rsqrt(x32.pow(2).mean(self.dims, keepdim=True) + self.eps)
        return (x32 * inv_rms).to(x.dtype) * self.weight

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
