"""Graph convolutional network (Kipf & Welling 2017, "Semi-supervised classification with graph
convolutional networks", https://arxiv.org/abs/1609.02907).

Each layer is ``H' = act(D^-1/2 (A + I) D^-1/2 H W)`` (:class:`~ann.layers.GCNConv`), with dropout
on every layer's input; the last layer gives the class scores. The paper's Cora/CiteSeer setting:
one hidden layer of 16, ReLU, dropout 0.5, L2 5e-4 on the first layer's weights only, Adam at 0.01
(the ``kipf`` preset with the recipes' training settings). Bag-of-words input features are
dropped out and multiplied as a sparse matrix (``sparse_input``), as the paper's code does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field, validate
from ...layers import get_activation
from ...layers.message_passing import EdgeCache, FeatureDropout, GCNConv, gcn_norm
from ...registry import register_model
from .common import GraphInput, NodeClassifier


@dataclass
class GCNConfig(GraphInput):
    hidden: tuple[int, ...] = field((16,), "widths of the hidden GCN layers", positive=True)
    dropout: float = field(0.5, "dropout on the input of every layer", range=(0.0, 0.95))
    activation: str = field("relu", "activation after each hidden layer",
                            choices=("relu", "tanh", "elu"))
    sparse_input: bool = field(True, "when at most 5% of the input features are non-zero "
                               "(bag-of-words), drop out and multiply only those, as Kipf & "
                               "Welling's code does: the same function, less work")


@register_model("gcn", config=GCNConfig, family="gnn", presets={
    "tiny": {"in_channels": 8, "num_classes": 3, "hidden": (64,), "dropout": 0.0},
    "kipf": {"hidden": (16,), "dropout": 0.5, "l2": 5e-4},
    "karate": {"hidden": (4, 4, 2), "activation": "tanh", "dropout": 0.0, "l2": 5e-4},
})
class GCN(NodeClassifier):
    """Kipf & Welling's GCN: stacked graph convolutions, class scores per node.

    Shapes:
        x (N, in_channels), edge_index (2, E) -> class scores (N, num_classes);
        ``embed``: the last hidden layer's output (N, hidden[-1]).
    """

    def __init__(self, config: GCNConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        widths = (c.in_channels, *c.hidden)
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.head = GCNConv(widths[-1], c.num_classes)
        # dropout before every layer; before the first, on the (possibly sparse) input features
        self.drops = nn.ModuleList([FeatureDropout(c.dropout, c.sparse_input),
                                    *(FeatureDropout(c.dropout, sparse=False) for _ in c.hidden)])
        self.act = get_activation(c.activation)
        self.norm = EdgeCache(gcn_norm)          # D^-1/2 (A + I) D^-1/2, once per graph

    def decayed(self) -> list[torch.Tensor]:
        # Kipf & Welling decay only the first layer's weights (their code: layers[0].vars)
        return [self.convs[0].lin.weight]

    def embed(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        norm = self.norm(edge_index, x.size(0), x.dtype)
        for drop, conv in zip(self.drops, self.convs):
            x = self.act(conv(drop(x), edge_index, norm))              # (N, hidden_i)
        return x

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = self.embed(x, edge_index)                                  # (N, hidden[-1])
        return self.head(self.drops[-1](h), edge_index,
                         self.norm(edge_index, x.size(0), x.dtype))    # (N, num_classes)
