"""The Transformer encoder-decoder for sequence-to-sequence tasks such as translation.

Vaswani et al. 2017, "Attention is all you need", https://arxiv.org/abs/1706.03762.

The encoder reads the source with self-attention; the decoder writes the target one token at a
time with causal self-attention and cross-attention to the encoder output (section 3.1). Token
embeddings are multiplied by sqrt(d_model) and added to sinusoidal position encodings (sections
3.4 and 3.5). Each sub-layer is wrapped as in the paper, ``LayerNorm(x + Dropout(sublayer(x)))``
("post-LN"); ``norm_first`` switches to ``x + Dropout(sublayer(LayerNorm(x)))`` with a final
LayerNorm after each stack ("pre-LN", Xiong et al. 2020, https://arxiv.org/abs/2002.04745), which
trains without a learning-rate warmup. The source and target embeddings can be one table when the
two sides share a vocabulary, and the output projection can reuse the target embedding (section
3.4; Press & Wolf 2017, https://arxiv.org/abs/1608.05859).

Decoding is greedy or by beam search with the length penalty of GNMT (Wu et al. 2016, eq. 14,
https://arxiv.org/abs/1609.08144), shared by every encoder-decoder (:mod:`ann.models.decoding`);
both keep the decoder's keys and values in a :class:`~ann.layers.KVCache` per attention layer, so
each step feeds one new token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import (
    Dropout,
    Embedding,
    KVCache,
    LayerNorm,
    Linear,
    MultiHeadAttention,
    ReLU,
    SinusoidalPositionalEncoding,
)
from ...registry import register_model
from ..decoding import CachedDecoding, reversal_batch
from ..inputs import Seq2SeqInput

LayerCache = tuple[KVCache, KVCache]  # (self-attention, cross-attention) of one decoder layer


@dataclass
class TransformerConfig(Seq2SeqInput):
    n_encoder_layers: int = field(3, "encoder layers", positive=True)
    n_decoder_layers: int = field(3, "decoder layers", positive=True)
    d_model: int = field(256, "width of the model (embeddings and every sub-layer output)",
                         positive=True)
    n_heads: int = field(8, "attention heads; must divide d_model", positive=True)
    d_ff: int = field(512, "hidden width of the position-wise feed-forward layers", positive=True)
    dropout: float = field(0.1, "dropout on embeddings, sub-layer outputs and attention weights",
                           range=(0.0, 0.95))
    norm_first: bool = field(False, "pre-LN (LayerNorm before each sub-layer, final norms) "
                             "instead of the paper's post-LN")
    share_embeddings: bool = field(False, "one embedding table for source and target (needs one "
                                   "shared vocabulary)")
    tie_output: bool = field(False, "the output projection reuses the target embedding weight")
    ln_eps: float = field(1e-5, "epsilon added to the variance in every LayerNorm", positive=True)

    def __post_check__(self):
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise AnnError(f"model.share_embeddings needs one vocabulary, but src_vocab_size="
                           f"{self.src_vocab_size} and tgt_vocab_size={self.tgt_vocab_size}; "
                           "set model.share_embeddings=false")
        super().__post_check__()


class FeedForward(nn.Module):
    """Position-wise feed-forward network, ``Linear(ReLU(Linear(x)))`` (section 3.3).

    Shapes:
        x (B, T, d_model) -> (B, T, d_model).
    """

    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.fc = Linear(c.d_model, c.d_ff)
        self.act = ReLU()
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()  # as torch.nn.Transformer
        self.proj = Linear(c.d_ff, c.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.drop(self.act(self.fc(x))))  # (B, T, d_model)


class Residual(nn.Module):
    """Adds one sub-layer's output ``h`` to its input ``x``: post-LN ``norm(x + drop(h))``, or
    pre-LN ``x + drop(h)`` where the sub-layer read ``pre(x)``.

    Post-LN makes ``post`` the LayerNorm and ``pre`` the identity, pre-LN the other way round, so
    the layers call both and neither order needs a branch.

    Shapes:
        x (B, T, d_model), h (B, T, d_model) -> (B, T, d_model).
    """

    def __init__(self, c: TransformerConfig):
        super().__init__()
        norm = LayerNorm(c.d_model, eps=c.ln_eps)
        self.pre = norm if c.norm_first else nn.Identity()
        self.post = nn.Identity() if c.norm_first else norm
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.post(x + self.drop(h))  # (B, T, d_model)


class EncoderLayer(nn.Module):
    """Self-attention over the source, then the feed-forward network.

    Shapes:
        x (B, S, d_model), src_mask (B, S) bool (True = a real token) -> (B, S, d_model).
    """

    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(c.d_model, c.n_heads, dropout=c.dropout)
        self.res1 = Residual(c)
        self.ff = FeedForward(c)
        self.res2 = Residual(c)

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        x = self.res1(x, self.self_attn(self.res1.pre(x), mask=src_mask))  # (B, S, d_model)
        return self.res2(x, self.ff(self.res2.pre(x)))  # (B, S, d_model)


class DecoderLayer(nn.Module):
    """Causal self-attention over the target so far, cross-attention to the encoder output, then
    the feed-forward network. With ``cache`` (self, cross) the T target tokens follow the cached
    ones, and the layer returns ``(y, new_cache)``.

    Shapes:
        y (B, T, d_model), memory (B, S, d_model), src_mask (B, S) bool -> (B, T, d_model).
    """

    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(c.d_model, c.n_heads, dropout=c.dropout)
        self.res1 = Residual(c)
        self.cross_attn = MultiHeadAttention(c.d_model, c.n_heads, dropout=c.dropout)
        self.res2 = Residual(c)
        self.ff = FeedForward(c)
        self.res3 = Residual(c)

    def forward(self, y: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor,
                cache: LayerCache | None = None):
        self_cache, cross_cache = cache if cache is not None else (None, None)
        out = self.self_attn(self.res1.pre(y), causal=True, cache=self_cache)
        h, self_cache = out if cache is not None else (out, None)
        y = self.res1(y, h)  # (B, T, d_model)
        out = self.cross_attn(self.res2.pre(y), context=memory, mask=src_mask, cache=cross_cache)
        h, cross_cache = out if cache is not None else (out, None)
        y = self.res2(y, h)  # (B, T, d_model)
        y = self.res3(y, self.ff(self.res3.pre(y)))  # (B, T, d_model)
        return y if cache is None else (y, (self_cache, cross_cache))


@register_model("transformer", config=TransformerConfig, family="transformer", presets={
    "tiny": {"src_vocab_size": 16, "tgt_vocab_size": 16, "max_src_len": 12, "max_tgt_len": 12,
             "n_encoder_layers": 2, "n_decoder_layers": 2, "d_model": 32, "n_heads": 2,
             "d_ff": 64, "dropout": 0.0},
    # numbers -> words (embedded): trains in a minute or two on one CPU core.
    "small": {"n_encoder_layers": 2, "n_decoder_layers": 2, "d_model": 64, "n_heads": 4,
              "d_ff": 128, "dropout": 0.0},
    # The widely used tutorial's Multi30k model (REFERENCES.md): 3+3 layers, 256 wide, 8 heads.
    "tutorial": {"n_encoder_layers": 3, "n_decoder_layers": 3, "d_model": 256, "n_heads": 8,
                 "d_ff": 512, "dropout": 0.1},
    # The paper's base model (Table 3): 6+6 layers, 512 wide, 8 heads, FF 2048.
    "base": {"n_encoder_layers": 6, "n_decoder_layers": 6, "d_model": 512, "n_heads": 8,
             "d_ff": 2048, "dropout": 0.1},
})
class Transformer(CachedDecoding, nn.Module):
    """Transformer encoder-decoder (Vaswani et al. 2017).

    ``forward(src, tgt_in)`` gives the next-token logits at every target position (teacher
    forcing): ``tgt_in`` is the target without its last token, starting with ``bos_id``. Source
    padding (``pad_id``) is masked in every attention over the source; target padding needs no
    mask because it only follows the real tokens, which the causal mask already hides it from.
    :meth:`translate` decodes (greedy or beam search, :class:`~ann.models.decoding.Decoding`)
    from the source alone; :meth:`score` gives a decoded sequence's log-probability.

    Shapes:
        src (B, S) int64, S <= max_src_len; tgt_in (B, T) int64, T < max_tgt_len
        -> logits (B, T, tgt_vocab_size).
    """

    task = "seq2seq"

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = c = config
        self.src_embed = Embedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = self.src_embed if c.share_embeddings else Embedding(c.tgt_vocab_size,
                                                                              c.d_model)
        self.pos = SinusoidalPositionalEncoding(c.d_model, max(c.max_src_len, c.max_tgt_len))
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.encoder = nn.ModuleList(EncoderLayer(c) for _ in range(c.n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c.n_decoder_layers))
        # Pre-LN leaves each stack's output un-normalised, so both end with a LayerNorm.
        self.encoder_norm = LayerNorm(c.d_model, eps=c.ln_eps) if c.norm_first else nn.Identity()
        self.decoder_norm = LayerNorm(c.d_model, eps=c.ln_eps) if c.norm_first else nn.Identity()
        self.head = Linear(c.d_model, c.tgt_vocab_size)
        self.apply(self._init_weights)
        if c.tie_output:
            self.head.weight = self.tgt_embed.weight

    def _init_weights(self, module: nn.Module):
        # Glorot-uniform matrices as torch.nn.Transformer; embeddings N(0, 1/d_model) so that after
        # the sqrt(d_model) scale of section 3.4 they have unit variance, like the position codes.
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=self.config.d_model ** -0.5)

    # --- the forward pass ------------------------------------------------------------------------

    def _embed(self, embed: nn.Embedding, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        x = embed(ids) * math.sqrt(self.config.d_model)  # (B, T, d_model)
        return self.drop(self.pos(x, offset))

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder output ``memory`` (B, S, d_model) and the source mask (B, S), True at
        real (non-padding) tokens."""
        if src.dim() != 2 or src.size(1) == 0:
            raise AnnError(f"source has shape {tuple(src.shape)}; expected (batch, tokens) with at "
                           "least one token")
        if src.size(1) > self.config.max_src_len:
            raise AnnError(f"source of {src.size(1)} tokens is longer than max_src_len="
                           f"{self.config.max_src_len}; shorten it or build the model with a larger "
                           "max_src_len")
        src_mask = src != self.config.pad_id  # (B, S)
        x = self._embed(self.src_embed, src)  # (B, S, d_model)
        for layer in self.encoder:
            x = layer(x, src_mask)  # (B, S, d_model)
        return self.encoder_norm(x), src_mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor,
               cache: list[LayerCache] | None = None):
        """Decoder output before the projection, (B, T, d_model); with ``cache`` (one
        ``(KVCache, KVCache)`` per layer, :meth:`empty_cache` to start) ``tgt_in`` follows the
        cached tokens and the result is ``(y, new_cache)``."""
        offset = len(cache[0][0]) if cache else 0
        if offset + tgt_in.size(1) > self.config.max_tgt_len:
            raise AnnError(f"target of {offset + tgt_in.size(1)} tokens is longer than max_tgt_len="
                           f"{self.config.max_tgt_len}; build the model with a larger max_tgt_len")
        y = self._embed(self.tgt_embed, tgt_in, offset)  # (B, T, d_model)
        new_cache = []
        for layer, layer_cache in zip(self.decoder, cache or [None] * len(self.decoder)):
            out = layer(y, memory, src_mask, layer_cache)
            y, layer_cache = out if cache is not None else (out, None)  # (B, T, d_model)
            new_cache.append(layer_cache)
        y = self.decoder_norm(y)
        return y if cache is None else (y, new_cache)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)  # (B, S, d_model), (B, S)
        return self.head(self.decode(tgt_in, memory, src_mask))  # (B, T, tgt_vocab_size)

    def empty_cache(self) -> list[LayerCache]:
        """A fresh decoder cache: a (self-attention, cross-attention) pair per decoder layer."""
        return [(KVCache(), KVCache()) for _ in self.decoder]

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """A learnable batch ``(src, tgt)`` of non-special tokens: the target is the source
        reversed (:func:`~ann.models.decoding.reversal_batch`)."""
        c = self.config
        low = max(c.pad_id, c.bos_id, c.eos_id) + 1
        return reversal_batch(c, batch_size, low, min(c.src_vocab_size, c.tgt_vocab_size),
                              generator)
