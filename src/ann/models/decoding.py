"""Greedy and beam-search decoding, written once for every encoder-decoder that writes tokens.

Beam search keeps, for each source, the ``beam_size`` prefixes of highest log-probability and
extends them all one token per step (Graves 2012, https://arxiv.org/abs/1211.3711; Sutskever et al.
2014, https://arxiv.org/abs/1409.3215). The finished hypothesis is chosen with the length penalty
of GNMT (Wu et al. 2016, eq. 14, https://arxiv.org/abs/1609.08144): score / lp with
``lp = ((5 + length) / 6) ** alpha``; alpha = 0 is the plain log-probability.

A model mixes in :class:`Decoding` and implements a small step protocol:

* ``decode_start(src, beams)`` -> state: encode the source once, each row repeated ``beams``
  times (row ``b * beams + k`` is beam k of source b);
* ``decode_step(tokens, state)`` -> ``(logits, state)``: feed the last token of every row,
  tokens (N, 1), and get the next-token logits (N, V);
* ``decode_reorder(state, index)`` -> state: the rows ``index`` (N,) of the state, the beams
  that survived a step. ``index`` never moves a row to another source, so what is the same for
  every beam of a source (encoder memory, cross-attention keys and values) may stay as it is;

plus ``forward(src, tgt_in)`` (teacher forcing, used by :meth:`Decoding.score` and the uncached
greedy path) and a config with ``bos_id``, ``eos_id``, ``pad_id`` and ``max_tgt_len`` (start and
end tokens included). :class:`CachedDecoding` implements the protocol for the Transformer-style
decoders (``encode``, ``decode`` with a key/value cache, ``head``, ``empty_cache``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..layers import KVCache


def length_penalty_factor(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT's ``((5 + length) / 6) ** alpha`` (Wu et al. 2016, eq. 14); 1 when alpha is 0.

    Shapes:
        lengths (...) int -> (...) float.
    """
    return ((5.0 + lengths.float()) / 6.0) ** alpha


def reversal_batch(config, batch_size: int, low: int, high: int,
                   generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable batch ``(src, tgt)`` for any encoder-decoder: the target is the source reversed.

    Sources are 1 to ``max_src_len - 1`` random tokens from ``[low, high)``, then ``eos_id`` and
    padding; targets are ``bos_id``, the same tokens in reverse order, ``eos_id``, padding.
    Reversal needs attention to source positions, and every target token follows from the
    source. ``config`` gives ``max_src_len``, ``max_tgt_len``, ``pad_id``, ``bos_id``, ``eos_id``.

    Shapes:
        -> src (batch_size, L + 1), tgt (batch_size, L + 2) int64 with
        L = min(max_src_len - 1, max_tgt_len - 2).
    """
    c = config
    length = min(c.max_src_len - 1, c.max_tgt_len - 2)
    if length < 1 or high <= low:
        raise AnnError("example_batch needs max lengths of at least 2 and 3 and vocabularies "
                       "with at least one non-special token")
    lengths = torch.randint(1, length + 1, (batch_size,), generator=generator)
    tokens = torch.randint(low, high, (batch_size, length), generator=generator)
    src = torch.full((batch_size, length + 1), c.pad_id)
    tgt = torch.full((batch_size, length + 2), c.pad_id)
    for i, n in enumerate(lengths.tolist()):
        src[i, :n], src[i, n] = tokens[i, :n], c.eos_id
        tgt[i, 0], tgt[i, 1:n + 1], tgt[i, n + 1] = c.bos_id, tokens[i, :n].flip(0), c.eos_id
    return src, tgt


def check_decoding(beam_size: int, length_penalty: float) -> None:
    """One clear error for a bad beam size or length penalty."""
    if int(beam_size) != beam_size or beam_size < 1:
        raise AnnError(f"beam size must be at least 1, got {beam_size}")
    if length_penalty < 0:
        raise AnnError(f"length penalty must be 0 or more, got {length_penalty}")


class Decoding:
    """Greedy decoding, beam search and teacher-forced scoring over the step protocol above.

    Every decoder returns target ids (B, L) without the start token; each row ends with
    ``eos_id`` (unless ``max_len`` tokens ran out first) and is padded with ``pad_id``. Call
    ``model.eval()`` first.
    """

    def _max_len(self, max_len: int | None) -> int:
        limit = self.config.max_tgt_len - 1  # the start token takes one position
        if max_len is None:
            return limit
        if max_len < 1 or max_len > limit:
            raise AnnError(f"max_len must be between 1 and {limit} (max_tgt_len - 1), got {max_len}")
        return max_len

    @torch.no_grad()
    def translate(self, src: torch.Tensor, beam_size: int = 1, length_penalty: float = 0.0,
                  max_len: int | None = None) -> torch.Tensor:
        """Target token ids for each source: greedy when ``beam_size`` is 1, else beam search
        with the GNMT length penalty ``length_penalty``.

        Shapes:
            src (B, ...) -> (B, L) int64, L <= max_len (default max_tgt_len - 1).
        """
        check_decoding(beam_size, length_penalty)
        if beam_size == 1:
            return self.greedy(src, max_len)
        return self.beam_search(src, beam_size, length_penalty, max_len)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_len: int | None = None,
               use_cache: bool = True) -> torch.Tensor:
        """The most likely next token at each step until every row has ended; see
        :meth:`translate`. ``use_cache=False`` runs the teacher-forced ``forward`` over the whole
        prefix at each step instead of the step protocol (slower, same result)."""
        c, max_len = self.config, self._max_len(max_len)
        B, dev = src.size(0), src.device
        ys = torch.full((B, 1), c.bos_id, dtype=torch.long, device=dev)  # (B, 1)
        done = torch.zeros(B, dtype=torch.bool, device=dev)
        state = self.decode_start(src, 1) if use_cache else None
        for _ in range(max_len):
            if use_cache:
                logits, state = self.decode_step(ys[:, -1:], state)  # (B, V)
            else:
                logits = self(src, ys)[:, -1]  # (B, V)
            token = logits.argmax(-1).masked_fill(done, c.pad_id)  # (B,)
            ys = torch.cat([ys, token[:, None]], dim=1)  # (B, t + 1)
            done |= token == c.eos_id
            if done.all():
                break
        return ys[:, 1:]

    @torch.no_grad()
    def beam_search(self, src: torch.Tensor, beam_size: int = 4, length_penalty: float = 0.0,
                    max_len: int | None = None) -> torch.Tensor:
        """Beam search over all rows at once; see :meth:`translate`.

        Each row keeps the ``beam_size`` prefixes of highest log-probability. A prefix that has
        ended stays in the beam with its score fixed (it may only continue with padding, at no
        cost), so it competes with the open ones; the search stops when every beam has ended or
        after ``max_len`` steps. The answer is the beam with the highest score / lp, where
        lp = ((5 + length) / 6) ^ length_penalty and length counts the tokens up to and
        including the end token. With a beam as wide as all hypotheses this is exhaustive.
        """
        check_decoding(beam_size, length_penalty)
        c, max_len, K = self.config, self._max_len(max_len), beam_size
        B, dev = src.size(0), src.device
        state = self.decode_start(src, K)  # row b*K + k is beam k of source b
        ys = torch.full((B * K, 1), c.bos_id, dtype=torch.long, device=dev)  # (B*K, 1)
        scores = torch.full((B, K), float("-inf"), device=dev)
        scores[:, 0] = 0.0  # all beams start equal: keep one so the first step has no duplicates
        done = torch.zeros(B * K, dtype=torch.bool, device=dev)
        lengths = torch.zeros(B * K, dtype=torch.long, device=dev)
        offset = torch.arange(B, device=dev)[:, None] * K  # (B, 1): first beam row of each source
        finished_row = None
        for _ in range(max_len):
            logits, state = self.decode_step(ys[:, -1:], state)  # (B*K, V)
            logp = F.log_softmax(logits.float(), dim=-1)  # (B*K, V)
            V = logp.size(-1)
            if finished_row is None:
                finished_row = torch.full((V,), float("-inf"), device=dev)
                finished_row[c.pad_id] = 0.0  # an ended beam can only add padding, for free
            logp = torch.where(done[:, None], finished_row, logp)
            candidates = (scores.view(B * K, 1) + logp).view(B, K * V)  # (B, K*V)
            scores, index = candidates.topk(K, dim=-1)  # (B, K)
            beam = (index // V + offset).view(-1)  # (B*K,) the row each survivor extends
            token = (index % V).view(-1)  # (B*K,)
            ys = torch.cat([ys[beam], token[:, None]], dim=1)  # (B*K, t + 1)
            lengths = lengths[beam] + (~done[beam]).long()
            # A beam with score -inf (when beam_size exceeds the live prefixes) counts as ended.
            done = done[beam] | (token == c.eos_id) | scores.view(-1).isneginf()
            state = self.decode_reorder(state, beam)
            if done.all():
                break
        final = scores.view(-1) / length_penalty_factor(lengths, length_penalty)  # (B*K,)
        best = final.view(B, K).argmax(-1)  # (B,)
        return ys.view(B, K, -1)[torch.arange(B, device=dev), best, 1:]  # (B, L)

    @torch.no_grad()
    def score(self, src: torch.Tensor, tokens: torch.Tensor,
              length_penalty: float = 0.0) -> torch.Tensor:
        """Log-probability of each decoded sequence (as :meth:`translate` returns them: no start
        token, ended by ``eos_id``, padded) under teacher forcing, summed over the tokens up to
        and including the end token, and divided by the GNMT factor of that length.

        Shapes:
            src (B, ...), tokens (B, L) -> (B,) float.
        """
        c = self.config
        bos = torch.full_like(tokens[:, :1], c.bos_id)
        logp = F.log_softmax(self(src, torch.cat([bos, tokens[:, :-1]], 1)).float(), -1)  # (B, L, V)
        picked = logp.gather(-1, tokens[:, :, None])[:, :, 0]  # (B, L)
        ended = (tokens == c.eos_id).long().cumsum(1)  # (B, L): 1 from the end token on, then more
        keep = (ended == 0) | ((ended == 1) & (tokens == c.eos_id))  # (B, L)
        total = torch.where(keep, picked, 0.0).sum(-1)  # (B,)
        return total / length_penalty_factor(keep.sum(-1), length_penalty)


def _select(cache: KVCache, index: torch.Tensor) -> KVCache:
    """The cache rows ``index`` (beam reordering); an empty cache stays empty."""
    return cache if cache.k is None else KVCache(cache.k[index], cache.v[index])


class CachedDecoding(Decoding):
    """The step protocol for Transformer-style decoders: ``encode(src) -> (memory, mask)``,
    ``decode(tokens, memory, mask, cache) -> (y, cache)`` with one (self-attention,
    cross-attention) :class:`~ann.layers.KVCache` pair per layer, ``head(y) -> logits`` and
    ``empty_cache()``. Each step feeds one new token; the state is ``(memory, mask, cache)``."""

    def decode_start(self, src: torch.Tensor, beams: int = 1):
        memory, mask = self.encode(src)  # (B, S, d), (B, S)
        if beams > 1:
            memory = memory.repeat_interleave(beams, dim=0)  # (B*K, S, d)
            mask = mask.repeat_interleave(beams, dim=0)  # (B*K, S)
        return memory, mask, self.empty_cache()

    def decode_step(self, tokens: torch.Tensor, state):
        memory, mask, cache = state
        y, cache = self.decode(tokens, memory, mask, cache)  # (N, 1, d)
        return self.head(y[:, -1]), (memory, mask, cache)  # (N, V)

    def decode_reorder(self, state, index: torch.Tensor):
        # Beams never move to another source, whose copies share the memory and one
        # cross-attention cache; only the self-attention caches follow their beams.
        memory, mask, cache = state
        return memory, mask, [(_select(s, index), x) for s, x in cache]
