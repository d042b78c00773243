"""Small learnable inputs for the models' ``example_batch`` (the contract tests' data)."""

from __future__ import annotations

import torch


def recurrence_tokens(batch_size: int, length: int, vocab_size: int,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` int64 (B, length): s[t+1] = (s[t] + s[t-1] + 1) mod vocab_size from a random
    start, so each next token follows from the two before it and a model can drive the loss to 0."""
    s = [torch.randint(0, vocab_size, (batch_size,), generator=generator)]
    prev = torch.zeros_like(s[0])
    for _ in range(length):
        s.append((s[-1] + prev + 1) % vocab_size)
        prev = s[-2]
    seq = torch.stack(s, dim=1)  # (B, length + 1)
    return seq[:, :-1], seq[:, 1:]
