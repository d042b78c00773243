"""Graphs and interactions of your own: ``graph-folder`` (a folder of edge-list files per class,
for GIN) and ``interactions`` (a CSV of user,item[,rating] rows, for LightGCN): reading,
splitting, training through the command line, eval, predict and recommend by name, the popularity
baseline by hand, and a one-line error for every bad file with no run directory left behind."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ann.cli import main
from ann.data.recsys import BPRTriples, Interactions, RankingSplit
from ann.errors import AnnError
from ann.registry import load_dataset
from ann.tasks.recommend import Recommendation

QUICK_GIN = ["train.epochs=0", "train.max_steps=30", "train.eval_every=15", "train.threads=1",
             "model.layers=3", "model.hidden=16"]
QUICK_LIGHTGCN = ["train.epochs=15", "train.threads=1", "model.dim=16", "model.layers=2"]


def cli(capsys, *args):
    """``ann ARGS`` in this process: (exit code, stdout, the lines of stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()]


def fails_in_one_line(capsys, *args, words=()):
    code, _, err = cli(capsys, *args)
    assert code != 0 and len(err) == 1 and "Traceback" not in err[0], err
    for w in words:
        assert w in err[0], (w, err[0])
    return err[0]


# --- graph-folder -----------------------------------------------------------------------------

def ring(n, name=str):
    return [(name(i), name((i + 1) % n)) for i in range(n)]


def star(n, name=str):
    return [("hub", name(i)) for i in range(n)]


def write_graph(path, edges, header=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("source,target\n" if header else "")
                    + "".join(f"{a},{b}\n" for a, b in edges))
    return path


def write_rings_and_stars(root, count=20, seed=0):
    """Rings of 5-9 nodes and stars of 5-9 leaves; node ids are words (``n3``) in half of the
    files, a header line in a third."""
    rng = np.random.RandomState(seed)
    for kind, make in (("ring", ring), ("star", star)):
        for k in range(count):
            name = (lambda i: f"n{i}") if k % 2 else str
            write_graph(root / kind / f"g{k:02d}.csv", make(int(rng.randint(5, 10)), name),
                        header=k % 3 == 0)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_rings_and_stars(root)
    return root


def folder(path, split="train", **options):
    return load_dataset("graph-folder", split, path=str(path), **options)


def test_classes_stratified_splits_and_degree_features(shapes):
    parts = {s: folder(shapes, s) for s in ("train", "val", "test")}
    info = parts["train"].info
    assert info["classes"] == ("ring", "star") and info["num_classes"] == 2
    assert info["node_features"] == "degree" and set(info["fills"]) == {"in_channels",
                                                                          "num_classes"}
    # the width: the largest degree of a training graph (a star's hub), plus one for degree 0
    top = max(int(torch.bincount(e[0]).max()) for _, e in parts["train"].graphs)
    assert info["max_degree"] == top and info["in_channels"] == top + 1
    # 20 per class: 2 validate, 2 test, 16 train, each class alike
    assert [len(parts[s]) for s in ("train", "val", "test")] == [32, 4, 4]
    for p in parts.values():
        assert p.y.bincount(minlength=2).tolist() == [len(p) // 2] * 2
    for (x, edge_index), label in zip(parts["test"].graphs, parts["test"].y.tolist()):
        n = x.size(0)
        degrees = x.argmax(1)
        if label == 0:                                          # a ring: every node has 2
            assert degrees.tolist() == [2] * n and edge_index.size(1) == 2 * n   # both ways
        else:                                                   # a star: one hub of n - 1
            assert sorted(degrees.tolist()) == [1] * (n - 1) + [min(n - 1, top)]
            assert edge_index.size(1) == 2 * (n - 1)
        assert x.sum().item() == n                              # one-hot
    constant = folder(shapes, "test", node_features="constant")
    assert constant.info["in_channels"] == 1 and constant.graphs[0][0].eq(1).all()
    sizes = [[x.size(0) for x, _ in folder(shapes, "train", split_seed=seed).graphs]
             for seed in (0, 1)]
    assert sorted(sizes[0]) != sorted(sizes[1])               # other graphs held out


def test_node_files_name_every_node_and_keep_isolated_ones(tmp_path):
    for c, kind in enumerate(("acid", "base")):
        for k in range(5):
            write_graph(tmp_path / kind / f"m{k}.csv", [("C1", "O2"), ("O2", "H 3"), ("C1", "O2")])
            (tmp_path / kind / f"m{k}.nodes.csv").write_text(
                f"node,charge,mass\nH 3,{c},1\nC1,{k},12\nO2,0.5,16\nlone,-1,2\n")
    train = folder(tmp_path, val_fraction=0.2, test_fraction=0.2)
    assert train.info["node_features"] == "file" and train.info["in_channels"] == 2
    x, edge_index = train.graphs[0]
    assert x[:, 1].tolist() == [1, 12, 16, 2] and x[2:].tolist() == [[0.5, 16], [-1, 2]]
    # C1-O2 (twice in the file) and O2-H3, both ways; the lone node has a row and no edge
    assert sorted(map(tuple, edge_index.T.tolist())) == [(0, 2), (1, 2), (2, 0), (2, 1)]
    assert len(train) == 6 and sum(len(folder(tmp_path, s, val_fraction=0.2, test_fraction=0.2))
                                   for s in ("val", "test")) == 4


def test_train_and_test_folders_with_val_carved_from_train(tmp_path):
    for split, count in (("train", 10), ("test", 3)):
        for kind, make in (("ring", ring), ("star", star)):
            for k in range(count):
                write_graph(tmp_path / split / kind / f"{k}.csv", make(4 + k % 3))
    sizes = [len(folder(tmp_path, s, val_fraction=0.2)) for s in ("train", "val", "test")]
    assert sizes == [16, 4, 6]


@pytest.fixture(scope="module")
def gin_run(shapes, tmp_path_factory):
    out = tmp_path_factory.mktemp("gin") / "run"
    assert main(["train", "gin-mutag", "data.name=graph-folder", f"data.path={shapes}",
                 *QUICK_GIN, "--out", str(out)]) == 0
    return out


def test_gin_trains_evaluates_and_predicts_class_names(gin_run, shapes, capsys, tmp_path):
    config = json.loads((gin_run / "config.json").read_text())["data"]
    assert (config["name"], config["path"]) == ("graph-folder", str(shapes))
    facts = json.loads((gin_run / "data.json").read_text())
    assert facts["classes"] == ["ring", "star"] and facts["node_features"] == "degree"
    assert facts["in_channels"] == folder(shapes).info["in_channels"] == facts["max_degree"] + 1
    summary = json.loads((gin_run / "summary.json").read_text())
    assert "target" not in summary and set(summary["baselines"]) == {"majority"}
    assert summary["baselines"]["majority"] == pytest.approx(0.5)     # 2 + 2 test graphs
    assert summary["test"]["accuracy"] >= 0.75, summary["test"]       # degrees tell them apart
    code, out, _ = cli(capsys, "eval", gin_run, "--json")
    assert code == 0 and json.loads(out)["accuracy"] == pytest.approx(summary["test"]["accuracy"])
    new_ring = write_graph(tmp_path / "new" / "r.csv", ring(7, lambda i: f"atom{i}"))
    new_star = write_graph(tmp_path / "new" / "s.csv", star(6))
    code, out, _ = cli(capsys, "predict", gin_run, new_ring, new_star)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{new_ring}: ") and lines[1].startswith(f"{new_star}: ")
    assert lines[0].split()[1] == "ring" and lines[1].split()[1] == "star", lines
    code, out, _ = cli(capsys, "predict", gin_run, shapes / "star", "--json")   # a folder
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == 20 and {a["class"] for a in answers} <= {"ring", "star"}
    fails_in_one_line(capsys, "predict", gin_run, tmp_path / "absent.csv", words=["absent.csv"])
    ragged = tmp_path / "bad.csv"
    ragged.write_text("1,2\n3\n")
    fails_in_one_line(capsys, "predict", gin_run, ragged, words=["bad.csv", "line 2"])


@pytest.mark.parametrize("files,options,words", [
    ({}, {}, ["is empty"]),
    ({"ring/a.csv": "1,2\n"}, {}, ["1 class folder", "at least 2"]),
    ({"ring/a.csv": "1,2\n2,3\n", "star/b.csv": "1,2\n1,3,4\n"}, {}, ["b.csv", "line 2",
                                                                     "not two node ids"]),
    ({"ring/a.csv": "1,2\n", "star/b.csv": "source,target\n1,2\n\n1\n"}, {},
     ["b.csv", "line 4"]),
    ({"ring/a.csv": "1,2\n", "star/b.csv": "1,\n"}, {}, ["b.csv", "line 1"]),
    ({"ring/a.csv": "1,2\n", "ring/a.nodes.csv": "1,0.5\n2,x\n", "star/b.csv": "1,2\n",
      "star/b.nodes.csv": "1,1\n2,1\n"}, {}, ["a.nodes.csv", "line 2", "'x' of node '2'"]),
    ({"ring/a.csv": "1,2\n2,3\n", "ring/a.nodes.csv": "1,0\n2,0\n", "star/b.csv": "1,2\n",
      "star/b.nodes.csv": "1,1\n2,1\n"}, {}, ["a.csv", "line 2", "node '3' has no row",
                                             "a.nodes.csv"]),
    ({"ring/a.csv": "1,2\n", "ring/a.nodes.csv": "1,0\n2,0\n1,3\n", "star/b.csv": "1,2\n",
      "star/b.nodes.csv": "1,1\n2,1\n"}, {}, ["a.nodes.csv", "line 3", "again"]),
    ({"ring/a.csv": "1,2\n", "ring/a.nodes.csv": "1,0\n2,0,1\n", "star/b.csv": "1,2\n",
      "star/b.nodes.csv": "1,1\n2,1\n"}, {}, ["a.nodes.csv", "line 2", "2 features"]),
    ({"ring/a.csv": "1,2\n", "ring/a.nodes.csv": "1,0\n2,0\n", "star/b.csv": "1,2\n"}, {},
     ["b.csv has no b.nodes.csv", "or none"]),
    ({"ring/a.csv": "1,2\n", "ring/a.nodes.csv": "1,0\n2,0\n", "star/b.csv": "1,2\n",
      "star/b.nodes.csv": "1,1,1\n2,1,1\n"}, {}, ["a.nodes.csv has 1 feature columns",
                                                   "b.nodes.csv has 2", "same columns"]),
    ({"ring/a.csv": "1,2\n", "star/b.csv": "", "star/c.csv": "1,2\n"}, {}, ["b.csv",
                                                                          "no edges"]),
    ({"ring/a.csv": "1,2\n", "star/b.txt": "1,2\n"}, {}, ["b.txt", "cannot read .txt", "ending in .csv"]),
    ({"ring/a.csv": "1,2\n", "star/b.nodes.csv": "1,2\n"}, {}, ["b.nodes.csv has no b.csv beside it"]),
    ({"ring/a.csv": "1,2\n", "loose.csv": "1,2\n", "star/b.csv": "1,2\n"}, {},
     ["loose.csv", "subfolder named after its class"]),
    ({"ring/a.csv": "1,2\n", "star/b.csv": "1,2\n"}, {}, ["the val split gets no graphs", "2 to share"]),
    ({"train/ring/a.csv": "1,2\n", "train/star/b.csv": "1,2\n", "test/cube/c.csv": "1,2\n"},
     {}, ["class 'cube'", "no graphs in"]),
    ({"val/ring/a.csv": "1,2\n"}, {}, ["no train/ folder"]),
    ({"ring/a.csv": "1,2\n", "star": None}, {}, ["holds no graphs"]),
])
def test_bad_graph_folders_fail_in_one_line(tmp_path, files, options, words):
    root = tmp_path / "graphs"
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            (root / name).mkdir()
        else:
            (root / name).write_text(text)
    with pytest.raises(AnnError) as err:
        for split in ("train", "val", "test"):
            folder(root, split, **options)
    message = str(err.value)
    assert "\n" not in message
    for w in words:
        assert w in message, (w, message)


def test_bad_graph_folder_leaves_no_run_directory(tmp_path, capsys):
    (tmp_path / "g" / "ring").mkdir(parents=True)
    (tmp_path / "g" / "ring" / "a.csv").write_text("1,2\n")
    out = tmp_path / "run"
    fails_in_one_line(capsys, "train", "gin-mutag", "data.name=graph-folder",
                      f"data.path={tmp_path / 'g'}", "--out", out, words=["1 class folder"])
    fails_in_one_line(capsys, "train", "gin-mutag", "data.name=graph-folder", "--out", out,
                      words=["data.path=FOLDER"])
    assert not out.exists()


@pytest.mark.skipif(not os.environ.get("ANN_DATA_DIR"), reason="needs $ANN_DATA_DIR (MUTAG)")
def test_mutag_written_as_a_folder_reads_as_the_builtin(tmp_path):
    """MUTAG's TU files, turned into a graph folder here with numpy (one edge file and one
    node file of one-hot atom labels per graph), give the graphs the built-in loader gives."""
    from ann.data.tudataset import tu_dataset

    src = Path(os.environ["ANN_DATA_DIR"]) / "tudataset" / "MUTAG"
    edges = np.loadtxt(src / "MUTAG_A.txt", delimiter=",", dtype=np.int64) - 1
    graph_of = np.loadtxt(src / "MUTAG_graph_indicator.txt", dtype=np.int64) - 1
    labels = np.loadtxt(src / "MUTAG_graph_labels.txt", dtype=np.int64)
    atoms = np.loadtxt(src / "MUTAG_node_labels.txt", dtype=np.int64)
    onehot = np.eye(atoms.max() + 1, dtype=np.int64)[atoms]
    for g, label in enumerate(labels):
        nodes = np.flatnonzero(graph_of == g)
        mine = edges[graph_of[edges[:, 0]] == g]
        where = tmp_path / ("mutagenic" if label == 1 else "non-mutagenic") / f"g{g:03d}"
        write_graph(where.with_suffix(".csv"), [(f"a{a}", f"a{b}") for a, b in mine])
        (where.parent / f"{where.name}.nodes.csv").write_text(
            "".join(f"a{i}," + ",".join(map(str, onehot[i])) + "\n" for i in nodes))
    parts = [folder(tmp_path, s, test_fraction=0.2) for s in ("train", "val", "test")]
    assert parts[0].info["in_channels"] == 7 and parts[0].info["num_graphs"] == 188

    def shapes(sets, names):
        return sorted((names[int(y)], x.size(0), e.size(1), tuple(x.sum(0).long().tolist()))
                      for s in sets for (x, e), y in zip(s.graphs, s.y))

    builtin = tu_dataset("MUTAG")
    assert shapes(parts, parts[0].info["classes"]) == shapes([builtin], builtin.info["classes"])


# --- interactions ------------------------------------------------------------------------------

def write_ratings(path, users=45, seed=0, header="user,item,rating"):
    """Three taste groups of users, each rating 8 of its group's 10 items and 2 others; ratings
    1-5, the items of a user's own group rated higher."""
    rng = np.random.RandomState(seed)
    lines = [header] if header else []
    for u in range(users):
        g = u % 3
        own = rng.choice(10, 8, replace=False) + 10 * g
        for item in own:
            lines.append(f"user {u},film-{item},{rng.randint(3, 6)}")
        for item in rng.choice(30, 2, replace=False):
            lines.append(f"user {u},film-{item},{rng.randint(1, 3)}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    return write_ratings(tmp_path_factory.mktemp("ratings") / "ratings.csv")


def test_names_kept_and_min_rating_filters(ratings, tmp_path):
    train = load_dataset("interactions", "train", path=str(ratings))
    info = train.info
    assert info["users"][:2] == ["user 0", "user 1"] and info["items"][0].startswith("film-")
    assert info["num_users"] == 45 and info["num_items"] == 30 and info["rated"]
    assert set(info["fills"]) == {"num_users", "num_items"}
    text = ratings.read_text().splitlines()[1:]
    pairs = {tuple(r.split(",")[:2]) for r in text}
    assert info["interactions"] == len(pairs)
    parts = [train.data.split[s] for s in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == len(pairs) and info["train_only_users"] == 0
    # the held-out items are named as the file names them
    users, items = info["users"], info["items"]
    assert all((users[u], items[i]) in pairs for u, i in parts[2].tolist())
    high = load_dataset("interactions", "train", path=str(ratings), min_rating=3)
    kept = {tuple(r.split(",")[:2]) for r in text if int(r.split(",")[2]) >= 3}
    assert high.info["interactions"] == len(kept)
    # no header, two columns, ids that look like a header's do not start one
    plain = tmp_path / "plain.csv"
    plain.write_text("userId,0\n" + "".join(f"{u},{(u + k) % 9}\n" for u in range(40)
                                            for k in range(7)))
    got = load_dataset("interactions", "test", path=str(plain)).info
    assert got["users"][0] == "userId" and not got["rated"]
    assert got["train_only_users"] == 1                       # userId has 1 interaction


def test_popularity_baseline_by_hand():
    """Items 0-4 with training counts 3, 2, 1, 0, 0 (users 0 and 3 saw item 0, user 1 item 1,
    user 2 items 0-2); K = 2. User 0 is offered items 1 and 2 and holds out {2, 3}: recall 1/2.
    User 1 is offered 0 and 2 and holds out {0}: recall 1. Users 2 and 3 hold nothing out.
    Mean 0.75."""
    data = Interactions(torch.tensor([[0, 0], [1, 1]]), 4, 5)
    train_pairs = torch.tensor([[0, 0], [1, 1], [2, 0], [2, 1], [2, 2], [3, 0]])
    data.split = {"train": train_pairs, "val": torch.tensor([[0, 2]]),
                  "test": torch.tensor([[0, 2], [0, 3], [1, 0]])}
    data.edge_index = train_pairs.T.contiguous()
    data.seen = torch.zeros(4, 5, dtype=torch.bool)
    data.seen[train_pairs[:, 0], train_pairs[:, 1]] = True
    task = Recommendation()
    task.k = 2
    got = task.baselines(BPRTriples(data, {}), RankingSplit(data, "test", {}), "recall@2")
    assert got == {"popularity": pytest.approx(0.75)}


@pytest.fixture(scope="module")
def lightgcn_run(ratings, tmp_path_factory):
    out = tmp_path_factory.mktemp("lightgcn") / "run"
    assert main(["train", "lightgcn-synthetic", "data.name=interactions", f"data.path={ratings}",
                 *QUICK_LIGHTGCN, "--out", str(out)]) == 0
    return out


def test_lightgcn_trains_evaluates_and_recommends_by_name(lightgcn_run, ratings, capsys):
    summary = json.loads((lightgcn_run / "summary.json").read_text())
    assert "target" not in summary and set(summary["baselines"]) == {"popularity"}
    # the same figure as the one evaluation reports beside the model's
    assert summary["baselines"]["popularity"] == pytest.approx(summary["test"]["pop_recall@20"])
    code, out, _ = cli(capsys, "eval", lightgcn_run, "--json")
    assert code == 0 and json.loads(out)["recall@20"] == pytest.approx(
        summary["test"]["recall@20"])
    code, out, _ = cli(capsys, "recommend", lightgcn_run, "--user", "user 4", "--top", "3",
                       "--json")
    answer = json.loads(out)
    assert answer["user"] == "user 4" and len(answer["items"]) == 3
    seen = {r.split(",")[1] for r in ratings.read_text().splitlines() if r.startswith("user 4,")}
    facts = json.loads((lightgcn_run / "data.json").read_text())
    assert all(name in facts["items"] for name, _ in answer["items"])
    train = load_dataset("interactions", "train", path=str(ratings))
    trained = {facts["items"][i] for u, i in train.pairs.tolist() if facts["users"][u] == "user 4"}
    assert trained <= seen and not trained & {n for n, _ in answer["items"]}
    code, out, _ = cli(capsys, "recommend", lightgcn_run, "--user", "user 1")
    assert code == 0 and out.startswith("user 1: film-")
    fails_in_one_line(capsys, "recommend", lightgcn_run, "--user", "nobody",
                      words=["'nobody'", "not in the run's data"])
    fails_in_one_line(capsys, "predict", lightgcn_run, ratings, words=["ann recommend"])


@pytest.mark.parametrize("text,options,words", [
    ("", {}, ["is empty"]),
    ("user,item,rating\nu1,i1,4\nu1,i2\nu2,i1,3\n", {}, ["line 3", "2 of the file's 3 columns"]),
    ("u1,i1,4\nu1,,5\n", {}, ["line 2", "2 of the file's 3 columns"]),
    ("user,item,rating\nu1,i1,4\nu1,i2,five\n", {}, ["line 3", "rating 'five' is not a number"]),
    ("user,item,rating\nu1,i1,4\nu1,i2,nan\n", {}, ["line 3", "'nan'"]),
    ("a,b\n" * 3, {"min_rating": 4}, ["data.min_rating=4", "no rating column"]),
    ("user,item,rating\nu1,i1,1\nu2,i2,2\n", {"min_rating": 4}, ["no interactions rated at "
                                                                  "least 4"]),
    ("".join(f"u{u},i{k}\n" for u in range(5) for k in range(3)), {},
     ["no user has interactions left for the val split", "at least 4"]),
    ("".join(f"u{u},i{k}\n" for u in range(5) for k in range(4)), {},
     ["left for the test split", "7 to have one in each"]),
    ("justone\nrow\n", {}, ["line 1", "one column"]),
])
def test_bad_interactions_fail_in_one_line(tmp_path, text, options, words):
    file = tmp_path / "bad.csv"
    file.write_text(text)
    with pytest.raises(AnnError) as err:
        load_dataset("interactions", "train", path=str(file), **options)
    message = str(err.value)
    assert "\n" not in message and (str(file) in message or "data." in message), message
    for w in words:
        assert w in message, (w, message)


def test_bad_interactions_leave_no_run_directory(tmp_path, capsys):
    file = tmp_path / "r.csv"
    file.write_text("user,item,rating\nann,x,5\nbob,y,high\n")
    out = tmp_path / "run"
    fails_in_one_line(capsys, "train", "lightgcn-synthetic", "data.name=interactions",
                      f"data.path={file}", "--out", out, words=["line 3", "'high'"])
    fails_in_one_line(capsys, "train", "lightgcn-synthetic", "data.name=interactions",
                      f"data.path={tmp_path / 'absent.csv'}", "--out", out,
                      words=["is not a file"])
    assert not out.exists()
