"""Graph networks end to end: convergence on embedded graphs within a small budget, the recipes
from the command line, and the user's own graph with every kind of bad input."""

import json

import pytest
import torch

import ann
from ann.data.graphs import karate_club
from ann.errors import AnnError
from ann.registry import create_model, load_dataset
from ann.tasks import get_task
from helpers import ann as ann_cli
from helpers import fails_cleanly


def test_gcn_learns_sbm_in_process(tmp_path, conv):
    """Full-batch GCN on a generated block model beats the features alone (>= 0.85 test)."""
    run = ann.train("gcn-karate", {"data.name": "sbm", "model.hidden": "16", "train.epochs": 25,
                                   **conv.overrides}, out=tmp_path / "run", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.85, run.summary["test"]


def test_gat_and_sage_learn_sbm(conv):
    data = {s: load_dataset("sbm", s).batch(0) for s in ("train", "test")}
    for name in ("gat", "sage"):
        conv.apply()
        model = create_model(name, "tiny", in_channels=16, num_classes=3)
        task = get_task(model.task)
        opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
        for _ in range(60):
            opt.zero_grad()
            task.loss(model, data["train"])[0].backward()
            opt.step()
        model.eval()
        acc = task.evaluate(model, [data["test"]])["accuracy"]
        # measured on the 140 test nodes, seeds 0-9 at one and two threads (chance: 0.33):
        # GAT 0.836-0.950 (it memorises the 60 training nodes, and where it lands varies),
        # GraphSAGE 0.936-0.950
        assert acc >= {"gat": 0.75, "sage": 0.85}[name], (name, acc)


def test_gin_learns_sbm_graphs(tmp_path, conv):
    run = ann.train("gin-sbm", {"train.epochs": 8, **conv.overrides}, out=tmp_path / "run",
                    quiet=True)
    # 45 test graphs, chance 0.5; measured over seeds 0-4 at one and two threads: 0.889-1.0
    # (8 epochs; the recipe's 20 give the same spread)
    assert run.summary["test"]["accuracy"] >= 0.8, run.summary["test"]


def test_gcn_karate_plots_embedding(tmp_path, capsys, conv):
    run = ann.train("gcn-karate", {"train.epochs": 50, **conv.overrides}, out=tmp_path / "run",
                    quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.85
    assert (tmp_path / "run" / "embedding.png").stat().st_size > 1000
    loaded = ann.load(tmp_path / "run")
    graph = karate_club()
    assert loaded.model(graph.x, graph.edge_index).shape == (34, 2)
    from ann.cli import main

    main(["info", str(tmp_path / "run")])                    # the layer table runs the model
    assert "GCNConv" in capsys.readouterr().out


def test_recipes_listed():
    out = {r.name for r in ann.list_recipes()}
    for name in ("gcn-karate", "gcn-cora", "gat-cora", "sage-cora", "gcn-citeseer", "gcn-pubmed",
                 "gin-mutag", "gin-proteins", "gcn-custom"):
        assert name in out


@pytest.fixture
def user_graph(tmp_path):
    edges, nodes = tmp_path / "edges.csv", tmp_path / "nodes.csv"
    # 60 nodes of two classes (by parity), linked mostly within their class (i to i+2, i+4)
    # and a few times across (i to i+1), with features that lean to their class. (A graph
    # linked mostly across classes, as this one was, gave 2 to 6 of 6 test nodes right
    # depending on the seed.) Measured, seeds 0-9 at one and two threads: 11 or 12 of 12.
    pairs = ([(i, (i + 2) % 60) for i in range(60)] + [(i, (i + 4) % 60) for i in range(60)]
             + [(i, i + 1) for i in range(0, 60, 10)])
    edges.write_text("\n".join(f"{a},{b}" for a, b in pairs) + "\n5,5\n")   # and a self-loop
    rows = [f"{i % 2},{1.0 if i % 2 else 0.0},{0.0 if i % 2 else 1.0},0.5" for i in range(60)]
    nodes.write_text("\n".join(rows + ["-1,0,0,0"]) + "\n")                 # node 60: isolated
    return edges, nodes


def test_gcn_custom_trains(user_graph, tmp_path, conv):
    edges, nodes = user_graph
    run = ann.train("gcn-custom", {"data.edges": str(edges), "data.features": str(nodes),
                                   "train.epochs": 15, **conv.overrides},
                    out=tmp_path / "run", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.8, run.summary
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["in_channels"] == 3
    # what only the loaded files knew is recorded with the run (data.json) and comes back
    loaded = ann.load(tmp_path / "run")
    assert (loaded.info["num_nodes"], loaded.info["num_classes"]) == (61, 2)
    (tmp_path / "run" / "data.json").write_text("{not json")
    with pytest.raises(AnnError, match=r"data.json is damaged .*facts of the run's data"):
        _ = ann.load(tmp_path / "run").info


def test_gcn_custom_bad_line_cli(user_graph):
    edges, nodes = user_graph
    edges.write_text("0,1\n1,oops\n")
    proc = ann_cli("train", "gcn-custom", f"data.edges={edges}", f"data.features={nodes}",
                   "train.epochs=2", check=False)
    fails_cleanly(proc, "line 2", "'1,oops'", "source,target")


@pytest.mark.parametrize("edge_text,node_text,words", [
    ("0,1\n1,2,3\n", None, ["line 2", "two node indices"]),
    ("0,1\n1,99\n", None, ["node 99", "past the 61 nodes"]),
    ("0,1\n-3,2\n", None, ["negative"]),
    ("# nothing\n", None, ["holds no edges"]),
    ("0,1\n", "0,1,0\n1,0\n", ["line 2", "1 features", "earlier lines have 2"]),
    ("0,1\n", "0,1,0\nx,0,1\n", ["line 2", "label and numbers"]),
    ("0,1\n", "0,1,0\n-1,0,1\n", ["labels 1 nodes", "at least 3"]),
])
def test_gcn_custom_bad_input(user_graph, edge_text, node_text, words):
    """The same one-line errors as above, in process (the CLI prints exactly the message)."""
    edges, nodes = user_graph
    edges.write_text(edge_text)
    if node_text is not None:
        nodes.write_text(node_text)
    with pytest.raises(AnnError) as err:
        load_dataset("custom-graph", "train", edges=str(edges), features=str(nodes))
    line = str(err.value)
    assert "\n" not in line
    for w in words:
        assert w in line, line


def test_gcn_custom_feature_rows_must_match(user_graph):
    edges, nodes = user_graph
    nodes.write_text("0,1,0\n1,0,1\n1,1,1\n")         # 3 nodes, but edges name node 59
    with pytest.raises(AnnError, match="node 59.*add features"):
        load_dataset("custom-graph", "train", edges=str(edges), features=str(nodes))


def test_gcn_custom_needs_files():
    with pytest.raises(AnnError, match="data.edges=EDGES.csv"):
        load_dataset("custom-graph", "train")


def test_selection_on_validation_loss():
    """gat-cora selects its checkpoint (and counts its patience) on the validation loss: the
    engine's train.select=loss, lower better; the task still reports accuracy."""
    from ann.api import build_config
    from ann.train.select import Selection

    assert build_config("gat-cora").train.select == "loss"
    assert build_config("gcn-cora").train.select == "metric"
    model = create_model("gat", "tiny")
    task = get_task(model.task)
    assert (task.name, task.metric) == ("node_classify", "accuracy")
    select = Selection("loss", 10, task)
    assert (select.key, select.higher) == ("loss", False)
    batch = model.example_batch(6, torch.Generator().manual_seed(0))
    val = task.evaluate(model.eval(), [batch])
    assert set(val) == {"loss", "accuracy"} and select.figures(val) == {}
    assert select.better({"loss": 0.5, "accuracy": 0.1}, {"loss": 0.6, "accuracy": 0.9})
    assert not select.better({"loss": 0.7, "accuracy": 0.9}, {"loss": 0.6, "accuracy": 0.1})
