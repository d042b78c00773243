"""What the graph networks share: their config fields filled from the dataset, the L2 penalty of
the original papers, and random example batches for the model contract tests."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field


@dataclass
class GraphInput:
    """Config fields every graph classifier has; the engine fills them from the dataset."""

    in_channels: int = field(16, "node feature size (filled from the dataset)", positive=True)
    num_classes: int = field(3, "number of classes (filled from the dataset)", positive=True)
    l2: float = field(0.0, "L2 penalty l2/2 * sum(w^2) added to the loss on the weights the "
                      "paper decays (Kipf & Welling: the first layer; GAT: all)", nonneg=True)


def random_graph(num_nodes: int, in_channels: int, generator: torch.Generator):
    """Features (N, F) and an edge index (2, E) with a self-loop, a repeated edge and an
    isolated node among random edges: the cases a layer must handle."""
    x = torch.randn(num_nodes, in_channels, generator=generator)
    n = max(num_nodes - 1, 1)                                  # the last node stays isolated
    edges = torch.randint(0, n, (2, 3 * num_nodes), generator=generator)
    extra = torch.tensor([[0, 0], [0, min(1, n - 1)]])          # a loop and a repeat of 0 -> 1
    return x, torch.cat([edges, extra, extra[:, 1:]], dim=1)


class NodeClassifier(nn.Module):
    """Base of models mapping a graph (x, edge_index) to class scores per node (N, C).

    ``penalty()`` is the L2 term the task adds to the loss; subclasses list the decayed weights
    in ``decayed()``.
    """

    task = "node_classify"

    def decayed(self) -> list[torch.Tensor]:
        return []

    def penalty(self) -> torch.Tensor | float:
        if not self.config.l2:
            return 0.0
        return self.config.l2 / 2 * sum(w.pow(2).sum() for w in self.decayed())

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """A random graph of ``batch_size`` nodes, every node labelled and in the split:
        ``(x, edge_index, y, mask)``."""
        c = self.config
        x, edge_index = random_graph(batch_size, c.in_channels, generator)
        y = torch.randint(0, c.num_classes, (batch_size,), generator=generator)
        return x, edge_index, y, torch.ones(batch_size, dtype=torch.bool)


class GraphClassifier(nn.Module):
    """Base of models mapping a batch of graphs (x, edge_index, batch) to class scores per
    graph (G, C)."""

    task = "graph_classify"
    penalty = NodeClassifier.penalty
    decayed = NodeClassifier.decayed

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """``batch_size`` random graphs of 3-7 nodes joined: ``(x, edge_index, batch, y)``."""
        from ...layers.message_passing import batch_graphs

        c = self.config
        sizes = torch.randint(3, 8, (batch_size,), generator=generator).tolist()
        x, edge_index, batch = batch_graphs([random_graph(n, c.in_channels, generator)
                                             for n in sizes])
        y = torch.randint(0, c.num_classes, (batch_size,), generator=generator)
        return x, edge_index, batch, y
