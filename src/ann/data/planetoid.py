"""Planetoid citation graphs (Yang, Cohen & Salakhutdinov 2016, https://arxiv.org/abs/1603.08861):
Cora, CiteSeer and PubMed with the public split used by Kipf & Welling 2017 (20 labelled nodes per
class to train, 500 to validate, 1000 to test).

The files (``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}``) are Python 2 pickles of scipy
sparse matrices, numpy arrays and a dict of adjacency lists. They are read with a restricted
unpickler that resolves only the handful of classes those files name (numpy arrays and dtypes, a
scipy CSR matrix, a defaultdict of lists) and refuses everything else, so a tampered file cannot
run code. The CSR matrix is rebuilt from its three arrays without importing scipy.

Cora and CiteSeer are looked up in ``$ANN_DATA_DIR/planetoid/<name>/`` (sha256-checked). PubMed
is not in the offline set; it is read from ``$ANN_DATA_DIR/planetoid/pubmed/`` or the cache, and
downloaded from the Planetoid repository where a network exists. No checksum of the PubMed files
is published, so they are checked by their content instead (node, feature and class counts).
"""

from __future__ import annotations

import io
import pickle
import urllib.request
from pathlib import Path

import numpy as np
import torch

from ..errors import CorruptFile, DatasetMissing
from ..fileio import atomic_path
from ..layers.message_passing import remove_self_loops, to_undirected
from ..registry import register_dataset
from .graphs import Graph, NodeSplit, row_normalise
from .sources import RemoteFile, cache_dir, data_dirs, fetch, offline

PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
BASE_URL = "https://github.com/kimiyoung/planetoid/raw/master/data/"

SHA256 = {
    "cora": {
        "x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
        "y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
        "tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
        "ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
        "allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
        "ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
        "graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
        "test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    },
    "citeseer": {
        "x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
        "y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
        "tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
        "ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
        "allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
        "ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
        "graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
        "test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    },
}

INFO = {
    "cora": {"task": "node_classify", "in_channels": 1433, "num_classes": 7, "num_nodes": 2708},
    "citeseer": {"task": "node_classify", "in_channels": 3703, "num_classes": 6,
                 "num_nodes": 3327},
    "pubmed": {"task": "node_classify", "in_channels": 500, "num_classes": 3, "num_nodes": 19717},
}


# --- the restricted unpickler ---------------------------------------------------------------------

class _CSR:
    """Stands in for ``scipy.sparse.csr_matrix`` while unpickling: keeps its arrays."""

    def __setstate__(self, state):
        self.__dict__.update(state)

    def dense(self) -> np.ndarray:
        shape = self.__dict__.get("_shape") or self.__dict__.get("shape")
        out = np.zeros(shape, dtype=np.float32)
        indptr, indices = np.asarray(self.indptr), np.asarray(self.indices)
        rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
        np.add.at(out, (rows, indices), np.asarray(self.data, dtype=np.float32))
        return out


def _allowed() -> dict[tuple[str, str], object]:
    from collections import defaultdict

    multiarray = getattr(np, "_core", None) or np.core
    reconstruct = multiarray.multiarray._reconstruct
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("collections", "defaultdict"): defaultdict,
               ("__builtin__", "list"): list, ("builtins", "list"): list,
               ("copy_reg", "_reconstructor"): _reconstructor,
               ("copyreg", "_reconstructor"): _reconstructor,
               ("__builtin__", "object"): object, ("builtins", "object"): object,
               ("_codecs", "encode"): _latin1}         # how Python 3 pickles bytes at protocol 2
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = reconstruct
    for mod in ("scipy.sparse.csr", "scipy.sparse._csr"):
        allowed[(mod, "csr_matrix")] = _CSR
    return allowed


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"unexpected encoding {encoding!r} in a Planetoid file")
    return text.encode("latin1")


def _reconstructor(cls, base, state):
    # copyreg's protocol-0/1 object rebuild, limited to the classes allowed above
    if cls is not _CSR or base is not object:
        raise pickle.UnpicklingError("unexpected object in a Planetoid file")
    return _CSR()


class _Unpickler(pickle.Unpickler):
    """Resolves only the globals a Planetoid file needs; anything else is refused."""

    def find_class(self, module, name):
        found = _allowed().get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a Planetoid file")
        return found


def read_pickle(path: Path):
    """The object in one Planetoid pickle (numpy array, CSR stand-in or dict of lists)."""
    try:
        return _Unpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise CorruptFile(f"{path} is not a Planetoid data file ({str(e)[:100] or type(e).__name__});"
                          " delete it and place the original file there") from None


def _dense(obj, path: Path) -> np.ndarray:
    if isinstance(obj, _CSR):
        return obj.dense()
    if isinstance(obj, np.ndarray) and obj.ndim == 2:
        return obj.astype(np.float32)
    raise CorruptFile(f"{path} does not hold a matrix; place the original Planetoid file there")


# --- assembling the graph ---------------------------------------------------------------------------

def build_planetoid(name: str, files: dict[str, Path]) -> Graph:
    """The graph from the eight files: features (row-normalised), labels, undirected edges without
    self-loops, and the public split. Test nodes are stored out of order in ``tx``; they are put
    back at the indices ``test.index`` names. CiteSeer has 15 test-range nodes absent from the
    files (isolated): they get zero features and sit in no split."""
    raw = {p: read_pickle(files[p]) for p in PARTS if p != "test.index"}
    try:
        test_index = np.array([int(s) for s in files["test.index"].read_text().split()])
    except ValueError:
        raise CorruptFile(f"{files['test.index']} is not a list of node numbers; place the "
                          "original file there") from None
    x, tx, allx = (_dense(raw[p], files[p]) for p in ("x", "tx", "allx"))
    y, ty, ally = (np.asarray(raw[p], dtype=np.float32) for p in ("y", "ty", "ally"))
    ordered = np.sort(test_index)
    if name == "citeseer":
        span = ordered.max() - ordered.min() + 1
        tx_full = np.zeros((span, tx.shape[1]), np.float32)
        ty_full = np.zeros((span, ty.shape[1]), np.float32)
        tx_full[ordered - ordered.min()], ty_full[ordered - ordered.min()] = tx, ty
        tx, ty = tx_full, ty_full
    features = np.concatenate([allx, tx])
    labels = np.concatenate([ally, ty]).argmax(1)
    features[test_index], labels[test_index] = features[ordered], labels[ordered]
    n = features.shape[0]
    graph = raw["graph"]
    if not isinstance(graph, dict):
        raise CorruptFile(f"{files['graph']} does not hold adjacency lists; place the original there")
    src = [int(k) for k, v in graph.items() for _ in v]
    dst = [int(j) for v in graph.values() for j in v]
    edge_index = torch.tensor([src, dst], dtype=torch.long)
    if edge_index.numel() and int(edge_index.max()) >= n:
        raise CorruptFile(f"{files['graph']} names node {int(edge_index.max())} but the features "
                          f"cover {n} nodes; the files do not belong together")
    edge_index = to_undirected(remove_self_loops(edge_index), n)
    masks = {s: torch.zeros(n, dtype=torch.bool) for s in ("train", "val", "test")}
    masks["train"][:len(y)] = True
    masks["val"][len(y):len(y) + 500] = True
    masks["test"][torch.as_tensor(test_index)] = True
    return Graph(row_normalise(torch.from_numpy(features)), edge_index,
                 torch.from_numpy(labels).long(), masks)


# --- finding the files ------------------------------------------------------------------------------

def _remote(name: str) -> list[RemoteFile]:
    return [RemoteFile(f"ind.{name}.{p}", SHA256[name][p], (f"{BASE_URL}ind.{name}.{p}",))
            for p in PARTS]


def pubmed_files() -> dict[str, Path]:
    """The PubMed files from ``$ANN_DATA_DIR``/the cache, downloaded into the cache if missing."""
    folder = "planetoid/pubmed"
    names = {p: f"ind.pubmed.{p}" for p in PARTS}
    for d in data_dirs():
        if all((d / folder / f).is_file() for f in names.values()):
            return {p: d / folder / f for p, f in names.items()}
    target = cache_dir() / folder
    reason = "not downloaded: ANN_OFFLINE=1 is set" if offline() else None
    if reason is None:
        try:
            for f in names.values():
                if not (target / f).is_file():
                    with urllib.request.urlopen(BASE_URL + f, timeout=30) as r, \
                            atomic_path(target / f) as tmp:
                        tmp.write_bytes(r.read())
            return {p: target / f for p, f in names.items()}
        except OSError as e:
            reason = f"download failed: {getattr(e, 'reason', e)}"
    raise DatasetMissing(f"dataset 'pubmed' is missing ind.pubmed.{{{','.join(PARTS)}}} ({reason});"
                         f" download them from {BASE_URL} and place them in "
                         f"$ANN_DATA_DIR/{folder}/ or {target}/")


_CACHE: dict[tuple, Graph] = {}


def planetoid(name: str) -> Graph:
    """The whole graph of ``name`` (cora, citeseer, pubmed), read once per process and folder."""
    if name == "pubmed":
        files = pubmed_files()
    else:
        found = fetch(name, f"planetoid/{name}", _remote(name))
        files = {p: found[f"ind.{name}.{p}"] for p in PARTS}
    key = (name, *map(str, files.values()))
    if key not in _CACHE:
        graph = build_planetoid(name, files)
        want = INFO[name]
        if name == "pubmed" and (graph.num_nodes, graph.x.size(1)) != \
                (want["num_nodes"], want["in_channels"]):
            raise CorruptFile(f"the PubMed files describe {graph.num_nodes} nodes with "
                              f"{graph.x.size(1)} features, not {want['num_nodes']} with "
                              f"{want['in_channels']}; replace them with the originals from {BASE_URL}")
        _CACHE[key] = graph
    return _CACHE[key]


def _register(name: str, embedded: bool = False):
    @register_dataset(name, info=INFO[name], embedded=embedded)
    def load(split: str) -> NodeSplit:
        return NodeSplit(planetoid(name), split, INFO[name])
    load.__name__ = f"load_{name}"
    return load


load_cora = _register("cora")
load_citeseer = _register("citeseer")
load_pubmed = _register("pubmed")
