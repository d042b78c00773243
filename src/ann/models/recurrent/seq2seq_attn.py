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

Decoding, greedy or beam search with the GNMT length penalty, is the one every encoder-decoder
shares (:class:`~ann.models.decoding.Decoding`): one token at a time with the decoder state
carried, each beam's state (``h``, and ``c`` for an LSTM) following it, the memory repeated once
per beam.
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
from ..decoding import Decoding, reversal_batch
from ..inputs import Seq2SeqInput


@dataclass
class Seq2SeqAttentionConfig(Seq2SeqInput):
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
        super().__post_check__()


@register_model("seq2seq-attn", config=Seq2SeqAttentionConfig, family="recurrent", presets={
    "tiny": {"src_vocab_size": 16, "tgt_vocab_size": 16, "max_src_len": 8, "max_tgt_len": 10,
             "n_embd": 32, "hidden": 64, "dropout": 0.0},
    "small": {"n_embd": 64, "hidden": 128, "dropout": 0.1},
    "base": {"n_embd": 256, "hidden": 512, "n_layer": 2, "dropout": 0.3},
})
class Seq2SeqAttention(Decoding, nn.Module):
    """Bidirectional recurrent encoder, recurrent decoder with Luong global attention.

    ``forward(src, tgt_in)``: teacher-forced logits for the target after each prefix token;
    ``translate(src, beam_size)`` decodes (greedy when ``beam_size`` is 1, else beam search).

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
        self.align = Linear(H, H, bias=False)          # W_a of the general score
        self.combine = Linear(2 * H, H, bias=False)    # W_c
        self.head = Linear(H, c.tgt_vocab_size)
        self._register_load_state_dict_pre_hook(_rename_old_keys)

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
        scores = self.align(out) @ memory.transpose(1, 2)                 # (B, T, S)
        weights = scores.masked_fill(~keep[:, None, :], float("-inf")).softmax(-1)
        context = weights @ memory                                        # (B, T, H)
        return self.drop(torch.tanh(self.combine(torch.cat([context, out], dim=-1))))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, keep, state = self.encode(src)
        out, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), state)  # (B, T, H)
        return self.head(self.attend(out, memory, keep))                  # (B, T, V)

    # --- the decoding step protocol (ann.models.decoding) -----------------------------------------

    def decode_start(self, src: torch.Tensor, beams: int = 1):
        """Memory, mask and first decoder state, each source row repeated ``beams`` times."""
        memory, keep, hidden = self.encode(src)               # (B, S, H), (B, S), (L, B, H)
        hidden = _each(lambda h: h.repeat_interleave(beams, dim=1), hidden)  # (L, B*K, H)
        return memory.repeat_interleave(beams, 0), keep.repeat_interleave(beams, 0), hidden

    def decode_step(self, tokens: torch.Tensor, state):
        """Next-token logits (N, V) after ``tokens`` (N, 1), and the state after them."""
        memory, keep, hidden = state
        out, hidden = self.decoder(self.drop(self.tgt_embed(tokens)), hidden)  # (N, 1, H)
        return self.head(self.attend(out, memory, keep))[:, -1], (memory, keep, hidden)

    def decode_reorder(self, state, index: torch.Tensor):
        # Only the recurrent state follows the beams (rows on axis 1 of h and c); a source's
        # memory is the same for all its beams.
        memory, keep, hidden = state
        return memory, keep, _each(lambda h: h[:, index], hidden)  # (L, N, H)

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """``(src, tgt)``: the target is the source reversed (needs attention to positions);
        sources of 1 to max_src_len - 1 tokens, then ``eos_id`` and padding."""
        c = self.config
        low = max(c.pad_id, c.bos_id, c.eos_id) + 1
        return reversal_batch(c, batch_size, low, min(c.src_vocab_size, c.tgt_vocab_size),
                              generator)


def _each(fn, hidden):
    """``fn`` applied to the recurrent state: ``h`` (rnn, gru) or both of ``(h, c)`` (lstm)."""
    return tuple(map(fn, hidden)) if isinstance(hidden, tuple) else fn(hidden)


def _rename_old_keys(state_dict, prefix, *args):
    """Checkpoints written before the attention matrix W_a was renamed from ``score`` (a name
    the shared decoding now gives the sequence scorer) to ``align`` still load."""
    old, new = prefix + "score.weight", prefix + "align.weight"
    if old in state_dict and new not in state_dict:
        state_dict[new] = state_dict.pop(old)
