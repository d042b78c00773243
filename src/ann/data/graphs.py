"""Graph datasets: one graph with node labels and split masks (node classification), and sets of
small graphs with a label each (graph classification), batched as one block-diagonal graph.

Both hand the engine tuples of tensors and set ``collated = True``, so that the engine asks for
each micro-batch's examples (see ``Trainer.micro_batches``):

* :class:`NodeSplit` is one split of a node-classification graph: a dataset of length 1 whose
  batch is the whole graph with the split's mask, ``(x, edge_index, y, mask)`` (full-batch
  training, as in Kipf & Welling 2017).
* :class:`GraphSet` holds many graphs; a batch of indices (or a slice) is ``(x, edge_index,
  batch, y)`` with ``batch`` naming each node's graph.

Embedded data: Zachary's karate club (:func:`karate_club`), stochastic block models
(:func:`sbm_graph`, :func:`sbm_graph_set`) and a user's own files (``gcn-custom``:
:func:`read_custom_graph`). Planetoid citation graphs live in ``planetoid.py``, TU graph sets
in ``tudataset.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import config
from ..errors import AnnError
from ..layers.message_passing import batch_graphs, check_graph, to_undirected
from ..registry import register_dataset
from ..split import Split


@dataclass
class Graph:
    """One graph with node features, node labels and the masks of the public split.

    Shapes:
        x (N, F) float, edge_index (2, E) int64, y (N,) int64; masks (N,) bool.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor
    masks: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self):
        check_graph(self.x, self.edge_index, allow_empty=False)

    @property
    def num_nodes(self) -> int:
        return self.x.size(0)


class NodeSplit(Split):
    """One split of a node-classification graph as a dataset of length 1 (full batch).

    ``batch(index)`` (any index: the engine passes a tensor of indices when training and a slice
    when evaluating) returns ``(x, edge_index, y, mask)``: x (N, F), edge_index (2, E), y (N,),
    mask (N,) bool marking the split's labelled nodes.
    """

    collated = True

    def __init__(self, graph: Graph, split: str, info: dict[str, Any]):
        if split not in graph.masks:
            raise AnnError(f"this graph has no {split!r} split; it has: {', '.join(graph.masks)}")
        self.graph, self.split, self.info = graph, split, info
        self.mask = graph.masks[split]

    def __len__(self) -> int:
        return 1

    def batch(self, index) -> tuple[torch.Tensor, ...]:
        g = self.graph
        return g.x, g.edge_index, g.y, self.mask

    @property
    def tensors(self):
        return self.batch(0)

    def __repr__(self) -> str:
        g = self.graph
        return (f"NodeSplit({self.split}: {int(self.mask.sum())} of {g.num_nodes} nodes, "
                f"{g.edge_index.size(1)} edges)")


class GraphSet(Split):
    """Small graphs, each with a class label; batches join them into one block-diagonal graph.

    ``batch(index)`` (a tensor of indices or a slice) returns ``(x, edge_index, batch, y)``:
    x (sum N_i, F), edge_index (2, sum E_i), batch (sum N_i,) graph of each node, y (B,).
    """

    collated = True

    def __init__(self, graphs: list[tuple[torch.Tensor, torch.Tensor]], y: torch.Tensor,
                 info: dict[str, Any]):
        if len(graphs) != len(y):
            raise AnnError(f"{len(graphs)} graphs but {len(y)} labels; give one label per graph")
        self.graphs, self.y, self.info = graphs, y, info

    def __len__(self) -> int:
        return len(self.graphs)

    def batch(self, index) -> tuple[torch.Tensor, ...]:
        ids = range(len(self))[index] if isinstance(index, slice) else \
            torch.as_tensor(index).reshape(-1).tolist()
        x, edge_index, batch = batch_graphs([self.graphs[i] for i in ids])
        return x, edge_index, batch, self.y[list(ids)]

    def subset(self, ids) -> GraphSet:
        ids = [int(i) for i in ids]
        return GraphSet([self.graphs[i] for i in ids], self.y[ids], self.info)

    def __repr__(self) -> str:
        return f"GraphSet({len(self)} graphs, {self.info.get('num_classes')} classes)"


def row_normalise(x: torch.Tensor) -> torch.Tensor:
    """Each row divided by its sum (rows of zeros stay zero), as Kipf & Welling preprocess the
    bag-of-words features. (N, F) -> (N, F)."""
    return x / x.sum(1, keepdim=True).clamp(min=1e-12)


def stratified_folds(y: torch.Tensor, folds: int, seed: int = 0) -> list[torch.Tensor]:
    """Indices split into ``folds`` parts with the class proportions of ``y`` in each."""
    g = torch.Generator().manual_seed(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for c in torch.unique(y).tolist():
        ids = (y == c).nonzero().flatten()
        ids = ids[torch.randperm(len(ids), generator=g)].tolist()
        for k, i in enumerate(ids):
            parts[(k + offset) % folds].append(i)
        offset += len(ids)
    return [torch.tensor(sorted(p), dtype=torch.long) for p in parts]


def fold_split(data: GraphSet, split: str, fold: int, folds: int, seed: int = 0,
               protocol: str = "validate", epoch_size: int = 0) -> GraphSet:
    """Cross-validation split ``split`` of ``data``: fold ``fold`` is the test set.

    ``protocol="validate"``: the next fold (cyclically) is the validation set for model selection
    and early stopping; the remaining ``folds - 2`` folds train. ``protocol="xu2019"`` (Xu et al.
    2019's evaluation): the other ``folds - 1`` folds train and the validation split *is* the test
    fold, so that the per-epoch validation curve is the test-fold curve their protocol averages
    over folds; selecting anything on it reads the test set (optimistic; for comparison with the
    paper only). ``epoch_size`` > 0 lists the training graphs over and over up to that many
    (Xu et al.'s epoch: 50 batches of 32), so that one epoch of the engine's reshuffled batches
    visits each graph ``epoch_size / n`` times."""
    if fold >= folds:
        raise AnnError(f"data.fold={fold} but there are {folds} folds (data.folds); choose a fold "
                       f"from 0 to {folds - 1}")
    if len(data) < folds:
        raise AnnError(f"{len(data)} graphs cannot be cut into {folds} folds; lower data.folds")
    if protocol not in ("validate", "xu2019"):
        raise AnnError(f"unknown data.cv_protocol {protocol!r}; choose validate or xu2019")
    parts = stratified_folds(data.y, folds, seed)
    val_fold = (fold + 1) % folds if protocol == "validate" else fold
    if split == "test":
        return data.subset(parts[fold])
    if split == "val":
        return data.subset(parts[val_fold])
    rest = torch.cat([parts[k] for k in range(folds) if k not in (fold, val_fold)])
    if epoch_size:
        rest = rest[torch.arange(max(epoch_size, len(rest))) % len(rest)]   # (epoch_size,)
    return data.subset(rest)


# --- Zachary's karate club ------------------------------------------------------------------------

# Zachary, W. W. (1977). "An information flow model for conflict and fission in small groups".
# Journal of Anthropological Research 33(4), 452-473: the 78 friendships among 34 members of a
# university karate club (0-based, as networkx numbers them), and the club each member joined after
# the split: 0 = Mr. Hi's (node 0), 1 = the officers' (node 33).
KARATE_EDGES = (
    (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (0, 8), (0, 10), (0, 11), (0, 12),
    (0, 13), (0, 17), (0, 19), (0, 21), (0, 31), (1, 2), (1, 3), (1, 7), (1, 13), (1, 17), (1, 19),
    (1, 21), (1, 30), (2, 3), (2, 7), (2, 8), (2, 9), (2, 13), (2, 27), (2, 28), (2, 32), (3, 7),
    (3, 12), (3, 13), (4, 6), (4, 10), (5, 6), (5, 10), (5, 16), (6, 16), (8, 30), (8, 32), (8, 33),
    (9, 33), (13, 33), (14, 32), (14, 33), (15, 32), (15, 33), (18, 32), (18, 33), (19, 33),
    (20, 32), (20, 33), (22, 32), (22, 33), (23, 25), (23, 27), (23, 29), (23, 32), (23, 33),
    (24, 25), (24, 27), (24, 31), (25, 31), (26, 29), (26, 33), (27, 33), (28, 31), (28, 33),
    (29, 32), (29, 33), (30, 32), (30, 33), (31, 32), (31, 33), (32, 33),
)
KARATE_CLUB = (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1,
               1, 1, 1, 1, 1, 1)
KARATE_LABELLED = (0, 1, 32, 33)   # two known members of each club: the leaders and a neighbour


def karate_club() -> Graph:
    """The karate club with one-hot node identities as features (Kipf & Welling's demo).

    Train: the four members in ``KARATE_LABELLED``; the other 30 alternate between validation and
    test (the graph is too small for more).
    """
    n = len(KARATE_CLUB)
    edge_index = to_undirected(torch.tensor(KARATE_EDGES, dtype=torch.long).T, n)
    train = torch.zeros(n, dtype=torch.bool)
    train[list(KARATE_LABELLED)] = True
    rest = (~train).nonzero().flatten()
    val, test = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    val[rest[0::2]], test[rest[1::2]] = True, True
    return Graph(torch.eye(n), edge_index, torch.tensor(KARATE_CLUB),
                 {"train": train, "val": val, "test": test})


KARATE_INFO = {"task": "node_classify", "in_channels": 34, "num_classes": 2,
               "classes": ["Mr. Hi", "Officer"], "num_nodes": 34}


@register_dataset("karate", info=KARATE_INFO, embedded=True)
def load_karate(split: str) -> NodeSplit:
    return NodeSplit(karate_club(), split, KARATE_INFO)


# --- stochastic block models (generated) -------------------------------------------------------------

def _sbm_edges(blocks: torch.Tensor, p_in: float, p_out: float, g: torch.Generator) -> torch.Tensor:
    """An undirected SBM draw: nodes i < j joined with probability p_in (same block) or p_out."""
    n = len(blocks)
    same = blocks[:, None] == blocks[None, :]
    prob = torch.where(same, p_in, p_out)
    draw = torch.rand(n, n, generator=g) < prob
    draw = torch.triu(draw, diagonal=1)
    return to_undirected(draw.nonzero().T, n)


SBM_INFO = {"task": "node_classify", "in_channels": 16, "num_classes": 3, "num_nodes": 300}


def sbm_graph(n: int = 300, classes: int = 3, features: int = 16, seed: int = 0) -> Graph:
    """A stochastic block model (Holland et al. 1983): ``classes`` blocks, edges inside a block
    with probability 0.05, across with 0.005; a node's features are its block's mean vector plus
    noise strong enough that the graph is needed. Split as Planetoid's: 20 per class to train,
    then 100 to validate, the rest to test."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    y = y[torch.randperm(n, generator=g)]
    centres = torch.randn(classes, features, generator=g)
    x = centres[y] * 0.5 + torch.randn(n, features, generator=g)
    edge_index = _sbm_edges(y, 0.05, 0.005, g)
    train = torch.zeros(n, dtype=torch.bool)
    for c in range(classes):
        train[(y == c).nonzero().flatten()[:20]] = True
    rest = (~train).nonzero().flatten()
    val, test = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    val[rest[:100]], test[rest[100:]] = True, True
    return Graph(x, edge_index, y, {"train": train, "val": val, "test": test})


@register_dataset("sbm", info=SBM_INFO, embedded=True)
def load_sbm(split: str) -> NodeSplit:
    return NodeSplit(sbm_graph(), split, SBM_INFO)


SBM_GRAPHS_INFO = {"task": "graph_classify", "in_channels": 2, "num_classes": 2,
                   "classes": ["assortative", "disassortative"]}


def sbm_graph_set(count: int = 300, seed: int = 0) -> GraphSet:
    """Two-block SBM graphs of 8-16 nodes with the block as a one-hot feature; class 0 joins
    mostly within blocks (p_in 0.6, p_out 0.1), class 1 mostly across (p_in 0.1, p_out 0.6)."""
    g = torch.Generator().manual_seed(seed)
    graphs, labels = [], []
    for i in range(count):
        label = i % 2
        n = int(torch.randint(8, 17, (1,), generator=g))
        blocks = (torch.arange(n) % 2)
        p_in, p_out = (0.6, 0.1) if label == 0 else (0.1, 0.6)
        graphs.append((torch.nn.functional.one_hot(blocks, 2).float(),
                       _sbm_edges(blocks, p_in, p_out, g)))
        labels.append(label)
    return GraphSet(graphs, torch.tensor(labels), SBM_GRAPHS_INFO)


@register_dataset("sbm-graphs", info=SBM_GRAPHS_INFO, embedded=True)
def load_sbm_graphs(split: str) -> GraphSet:
    data = sbm_graph_set()
    n = len(data)
    cut = {"train": range(0, int(0.7 * n)), "val": range(int(0.7 * n), int(0.85 * n)),
           "test": range(int(0.85 * n), n)}[split]
    return data.subset(list(cut))


# --- a user's own graph (gcn-custom) -----------------------------------------------------------------

def _lines(path: Path, what: str, option: str) -> list[tuple[int, str]]:
    if not path.is_file():
        raise AnnError(f"{option}={path}: no such file; give the path of your {what} file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise AnnError(f"{option}={path} cannot be read as text ({type(e).__name__}); give a "
                       f"UTF-8 {what} file") from None
    return [(i + 1, line.strip()) for i, line in enumerate(text.splitlines())
            if line.strip() and not line.lstrip().startswith("#")]


def read_edge_list(path) -> torch.Tensor:
    """Edges from a text file, one ``source,target`` pair of 0-based node indices per line
    (commas, tabs or spaces between; ``#`` starts a comment line). (2, E) int64."""
    path = Path(path).expanduser()
    pairs = []
    for number, line in _lines(path, "edge-list", "data.edges"):
        parts = line.replace(",", " ").split()
        try:
            if len(parts) != 2:
                raise ValueError
            pairs.append((int(parts[0]), int(parts[1])))
        except ValueError:
            raise AnnError(f"data.edges={path}, line {number}: {line[:60]!r} is not two node "
                           "indices; write one 'source,target' pair per line, e.g. 0,5") from None
    if not pairs:
        raise AnnError(f"data.edges={path} holds no edges; write one 'source,target' pair per line")
    return torch.tensor(pairs, dtype=torch.long).T


def read_node_table(path) -> tuple[torch.Tensor, torch.Tensor]:
    """Node rows from a CSV file: row i is node i, ``label,feature_1,...,feature_F``; a label of
    -1 marks an unlabelled node. Returns features (N, F) float and labels (N,) int64."""
    path = Path(path).expanduser()
    rows, width = [], None
    for number, line in _lines(path, "node-feature", "data.features"):
        parts = [p for p in line.replace("\t", ",").split(",")]
        try:
            label, values = int(parts[0]), [float(v) for v in parts[1:]]
        except ValueError:
            raise AnnError(f"data.features={path}, line {number}: {line[:60]!r} is not a label "
                           "and numbers; write 'label,f1,f2,...' per node") from None
        if not values:
            raise AnnError(f"data.features={path}, line {number}: no features after the label; "
                           "write 'label,f1,f2,...' per node")
        if width is not None and len(values) != width:
            raise AnnError(f"data.features={path}, line {number}: {len(values)} features, but "
                           f"earlier lines have {width}; give every node the same number")
        width = len(values)
        rows.append((label, values))
    if not rows:
        raise AnnError(f"data.features={path} holds no nodes; write 'label,f1,f2,...' per node")
    y = torch.tensor([r[0] for r in rows], dtype=torch.long)
    if (y < -1).any():
        raise AnnError(f"data.features={path}: labels are class numbers 0, 1, ... or -1 for "
                       f"unlabelled, found {int(y.min())}")
    return torch.tensor([r[1] for r in rows], dtype=torch.float), y


def read_custom_graph(edges: str, features: str, seed: int = 0) -> Graph:
    """A user's graph for node classification: ``edges`` (see :func:`read_edge_list`) and
    ``features`` (see :func:`read_node_table`). Edges become undirected; the labelled nodes are
    split at random (seed 0) 60% train, 20% validation, 20% test."""
    if not edges or not features:
        raise AnnError("gcn-custom needs your graph: data.edges=EDGES.csv (one 'source,target' "
                       "per line) and data.features=NODES.csv (one 'label,f1,f2,...' per node)")
    edge_index = read_edge_list(edges)
    x, y = read_node_table(features)
    check_graph(x, edge_index, where=f"data.edges={edges} with data.features={features}")
    edge_index = to_undirected(edge_index, x.size(0))
    labelled = (y >= 0).nonzero().flatten()
    if len(labelled) < 3:
        raise AnnError(f"data.features={features} labels {len(labelled)} nodes; label at least 3 "
                       "(train, validation and test need one each)")
    g = torch.Generator().manual_seed(seed)
    order = labelled[torch.randperm(len(labelled), generator=g)]
    n_train, n_val = max(1, int(0.6 * len(order))), max(1, int(0.2 * len(order)))
    masks = {}
    for name, ids in (("train", order[:n_train]), ("val", order[n_train:n_train + n_val]),
                      ("test", order[n_train + n_val:])):
        masks[name] = torch.zeros(len(y), dtype=torch.bool)
        masks[name][ids] = True
    return Graph(x, edge_index, y.clamp(min=0), masks)


CUSTOM_INFO = {"task": "node_classify"}


@dataclass
class GraphFileOptions:
    """The two files of a graph of your own."""

    edges: str = config.field("", "an edge-list file of your own (graph datasets): one 'src,dst' "
                              "per line", path=True)
    features: str = config.field("", "a node-feature file of your own (graph datasets)",
                                 path=True)


@register_dataset("custom-graph", info=CUSTOM_INFO, embedded=True, options=GraphFileOptions)
def load_custom_graph(split: str, edges: str = "", features: str = "") -> NodeSplit:
    graph = read_custom_graph(edges, features)
    labels = graph.y[graph.masks["train"] | graph.masks["val"] | graph.masks["test"]]
    # the feature width and class count are known only once the files are read: "fills" asks
    # the run to copy them into the model's config (see ann.runner._load_splits)
    info = {**CUSTOM_INFO, "in_channels": graph.x.size(1),
            "num_classes": int(labels.max()) + 1, "num_nodes": graph.num_nodes,
            "fills": ("in_channels", "num_classes")}
    return NodeSplit(graph, split, info)


def numpy_edges(edge_index: np.ndarray) -> torch.Tensor:
    """An int64 (2, E) tensor from an array of (E, 2) or (2, E) node pairs."""
    e = torch.as_tensor(np.asarray(edge_index, dtype=np.int64))
    return e if e.size(0) == 2 and e.dim() == 2 and e.size(1) != 2 else e.T.contiguous()
