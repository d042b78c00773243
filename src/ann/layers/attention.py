"""Multi-head scaled dot-product attention (Vaswani et al. 2017, "Attention is all you need",
https://arxiv.org/abs/1706.03762), with a key/value cache for one-token-at-a-time generation.

Two interchangeable kernels: PyTorch's fused ``scaled_dot_product_attention`` (the default) and
:func:`attention_math`, the formula written out, which also returns the attention weights for
inspection. ``tests/test_attention.py`` checks them against each other and ``torch.nn``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ann.errors import AnnError, unknown

IMPLS = ("sdpa", "math")


@dataclass
class KVCache:
    """Keys and values of the positions seen so far, each (B, nh, S, hs); empty when ``None``.

    Start generation with ``KVCache()``, pass it to :class:`MultiHeadAttention` and keep the cache
    it returns. ``append`` builds a new cache rather than editing this one, so an old cache stays
    valid (e.g. to branch in beam search).
    """

    k: torch.Tensor | None = None
    v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> KVCache:
        """The cache extended by ``k``, ``v`` of shape (B, nh, T, hs) along the sequence axis."""
        if self.k is None:
            return KVCache(k, v)
        return KVCache(torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2))  # (B, nh, S+T, hs)


def attention_mask(mask: torch.Tensor | None, causal: bool, T: int, S: int,
                   device: torch.device | None = None) -> torch.Tensor | None:
    """Boolean mask (True = attend) combining a key-padding mask with a causal one, or ``None``.

    With a cache the T queries are the *last* T of the S positions, so query i sits at absolute
    position S - T + i and may see keys 0..S - T + i: the causal triangle is offset by S - T.

    Shapes:
        mask (B, S) bool or None -> (B, 1, T, S), (1, 1, T, S) or None; broadcasts over heads.
    """
    out = None
    if mask is not None:
        if mask.dim() != 2 or mask.size(1) != S:
            raise AnnError(f"attention mask has shape {tuple(mask.shape)}, expected (batch, {S}) "
                           "with True for the keys to attend to")
        out = mask.bool()[:, None, None, :]  # (B, 1, 1, S)
    if causal:
        tri = torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)
        tri = tri[None, None]  # (1, 1, T, S)
        out = tri if out is None else out & tri  # (B, 1, T, S)
    return out


def attention_math(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                   dropout_p: float = 0.0, training: bool = False, scale: float | None = None,
                   bias: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(hs)) V written out; returns the output and the attention weights.

    A query whose keys are all masked gets zero weights (and a zero output), as PyTorch's fused
    kernel does, rather than the NaN a plain softmax over all -inf gives. ``scale`` replaces the
    1 / sqrt(hs) factor (T5 uses 1: it folds the factor into the query initialisation), and
    ``bias`` is added to the scores before the softmax (T5's relative position bias).

    Shapes:
        q (B, nh, T, hs), k and v (B, nh, S, hs), mask broadcastable to (B, nh, T, S) bool
        (True = attend) or None, bias broadcastable to (B, nh, T, S) float or None
        -> output (B, nh, T, hs), weights (B, nh, T, S).
    """
    scores = q @ k.transpose(-2, -1)  # (B, nh, T, S)
    scores = scores / math.sqrt(q.size(-1)) if scale is None else scores * scale
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # all-masked rows: 0/0 -> 0
    dropped = F.dropout(weights, p=dropout_p, training=training)
    return dropped @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention: self-attention, or cross-attention when ``context`` is given.

    Args:
        d_model: feature size of the queries and of the output.
        n_heads: number of heads; must divide ``d_model`` (head size hs = d_model / n_heads).
        dropout: dropout on the attention weights while training (residual dropout belongs to the
            block around this layer, as in ``torch.nn.MultiheadAttention``).
        bias: biases on the four projections.
        kv_dim: feature size of ``context`` for cross-attention (default ``d_model``).
        impl: ``"sdpa"`` (fused ``scaled_dot_product_attention``) or ``"math"``
            (:func:`attention_math`); same results up to float rounding.
        scale: factor on the scores Q K^T (default 1 / sqrt(hs); T5 uses 1).
        head_dim: size of each head (default d_model / n_heads); the heads together may then be
            narrower or wider than ``d_model`` (T5 v1.1 has 6 heads of 64 in a width of 512).

    ``forward(x, context=None, mask=None, causal=False, cache=None, bias=None)``: ``mask`` is a
    key-padding mask, True = attend, over all S keys (cached ones included); ``causal`` hides
    later positions; ``bias`` (broadcastable to (B, nh, T, S)) is added to the scores before the
    softmax, e.g. a relative position bias.
    Passing a :class:`KVCache` returns ``(output, new_cache)`` instead of the output alone. In
    self-attention the new keys/values are appended; in cross-attention the projected ``context``
    is cached on the first call and reused afterwards (``context`` is then ignored).

    Shapes:
        x (B, T, d_model), context (B, S, kv_dim), mask (B, S) bool -> output (B, T, d_model).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True,
                 kv_dim: int | None = None, impl: str = "sdpa", scale: float | None = None,
                 head_dim: int | None = None):
        super().__init__()
        if head_dim is None and d_model % n_heads:
            raise AnnError(f"d_model={d_model} is not divisible by n_heads={n_heads}; "
                           "pick n_heads that divides d_model")
        if impl not in IMPLS:
            raise unknown("attention impl", impl, IMPLS)
        kv_dim = d_model if kv_dim is None else kv_dim
        inner = d_model if head_dim is None else n_heads * head_dim  # all heads side by side
        self.d_model, self.n_heads, self.dropout, self.impl = d_model, n_heads, dropout, impl
        self.scale, self.inner = scale, inner
        self.q_proj = nn.Linear(d_model, inner, bias=bias)
        self.k_proj = nn.Linear(kv_dim, inner, bias=bias)
        self.v_proj = nn.Linear(kv_dim, inner, bias=bias)
        self.out_proj = nn.Linear(inner, d_model, bias=bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, -1).transpose(1, 2)  # (B, nh, T, hs)

    def _keys_values(self, x, context, cache):
        """Keys and values (B, nh, S, hs) for this call, and the cache to hand back."""
        if context is not None and cache is not None and len(cache):
            return cache.k, cache.v, cache  # cross-attention: context already projected
        src = x if context is None else context
        k, v = self._split(self.k_proj(src)), self._split(self.v_proj(src))
        if cache is not None:
            cache = cache.append(k, v)
            k, v = cache.k, cache.v
        return k, v, cache

    def _attend(self, q, k, v, mask, causal, bias=None):
        T, S = q.size(2), k.size(2)
        p = self.dropout if self.training else 0.0
        if self.impl == "math":
            return attention_math(q, k, v, attention_mask(mask, causal, T, S, q.device), p,
                                  self.training, self.scale, bias)[0]
        if causal and mask is None and T == S and bias is None:  # lets PyTorch pick flash
            return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True,
                                                  scale=self.scale)
        attn_mask = attention_mask(mask, causal, T, S, q.device)
        if bias is not None:  # one float mask: the bias, and -inf where a key is hidden
            attn_mask = bias if attn_mask is None else bias.masked_fill(~attn_mask, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p,
                                              scale=self.scale)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, causal: bool = False, cache: KVCache | None = None,
                bias: torch.Tensor | None = None):
        B, T, _ = x.shape
        q = self._split(self.q_proj(x))  # (B, nh, T, hs)
        k, v, cache = self._keys_values(x, context, cache)  # (B, nh, S, hs)
        y = self._attend(q, k, v, mask, causal, bias)  # (B, nh, T, hs)
        y = self.out_proj(y.transpose(1, 2).reshape(B, T, self.inner))  # (B, T, d_model)
        return y if cache is None else (y, cache)

    def extra_repr(self) -> str:
        extra = "" if self.inner == self.d_model else f", inner={self.inner}"
        extra += "" if self.scale is None else f", scale={self.scale}"
        return (f"d_model={self.d_model}, n_heads={self.n_heads}, dropout={self.dropout}, "
                f"impl={self.impl!r}{extra}")
