"""Graph neural networks: node classification (GCN, GAT, GraphSAGE), graph classification (GIN)
and recommendation (LightGCN), built on the message-passing layers of ``ann.layers``.

Importing this package registers ``gcn``, ``gat``, ``sage``, ``gin``, ``lightgcn`` and ``gcn-link``.
"""

from .common import GraphClassifier, NodeClassifier
from .gat import GAT, GATConfig
from .gcn import GCN, GCNConfig
from .gin import GIN, GINConfig
from .lightgcn import LightGCN, LightGCNConfig
from .linkpred import GCNLinkConfig, GCNLinkPredictor
from .sage import GraphSAGE, SAGEConfig

__all__ = ["GAT", "GATConfig", "GCN", "GCNConfig", "GCNLinkConfig", "GCNLinkPredictor", "GIN",
           "GINConfig", "GraphClassifier", "GraphSAGE", "LightGCN", "LightGCNConfig",
           "NodeClassifier", "SAGEConfig"]
