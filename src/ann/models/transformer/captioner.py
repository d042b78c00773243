"""An image captioner: a Vision Transformer encoder and a GPT-style decoder that attends to it.

The encoder is :class:`ViTEncoder` (Dosovitskiy et al. 2021): every patch token of its last
layer is memory for the decoder. The decoder is a stack of pre-LayerNorm blocks as in GPT-2
(Radford et al. 2019): causal self-attention over the caption so far, cross-attention to the
image tokens (the encoder-decoder attention of Vaswani et al. 2017, section 3.2.3; "Show,
attend and tell", Xu et al. 2015, attends over image regions the same way), then the MLP; the
output layer shares its weight with the word embedding (Press & Wolf 2017).

Decoding, greedy or beam search with the GNMT length penalty, is the one every encoder-decoder
shares (:class:`~ann.models.decoding.CachedDecoding`): it needs only ``encode``, ``decode``,
``head``, ``empty_cache`` and the config's token ids, which this model provides.
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
from ..decoding import CachedDecoding
from ..inputs import ImageTextInput
from .clip import _random_captions
from .vit import ViTEncoder

LayerCache = tuple[KVCache, KVCache]  # (self-attention, cross-attention) of one block


@dataclass
class CaptionerConfig(ImageTextInput):
    d_model: int = field(96, "width of encoder and decoder", positive=True)
    encoder_layers: int = field(3, "ViT encoder blocks", positive=True)
    decoder_layers: int = field(2, "decoder blocks", positive=True)
    n_head: int = field(4, "attention heads per block; must divide d_model", positive=True)
    d_ff: int = field(192, "MLP width of every block", positive=True)
    dropout: float = field(0.0, "dropout on embeddings, attention weights and residual branches",
                           range=(0.0, 0.95))
    unk_id: int = field(1, "id of unknown words, never a BLEU match (-1: none)",
                        range=(-1, 2**31 - 1))

    # The names the shared decoding code (ann.models.decoding) reads.
    @property
    def max_tgt_len(self) -> int:
        return self.max_len

    @property
    def tgt_vocab_size(self) -> int:
        return self.vocab_size

    def __post_check__(self):
        self.check_patches("captioner")
        if self.d_model % self.n_head:
            raise AnnError(f"captioner: n_head={self.n_head} does not divide d_model={self.d_model}")


class DecoderBlock(nn.Module):
    """Pre-LN: ``y + self_attn(ln1(y))`` (causal), ``y + cross_attn(ln2(y), memory)``,
    ``y + mlp(ln3(y))``. With ``cache`` (self, cross) the T tokens follow the cached ones and the
    block returns ``(y, new_cache)``.

    Shapes:
        y (B, T, C), memory (B, S, C) -> (B, T, C).
    """

    def __init__(self, c: CaptionerConfig):
        super().__init__()
        self.ln1 = LayerNorm(c.d_model)
        self.self_attn = MultiHeadAttention(c.d_model, c.n_head, dropout=c.dropout)
        self.ln2 = LayerNorm(c.d_model)
        self.cross_attn = MultiHeadAttention(c.d_model, c.n_head, dropout=c.dropout)
        self.ln3 = LayerNorm(c.d_model)
        self.mlp = nn.Sequential(Linear(c.d_model, c.d_ff), GELU(), Linear(c.d_ff, c.d_model))
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, y: torch.Tensor, memory: torch.Tensor, cache: LayerCache | None = None):
        self_cache, cross_cache = cache if cache is not None else (None, None)
        out = self.self_attn(self.ln1(y), causal=True, cache=self_cache)
        h, self_cache = out if cache is not None else (out, None)
        y = y + self.drop(h)  # (B, T, C)
        out = self.cross_attn(self.ln2(y), context=memory, cache=cross_cache)
        h, cross_cache = out if cache is not None else (out, None)
        y = y + self.drop(h)  # (B, T, C)
        y = y + self.drop(self.mlp(self.ln3(y)))  # (B, T, C)
        return y if cache is None else (y, (self_cache, cross_cache))


@register_model("captioner", config=CaptionerConfig, family="transformer", presets={
    "tiny": {"image_size": 8, "patch_size": 4, "d_model": 16, "encoder_layers": 1,
             "decoder_layers": 1, "n_head": 2, "d_ff": 32, "vocab_size": 24, "max_len": 8},
    # One shape per 32x32 scene: 8x8 patches (16 tokens) are enough and four times cheaper.
    "small": {"patch_size": 8, "d_model": 96, "encoder_layers": 3, "decoder_layers": 1,
              "d_ff": 192},
})
class Captioner(CachedDecoding, nn.Module):
    """ViT encoder + GPT-style decoder with cross-attention: an image to a caption.

    ``forward(images, tokens_in)`` gives next-word logits under teacher forcing;
    ``translate(images, beam_size)`` decodes (greedy when ``beam_size`` is 1, else beam search).

    Shapes:
        images (B, C, H, W), tokens_in (B, T) int64 starting with ``bos_id`` -> logits (B, T, V);
        translate -> (B, L) ids ended by ``eos_id`` and padded.
    """

    task = "caption"

    def __init__(self, config: CaptionerConfig):
        super().__init__()
        self.config = c = config
        self.encoder = ViTEncoder(c.image_size, c.in_channels, c.patch_size, c.d_model,
                                  c.encoder_layers, c.n_head, c.d_ff, c.dropout)
        self.embed = Embedding(c.vocab_size, c.d_model)
        self.pos = LearnedPositionalEmbedding(c.max_len, c.d_model)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.blocks = nn.ModuleList(DecoderBlock(c) for _ in range(c.decoder_layers))
        self.norm = LayerNorm(c.d_model)
        self.head = Linear(c.d_model, c.vocab_size, bias=False)
        self.head.weight = self.embed.weight
        # GPT-2's initialisation, the decoder's residual writers scaled by 1/sqrt(2 decoder_layers).
        writers = [m for b in self.blocks
                   for m in (b.self_attn.out_proj, b.cross_attn.out_proj, b.mlp[2])]
        gpt2_init(self, residual=writers, n_layer=c.decoder_layers)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image tokens (B, 1 + N, C) as memory, and an all-True mask (B, 1 + N): every image
        token is real (the mask is there for the shared decoding code)."""
        memory = self.encoder(images)
        return memory, torch.ones(memory.shape[:2], dtype=torch.bool, device=memory.device)

    def decode(self, tokens: torch.Tensor, memory: torch.Tensor, memory_mask=None,
               cache: list[LayerCache] | None = None):
        """Decoder output before the head, (B, T, C); with ``cache`` (:meth:`empty_cache`) the T
        tokens follow the cached ones and the result is ``(y, new_cache)``."""
        offset = len(cache[0][0]) if cache else 0
        if offset + tokens.size(1) > self.config.max_len:
            raise AnnError(f"a caption of {offset + tokens.size(1)} tokens is longer than the "
                           f"model's context max_len={self.config.max_len}")
        y = self.drop(self.pos(self.embed(tokens), offset))  # (B, T, C)
        new_cache = []
        for block, layer_cache in zip(self.blocks, cache or [None] * len(self.blocks)):
            out = block(y, memory, layer_cache)
            y, layer_cache = out if cache is not None else (out, None)  # (B, T, C)
            new_cache.append(layer_cache)
        y = self.norm(y)
        return y if cache is None else (y, new_cache)

    def forward(self, images: torch.Tensor, tokens_in: torch.Tensor) -> torch.Tensor:
        memory, _ = self.encode(images)  # (B, S, C)
        return self.head(self.decode(tokens_in, memory))  # (B, T, V)

    def empty_cache(self) -> list[LayerCache]:
        return [(KVCache(), KVCache()) for _ in self.blocks]

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A learnable batch ``(images, tokens)``: random images and random word rows."""
        c = self.config
        images = torch.randn(batch_size, c.in_channels, c.image_size, c.image_size,
                             generator=generator)
        return images, _random_captions(batch_size, c, generator)
