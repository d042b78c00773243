"""T5: the text-to-text Transformer encoder-decoder.

Raffel et al. 2020, "Exploring the limits of transfer learning with a unified text-to-text
Transformer", https://arxiv.org/abs/1910.10683 (section 2.1 for the architecture).

Every task is text in, text out; a prefix in the input ("translate German to English: ...",
"sst2 sentence: ...") tells the tasks apart. The architecture is the encoder-decoder of Vaswani
et al. with these changes (section 2.1):

* no absolute positions: each attention adds a learned scalar per head and *relative position
  bucket* to its scores. Offsets up to ``num_buckets / 2`` (per direction in the encoder) get a
  bucket each, longer ones share logarithmically wider buckets up to ``max_distance``. The table
  belongs to the stack: the first layer's table serves every layer of the encoder (bidirectional
  buckets) and of the decoder (causal buckets); cross-attention has none;
* layer norm without mean subtraction or bias (RMS norm), before each sub-layer, and a final one
  after each stack;
* no 1/sqrt(d) on the attention scores: the factor is folded into the initialisation of the
  query projection (Mesh TensorFlow's initialiser, as in the released checkpoints);
* one embedding table for encoder, decoder and (v1.0) the output layer, whose input is then
  scaled by d_model^-0.5; T5 v1.1 (https://github.com/google-research/text-to-text-transfer-transformer/blob/main/released_checkpoints.md)
  unties the output layer and replaces the ReLU feed-forward by a gated GELU one
  (Shazeer 2020, "GLU variants improve Transformer", https://arxiv.org/abs/2002.05202).

The decoder starts from ``bos_id`` (T5 reuses the padding id 0) and ends with ``eos_id``.
Decoding, greedy or beam search with key/value caches, is the one every encoder-decoder shares
(:class:`~ann.models.decoding.CachedDecoding`): T5 offers the ``encode`` / ``decode`` / ``head`` /
``empty_cache`` interface it steps through.

:class:`T5SpanCorruption` is the same network trained with T5's span-corruption objective
(section 3.1.4; :mod:`ann.tasks.text2text`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import GELU, Dropout, Embedding, KVCache, Linear, MultiHeadAttention, ReLU, RMSNorm
from ...registry import register_model
from ..decoding import CachedDecoding, reversal_batch

LayerCache = tuple[KVCache, KVCache]  # (self-attention, cross-attention) of one decoder layer


@dataclass
class T5Config:
    vocab_size: int = field(32, "token ids, shared by encoder and decoder (filled from the dataset)",
                            positive=True)
    pad_id: int = field(0, "padding id (filled from the dataset)", nonneg=True)
    eos_id: int = field(1, "id that ends every sequence (filled from the dataset)", nonneg=True)
    bos_id: int = field(0, "id the decoder starts from; T5 reuses the padding id (filled from "
                        "the dataset)", nonneg=True)
    unk_id: int = field(2, "id of unknown tokens, never a BLEU match (filled from the dataset; "
                        "-1: none)", range=(-1, 2**31 - 1))
    sentinel_id: int = field(-1, "id of <extra_id_0>; <extra_id_i> is sentinel_id - i (filled "
                             "from the dataset; -1: none)", range=(-1, 2**31 - 1))
    n_sentinels: int = field(0, "how many sentinel ids there are below sentinel_id (filled from "
                             "the dataset)", nonneg=True)
    tasks: str = field("", "task prefixes of a multi-task dataset, name=first token id, comma "
                       "separated (filled from the dataset)")
    max_src_len: int = field(128, "longest input in tokens, end token included", positive=True)
    max_tgt_len: int = field(64, "longest output in tokens, start and end tokens included",
                             positive=True)
    n_encoder_layers: int = field(4, "encoder layers", positive=True)
    n_decoder_layers: int = field(4, "decoder layers", positive=True)
    d_model: int = field(256, "width of the model (embeddings and every sub-layer output)",
                         positive=True)
    n_heads: int = field(4, "attention heads", positive=True)
    d_kv: int = field(0, "size of each attention head (0: d_model / n_heads)", nonneg=True)
    d_ff: int = field(1024, "hidden width of the feed-forward layers", positive=True)
    feed_forward: str = field("relu", "relu (T5 v1.0) or gated-gelu (T5 v1.1)",
                              choices=("relu", "gated-gelu"))
    tie_embeddings: bool = field(True, "the output layer reuses the embedding, its input scaled "
                                 "by d_model^-0.5 (v1.0); false: its own weights (v1.1)")
    num_buckets: int = field(32, "relative position buckets per attention head", positive=True)
    max_distance: int = field(128, "offsets from this on share the last bucket", positive=True)
    dropout: float = field(0.1, "dropout on embeddings, sub-layer outputs, attention weights and "
                           "the feed-forward hidden layer", range=(0.0, 0.95))
    ln_eps: float = field(1e-6, "epsilon added to the mean square in every RMS norm",
                          positive=True)
    init_factor: float = field(1.0, "scale of every initial weight (T5's initializer_factor)",
                               positive=True)

    @property
    def tgt_vocab_size(self) -> int:  # the name the other encoder-decoders' configs use
        return self.vocab_size

    @property
    def head_dim(self) -> int:
        return self.d_kv or self.d_model // self.n_heads

    def __post_check__(self):
        if not self.d_kv and self.d_model % self.n_heads:
            raise AnnError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                           "pick n_heads that divides d_model, or set model.d_kv")
        ids = {"pad_id": self.pad_id, "eos_id": self.eos_id, "bos_id": self.bos_id,
               "sentinel_id": self.sentinel_id}
        if max(ids.values()) >= self.vocab_size or self.pad_id == self.eos_id:
            raise AnnError(f"model ids {ids} must be below vocab_size={self.vocab_size}, with "
                           "pad_id and eos_id distinct")
        if self.max_tgt_len < 2:
            raise AnnError("model.max_tgt_len must be at least 2 (the start and end tokens)")
        for item in filter(None, self.tasks.split(",")):
            name, _, token = item.partition("=")
            if not name or not token.isdigit() or int(token) >= self.vocab_size:
                raise AnnError(f"model.tasks item {item!r} is not name=token id (an id below "
                               f"vocab_size={self.vocab_size}); leave model.tasks to the dataset")
        if self.num_buckets < 4 or self.max_distance <= self.num_buckets // 2:
            raise AnnError(f"num_buckets={self.num_buckets} must be at least 4 and max_distance="
                           f"{self.max_distance} above num_buckets / 2")

    def task_ids(self) -> dict[int, str]:
        """``tasks`` read as {first token id: task name}."""
        out = {}
        for item in filter(None, self.tasks.split(",")):
            name, _, token = item.partition("=")
            out[int(token)] = name
        return out


def relative_position_bucket(relative: torch.Tensor, bidirectional: bool, num_buckets: int,
                             max_distance: int) -> torch.Tensor:
    """The bucket of each offset ``key - query`` (T5, section 2.1).

    Bidirectional: half the buckets for keys after the query, half for keys at or before it.
    Causal: later keys are masked anyway, so offsets > 0 count as 0 and all buckets look back.
    Within a direction, the first half of the buckets hold the offsets 0, 1, 2, ... exactly; the
    rest cover offsets up to ``max_distance`` with logarithmically growing widths, and everything
    farther falls into the last bucket.

    Shapes:
        relative (T, S) int64 -> (T, S) int64 in [0, num_buckets).
    """
    bucket = torch.zeros_like(relative)
    if bidirectional:
        num_buckets //= 2
        bucket = bucket + (relative > 0).long() * num_buckets  # keys after the query: upper half
        distance = relative.abs()
    else:
        distance = (-relative).clamp(min=0)
    exact = num_buckets // 2
    # log(distance / exact) / log(max_distance / exact) spans the remaining buckets
    log_ratio = torch.log(distance.float() / exact) / math.log(max_distance / exact)
    far = exact + (log_ratio * (num_buckets - exact)).long()
    far = far.clamp(max=num_buckets - 1)
    return bucket + torch.where(distance < exact, distance, far)


class RelativePositionBias(nn.Module):
    """A learned scalar per head and relative position bucket, added to attention scores.

    ``forward(T, S, offset)`` gives the bias of T queries at positions offset .. offset + T - 1
    (a cached decoder step has offset > 0) against keys 0 .. S - 1.

    Shapes:
        -> (1, n_heads, T, S) float.
    """

    def __init__(self, n_heads: int, num_buckets: int, max_distance: int, bidirectional: bool):
        super().__init__()
        self.bidirectional, self.num_buckets, self.max_distance = bidirectional, num_buckets, max_distance
        self.table = Embedding(num_buckets, n_heads)

    def forward(self, T: int, S: int, offset: int = 0) -> torch.Tensor:
        device = self.table.weight.device
        query = torch.arange(offset, offset + T, device=device)[:, None]  # (T, 1)
        key = torch.arange(S, device=device)[None, :]  # (1, S)
        bucket = relative_position_bucket(key - query, self.bidirectional, self.num_buckets,
                                          self.max_distance)  # (T, S)
        return self.table(bucket).permute(2, 0, 1)[None]  # (1, nh, T, S)


class DenseReLU(nn.Module):
    """T5 v1.0 feed-forward, ``wo(drop(relu(wi(x))))``, no biases.

    Shapes:
        x (B, T, d_model) -> (B, T, d_model).
    """

    def __init__(self, c: T5Config):
        super().__init__()
        self.wi = Linear(c.d_model, c.d_ff, bias=False)
        self.act = ReLU()
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.wo = Linear(c.d_ff, c.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wo(self.drop(self.act(self.wi(x))))  # (B, T, d_model)


class GatedGELU(nn.Module):
    """T5 v1.1 feed-forward (GEGLU), ``wo(drop(gelu(wi_0(x)) * wi_1(x)))`` with the tanh GELU.

    Shapes:
        x (B, T, d_model) -> (B, T, d_model).
    """

    def __init__(self, c: T5Config):
        super().__init__()
        self.wi_0 = Linear(c.d_model, c.d_ff, bias=False)
        self.wi_1 = Linear(c.d_model, c.d_ff, bias=False)
        self.act = GELU(approximate="tanh")
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.wo = Linear(c.d_ff, c.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wo(self.drop(self.act(self.wi_0(x)) * self.wi_1(x)))  # (B, T, d_model)


def _attention(c: T5Config) -> MultiHeadAttention:
    # No biases, no 1/sqrt(hs) (folded into the query init), heads of d_kv each.
    return MultiHeadAttention(c.d_model, c.n_heads, dropout=c.dropout, bias=False, scale=1.0,
                              head_dim=c.head_dim)


class EncoderLayer(nn.Module):
    """Self-attention with the stack's position bias, then the feed-forward network.

    Shapes:
        x (B, S, d_model), mask (B, S) bool (True = a real token), bias (1, nh, S, S)
        -> (B, S, d_model).
    """

    def __init__(self, c: T5Config):
        super().__init__()
        self.attn_norm = RMSNorm(c.d_model, eps=c.ln_eps)
        self.self_attn = _attention(c)
        self.ff_norm = RMSNorm(c.d_model, eps=c.ln_eps)
        self.ff = GatedGELU(c) if c.feed_forward == "gated-gelu" else DenseReLU(c)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.self_attn(self.attn_norm(x), mask=mask, bias=bias))  # (B, S, d_model)
        return x + self.drop(self.ff(self.ff_norm(x)))  # (B, S, d_model)


class DecoderLayer(nn.Module):
    """Causal self-attention with the decoder's position bias, cross-attention to the encoder
    output (no position bias), then the feed-forward network. With ``cache`` (self, cross) the T
    tokens follow the cached ones and the layer returns ``(y, new_cache)``.

    Shapes:
        y (B, T, d_model), memory (B, S, d_model), src_mask (B, S) bool, bias (1, nh, T, T_all)
        -> (B, T, d_model).
    """

    def __init__(self, c: T5Config):
        super().__init__()
        self.attn_norm = RMSNorm(c.d_model, eps=c.ln_eps)
        self.self_attn = _attention(c)
        self.cross_norm = RMSNorm(c.d_model, eps=c.ln_eps)
        self.cross_attn = _attention(c)
        self.ff_norm = RMSNorm(c.d_model, eps=c.ln_eps)
        self.ff = GatedGELU(c) if c.feed_forward == "gated-gelu" else DenseReLU(c)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, y: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor,
                bias: torch.Tensor, cache: LayerCache | None = None):
        self_cache, cross_cache = cache if cache is not None else (None, None)
        out = self.self_attn(self.attn_norm(y), causal=True, cache=self_cache, bias=bias)
        h, self_cache = out if cache is not None else (out, None)
        y = y + self.drop(h)  # (B, T, d_model)
        out = self.cross_attn(self.cross_norm(y), context=memory, mask=src_mask, cache=cross_cache)
        h, cross_cache = out if cache is not None else (out, None)
        y = y + self.drop(h)  # (B, T, d_model)
        y = y + self.drop(self.ff(self.ff_norm(y)))  # (B, T, d_model)
        return y if cache is None else (y, (self_cache, cross_cache))


class OutputHead(nn.Module):
    """Decoder output to vocabulary logits, ``linear(x * scale)``: scale is d_model^-0.5 when
    the weight is the (tied) embedding (T5 v1.0), 1 otherwise.

    Shapes:
        x (..., d_model) -> (..., vocab_size).
    """

    def __init__(self, c: T5Config):
        super().__init__()
        self.scale = c.d_model ** -0.5 if c.tie_embeddings else 1.0
        self.proj = Linear(c.d_model, c.vocab_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x * self.scale)  # (..., vocab_size)


T5_PRESETS = {
    "tiny": {"vocab_size": 32, "max_src_len": 12, "max_tgt_len": 12, "n_encoder_layers": 2,
             "n_decoder_layers": 2, "d_model": 32, "n_heads": 2, "d_ff": 64, "num_buckets": 8,
             "max_distance": 16, "dropout": 0.0},
    # t5-tasks in ~30 s on one core (the tour): character-level tasks, short sequences.
    "mini": {"n_encoder_layers": 2, "n_decoder_layers": 2, "d_model": 96, "n_heads": 4,
             "d_ff": 256, "num_buckets": 16, "max_distance": 32, "dropout": 0.0},
    # t5-tasks in full, span corruption on pydoc, and Multi30k + SST-2 on one CPU core.
    "small": {"n_encoder_layers": 3, "n_decoder_layers": 3, "d_model": 128, "n_heads": 4,
              "d_ff": 512, "num_buckets": 32, "max_distance": 64, "dropout": 0.0},
    "base": {"n_encoder_layers": 4, "n_decoder_layers": 4, "d_model": 256, "n_heads": 4,
             "d_ff": 1024, "dropout": 0.1},
    # The released t5-small's shape (60M parameters with its 32,128-token vocabulary).
    "t5-small": {"n_encoder_layers": 6, "n_decoder_layers": 6, "d_model": 512, "n_heads": 8,
                 "d_ff": 2048, "dropout": 0.1, "max_src_len": 512, "max_tgt_len": 512},
}


@register_model("t5", config=T5Config, family="transformer", presets=T5_PRESETS)
class T5(CachedDecoding, nn.Module):
    """T5 encoder-decoder (Raffel et al. 2020): text-to-text, tasks told apart by a prefix.

    ``forward(src, tgt_in)`` gives the next-token logits at every target position (teacher
    forcing): ``tgt_in`` is the target without its last token, starting with ``bos_id``. Padding
    (``pad_id``) in the input is masked in every attention over it. :meth:`translate` decodes
    (greedy or beam search) from the input alone.

    Shapes:
        src (B, S) int64, S <= max_src_len; tgt_in (B, T) int64, T < max_tgt_len
        -> logits (B, T, vocab_size).
    """

    task = "text2text"

    def __init__(self, config: T5Config):
        super().__init__()
        self.config = c = config
        self.embed = Embedding(c.vocab_size, c.d_model)  # one table for both stacks
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.encoder_bias = RelativePositionBias(c.n_heads, c.num_buckets, c.max_distance, True)
        self.encoder = nn.ModuleList(EncoderLayer(c) for _ in range(c.n_encoder_layers))
        self.encoder_norm = RMSNorm(c.d_model, eps=c.ln_eps)
        self.decoder_bias = RelativePositionBias(c.n_heads, c.num_buckets, c.max_distance, False)
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c.n_decoder_layers))
        self.decoder_norm = RMSNorm(c.d_model, eps=c.ln_eps)
        self.head = OutputHead(c)
        self.apply(self._init_weights)
        if c.tie_embeddings:
            self.head.proj.weight = self.embed.weight

    def _init_weights(self, module: nn.Module):
        # Mesh TensorFlow's initialisation as in the released T5 (and Hugging Face's port): each
        # matrix N(0, 1/fan_in); the query's std also carries the 1/sqrt(d_kv) the scores lack.
        c, f = self.config, self.config.init_factor
        if isinstance(module, MultiHeadAttention):
            nn.init.normal_(module.q_proj.weight, std=f * (c.d_model * c.head_dim) ** -0.5)
            nn.init.normal_(module.k_proj.weight, std=f * c.d_model ** -0.5)
            nn.init.normal_(module.v_proj.weight, std=f * c.d_model ** -0.5)
            nn.init.normal_(module.out_proj.weight, std=f * (c.n_heads * c.head_dim) ** -0.5)
        elif isinstance(module, (DenseReLU, GatedGELU)):
            for name, child in module.named_children():
                if isinstance(child, nn.Linear):
                    fan_in = c.d_ff if name == "wo" else c.d_model
                    nn.init.normal_(child.weight, std=f * fan_in ** -0.5)
        elif isinstance(module, RelativePositionBias):
            nn.init.normal_(module.table.weight, std=f * c.d_model ** -0.5)
        elif isinstance(module, OutputHead):
            nn.init.normal_(module.proj.weight, std=f)
        elif isinstance(module, Embedding):
            if module is self.embed:
                nn.init.normal_(module.weight, std=f)

    # --- the forward pass ------------------------------------------------------------------------

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder output ``memory`` (B, S, d_model) and the input mask (B, S), True at real
        (non-padding) tokens."""
        if src.dim() != 2 or src.size(1) == 0:
            raise AnnError(f"input has shape {tuple(src.shape)}; expected (batch, tokens) with at "
                           "least one token")
        if src.size(1) > self.config.max_src_len:
            raise AnnError(f"input of {src.size(1)} tokens is longer than max_src_len="
                           f"{self.config.max_src_len}; shorten it or build the model with a "
                           "larger max_src_len")
        mask = src != self.config.pad_id  # (B, S)
        S = src.size(1)
        bias = self.encoder_bias(S, S)  # (1, nh, S, S): computed once, shared by every layer
        x = self.drop(self.embed(src))  # (B, S, d_model)
        for layer in self.encoder:
            x = layer(x, mask, bias)  # (B, S, d_model)
        return self.drop(self.encoder_norm(x)), mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor,
               cache: list[LayerCache] | None = None):
        """Decoder output before the head, (B, T, d_model); with ``cache`` (one ``(KVCache,
        KVCache)`` per layer, :meth:`empty_cache` to start) ``tgt_in`` follows the cached tokens
        and the result is ``(y, new_cache)``."""
        offset = len(cache[0][0]) if cache else 0
        T = tgt_in.size(1)
        if offset + T > self.config.max_tgt_len:
            raise AnnError(f"output of {offset + T} tokens is longer than max_tgt_len="
                           f"{self.config.max_tgt_len}; build the model with a larger max_tgt_len")
        bias = self.decoder_bias(T, offset + T, offset)  # (1, nh, T, offset + T)
        y = self.drop(self.embed(tgt_in))  # (B, T, d_model)
        new_cache = []
        for layer, layer_cache in zip(self.decoder, cache or [None] * len(self.decoder)):
            out = layer(y, memory, src_mask, bias, layer_cache)
            y, layer_cache = out if cache is not None else (out, None)  # (B, T, d_model)
            new_cache.append(layer_cache)
        y = self.drop(self.decoder_norm(y))
        return y if cache is None else (y, new_cache)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)  # (B, S, d_model), (B, S)
        return self.head(self.decode(tgt_in, memory, src_mask))  # (B, T, vocab_size)

    def empty_cache(self) -> list[LayerCache]:
        """A fresh decoder cache: a (self-attention, cross-attention) pair per decoder layer."""
        return [(KVCache(), KVCache()) for _ in self.decoder]

    def _ordinary_ids(self) -> tuple[int, int]:
        """[low, high): the ids that are neither special nor sentinels."""
        c = self.config
        low = max(c.pad_id, c.eos_id, c.bos_id, c.unk_id, c.sentinel_id) + 1
        if low >= c.vocab_size:
            raise AnnError("example_batch needs a vocabulary with at least one ordinary token")
        return low, c.vocab_size

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """A learnable batch ``(src, tgt)`` of ordinary tokens: the output is the input reversed
        (:func:`~ann.models.decoding.reversal_batch`)."""
        return reversal_batch(self.config, batch_size, *self._ordinary_ids(), generator)


@register_model("t5-span", config=T5Config, family="transformer", presets={
    **T5_PRESETS, "tiny": {**T5_PRESETS["tiny"], "sentinel_id": 10, "n_sentinels": 8}})
class T5SpanCorruption(T5):
    """T5 trained with span corruption (Raffel et al. 2020, section 3.1.4): the same network as
    ``t5``, whose weights a text-to-text run can start from.

    A batch is ``(x, x)`` rows of text tokens; the ``span_corrupt`` task drops ~15% of each row
    in spans of mean length 3, each replaced in the input by one sentinel ``<extra_id_i>``, and
    the model writes the dropped spans after their sentinels.

    Shapes:
        as :class:`T5`.
    """

    task = "span_corrupt"

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """Rows of random ordinary tokens (the inputs and targets are made by the task):
        ``max_src_len - 1`` tokens, then ``eos_id``."""
        c = self.config
        low, high = self._ordinary_ids()
        x = torch.randint(low, high, (batch_size, c.max_src_len), generator=generator)
        x[:, -1] = c.eos_id
        return x, x
