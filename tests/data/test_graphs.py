"""Graph datasets: the embedded ones, the Planetoid and TU parsers (against PyTorch Geometric's
readers where the data is present), PubMed on files written here, and the user's own files."""

import pickle

import numpy as np
import pytest
import torch
from conftest import real_data

from ann.data import graphs, planetoid, tudataset
from ann.errors import AnnError, CorruptFile, DatasetMissing
from ann.registry import load_dataset


def test_karate_matches_networkx():
    graph = graphs.karate_club()
    assert graph.num_nodes == 34 and graph.edge_index.size(1) == 2 * 78
    assert graph.y.sum().item() == 17
    nx = pytest.importorskip("networkx")
    g = nx.karate_club_graph()
    ours = {tuple(sorted(e)) for e in graph.edge_index.T.tolist()}
    assert ours == {tuple(sorted(e)) for e in g.edges()}
    assert graph.y.tolist() == [int(g.nodes[i]["club"] == "Officer") for i in range(34)]


def test_splits_are_disjoint():
    for graph in (graphs.karate_club(), graphs.sbm_graph()):
        m = graph.masks
        assert not (m["train"] & m["val"]).any() and not (m["val"] & m["test"]).any()
        assert not (m["train"] & m["test"]).any()


def test_node_split_batch_for_any_index():
    data = load_dataset("karate", "train")
    assert len(data) == 1 and data.collated
    a, b = data.batch(torch.tensor([0])), data.batch(slice(0, 1000))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert int(a[3].sum()) == 4


def test_graph_set_batches_and_folds():
    data = graphs.sbm_graph_set(40)
    x, edge_index, batch, y = data.batch(torch.tensor([3, 0, 5]))
    assert batch.max() == 2 and len(y) == 3 and x.size(0) == len(batch)
    assert edge_index.max() < x.size(0)
    assert data.batch(slice(0, 4))[3].tolist() == data.y[:4].tolist()
    parts = [graphs.fold_split(data, s, 2, 5) for s in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == 40 and len(parts[2]) == 8
    with pytest.raises(AnnError, match="data.fold=5"):
        graphs.fold_split(data, "test", 5, 5)


def same_edges(a, b):
    return a.size(1) == b.size(1) and {tuple(e) for e in a.T.tolist()} == {tuple(e) for e in b.T.tolist()}


def test_planetoid_cora_matches_pyg():
    folder = real_data("planetoid") / "cora"
    graph = planetoid.planetoid("cora")
    assert graph.num_nodes == 2708 and graph.x.size(1) == 1433
    assert [int(graph.masks[s].sum()) for s in ("train", "val", "test")] == [140, 500, 1000]
    io = pytest.importorskip("torch_geometric.io")
    ref = io.read_planetoid_data(str(folder), "cora")
    assert torch.equal(graph.y, ref.y)
    assert same_edges(graph.edge_index, ref.edge_index)
    torch.testing.assert_close(graph.x, ref.x / ref.x.sum(1, keepdim=True).clamp(min=1))
    for s in ("train", "val", "test"):
        assert torch.equal(graph.masks[s], getattr(ref, f"{s}_mask"))


def test_planetoid_citeseer_matches_pyg():
    folder = real_data("planetoid") / "citeseer"
    graph = planetoid.planetoid("citeseer")
    assert graph.num_nodes == 3327 and int(graph.masks["train"].sum()) == 120
    io = pytest.importorskip("torch_geometric.io")
    ref = io.read_planetoid_data(str(folder), "citeseer")
    assert torch.equal(graph.y, ref.y) and same_edges(graph.edge_index, ref.edge_index)
    assert torch.equal(graph.masks["test"], ref.test_mask)


def test_unpickler_refuses_other_classes(tmp_path):
    bad = tmp_path / "ind.cora.x"
    bad.write_bytes(pickle.dumps(__import__("os").getcwd, protocol=2))   # a function reference
    with pytest.raises(CorruptFile, match="not a Planetoid data file"):
        planetoid.read_pickle(bad)


def _write_planetoid(folder, n_train=4, n_test=3, features=5, classes=3):
    """A tiny Planetoid set in the original format (Python-2-style pickles of scipy/numpy)."""
    sp = pytest.importorskip("scipy.sparse")
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n_all = n_train + 500 + 2        # allx: train, val and two unlabelled-by-split nodes
    n = n_all + n_test
    onehot = lambda k: np.eye(classes)[rng.integers(0, classes, k)]   # noqa: E731
    parts = {"x": sp.csr_matrix(rng.random((n_train, features))), "y": onehot(n_train),
             "allx": sp.csr_matrix(rng.random((n_all, features))), "ally": onehot(n_all),
             "tx": sp.csr_matrix(rng.random((n_test, features))), "ty": onehot(n_test),
             "graph": {i: [(i + 1) % n, (i + 7) % n] for i in range(n)}}
    for name, obj in parts.items():
        (folder / f"ind.pubmed.{name}").write_bytes(pickle.dumps(obj, protocol=2))
    (folder / "ind.pubmed.test.index").write_text("\n".join(str(n - 1 - i) for i in range(n_test)))
    return n


def test_pubmed_reads_written_files(tmp_path, monkeypatch):
    n = _write_planetoid(tmp_path / "planetoid" / "pubmed")
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    files = planetoid.pubmed_files()
    graph = planetoid.build_planetoid("pubmed", files)
    assert graph.num_nodes == n and graph.x.size(1) == 5
    assert int(graph.masks["test"].sum()) == 3 and int(graph.masks["val"].sum()) == 500
    torch.testing.assert_close(graph.x.sum(1), torch.ones(n))
    with pytest.raises(CorruptFile, match="not 19717"):      # the real set's shape is checked
        load_dataset("pubmed", "train")


def test_pubmed_missing_offline_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetMissing, match="planetoid/pubmed"):
        load_dataset("pubmed", "train")


def test_tu_mutag_matches_pyg():
    folder = real_data("tudataset") / "MUTAG"
    data = tudataset.tu_dataset("MUTAG")
    assert len(data) == 188 and data.y.sum().item() == 125
    io = pytest.importorskip("torch_geometric.io")
    ref, slices, _ = io.read_tu_data(str(folder), "MUTAG")
    assert torch.equal(data.y, ref.y)
    for g in (0, 17, 187):
        x, edge_index = data.graphs[g]
        a, b = slices["x"][g], slices["x"][g + 1]
        torch.testing.assert_close(x, ref.x[a:b])
        e0, e1 = slices["edge_index"][g], slices["edge_index"][g + 1]
        assert {tuple(e) for e in edge_index.T.tolist()} == \
            {tuple(e) for e in ref.edge_index[:, e0:e1].T.tolist()}


def test_tu_proteins_counts():
    real_data("tudataset")
    data = tudataset.tu_dataset("PROTEINS")
    assert len(data) == 1113 and data.graphs[0][0].size(1) == 3
    assert sum(g[0].size(0) for g in data.graphs) == 43471
    test = load_dataset("proteins", "test", fold=3, folds=10)
    assert 110 <= len(test) <= 112


def test_tu_written_files_and_corruption(tmp_path):
    d = tmp_path / "TOY"
    d.mkdir()
    (d / "TOY_A.txt").write_text("1, 2\n2, 1\n3, 4\n4, 3\n")
    (d / "TOY_graph_indicator.txt").write_text("1\n1\n2\n2\n2\n")
    (d / "TOY_graph_labels.txt").write_text("-1\n1\n")
    (d / "TOY_node_labels.txt").write_text("0\n1\n2\n0\n1\n")
    data = tudataset.read_tu(d, "TOY")
    assert data.y.tolist() == [0, 1] and data.graphs[1][0].shape == (3, 3)
    assert data.graphs[1][1].tolist() == [[0, 1], [1, 0]]
    (d / "TOY_A.txt").write_text("1, 2\n2, x\n")
    with pytest.raises(CorruptFile, match="other than integers"):
        tudataset.read_tu(d, "TOY")


def test_custom_graph(tmp_path):
    edges, nodes = tmp_path / "e.csv", tmp_path / "n.csv"
    edges.write_text("# source,target\n0,1\n1,2\n2,3\n3,3\n")      # a self-loop; node 4 isolated
    nodes.write_text("0,1.0,0\n0,0.9,0.1\n1,0,1\n1,0.1,0.9\n-1,0.5,0.5\n0,1,0\n1,0,1\n")
    graph = graphs.read_custom_graph(str(edges), str(nodes))
    assert graph.num_nodes == 7 and graph.x.shape == (7, 2)
    masks = graph.masks
    assert int((masks["train"] | masks["val"] | masks["test"]).sum()) == 6
    assert not (masks["train"] | masks["val"] | masks["test"])[4]
