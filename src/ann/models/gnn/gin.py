"""Graph isomorphism network for graph classification (Xu, Hu, Leskovec & Jegelka 2019, "How
powerful are graph neural networks?", https://arxiv.org/abs/1810.00826), the GIN-0 variant.

``layers - 1`` GIN layers (each: sum of the neighbours plus the node, a 2-layer MLP with batch
norm, then batch norm and ReLU). Readout (eq. 4.2): every layer's node features, the input's
included, are summed over each graph and mapped to class scores by a linear layer of its own;
the scores of all layers are added, with dropout on each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...layers import BatchNorm1d, Dropout, Identity, Linear
from ...layers.message_passing import GINConv, global_pool
from ...registry import register_model
from .common import GraphClassifier, GraphInput


@dataclass
class GINConfig(GraphInput):
    layers: int = field(5, "layers counting the input (the paper's 5: four GIN layers)",
                        range=(2, 64))
    hidden: int = field(32, "width of every GIN layer", positive=True)
    dropout: float = field(0.5, "dropout on each layer's class scores", range=(0.0, 0.95))
    pool: str = field("sum", "readout over a graph's nodes", choices=("sum", "mean", "max"))
    eps: float = field(0.0, "the weight of the node's own features is 1 + eps (GIN-0: 0)")
    train_eps: bool = field(False, "learn eps (GIN-eps) instead of fixing it")
    batch_norm: bool = field(True, "batch norm inside and after each GIN MLP (Xu et al.)")


def _norm(width: int, on: bool) -> nn.Module:
    return BatchNorm1d(width) if on else Identity()


def gin_mlp(fan_in: int, width: int, batch_norm: bool = True) -> nn.Sequential:
    return nn.Sequential(Linear(fan_in, width), _norm(width, batch_norm), nn.ReLU(),
                         Linear(width, width))


@register_model("gin", config=GINConfig, family="gnn", presets={
    "tiny": {"in_channels": 8, "num_classes": 3, "layers": 3, "hidden": 16, "dropout": 0.0,
             "batch_norm": False},
    "xu": {"layers": 5, "hidden": 32, "dropout": 0.5},
})
class GIN(GraphClassifier):
    """GIN-0 (Xu et al. 2019) with the sum-over-layers readout, class scores per graph.

    Shapes:
        x (N, in_channels), edge_index (2, E), batch (N,) graph of each node ->
        class scores (num_graphs, num_classes).
    """

    def __init__(self, config: GINConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        widths = [c.in_channels] + [c.hidden] * (c.layers - 1)
        self.convs = nn.ModuleList(GINConv(gin_mlp(a, c.hidden, c.batch_norm), c.eps, c.train_eps)
                                   for a in widths[:-1])
        self.norms = nn.ModuleList(_norm(c.hidden, c.batch_norm) for _ in widths[:-1])
        self.heads = nn.ModuleList(Linear(w, c.num_classes) for w in widths)
        self.dropout = Dropout(c.dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                num_graphs: int | None = None) -> torch.Tensor:
        g = int(batch.max()) + 1 if num_graphs is None else num_graphs
        hs = [x]
        for conv, norm in zip(self.convs, self.norms):
            hs.append(torch.relu(norm(conv(hs[-1], edge_index))))       # (N, hidden)
        return sum(self.dropout(head(global_pool(h, batch, g, self.config.pool)))
                   for head, h in zip(self.heads, hs))                  # (G, num_classes)
