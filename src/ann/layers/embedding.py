"""Embeddings: a learned vector per token id (Bengio et al. 2003, "A neural probabilistic
language model", JMLR 3).
"""

from __future__ import annotations

from torch import nn


class Embedding(nn.Embedding):
    """A lookup table of ``num_embeddings`` learned vectors of size ``embedding_dim``.

    Shapes:
        input (*) int64 ids in [0, num_embeddings) -> output (*, embedding_dim).
    """
