"""GPT: a decoder-only Transformer language model.

Radford et al. 2018, "Improving language understanding by generative pre-training" (GPT) and
Radford et al. 2019, "Language models are unsupervised multitask learners" (GPT-2,
https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf).

A stack of pre-LayerNorm blocks (GPT-2, section 2.3): ``x + attn(ln1(x))`` then ``x + mlp(ln2(x))``,
causal self-attention, a final LayerNorm and a linear head over the vocabulary that shares its
weight with the token embedding (Press & Wolf 2017, https://arxiv.org/abs/1608.05859). Positions
are learned absolute embeddings, so the context is at most ``block_size`` tokens.

Generation samples one token at a time (greedy, temperature, top-k, nucleus/top-p of Holtzman et
al. 2019, https://arxiv.org/abs/1904.09751) and reuses the keys and values of earlier positions
through a per-layer :class:`~ann.layers.KVCache`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import (
    GELU,
    Dropout,
    Embedding,
    KVCache,
    LayerNorm,
    LearnedPositionalEmbedding,
    Linear,
    MultiHeadAttention,
    gpt2_init,
)
from ...registry import register_model
from ..examples import recurrence_tokens
from ..sampling import WindowedGeneration


@dataclass
class GPTConfig:
    vocab_size: int = field(65, "number of token ids (filled from the dataset)", positive=True)
    block_size: int = field(64, "context length: the most tokens the model sees at once",
                            positive=True)
    n_layer: int = field(4, "number of Transformer blocks", positive=True)
    n_head: int = field(4, "attention heads per block; must divide n_embd", positive=True)
    n_embd: int = field(128, "width of the residual stream (embedding size)", positive=True)
    dropout: float = field(0.0, "dropout on embeddings, attention weights and residual branches",
                           range=(0.0, 0.95))
    bias: bool = field(True, "biases in the Linear and LayerNorm layers, as in GPT-2")
    tie_weights: bool = field(True, "share the LM head weight with the token embedding")
    activation: str = field("gelu", "MLP activation; gelu_tanh is GPT-2's tanh approximation",
                            choices=("gelu", "gelu_tanh"))
    ln_eps: float = field(1e-5, "epsilon added to the variance in every LayerNorm", positive=True)


class FeedForward(nn.Module):
    """Position-wise MLP: Linear to 4x width, GELU, Linear back, dropout (Vaswani et al. 2017).

    Shapes:
        x (B, T, C) -> (B, T, C).
    """

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.fc = Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.act = GELU(approximate="tanh" if c.activation == "gelu_tanh" else "none")
        self.proj = Linear(4 * c.n_embd, c.n_embd, bias=c.bias)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(self.act(self.fc(x))))  # (B, T, C)


class Block(nn.Module):
    """Pre-LayerNorm Transformer block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``.

    Returns ``(x, cache)``; ``cache`` is ``None`` when none was given.

    Shapes:
        x (B, T, C) -> (B, T, C).
    """

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.ln1 = LayerNorm(c.n_embd, eps=c.ln_eps, bias=c.bias)
        self.attn = MultiHeadAttention(c.n_embd, c.n_head, dropout=c.dropout, bias=c.bias)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.ln2 = LayerNorm(c.n_embd, eps=c.ln_eps, bias=c.bias)
        self.mlp = FeedForward(c)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None):
        out = self.attn(self.ln1(x), causal=True, cache=cache)
        h, cache = out if cache is not None else (out, None)  # attention returns a pair with a cache
        x = x + self.drop(h)  # (B, T, C)
        x = x + self.mlp(self.ln2(x))  # (B, T, C)
        return x, cache


@register_model("gpt", config=GPTConfig, family="transformer", presets={
    "tiny": {"vocab_size": 32, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32},
    # nanoGPT's Shakespeare-char settings for a laptop CPU.
    "cpu": {"block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 128, "dropout": 0.0},
    "small": {"block_size": 256, "n_layer": 6, "n_head": 6, "n_embd": 384, "dropout": 0.2},
})
class GPT(WindowedGeneration, nn.Module):
    """GPT decoder-only language model (Radford et al. 2018, 2019).

    ``forward(idx)`` gives next-token logits at every position. ``forward(idx, cache)`` with a list
    of per-layer :class:`~ann.layers.KVCache` (``model.empty_cache()`` to start) treats ``idx`` as
    the tokens following the cached ones and returns ``(logits, new_cache)``.

    Shapes:
        idx (B, T) int64, T <= block_size - cached length -> logits (B, T, vocab_size).
    """

    task = "lm"

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = c = config
        self.wte = Embedding(c.vocab_size, c.n_embd)
        self.wpe = LearnedPositionalEmbedding(c.block_size, c.n_embd)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = LayerNorm(c.n_embd, eps=c.ln_eps, bias=c.bias)
        self.lm_head = Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.wte.weight
        # GPT-2's initialisation: N(0, 0.02^2) weights, zero biases, LayerNorm at (1, 0), and the
        # two layers of each block that write into the residual stream scaled by 1/sqrt(2 n_layer).
        gpt2_init(self, residual=[m for b in self.blocks for m in (b.attn.out_proj, b.mlp.proj)],
                  n_layer=c.n_layer)

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
        x = self.drop(self.wpe(self.wte(idx), offset))  # (B, T, C)
        new_cache = []
        for block, layer_cache in zip(self.blocks, cache or [None] * len(self.blocks), strict=True):
            x, layer_cache = block(x, layer_cache)  # (B, T, C)
            new_cache.append(layer_cache)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab_size)
        return logits if cache is None else (logits, new_cache)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A batch ``(x, y)`` of int64 (B, block_size), y the next tokens (x shifted by one).

        Sequences follow s[t+1] = (s[t] + s[t-1] + 1) mod vocab_size from a random first token, so
        every target is determined by the prefix (attention to the previous token is needed) and a
        model can drive the loss to zero.
        """
        return recurrence_tokens(batch_size, self.config.block_size, self.config.vocab_size,
                                 generator)
