"""Link prediction on a graph: some edges are hidden, and a model must tell them from pairs of
nodes that are not linked (``gcn-linkpred-cora``).

The undirected edges are shuffled (seed 0) and split 85% train, 5% validation, 10% test, as PyG's
``RandomLinkSplit`` and the GAE paper (Kipf & Welling 2016, https://arxiv.org/abs/1611.07308) do.
Message passing sees only the training edges. Validation and test pair their edges with as many
node pairs that are not edges (drawn once, seed 0); training draws fresh non-edges every step
from torch's global RNG (seeded and checkpointed by the engine).

A batch is ``(x, edge_index, pairs, labels)``: x (N, F), training edges (2, E) in both
directions, pairs (2, M) to score, labels (M,) float (1 edge, 0 non-edge).
"""

from __future__ import annotations

from typing import Any

import torch

from ..registry import register_dataset
from ..split import Split
from .graphs import Graph
from .planetoid import INFO as PLANETOID_INFO
from .planetoid import planetoid


class LinkSplit(Split):
    """One split of a link-prediction graph, full batch (a dataset of length 1)."""

    collated = True

    def __init__(self, graph: Graph, split: str, info: dict[str, Any], seed: int = 0):
        n = graph.num_nodes
        self.info, self.x, self.split = info, graph.x, split
        self.random_batches = split == "train"      # fresh negatives from the global generator
        e = graph.edge_index
        undirected = e[:, e[0] < e[1]]                                  # each edge once
        g = torch.Generator().manual_seed(seed)
        undirected = undirected[:, torch.randperm(undirected.size(1), generator=g)]
        n_val, n_test = int(0.05 * undirected.size(1)), int(0.10 * undirected.size(1))
        parts = {"val": undirected[:, :n_val], "test": undirected[:, n_val:n_val + n_test],
                 "train": undirected[:, n_val + n_test:]}
        train = parts["train"]
        self.edge_index = torch.cat([train, train.flip(0)], dim=1)      # (2, 2 E_train)
        self.linked = torch.zeros(n, n, dtype=torch.bool)
        self.linked[e[0], e[1]] = True
        self.linked.fill_diagonal_(True)                                # no self-pairs either
        self.positive = parts[split]
        if split != "train":
            neg = self.non_edges(self.positive.size(1), g)
            self.pairs = torch.cat([self.positive, neg], dim=1)
            self.labels = torch.cat([torch.ones(self.positive.size(1)),
                                     torch.zeros(neg.size(1))])

    def non_edges(self, count: int, generator=None) -> torch.Tensor:
        """``count`` random node pairs that are not edges of the whole graph. (2, count)"""
        n = self.x.size(0)
        out = torch.randint(0, n, (2, count), generator=generator)
        for _ in range(10):
            bad = self.linked[out[0], out[1]]
            if not bad.any():
                break
            out[:, bad] = torch.randint(0, n, (2, int(bad.sum())), generator=generator)
        return out

    def __len__(self) -> int:
        return 1

    def batch(self, index) -> tuple[torch.Tensor, ...]:
        if self.split == "train":
            neg = self.non_edges(self.positive.size(1))
            pairs = torch.cat([self.positive, neg], dim=1)
            labels = torch.cat([torch.ones(self.positive.size(1)), torch.zeros(neg.size(1))])
            return self.x, self.edge_index, pairs, labels
        return self.x, self.edge_index, self.pairs, self.labels


CORA_LINKS_INFO = {"task": "link_predict", "in_channels": PLANETOID_INFO["cora"]["in_channels"],
                   "num_nodes": 2708}


@register_dataset("cora-links", info=CORA_LINKS_INFO, embedded=False)
def load_cora_links(split: str) -> LinkSplit:
    return LinkSplit(planetoid("cora"), split, CORA_LINKS_INFO)
