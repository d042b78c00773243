"""Graph classification sets in the TU format (Morris et al. 2020, "TUDataset: a collection of
benchmark datasets for learning with graphs", https://arxiv.org/abs/2007.08663): MUTAG and PROTEINS.

A set ``DS`` is a folder of text files: ``DS_A.txt`` (one edge ``i, j`` per line, 1-based node
numbers over the whole set), ``DS_graph_indicator.txt`` (line i: the graph of node i),
``DS_graph_labels.txt`` (one label per graph) and ``DS_node_labels.txt`` (one label per node,
one-hot encoded as the node features, as in Xu et al. 2019). Graph labels are renumbered 0..K-1 in
sorted order (MUTAG's -1/1 become 0/1).

Splits are stratified cross-validation folds (``data.fold`` of ``data.folds``, seed 0): the fold is
the test set, the next fold validates (model selection, early stopping), the rest train.
``data.cv_protocol=xu2019`` trains on all other folds and validates on the test fold itself (Xu et
al. 2019's protocol, see :func:`~ann.data.graphs.fold_split`); ``data.epoch_size`` makes an epoch
that many training graphs (Xu et al.: 1,600).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import field
from ..errors import CorruptFile, DatasetMissing
from ..registry import register_dataset
from .base import FoldOptions
from .graphs import GraphSet, fold_split
from .sources import RemoteFile, data_dirs, fetch

SHA256 = {
    "MUTAG": {
        "A": "d9656ca7493f3445d737c711710bb36fd432dddd1c0ea32e1d4713c86ebd28e2",
        "graph_indicator": "7d520a4d6c7961c0cdeabe076d8fe27e795b6d373485c9a2b744987e560a2056",
        "graph_labels": "a1518ea39ba3426bd42f57396b9c4baffe68e9adc718caeeab0119c6591a5f2c",
        "node_labels": "678f429965490e84dd27713017538c995fc05d1621beac910848b600015ee863",
    },
    "PROTEINS": {
        "A": "4c4b33e272fc95cac6d27ed6d5d12b9a852c8610e91fff59f8f0dbdd5a20df67",
        "graph_indicator": "8d4ff1e852a5c28561e9bffb44cf9490bc552b13a3b6156dd12dc7f44e9afc4a",
        "graph_labels": "c0ef9810c440775252872318d0c8adc385588e14bc4c47a2c34aa96ee3c7cdcd",
        "node_labels": "f758e8ad3d6e3c026b50833d75f6f90735b94eb3345e4243707f495ca8afea8d",
    },
}
ZIP_URL = "https://www.chrsmrrs.com/graphkerneldatasets/{}.zip"

INFO = {
    "mutag": {"task": "graph_classify", "in_channels": 7, "num_classes": 2, "num_graphs": 188,
              "classes": ["non-mutagenic", "mutagenic"]},
    "proteins": {"task": "graph_classify", "in_channels": 3, "num_classes": 2,
                 "num_graphs": 1113, "classes": ["non-enzyme", "enzyme"]},
}


def _numbers(path: Path, columns: int) -> np.ndarray:
    """The integers of a TU text file, ``columns`` per line (commas or spaces between)."""
    try:
        values = np.array(path.read_text().replace(",", " ").split(), dtype=np.int64)
    except ValueError:
        raise CorruptFile(f"{path} holds something other than integers; place the original TU "
                          "file there") from None
    if columns > 1:
        if values.size % columns:
            raise CorruptFile(f"{path}: expected {columns} numbers per line; place the original "
                              "TU file there")
        values = values.reshape(-1, columns)
    return values


def read_tu(folder: Path, name: str) -> GraphSet:
    """A TU set from ``folder`` (holding ``NAME_A.txt`` etc.) as a :class:`GraphSet`."""
    part = {p: folder / f"{name}_{p}.txt" for p in ("A", "graph_indicator", "graph_labels",
                                                   "node_labels")}
    edges = _numbers(part["A"], 2) - 1                                  # (E, 2), 0-based
    graph_of = _numbers(part["graph_indicator"], 1) - 1                 # (N,)
    raw_labels = _numbers(part["graph_labels"], 1)                      # (G,)
    node_labels = _numbers(part["node_labels"], 1)                      # (N,)
    n, count = len(graph_of), len(raw_labels)
    if len(node_labels) != n or edges.min(initial=0) < 0 or edges.max(initial=0) >= n \
            or graph_of.min() < 0 or graph_of.max() >= count:
        raise CorruptFile(f"the TU files in {folder} do not agree on the node and graph counts; "
                          "place the original files there")
    x = np.eye(node_labels.max() - node_labels.min() + 1, dtype=np.float32)[
        node_labels - node_labels.min()]                                # (N, F) one-hot
    _, y = np.unique(raw_labels, return_inverse=True)
    starts = np.searchsorted(graph_of, np.arange(count + 1))            # nodes are grouped by graph
    owner = graph_of[edges[:, 0]]
    order = np.argsort(owner, kind="stable")
    edges, owner = edges[order], owner[order]
    edge_starts = np.searchsorted(owner, np.arange(count + 1))
    graphs = []
    for g in range(count):
        nodes = slice(starts[g], starts[g + 1])
        e = edges[edge_starts[g]:edge_starts[g + 1]] - starts[g]        # local numbering
        graphs.append((torch.from_numpy(x[nodes]), torch.from_numpy(e.T.copy())))
    info = INFO.get(name.lower(), {"task": "graph_classify"})
    return GraphSet(graphs, torch.from_numpy(y).long(), {**info, "in_channels": x.shape[1],
                                                          "num_classes": int(y.max()) + 1})


_CACHE: dict[str, GraphSet] = {}


def tu_dataset(name: str) -> GraphSet:
    """TU set ``name`` (MUTAG, PROTEINS) from ``$ANN_DATA_DIR/tudataset/NAME/``, sha256-checked."""
    folder = f"tudataset/{name}"
    if not any((d / folder / f"{name}_A.txt").is_file() for d in data_dirs()):
        raise DatasetMissing(f"dataset {name.lower()!r} is missing: download {ZIP_URL.format(name)}"
                             f", unzip it and place the {name}_*.txt files in "
                             f"$ANN_DATA_DIR/{folder}/")
    files = [RemoteFile(f"{name}_{p}.txt", h, ()) for p, h in SHA256[name].items()]
    found = fetch(name.lower(), folder, files)
    key = str(found[f"{name}_A.txt"])
    if key not in _CACHE:
        _CACHE[key] = read_tu(found[f"{name}_A.txt"].parent, name)
    return _CACHE[key]


@dataclass
class CrossValidationOptions(FoldOptions):
    """The folds of a graph set, and how a fold trains (Xu et al. 2019's protocol or ours)."""

    cv_protocol: str = field("validate", "cross-validation (datasets with folds): 'validate' = "
                             "the next fold validates, the rest train; 'xu2019' = all other "
                             "folds train and the validation split IS the test fold (Xu et al. "
                             "2019; reads the test fold: for comparison with the paper only)",
                             choices=("validate", "xu2019"))
    epoch_size: int = field(0, "training examples per epoch, drawn from the reshuffled "
                            "training split over and over (datasets with folds; 0: one pass; "
                            "Xu et al. 2019: 50 batches of 32 = 1600)", nonneg=True)


def _register(name: str):
    @register_dataset(name.lower(), info=INFO[name.lower()], embedded=False,
                      options=CrossValidationOptions)
    def load(split: str, fold: int = 0, folds: int = 10, cv_protocol: str = "validate",
             epoch_size: int = 0) -> GraphSet:
        return fold_split(tu_dataset(name), split, fold, folds, protocol=cv_protocol,
                          epoch_size=epoch_size)
    load.__name__ = f"load_{name.lower()}"
    return load


load_mutag = _register("MUTAG")
load_proteins = _register("PROTEINS")
