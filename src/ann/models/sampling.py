"""Choosing the next token of a language model: shared by every family that generates text."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..errors import AnnError


def check_sampling(idx: torch.Tensor, max_new_tokens: int, temperature: float,
                   top_k: int | None, top_p: float | None):
    """One clear error for each bad generation argument; ``idx`` is the prompt (B, T)."""
    if idx.dim() != 2 or idx.size(1) == 0:
        raise AnnError(f"prompt has shape {tuple(idx.shape)}; expected (batch, tokens) with at "
                       "least one token")
    if max_new_tokens < 0:
        raise AnnError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if temperature < 0:
        raise AnnError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise AnnError(f"top_k must be a positive integer or None, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise AnnError(f"top_p must be in (0, 1] or None, got {top_p}")


def sample(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token id per row from next-token logits; greedy when temperature == 0.

    Shapes:
        logits (B, V) -> token ids (B, 1) int64.
    """
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)  # (B, 1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
        probs = sorted_logits.softmax(dim=-1)
        # Drop a token when the tokens ranked above it already reach top_p; the first always stays.
        drop = probs.cumsum(dim=-1) - probs >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.empty_like(logits).scatter_(-1, order, sorted_logits)  # back to vocab order
    probs = logits.softmax(dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator)  # (B, 1)


@torch.no_grad()
def stream_window(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None,
                  generator: torch.Generator | None = None, use_cache: bool = True):
    """Yield ``max_new_tokens`` tokens (B, 1) sampled from a Transformer decoder with a context
    window, after the prompt ``idx`` (B, T); arguments checked by :func:`check_sampling` first.

    ``model`` has ``config.block_size``, ``empty_cache()`` and ``model(idx, cache) -> (logits,
    cache)`` (GPT, Llama). It sees the last ``block_size`` tokens. With ``use_cache`` each step
    feeds only the new token; once the window is full, the cache is rebuilt from the last
    ``block_size`` tokens at every step (positions cannot slide under a cache), which gives the
    tokens of ``use_cache=False`` without its speed-up.
    """
    block, cache = model.config.block_size, None
    for _ in range(max_new_tokens):
        if not use_cache:
            logits = model(idx[:, -block:])  # (B, T', V)
        elif cache is None or len(cache[0]) >= block:  # start, or the window is full: rebuild
            logits, cache = model(idx[:, -block:], model.empty_cache())
        else:
            logits, cache = model(idx[:, -1:], cache)  # (B, 1, V)
        token = sample(logits[:, -1], temperature, top_k, top_p, generator)  # (B, 1)
        idx = torch.cat([idx, token], dim=1)  # (B, T + 1)
        yield token


class WindowedGeneration:
    """``generate`` and ``generate_stream`` for a Transformer decoder with a context window (a
    mixin: the model offers what :func:`stream_window` reads). Call ``model.eval()`` first."""

    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
        """``idx`` (B, T) followed by ``max_new_tokens`` sampled tokens, (B, T + max_new_tokens);
        the arguments are :meth:`generate_stream`'s."""
        steps = self.generate_stream(idx, max_new_tokens, temperature, top_k, top_p, generator,
                                     use_cache)
        return torch.cat([idx, *steps], dim=1)

    def generate_stream(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                        top_k: int | None = None, top_p: float | None = None,
                        generator: torch.Generator | None = None,
                        use_cache: bool = True) -> Iterator[torch.Tensor]:
        """Yield ``max_new_tokens`` new tokens, one (B, 1) tensor at a time, as they are sampled.

        temperature: 0 picks the most likely token (greedy); higher flattens the distribution.
        top_k: sample among the k most likely tokens only. top_p: among the smallest set whose
        probability reaches top_p (nucleus sampling). generator: makes sampling reproducible.
        The model sees the last ``block_size`` tokens; ``use_cache`` gives the same tokens
        faster (see :func:`stream_window`).
        """
        check_sampling(idx, max_new_tokens, temperature, top_k, top_p)
        return stream_window(self, idx, max_new_tokens, temperature, top_k, top_p, generator,
                             use_cache)


class StatefulGeneration:
    """``generate`` and ``generate_stream`` for a language model that carries a state instead
    of a window (the recurrent LMs, Mamba): the model offers ``initial_state(B, device)`` and
    ``model(idx, state) -> (logits, state)``, so a token costs one step at any length."""

    def generate_stream(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                        top_k: int | None = None, top_p: float | None = None,
                        generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
        """Yield ``max_new_tokens`` sampled tokens, one (B, 1) tensor at a time, after reading
        the prompt ``idx`` (B, T); the arguments are :class:`WindowedGeneration`'s."""
        check_sampling(idx, max_new_tokens, temperature, top_k, top_p)
        return self._stream(idx, max_new_tokens, temperature, top_k, top_p, generator)

    @torch.no_grad()
    def _stream(self, idx, max_new_tokens, temperature, top_k, top_p, generator):
        logits, state = self(idx, self.initial_state(idx.size(0), idx.device))
        for _ in range(max_new_tokens):
            token = sample(logits[:, -1], temperature, top_k, top_p, generator)   # (B, 1)
            yield token
            logits, state = self(token, state)

    def generate(self, idx: torch.Tensor, max_new_tokens: int, **kwargs) -> torch.Tensor:
        """``idx`` followed by ``max_new_tokens`` sampled tokens, (B, T + max_new_tokens)."""
        return torch.cat([idx, *self.generate_stream(idx, max_new_tokens, **kwargs)], dim=1)
