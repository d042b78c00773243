"""Position information for attention, which by itself ignores token order.

- Sinusoidal encodings added to the embeddings (Vaswani et al. 2017,
  https://arxiv.org/abs/1706.03762, section 3.5).
- Learned absolute embeddings added to the embeddings (GPT-2, Radford et al. 2019; BERT, Devlin et
  al. 2018, https://arxiv.org/abs/1810.04805).
- Rotary embeddings that rotate queries and keys so their dot product depends only on the relative
  offset (Su et al. 2021, RoFormer, https://arxiv.org/abs/2104.09864).

Every module takes an ``offset``: the absolute position of the first element, for cached
generation where one new token arrives at a time.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ann.errors import AnnError


def _check_fits(name: str, offset: int, length: int, max_len: int) -> None:
    if offset < 0 or offset + length > max_len:
        raise AnnError(f"{name}: positions {offset}..{offset + length - 1} do not fit max_len={max_len}; "
                       "shorten the sequence or build the model with a larger max_len")


class SinusoidalPositionalEncoding(nn.Module):
    """Adds PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).

    A fixed table (a non-persistent buffer, no parameters): nothing to learn or to save.

    Shapes:
        x (B, T, d_model) -> x + PE[offset:offset + T], (B, T, d_model).
    """

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        pos = torch.arange(max_len, dtype=torch.float32)[:, None]  # (L, 1)
        inv_freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (ceil(d/2),)
        angles = pos * inv_freq  # (L, ceil(d/2))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(angles)
        pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])  # odd d_model: one cosine fewer
        self.register_buffer("pe", pe, persistent=False)  # (L, d_model)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = x.size(1)
        _check_fits("SinusoidalPositionalEncoding", offset, T, self.max_len)
        return x + self.pe[offset:offset + T].to(x.dtype)  # (B, T, d_model)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEmbedding(nn.Module):
    """Adds a learned vector per absolute position, initialised N(0, 0.02^2) as in GPT-2.

    Shapes:
        x (B, T, d_model) -> x + weight[offset:offset + T], (B, T, d_model).
    """

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.weight = nn.Parameter(torch.empty(max_len, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = x.size(1)
        _check_fits("LearnedPositionalEmbedding", offset, T, self.max_len)
        return x + self.weight[offset:offset + T]  # (B, T, d_model)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the two halves of the last axis: a 90-degree turn of each pair."""
    x1, x2 = x.chunk(2, dim=-1)  # (..., hs/2) each
    return torch.cat([-x2, x1], dim=-1)  # (..., hs)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding: rotates each pair of query/key features by pos * theta_i.

    theta_i = base^(-2i/hs). Feature i is paired with feature i + hs/2 (the GPT-NeoX layout)
    rather than with its neighbour as in the paper: a fixed permutation of the head features, so
    the same relative-position property with contiguous slices. Cos/sin tables are
    non-persistent buffers; there are no parameters. ``inv_freq`` (hs/2,) replaces the theta_i,
    for schemes that rescale them to stretch the context (Llama 3's, linear interpolation).

    Shapes:
        q (B, nh, T, hs), k (B, nh, T', hs) -> rotated q and k of the same shapes, positions
        starting at ``offset`` for both (``rotate`` does one tensor).
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0,
                 inv_freq: torch.Tensor | None = None):
        super().__init__()
        if head_dim % 2:
            raise AnnError(f"RotaryEmbedding needs an even head_dim, got {head_dim}")
        self.head_dim, self.max_len, self.base = head_dim, max_len, base
        if inv_freq is None:
            inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        elif inv_freq.shape != (head_dim // 2,):
            raise AnnError(f"RotaryEmbedding: inv_freq has shape {tuple(inv_freq.shape)}, "
                           f"expected ({head_dim // 2},)")
        inv_freq = inv_freq.float()  # (hs/2,)
        angles = torch.arange(max_len, dtype=torch.float32)[:, None] * inv_freq  # (L, hs/2)
        angles = torch.cat([angles, angles], dim=-1)  # (L, hs): both members of a pair share an angle
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def rotate(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Rotate x (..., T, hs) as positions offset .. offset + T - 1."""
        T = x.size(-2)
        _check_fits("RotaryEmbedding", offset, T, self.max_len)
        cos = self.cos[offset:offset + T].to(x.dtype)  # (T, hs)
        sin = self.sin[offset:offset + T].to(x.dtype)
        return x * cos + _rotate_half(x) * sin

    def forward(self, q: torch.Tensor, k: torch.Tensor, offset: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rotate(q, offset), self.rotate(k, offset)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, max_len={self.max_len}, base={self.base}"
