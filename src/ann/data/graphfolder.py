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
from .folders import SPLIT_FOLDERS, SYSTEM_FILES, _stamp
from .graphs import GraphSet
from .vision import stratified_split

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
    val_fraction: float = field(0.1, "share of each class held out for validation (when the "
                                "folder has no val/ subfolder)", range=(0.0, 0.9))
    test_fraction: float = field(0.1, "share of each class held out for testing (when the "
                                 "folder has no test/ subfolder)", range=(0.0, 0.9))
    split_seed: int = field(0, "seed of the shuffle that splits the graphs", nonneg=True)


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

def _graph_files(folder: Path) -> list[Path]:
    """The edge-list files under a class folder (sorted, subfolders included); a node file
    without its edge file, or a file of another kind, is refused in one line."""
    files = []
    for file in sorted(folder.rglob("*")):
        if any(p.startswith(".") for p in file.relative_to(folder).parts) or file.is_dir() \
                or file.name.lower() in SYSTEM_FILES:
            continue
        if file.suffix.lower() != ".csv":
            raise AnnError(f"{file}: not a .csv edge list; give graphs as NAME.csv (with "
                           f"NAME{NODES_SUFFIX} beside it for features), or move it out of "
                           f"{folder.parent}")
        if file.name.endswith(NODES_SUFFIX):
            edge = file.with_name(file.name[:-len(NODES_SUFFIX)] + ".csv")
            if not edge.is_file():
                raise AnnError(f"{file} has no edge list {edge.name} beside it; add it or remove "
                               "the node file")
            continue
        files.append(file)
    return files


def _class_folders(root: Path) -> dict[str, list[Path]]:
    loose = sorted(f for f in root.iterdir() if f.is_file() and f.suffix.lower() == ".csv")
    if loose:
        raise AnnError(f"{loose[0]} lies directly in {root}; put each graph in a subfolder "
                       f"named after its class ({root}/CLASS/{loose[0].name})")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    out = {name: _graph_files(root / name) for name in classes}
    for name, files in out.items():
        if not files:
            raise AnnError(f"{root / name} holds no graphs; add edge-list files (NAME.csv) or "
                           "remove the folder")
    return out


def _layout(folder: Path) -> dict[str, dict[str, list[Path]]]:
    """``{split: {class: [edge files]}}`` for the splits the folder holds, else ``{"all": ...}``."""
    present = [s for s in SPLIT_FOLDERS if (folder / s).is_dir()]
    if not present:
        return {"all": _class_folders(folder)}
    if "train" not in present:
        raise AnnError(f"{folder} has {'/ '.join(present)}/ but no train/ folder; add train/CLASS/"
                       " folders of training graphs")
    return {s: _class_folders(folder / s) for s in present}


def _check_folder(path: str) -> Path:
    if not path:
        raise AnnError("graph-folder needs your graphs: data.path=FOLDER holding one subfolder of "
                       "edge-list CSV files per class")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise AnnError(f"data.path={path!r} is not a folder; give the folder holding one "
                       "subfolder of edge-list files per class")
    if not any(f.is_file() for f in folder.rglob("*")):
        raise AnnError(f"{folder} is empty; put your graphs in one subfolder per class "
                       f"({folder}/CLASS/graph.csv)")
    return folder


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
    layout = _layout(folder)
    classes = sorted(layout.get("train", layout.get("all")))
    if len(classes) < 2:
        where = folder / "train" if "train" in layout else folder
        raise AnnError(f"{where} holds {len(classes)} class folder{'' if len(classes) == 1 else 's'}"
                       "; a classifier needs at least 2 (one subfolder of graphs per class)")
    for split, found in layout.items():
        unseen = sorted(set(found) - set(classes))
        if unseen:
            raise AnnError(f"{folder / split / unseen[0]}: class {unseen[0]!r} has no graphs in "
                           f"{folder / 'train'}; add training graphs of it or remove the folder")
    rows = {split: [(f, classes.index(c)) for c in sorted(found) for f in found[c]]
            for split, found in layout.items()}
    with_nodes = _node_files_or_none([f for r in rows.values() for f, _ in r])
    read = {split: [(f, read_graph(f, with_nodes)) for f, _ in r] for split, r in rows.items()}
    widths = {g[0].size(1): f for r in read.values() for f, g in r} if with_nodes else {}
    if len(widths) > 1:
        (a, fa), (b, fb) = list(widths.items())[:2]
        raise AnnError(f"{node_file(fa)} has {a} feature columns, {node_file(fb)} has {b}; "
                       "give every graph the same columns")
    labels = {split: np.array([c for _, c in r], dtype=np.int64) for split, r in rows.items()}
    parts = _carve(labels, folder, val_fraction, test_fraction, split_seed)
    info = {**FOLDER_INFO, "num_classes": len(classes), "classes": tuple(classes),
            "fills": ("in_channels", "num_classes")}
    if with_nodes:
        info.update(node_features="file", in_channels=next(iter(widths)))
    else:
        info["node_features"] = node_features
        if node_features == "degree":
            train = [read[s][i][1] for s, i in parts["train"]]
            top = max(int(torch.bincount(e[0], minlength=n).max()) if e.numel() else 0
                      for _, e, n in train)
            info["max_degree"] = min(top, MAX_DEGREE)
        info["in_channels"] = _width(info)
    sets = {}
    for split, members in parts.items():
        graphs = [(_features(x, e, n, info), e) for s, i in members for x, e, n in [read[s][i][1]]]
        y = torch.tensor([int(labels[s][i]) for s, i in members], dtype=torch.long)
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


def _carve(labels: dict[str, np.ndarray], folder: Path, val_fraction: float,
           test_fraction: float, seed: int) -> dict[str, list[tuple[str, int]]]:
    """``{split: [(where, index)]}``: the splits the folder lacks are cut from ``train`` (or the
    single pool), per class by a seeded shuffle."""
    source = "all" if "all" in labels else "train"
    out = {s: [(s, i) for i in range(len(labels[s]))] for s in labels if s != source}
    wanted = {s: f for s, f in (("val", val_fraction), ("test", test_fraction)) if s not in out}
    if sum(wanted.values()) >= 1:
        raise AnnError(f"data.val_fraction + data.test_fraction = {sum(wanted.values()):g} leaves "
                       "no training graphs; keep their sum below 1")
    for split, idx in stratified_split(labels[source], {**wanted, "train": 0.0}, seed).items():
        out[split] = [(source, int(i)) for i in idx]
    pool = len(labels[source])
    for split in SPLIT_FOLDERS:
        if not out[split]:
            option = {"train": "data.val_fraction and data.test_fraction",
                      "val": "data.val_fraction", "test": "data.test_fraction"}[split]
            raise AnnError(f"{folder}: the {split} split gets no graphs ({pool} to share); add "
                           f"graphs or adjust {option}")
    return out


@register_dataset("graph-folder", info=FOLDER_INFO, embedded=True, options=GraphFolderOptions)
def load_graph_folder(split: str, path: str = "", node_features: str = "degree",
                      val_fraction: float = 0.1, test_fraction: float = 0.1,
                      split_seed: int = 0) -> GraphSet:
    """Your own graphs (``data.path=FOLDER``), one subfolder per class; see the module."""
    folder = _check_folder(path)
    sets, info = _read(folder.resolve(), node_features, val_fraction, test_fraction, split_seed,
                       _stamp(folder))
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
