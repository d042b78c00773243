"""Graph attention network (Velickovic et al. 2018, "Graph attention networks",
https://arxiv.org/abs/1710.10903).

Layer 1: ``heads`` attention heads of ``hidden`` features each, concatenated, ELU. Layer 2:
``out_heads`` heads giving the class scores, averaged. Dropout 0.6 on each layer's input and on
the attention coefficients; L2 5e-4 on all weights; Adam at 0.005 (the paper's transductive
setting for Cora and CiteSeer, section 3.3). Bag-of-words input features are dropped out and
multiplied as a sparse matrix (``sparse_input``), as the paper's code does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...config import field, validate
from ...layers.message_passing import EdgeCache, FeatureDropout, GATConv, add_self_loops
from ...registry import register_model
from .common import GraphInput, NodeClassifier


@dataclass
class GATConfig(GraphInput):
    hidden: int = field(8, "features per attention head in the first layer", positive=True)
    heads: int = field(8, "attention heads in the first layer (concatenated)", positive=True)
    out_heads: int = field(1, "attention heads of the output layer (averaged)", positive=True)
    dropout: float = field(0.6, "dropout on each layer's input and on the attention weights",
                           range=(0.0, 0.95))
    sparse_input: bool = field(True, "when at most 5% of the input features are non-zero "
                               "(bag-of-words), drop out and multiply only those, as the "
                               "paper's code does: the same function, less work")


@register_model("gat", config=GATConfig, family="gnn", presets={
    "tiny": {"in_channels": 8, "num_classes": 3, "hidden": 8, "heads": 2, "dropout": 0.0},
    "velickovic": {"hidden": 8, "heads": 8, "out_heads": 1, "dropout": 0.6, "l2": 5e-4},
})
class GAT(NodeClassifier):
    """Two graph-attention layers (Velickovic et al. 2018), class scores per node.

    Shapes:
        x (N, in_channels), edge_index (2, E) -> class scores (N, num_classes).
    """

    def __init__(self, config: GATConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        self.conv1 = GATConv(c.in_channels, c.hidden, c.heads, dropout=c.dropout)
        self.conv2 = GATConv(c.hidden * c.heads, c.num_classes, c.out_heads, concat=False,
                             dropout=c.dropout)
        self.input_dropout = FeatureDropout(c.dropout, c.sparse_input)
        self.dropout = FeatureDropout(c.dropout, sparse=False)
        self.loops = EdgeCache(add_self_loops)   # one self-loop per node, once per graph

    def decayed(self) -> list[torch.Tensor]:
        # the paper's code decays every weight but the biases
        return [p for n, p in self.named_parameters() if not n.endswith("bias")]

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        loops = self.loops(edge_index, x.size(0))
        x = self.input_dropout(x)                     # sparse CSR for bag-of-words features
        h = torch.nn.functional.elu(self.conv1(x, edge_index, loops))  # (N, H*hid)
        return self.conv2(self.dropout(h), edge_index, loops)          # (N, num_classes)
