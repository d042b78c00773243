"""A GCN encoder scoring links by inner products (Kipf & Welling 2016, "Variational graph
auto-encoders", https://arxiv.org/abs/1611.07308, the non-variational GAE): two graph
convolutions embed the nodes, and ``sigmoid(z_a . z_b)`` is the probability of an edge a-b.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...config import field
from ...registry import register_model
from .common import random_graph
from .gcn import GCN, GCNConfig


@dataclass
class GCNLinkConfig(GCNConfig):
    num_classes: int = field(64, "width of the output embedding whose dot products score links",
                             positive=True)


@register_model("gcn-link", config=GCNLinkConfig, family="gnn", presets={
    "tiny": {"in_channels": 8, "num_classes": 16, "hidden": (32,), "dropout": 0.0},
    "gae": {"hidden": (128,), "num_classes": 64, "dropout": 0.0},
})
class GCNLinkPredictor(GCN):
    """GCN node embeddings; link scores are the embeddings' inner products.

    Shapes:
        x (N, in_channels), edge_index (2, E) -> embeddings (N, num_classes);
        ``score(z, pairs)``: pairs (2, M) -> logits (M,).
    """

    task = "link_predict"

    @staticmethod
    def score(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)                     # (M,)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A random graph of ``batch_size`` nodes and the pairs (i, i+1) around a ring, every
        other one labelled linked: ``(x, edge_index, pairs, labels)``."""
        x, edge_index = random_graph(batch_size, self.config.in_channels, generator)
        ring = torch.arange(batch_size)
        pairs = torch.stack([ring, (ring + 1) % batch_size])           # distinct pairs
        labels = (torch.arange(batch_size) % 2).float()
        return x, edge_index, pairs, labels
