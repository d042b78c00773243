"""Recurrent encoder-decoder with attention: the Transformer's predecessor for translation.

Luong, Pham & Manning 2015, "Effective approaches to attention-based neural machine translation"
(https://arxiv.org/abs/1508.04025), global attention with the ``general`` score, after Bahdanau
et al. 2014 (https://arxiv.org/abs/1409.0473), who introduced attention over the encoder states.

* Encoder: embedding and a bidirectional RNN/LSTM/GRU over the source (each row read backward
  from its own last token); its outputs (both directions) are the memory, and the top layer's
  final states start every decoder layer through a linear ``bridge``.
* Decoder: embedding and a unidirectional RNN over the target prefix (teacher forcing in training);
  at each step ``t`` the state ``h_t`` scores every source position ``s``, ``h_t^T W_a m_s``
  (padding masked out), the softmax weights average the memory into a context ``c_t``, and
  ``tanh(W_c [c_t; h_t])`` goes to the output layer (Luong's eq. 5-8). Without Luong's input
  feeding the decoder RNN reads only the target tokens, so training runs it once, fused, over the
  whole prefix.

Decoding is greedy (``translate``), one token at a time with the decoder state carried.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Dropout, Embedding, Linear, Recurrent
from ...layers.recurrent import CELLS
from ...registry import register_model


@dataclass
class Seq2SeqAttentionConfig:
    src_vocab_size: int = field(32, "source token ids (filled from the dataset)", positive=True)
    tgt_vocab_size: int = field(32, "target token ids (filled from the dataset)", positive=True)
    pad_id: int = field(0, "padding id on both sides (filled from the dataset)", nonneg=True)
    bos_id: int = field(1, "id that starts every target sequence (filled from the dataset)",
                        nonneg=True)
    eos_id: int = field(2, "id that ends every sequence (filled from the dataset)", nonneg=True)
    unk_id: int = field(-1, "id of unknown words, never a BLEU match (filled; -1: none)",
                        range=(-1, 2**31 - 1))
    max_src_len: int = field(64, "longest source in tokens, end token included", positive=True)
    max_tgt_len: int = field(64, "longest target in tokens, start and end tokens included",
                             positive=True)
    cell: str = field("gru", "recurrent cell of encoder and decoder", choices=CELLS)
    n_layer: int = field(1, "layers in the encoder and in the decoder", positive=True)
    n_embd: int = field(128, "embedding width", positive=True)
    hidden: int = field(256, "decoder hidden units (the encoder has half per direction)",
                        positive=True)
    dropout: float = field(0.1, "dropout on embeddings and the attentional state",
                           range=(0.0, 0.95))
    fused: bool = field(True, "run the recurrences through PyTorch's fused kernels")

    def __post_check__(self):
        if self.hidden % 2:
            raise AnnError(f"model.hidden must be even (half per encoder direction), got {self.hidden}")
        if self.max_tgt_len < 2:
            raise AnnError("model.max_tgt_len must be at least 2 (the start and end tokens)")


@register_model("seq2seq-attn", config=Seq2SeqAttentionConfig, family="recurrent", presets={
    "tiny": {"src_vocab_size": 16, "tgt_vocab_size": 16, "max_src_len": 8, "max_tgt_len": 10,
             "n_embd": 32, "hidden": 64, "dropout": 0.0},
    "small": {"n_embd": 64, "hidden": 128, "dropout": 0.1},
    "base": {"n_embd": 256, "hidden": 512, "n_layer": 2, "dropout": 0.3},
})
class Seq2SeqAttention(nn.Module):
    """Bidirectional recurrent encoder, recurrent decoder with Luong global attention.

    ``forward(src, tgt_in)``: teacher-forced logits for the target after each prefix token.

    Shapes:
        src (B, S) int64, tgt_in (B, T) int64 (starting with bos_id) -> logits (B, T, tgt_vocab).
    """

    task = "seq2seq"

    def __init__(self, config: Seq2SeqAttentionConfig):
        super().__init__()
        self.config = c = config
        H = c.hidden
        self.src_embed = Embedding(c.src_vocab_size, c.n_embd)
        self.tgt_embed = Embedding(c.tgt_vocab_size, c.n_embd)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        # Two directions run as two RNNs so that the backward one starts at each row's own last
        # token, not at its padding (what packing a padded batch does in torch.nn).
        self.encoder_fwd = Recurrent(c.cell, c.n_embd, H // 2, c.n_layer, dropout=c.dropout,
                                     fused=c.fused)
        self.encoder_bwd = Recurrent(c.cell, c.n_embd, H // 2, c.n_layer, dropout=c.dropout,
                                     fused=c.fused)
        self.bridge = Linear(H, H)                     # last encoder states -> first decoder state
        self.decoder = Recurrent(c.cell, c.n_embd, H, c.n_layer, dropout=c.dropout, fused=c.fused)
        self.score = Linear(H, H, bias=False)          # W_a of the general score
        self.combine = Linear(2 * H, H, bias=False)    # W_c
        self.head = Linear(H, c.tgt_vocab_size)

    def encode(self, src: torch.Tensor):
        """Memory (B, S, H), its padding mask (B, S) and the decoder's first state."""
        c = self.config
        if src.size(1) > c.max_src_len:
            raise AnnError(f"the source has {src.size(1)} tokens but the model reads at most "
                           f"max_src_len={c.max_src_len}; shorten it")
        keep = src != c.pad_id                                            # (B, S)
        lengths = keep.sum(1, keepdim=True).clamp(min=1)                  # (B, 1)
        t = torch.arange(src.size(1), device=src.device)[None]            # (1, S)
        # Reverse each row within its length (padding stays put); the map is its own inverse.
        flip = torch.where(t < lengths, lengths - 1 - t, t)               # (B, S)
        e = self.drop(self.src_embed(src))                                # (B, S, E)
        fwd, _ = self.encoder_fwd(e)                                      # (B, S, H/2)
        bwd, _ = self.encoder_bwd(e.gather(1, flip[..., None].expand_as(e)))
        bwd = bwd.gather(1, flip[..., None].expand_as(bwd))               # back in source order
        memory = torch.cat([fwd, bwd], dim=-1)                            # (B, S, H)
        last = fwd.gather(1, (lengths - 1)[..., None].expand(-1, 1, fwd.size(-1)))[:, 0]
        h0 = torch.tanh(self.bridge(torch.cat([last, bwd[:, 0]], dim=-1)))  # (B, H)
        h0 = h0[None].expand(c.n_layer, -1, -1).contiguous()              # (L, B, H)
        return memory, keep, ((h0, torch.zeros_like(h0)) if c.cell == "lstm" else h0)

    def attend(self, out, memory, keep):
        """Luong's attentional states for decoder outputs ``out`` (B, T, H)."""
        scores = self.score(out) @ memory.transpose(1, 2)                 # (B, T, S)
        weights = scores.masked_fill(~keep[:, None, :], float("-inf")).softmax(-1)
        context = weights @ memory                                        # (B, T, H)
        return self.drop(torch.tanh(self.combine(torch.cat([context, out], dim=-1))))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, keep, state = self.encode(src)
        out, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), state)  # (B, T, H)
        return self.head(self.attend(out, memory, keep))                  # (B, T, V)

    @torch.no_grad()
    def translate(self, src: torch.Tensor, beam_size: int = 1, length_penalty: float = 0.0,
                  max_len: int | None = None) -> torch.Tensor:
        """Greedy decoding: target ids after the start token, each row ended by ``eos_id``
        (unless ``max_len`` ran out) and padded. Beam search is the Transformer's only.

        Shapes:
            src (B, S) int64 -> (B, L) int64, L <= max_len (default max_tgt_len - 1).
        """
        c = self.config
        if beam_size != 1:
            raise AnnError("seq2seq-attn decodes greedily only; use --beam 1 (beam search is "
                           "implemented for the Transformer)")
        limit = c.max_tgt_len - 1
        max_len = limit if max_len is None else max_len
        if not 1 <= max_len <= limit:
            raise AnnError(f"max_len must be between 1 and {limit} (max_tgt_len - 1), got {max_len}")
        memory, keep, state = self.encode(src)
        B = src.size(0)
        token = torch.full((B, 1), c.bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        out_ids = []
        for _ in range(max_len):
            out, state = self.decoder(self.tgt_embed(token), state)          # (B, 1, H)
            nxt = self.head(self.attend(out, memory, keep))[:, -1].argmax(-1)  # (B,)
            nxt = nxt.masked_fill(done, c.pad_id)
            out_ids.append(nxt)
            done |= nxt == c.eos_id
            token = nxt[:, None]
            if done.all():
                break
        return torch.stack(out_ids, dim=1)

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """``(src, tgt)``: the target is the source reversed (needs attention to positions);
        sources of 1 to max_src_len - 1 tokens, then ``eos_id`` and padding."""
        c = self.config
        length = min(c.max_src_len - 1, c.max_tgt_len - 2)
        low = max(c.pad_id, c.bos_id, c.eos_id) + 1
        high = min(c.src_vocab_size, c.tgt_vocab_size)
        lengths = torch.randint(1, length + 1, (batch_size,), generator=generator)
        tokens = torch.randint(low, high, (batch_size, length), generator=generator)
        src = torch.full((batch_size, length + 1), c.pad_id)
        tgt = torch.full((batch_size, length + 2), c.pad_id)
        for i, n in enumerate(lengths.tolist()):
            src[i, :n], src[i, n] = tokens[i, :n], c.eos_id
            tgt[i, 0], tgt[i, 1:n + 1], tgt[i, n + 1] = c.bos_id, tokens[i, :n].flip(0), c.eos_id
        return src, tgt
