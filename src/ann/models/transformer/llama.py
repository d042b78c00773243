"""Llama: the decoder-only language model of Touvron et al. 2023, and the checkpoints shaped like it.

Touvron et al. 2023, "LLaMA: Open and efficient foundation language models"
(https://arxiv.org/abs/2302.13971), section 2.2, changes GPT-2's block in three places:

- pre-normalisation with RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467)
  instead of LayerNorm, and no biases anywhere;
- the SwiGLU feed-forward layer (Shazeer 2020, https://arxiv.org/abs/2002.05202):
  ``down(silu(gate(x)) * up(x))``;
- rotary position embeddings (Su et al. 2021, https://arxiv.org/abs/2104.09864) on the queries
  and keys instead of learned absolute positions.

Llama 2 (Touvron et al. 2023b, https://arxiv.org/abs/2307.09288) adds grouped-query attention
(Ainslie et al. 2023, https://arxiv.org/abs/2305.13245): ``n_kv_head`` key/value heads, each
shared by ``n_head / n_kv_head`` query heads, which shrinks the KV cache. Llama 3.1 rescales
the rotary frequencies to stretch the context (``rope_scaling="llama3"``); the older
"linear" position interpolation (Chen et al. 2023, https://arxiv.org/abs/2306.15595) divides
every frequency by ``rope_factor``. SmolLM, TinyLlama and Qwen2 checkpoints share this shape
(Qwen2 adds biases to the query, key and value projections: ``qkv_bias``).

``ann.models.transformer.hf`` converts ``transformers`` Llama/Qwen2 models to this one and back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Embedding, KVCache, Linear, RMSNorm, RotaryEmbedding, attention_mask, gpt2_init
from ...registry import register_model
from ..examples import recurrence_tokens
from ..sampling import WindowedGeneration


@dataclass
class LlamaConfig:
    vocab_size: int = field(65, "number of token ids (filled from the dataset)", positive=True)
    block_size: int = field(64, "context length: the most tokens the model sees at once",
                            positive=True)
    n_layer: int = field(4, "number of Transformer blocks", positive=True)
    n_head: int = field(4, "query heads per block", positive=True)
    n_kv_head: int = field(2, "key/value heads (grouped-query attention); must divide n_head",
                           positive=True)
    n_embd: int = field(128, "width of the residual stream (embedding size)", positive=True)
    head_dim: int = field(0, "size of each head; 0 = n_embd / n_head", nonneg=True)
    d_ff: int = field(352, "hidden width of the SwiGLU feed-forward layer", positive=True)
    norm_eps: float = field(1e-5, "epsilon added to the mean square in every RMSNorm",
                            positive=True)
    rope_theta: float = field(10000.0, "base of the rotary frequencies", positive=True)
    rope_scaling: str = field("none", "rescaling of the rotary frequencies for a longer context",
                              choices=("none", "linear", "llama3"))
    rope_factor: float = field(1.0, "linear and llama3: how much longer the context is made",
                               positive=True)
    rope_low_freq_factor: float = field(1.0, "llama3: wavelengths above original_max / this are "
                                        "divided by rope_factor", positive=True)
    rope_high_freq_factor: float = field(4.0, "llama3: wavelengths below original_max / this are "
                                         "kept", positive=True)
    rope_original_max_len: int = field(8192, "llama3: the context length pretrained on",
                                       positive=True)
    tie_weights: bool = field(True, "share the LM head weight with the token embedding")
    qkv_bias: bool = field(False, "biases on the query, key and value projections (Qwen2)")
    out_bias: bool = field(False, "bias on the attention output projection")
    mlp_bias: bool = field(False, "biases in the feed-forward layer")
    dropout: float = field(0.0, "dropout on the attention weights while training",
                           range=(0.0, 0.95))

    def __post_check__(self):
        if self.n_head % self.n_kv_head:
            raise AnnError(f"model.n_kv_head={self.n_kv_head} must divide model.n_head="
                           f"{self.n_head} (each key/value head serves as many query heads)")
        if not self.head_dim and self.n_embd % self.n_head:
            raise AnnError(f"model.n_embd={self.n_embd} is not divisible by model.n_head="
                           f"{self.n_head}; pick n_head that divides it, or set model.head_dim")
        if (self.head_dim or self.n_embd // self.n_head) % 2:
            raise AnnError(f"the head size {self.head_dim or self.n_embd // self.n_head} must be "
                           "even for rotary positions")
        if self.rope_scaling == "llama3" and self.rope_high_freq_factor <= self.rope_low_freq_factor:
            raise AnnError(f"model.rope_high_freq_factor={self.rope_high_freq_factor} must be "
                           f"above model.rope_low_freq_factor={self.rope_low_freq_factor}")


def head_size(c: LlamaConfig) -> int:
    """The size of one attention head: ``head_dim``, or n_embd / n_head when it is 0."""
    return c.head_dim or c.n_embd // c.n_head


def rope_inv_freq(c: LlamaConfig) -> torch.Tensor:
    """The rotary frequencies theta_i = rope_theta^(-2i/hs), rescaled as ``rope_scaling`` says.

    "llama3" (Llama 3.1's release code): a wavelength 2 pi / theta_i longer than
    ``original_max / low_freq_factor`` is divided by ``rope_factor``, one shorter than
    ``original_max / high_freq_factor`` is kept, and those between blend the two linearly in
    ``original_max / wavelength``.

    Shapes:
        -> (hs/2,) float32.
    """
    hs = head_size(c)
    inv = 1.0 / c.rope_theta ** (torch.arange(0, hs, 2, dtype=torch.int64).float() / hs)  # (hs/2,)
    if c.rope_scaling == "linear":
        return inv / c.rope_factor
    if c.rope_scaling == "none":
        return inv
    low, high = c.rope_low_freq_factor, c.rope_high_freq_factor  # high > low: __post_check__
    wavelen = 2 * math.pi / inv  # (hs/2,)
    long = c.rope_original_max_len / low  # longer wavelengths: scaled fully
    short = c.rope_original_max_len / high  # shorter: kept
    smooth = (c.rope_original_max_len / wavelen - low) / (high - low)  # 0 at `long`, 1 at `short`
    blended = (1 - smooth) * inv / c.rope_factor + smooth * inv
    out = torch.where(wavelen > long, inv / c.rope_factor, inv)
    return torch.where((wavelen >= short) & (wavelen <= long), blended, out)


def rotary(c: LlamaConfig) -> RotaryEmbedding:
    """The rotary position embedding of a model of config ``c``, one for all its blocks."""
    return RotaryEmbedding(head_size(c), c.block_size, c.rope_theta, inv_freq=rope_inv_freq(c))


class Attention(nn.Module):
    """Causal grouped-query self-attention with rotary positions on queries and keys.

    The cache holds the rotated keys and values of the ``n_kv_head`` heads only; each is shared
    by ``n_head / n_kv_head`` query heads.

    Shapes:
        x (B, T, C) -> (B, T, C); cache keys/values (B, n_kv_head, S, hs).
    """

    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.hs = c.n_head, c.n_kv_head, head_size(c)
        self.q_proj = Linear(c.n_embd, c.n_head * self.hs, bias=c.qkv_bias)
        self.k_proj = Linear(c.n_embd, c.n_kv_head * self.hs, bias=c.qkv_bias)
        self.v_proj = Linear(c.n_embd, c.n_kv_head * self.hs, bias=c.qkv_bias)
        self.out_proj = Linear(c.n_head * self.hs, c.n_embd, bias=c.out_bias)
        self.dropout = c.dropout

    def forward(self, x: torch.Tensor, rope: RotaryEmbedding, cache: KVCache | None = None):
        B, T, _ = x.shape
        offset = len(cache) if cache is not None else 0
        q = self.q_proj(x).view(B, T, self.n_head, self.hs).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.hs).transpose(1, 2)  # (B, nkv, T, hs)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.hs).transpose(1, 2)  # (B, nkv, T, hs)
        q, k = rope(q, k, offset)
        if cache is not None:
            cache = cache.append(k, v)
            k, v = cache.k, cache.v  # (B, nkv, S, hs)
        S = k.size(2)
        if self.n_kv_head != self.n_head:  # each key/value head serves a group of query heads
            groups = self.n_head // self.n_kv_head
            k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)  # (B, nh, S, hs)
        # New queries sit at the last T of S positions: a full triangle only when T == S.
        mask = None if T == S else attention_mask(None, True, T, S, x.device)  # (1, 1, T, S)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None,
                                           dropout_p=self.dropout if self.training else 0.0)
        # (B, nh, T, hs)
        y = self.out_proj(y.transpose(1, 2).reshape(B, T, self.n_head * self.hs))  # (B, T, C)
        return y, cache


class SwiGLU(nn.Module):
    """The gated feed-forward layer ``down(silu(gate(x)) * up(x))`` (Shazeer 2020).

    Shapes:
        x (B, T, C) -> (B, T, C).
    """

    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.gate = Linear(c.n_embd, c.d_ff, bias=c.mlp_bias)
        self.up = Linear(c.n_embd, c.d_ff, bias=c.mlp_bias)
        self.down = Linear(c.d_ff, c.n_embd, bias=c.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))  # (B, T, C)


class Block(nn.Module):
    """Pre-RMSNorm block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``; returns ``(x, cache)``.

    Shapes:
        x (B, T, C) -> (B, T, C).
    """

    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.norm1 = RMSNorm(c.n_embd, eps=c.norm_eps)
        self.attn = Attention(c)
        self.norm2 = RMSNorm(c.n_embd, eps=c.norm_eps)
        self.mlp = SwiGLU(c)

    def forward(self, x: torch.Tensor, rope: RotaryEmbedding, cache: KVCache | None = None):
        h, cache = self.attn(self.norm1(x), rope, cache)
        x = x + h  # (B, T, C)
        return x + self.mlp(self.norm2(x)), cache  # (B, T, C)


@register_model("llama", config=LlamaConfig, family="transformer", presets={
    "tiny": {"vocab_size": 32, "block_size": 16, "n_layer": 2, "n_head": 2, "n_kv_head": 1,
             "n_embd": 32, "d_ff": 64},
    # The size of GPT's "cpu" preset: 4 x 128, SwiGLU at 2/3 of 4x (Touvron et al. 2023, 2.2).
    "cpu": {"block_size": 64, "n_layer": 4, "n_head": 4, "n_kv_head": 2, "n_embd": 128,
            "d_ff": 352},
    # SmolLM-135M's shape (Allal et al. 2024, HuggingFaceTB/SmolLM-135M config.json).
    "smollm-135m": {"vocab_size": 49152, "block_size": 2048, "n_layer": 30, "n_head": 9,
                    "n_kv_head": 3, "n_embd": 576, "d_ff": 1536},
})
class Llama(WindowedGeneration, nn.Module):
    """Llama decoder-only language model (Touvron et al. 2023).

    ``forward(idx)`` gives next-token logits at every position. ``forward(idx, cache)`` with a
    list of per-layer :class:`~ann.layers.KVCache` (``model.empty_cache()`` to start) treats
    ``idx`` as the tokens following the cached ones and returns ``(logits, new_cache)``.

    Shapes:
        idx (B, T) int64, T <= block_size - cached length -> logits (B, T, vocab_size).
    """

    task = "lm"

    def __init__(self, config: LlamaConfig):
        super().__init__()
        config.__post_check__()  # also when built directly, not through ann.config
        self.config = c = config
        self.wte = Embedding(c.vocab_size, c.n_embd)
        # One table of rotary angles shared by every block (non-persistent: not in checkpoints).
        self.rope = rotary(c)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.norm_f = RMSNorm(c.n_embd, eps=c.norm_eps)
        self.lm_head = Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.wte.weight
        # N(0, 0.02^2) weights and zero biases as GPT (Hugging Face's Llama draws the same, with
        # no residual rescaling); RMSNorm starts at 1.
        gpt2_init(self)

    def empty_cache(self) -> list[KVCache]:
        """A fresh cache for :meth:`forward`: one empty :class:`KVCache` per block."""
        return [KVCache() for _ in self.blocks]

    def forward(self, idx: torch.Tensor, cache: list[KVCache] | None = None):
        B, T = idx.shape
        if cache is not None and len(cache) != len(self.blocks):
            raise AnnError(f"cache has {len(cache)} layers but the model has {len(self.blocks)}; "
                           "start from model.empty_cache()")
        offset = len(cache[0]) if cache else 0
        if offset + T > self.config.block_size:
            raise AnnError(f"sequence of {offset + T} tokens is longer than block_size="
                           f"{self.config.block_size}; crop it to the last {self.config.block_size}"
                           " tokens or build the model with a larger block_size")
        x = self.wte(idx)  # (B, T, C)
        new_cache = []
        for block, layer_cache in zip(self.blocks, cache or [None] * len(self.blocks), strict=True):
            x, layer_cache = block(x, self.rope, layer_cache)  # (B, T, C)
            new_cache.append(layer_cache)
        logits = self.lm_head(self.norm_f(x))  # (B, T, vocab_size)
        return logits if cache is None else (logits, new_cache)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A batch ``(x, y)`` of int64 (B, block_size), y the next tokens: a recurrence every
        target of which follows from the two tokens before it (see GPT's ``example_batch``)."""
        return recurrence_tokens(batch_size, self.config.block_size, self.config.vocab_size,
                                 generator)
