"""GraphSAGE with the mean aggregator (Hamilton, Ying & Leskovec 2017, "Inductive representation
learning on large graphs", https://arxiv.org/abs/1706.02216), trained full-batch on the whole
neighbourhood (no sampling: the citation graphs are small).

Each layer: ``h'_i = W_l mean_{j in N(i)} h_j + W_r h_i + b`` (:class:`~ann.layers.SAGEConv`),
ReLU between layers, dropout on each layer's input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...layers import Dropout
from ...layers.message_passing import SAGEConv
from ...registry import register_model
from .common import GraphInput, NodeClassifier


@dataclass
class SAGEConfig(GraphInput):
    hidden: tuple[int, ...] = field((64,), "widths of the hidden SAGE layers", positive=True)
    dropout: float = field(0.5, "dropout on the input of every layer", range=(0.0, 0.95))


@register_model("sage", config=SAGEConfig, family="gnn", presets={
    "tiny": {"in_channels": 8, "num_classes": 3, "hidden": (16,), "dropout": 0.0},
})
class GraphSAGE(NodeClassifier):
    """GraphSAGE-mean (Hamilton et al. 2017), class scores per node.

    Shapes:
        x (N, in_channels), edge_index (2, E) -> class scores (N, num_classes).
    """

    def __init__(self, config: SAGEConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        widths = (c.in_channels, *c.hidden, c.num_classes)
        self.convs = nn.ModuleList(SAGEConv(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = Dropout(c.dropout)

    def decayed(self) -> list[torch.Tensor]:
        return [p for n, p in self.named_parameters() if not n.endswith("bias")]

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(self.dropout(x), edge_index)                     # (N, width_i)
            if i < len(self.convs) - 1:
                x = torch.relu(x)
        return x                                                       # (N, num_classes)
