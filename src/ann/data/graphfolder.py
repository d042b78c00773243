"""``graph-folder``: graph classification (GIN) on a folder of graphs of your own.

``ann train gin-mutag data.name=graph-folder data.path=graphs/`` reads

* ``graphs/CLASS/NAME.csv``, one subfolder per class (its name is the class name; the classes
  are sorted by name), each graph one edge-list file, split into train/val/test per class by a
  seeded shuffle (``data.val_fraction``, ``data.test_fraction``, ``data.split_seed``); or
* ``graphs/train/CLASS/...`` with ``graphs/val/CLASS/...`` and ``graphs/test/CLASS/...`` when
  those folders exist (a missing ``val/`` or ``test/`` is carved out of ``train/`` as above).

An edge-list file holds one ``source,target`` pair per line (CSV: quote a name holding a comma);
node ids are any names (``0``, ``17``, ``C1``, ``oxygen-3``), local to the file. A first line
``source,target`` is a header; blank lines and lines starting with ``#`` are skipped. Edges are
undirected: both directions are used, a pair written twice counts once.

Node features (optional, for all graphs or none): ``NAME.nodes.csv`` beside ``NAME.csv``, one
``node,f1,f2,...`` row per node (numbers; an optional header line starting with ``node``). It
lists every node of the graph, in the order the model sees them: a node without edges (an
isolated atom) has a row and no edge, and an edge naming a node without a row is refused.
Without node files the nodes are those the edges name, and their features are
``data.node_features``: ``degree`` (the default; a one-hot of each node's degree, as Xu et al.
2019 give GIN the social graphs that have no features, degrees above the training graphs'
largest, or above 64, sharing the last column) or ``constant`` (a single 1 per node).

What is learned from the files (feature width, class names, how features were made, the largest
degree) goes into the split's ``info`` and the run's ``data.json``, so that ``ann predict RUN
graph.csv`` reads a new graph the same way (:func:`read_graph_file`).
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import field
from ..errors import AnnError
from ..layers.message_passing import to_undirected
from ..registry import register_dataset
from .classfolders import FolderKind, check_folder, every_file, folder_stamp, labelled_files, split_option
from .graphs import GraphSet

NODES_SUFFIX = ".nodes.csv"
MAX_DEGREE = 64          # degree one-hot columns beyond this share the last one
FEATURES = ("degree", "constant")

FOLDER_INFO = {
    "task": "graph_classify",
    "description": "your own graphs: data.path=FOLDER with one subfolder of edge-list CSV files "
                   "per class (or train/ val/ test/ folders of class subfolders)",
}


@dataclass
class GraphFolderOptions:
    """The folder of your own graphs and how it is read and split."""

    path: str = field("", "a file of your own to train on, for datasets that accept one",
                      path=True)
    node_features: str = field("degree", "node features of graphs without NAME.nodes.csv files: "
                               "'degree' (one-hot node degree) or 'constant' (a 1 per node)",
                               choices=FEATURES)
    val_fraction: float = split_option("val_fraction", "graphs")
    test_fraction: float = split_option("test_fraction", "graphs")
    split_seed: int = split_option("split_seed", "graphs")


# --- one graph's files -----------------------------------------------------------------------------

def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """``(line, cells)`` of a CSV file, cells stripped; blank and ``#`` lines left out."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            out = []
            for cells in reader:
                cells = [c.strip() for c in cells]
                if any(cells) and not cells[0].startswith("#"):
                    out.append((reader.line_num, cells))
    except UnicodeDecodeError as e:
        raise AnnError(f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8 CSV") from None
    except csv.Error as e:
        raise AnnError(f"{path} is not a readable CSV file ({e}); write one row per line") from None
    return out


def read_edges(path: Path) -> list[tuple[int, str, str]]:
    """``(line, source, target)`` of an edge-list file (see the module)."""
    rows = _rows(path)
    if rows and [c.lower() for c in rows[0][1]] == ["source", "target"]:
        rows = rows[1:]
    out = []
    for line, cells in rows:
        if len(cells) != 2 or not all(cells):
            raise AnnError(f"{path}, line {line}: {','.join(cells)[:60]!r} is not two node ids; "
                           "write one 'source,target' pair per line")
        out.append((line, cells[0], cells[1]))
    return out


def read_nodes(path: Path) -> tuple[list[str], np.ndarray]:
    """Node ids and their features (N, F) float32 of a ``NAME.nodes.csv`` file (see the module)."""
    rows = _rows(path)
    width = None
    if rows and rows[0][1][0].lower() == "node":
        width = len(rows[0][1]) - 1
        rows = rows[1:]
    names, values, where = [], [], {}
    for line, cells in rows:
        if len(cells) < 2:
            raise AnnError(f"{path}, line {line}: no features after node {cells[0]!r}; write "
                           "'node,f1,f2,...' per node")
        if width is not None and len(cells) - 1 != width:
            raise AnnError(f"{path}, line {line}: {len(cells) - 1} features, but the lines "
                           f"before have {width}; give every node the same number")
        width = len(cells) - 1
        if not cells[0]:
            raise AnnError(f"{path}, line {line}: the node id is missing; write 'node,f1,...'")
        if cells[0] in where:
            raise AnnError(f"{path}, line {line}: node {cells[0]!r} again (first on line "
                           f"{where[cells[0]]}); give each node one row")
        try:
            row = [float(v) for v in cells[1:]]
        except ValueError:
            bad = next(v for v in cells[1:] if not _is_number(v))
            raise AnnError(f"{path}, line {line}: feature {bad!r} of node {cells[0]!r} is not a "
                           "number; node features are numbers") from None
        if not all(math.isfinite(v) for v in row):
            raise AnnError(f"{path}, line {line}: node {cells[0]!r} has a feature that is not "
                           "finite (nan or inf); give finite numbers")
        where[cells[0]] = line
        names.append(cells[0])
        values.append(row)
    if not names:
        raise AnnError(f"{path} lists no nodes; write one 'node,f1,f2,...' row per node")
    return names, np.asarray(values, dtype=np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_graph(path: Path, with_nodes: bool) -> tuple[torch.Tensor | None, torch.Tensor, int]:
    """One graph: features (N, F) or ``None`` (no node file), the undirected edge index (2, E)
    over nodes 0..N-1, and N."""
    edges = read_edges(path)
    if with_nodes:
        names, x = read_nodes(node_file(path))
        index = {n: i for i, n in enumerate(names)}
    else:
        if not edges:
            raise AnnError(f"{path} holds no edges; write one 'source,target' pair per line (a "
                           f"graph of lone nodes needs {node_file(path).name} to list them)")
        x, index = None, {}
    pairs = []
    for line, a, b in edges:
        for name in (a, b):
            if name not in index:
                if with_nodes:
                    raise AnnError(f"{path}, line {line}: node {name!r} has no row in "
                                   f"{node_file(path).name}; list every node there")
                index[name] = len(index)
        pairs.append((index[a], index[b]))
    n = len(index)
    edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).T           # (2, E)
    return (None if x is None else torch.from_numpy(x)), to_undirected(edge_index, n), n


def node_file(path: Path) -> Path:
    """``NAME.nodes.csv`` beside the edge file ``NAME.csv``."""
    return path.with_name(path.name[:-len(".csv")] + NODES_SUFFIX)


def degree_features(edge_index: torch.Tensor, n: int, width: int) -> torch.Tensor:
    """One-hot node degrees (N, width); degrees of ``width - 1`` or more share the last column."""
    deg = torch.bincount(edge_index[0], minlength=n).clamp(max=width - 1)
    return torch.nn.functional.one_hot(deg, width).float()


# --- the folder ----------------------------------------------------------------------------------

KIND = FolderKind("graph-folder", "graphs", (".csv",), "graph.csv", companion=NODES_SUFFIX)


def _node_files_or_none(files: list[Path]) -> bool:
    """Whether the graphs come with node files: all of them, or none (else one line)."""
    has = [node_file(f).is_file() for f in files]
    if any(has) and not all(has):
        with_, without = files[has.index(True)], files[has.index(False)]
        raise AnnError(f"{with_} has {node_file(with_).name} but {without} has no "
                       f"{node_file(without).name}; give every graph a node file, or none")
    return all(has)


@functools.lru_cache(maxsize=2)
def _read(folder: Path, node_features: str, val_fraction: float, test_fraction: float,
          split_seed: int, stamp: tuple) -> tuple[dict[str, GraphSet], dict]:
    """``({split: GraphSet}, info)``, read once for the three splits of a run (``stamp`` only
    keys the cache)."""
    files = every_file(folder, KIND)              # every file is read (and checked) first
    with_nodes = _node_files_or_none(files)
    graphs = {f: read_graph(f, with_nodes) for f in files}
    widths = {g[0].size(1): f for f, g in graphs.items()} if with_nodes else {}
    if len(widths) > 1:
        (a, fa), (b, fb) = list(widths.items())[:2]
        raise AnnError(f"{node_file(fa)} has {a} feature columns, {node_file(fb)} has {b}; "
                       "give every graph the same columns")
    classes, rows = labelled_files(folder, KIND, val_fraction, test_fraction, split_seed)
    read = {split: [graphs[f] for f, _ in r] for split, r in rows.items()}
    info = {**FOLDER_INFO, "num_classes": len(classes), "classes": tuple(classes),
            "fills": ("in_channels", "num_classes")}
    if with_nodes:
        info.update(node_features="file", in_channels=next(iter(widths)))
    else:
        info["node_features"] = node_features
        if node_features == "degree":
            top = max(int(torch.bincount(e[0], minlength=n).max()) if e.numel() else 0
                      for _, e, n in read["train"])
            info["max_degree"] = min(top, MAX_DEGREE)
        info["in_channels"] = _width(info)
    sets = {}
    for split, members in rows.items():
        graphs = [(_features(x, e, n, info), e) for x, e, n in read[split]]
        y = torch.tensor([c for _, c in members], dtype=torch.long)
        sets[split] = GraphSet(graphs, y, info)
    info["num_graphs"] = sum(len(g) for g in sets.values())
    return sets, info


def _width(info: dict) -> int:
    return info["max_degree"] + 1 if info["node_features"] == "degree" else 1


def _features(x, edge_index: torch.Tensor, n: int, info: dict) -> torch.Tensor:
    """A graph's node features (N, F) as the run's ``info`` says they are made."""
    kind = info.get("node_features", "file")
    if kind == "degree":
        return degree_features(edge_index, n, info["in_channels"])
    if kind == "constant":
        return torch.ones(n, 1)
    return x


@register_dataset("graph-folder", info=FOLDER_INFO, embedded=True, options=GraphFolderOptions)
def load_graph_folder(split: str, path: str = "", node_features: str = "degree",
                      val_fraction: float = 0.1, test_fraction: float = 0.1,
                      split_seed: int = 0) -> GraphSet:
    """Your own graphs (``data.path=FOLDER``), one subfolder per class; see the module."""
    folder = check_folder(path, KIND)
    sets, info = _read(folder.resolve(), node_features, val_fraction, test_fraction, split_seed,
                       folder_stamp(folder))
    data = sets[split]
    return GraphSet(data.graphs, data.y, dict(info))


def read_graph_file(path, info: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """One graph file as a run takes it (``ann predict``): ``(x (N, F), edge_index (2, E))``,
    features made as the training graphs' were; a run on a built-in graph set (MUTAG) reads
    them from ``NAME.nodes.csv`` with its feature width."""
    path = Path(path)
    if not path.is_file():
        raise AnnError(f"{path}: no such file")
    if path.suffix.lower() != ".csv" or path.name.endswith(NODES_SUFFIX):
        raise AnnError(f"{path}: give a graph's edge-list file NAME.csv (its NAME{NODES_SUFFIX} "
                       "is read beside it)")
    with_nodes = info.get("node_features", "file") == "file"
    if with_nodes and not node_file(path).is_file():
        raise AnnError(f"{path}: the run's graphs have node features, and {node_file(path).name} "
                       f"is not beside it; write it ('node,f1,...,f{info['in_channels']}' rows)")
    x, edge_index, n = read_graph(path, with_nodes)
    if with_nodes and x.size(1) != info["in_channels"]:
        raise AnnError(f"{node_file(path)}: {x.size(1)} feature columns, but the run's model "
                       f"takes {info['in_channels']}; give the columns it was trained on")
    return _features(x, edge_index, n, info), edge_index
