"""LightGCN for recommendation (He et al. 2020, "LightGCN: simplifying and powering graph
convolution network for recommendation", https://arxiv.org/abs/2002.02126).

Users and items are nodes of one bipartite graph (an edge per training interaction), each with a
free embedding. A layer only averages the neighbours' embeddings with the symmetric weights
1 / sqrt(deg(u) deg(i)) (eq. 3: no feature transform, no non-linearity, no self-loop); the final
embedding is the mean of the layers' outputs, the 0th included (eq. 4: alpha_k = 1/(K+1)); a
user-item score is their dot product (eq. 5). ``layers=0`` is plain matrix factorisation trained
with the same BPR loss, the baseline of the paper's tables.

The task (``recommend``) trains with BPR (Rendle et al. 2009): ``-log sigmoid(s(u, i+) -
s(u, i-))`` for a sampled non-interacted item i-, plus ``reg/2`` times the squared norms of the
batch's 0th-layer embeddings over the batch size (eq. 15).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...layers.message_passing import EdgeCache, propagate
from ...registry import register_model


@dataclass
class LightGCNConfig:
    num_users: int = field(100, "number of users (filled from the dataset)", positive=True)
    num_items: int = field(100, "number of items (filled from the dataset)", positive=True)
    dim: int = field(64, "embedding width", positive=True)
    layers: int = field(3, "propagation layers (0: matrix factorisation)", range=(0, 16))
    reg: float = field(1e-4, "L2 weight on the batch's 0th-layer embeddings (BPR regulariser)",
                       nonneg=True)


def bipartite_norm(edge_index: torch.Tensor, num_users: int, num_items: int):
    """The user-item graph as one undirected graph on users then items, with LightGCN's weights.

    Shapes:
        edge_index (2, E) [user; item] -> edges (2, 2E), weight (2E,).
    """
    users, items = edge_index[0], edge_index[1] + num_users
    edges = torch.stack([torch.cat([users, items]), torch.cat([items, users])])
    n = num_users + num_items
    deg = torch.zeros(n, device=edges.device).index_add_(
        0, edges[1], torch.ones(edges.size(1), device=edges.device))
    inv_sqrt = deg.clamp(min=1).pow(-0.5)
    return edges, inv_sqrt[edges[0]] * inv_sqrt[edges[1]]


@register_model("lightgcn", config=LightGCNConfig, family="gnn", presets={
    "tiny": {"num_users": 12, "num_items": 10, "dim": 16, "layers": 2, "reg": 0.0},
    "he": {"dim": 64, "layers": 3, "reg": 1e-4},
    "mf": {"dim": 64, "layers": 0, "reg": 1e-4},
})
class LightGCN(nn.Module):
    """LightGCN (He et al. 2020): user and item embeddings smoothed over the interaction graph.

    Shapes:
        edge_index (2, E) training interactions [user; item] -> users (num_users, dim),
        items (num_items, dim); ``score(users, items)`` (B,) dot products.
    """

    task = "recommend"

    def __init__(self, config: LightGCNConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        self.embedding = nn.Embedding(c.num_users + c.num_items, c.dim)
        nn.init.normal_(self.embedding.weight, std=0.1)     # the paper's code: N(0, 0.1)
        self.graph = EdgeCache(bipartite_norm)    # the normalised graph, once per edge index

    def forward(self, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        h = self.embedding.weight                                       # (U + I, dim)
        total = h
        if c.layers:
            edges, weight = self.graph(edge_index, c.num_users, c.num_items)
            for _ in range(c.layers):
                h = propagate(h, edges, "sum", weight)                  # (U + I, dim)
                total = total + h
        final = total / (c.layers + 1)
        return final[:c.num_users], final[c.num_users:]                 # (U, dim), (I, dim)

    def penalty(self, users, pos, neg) -> torch.Tensor:
        """``reg/2 * (|e_u|^2 + |e_i+|^2 + |e_i-|^2)`` of the 0th layer, over the batch size."""
        if not self.config.reg:
            return torch.zeros((), device=users.device)
        e = self.embedding.weight
        u = self.config.num_users
        sq = e[users].pow(2).sum() + e[pos + u].pow(2).sum() + e[neg + u].pow(2).sum()
        return self.config.reg / 2 * sq / len(users)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A random interaction graph and ``batch_size`` (user, item+, item-) triples:
        ``(edge_index, users, positives, negatives)``."""
        c = self.config
        users = torch.randint(0, c.num_users, (batch_size,), generator=generator)
        pos = torch.randint(0, c.num_items, (batch_size,), generator=generator)
        neg = (pos + torch.randint(1, c.num_items, (batch_size,), generator=generator)) \
            % c.num_items
        more = torch.stack([torch.randint(0, c.num_users, (3 * batch_size,), generator=generator),
                            torch.randint(0, c.num_items, (3 * batch_size,), generator=generator)])
        return torch.cat([torch.stack([users, pos]), more], dim=1), users, pos, neg
