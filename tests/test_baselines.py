"""A run on the user's own data is judged against baselines on its own test split, not against
the recipe's target (which is about the recipe's data): the rule that tells the two apart, each
task's baselines checked against figures computed here with numpy and scikit-learn, and runs end
to end."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ann
from ann import api, registry
from ann.data.base import ArrayDataset
from ann.data.series import SeriesWindows
from ann.registry import get_task, load_dataset
from ann.runner import build_config, on_users_data, user_file_options


@pytest.mark.parametrize("recipe,overrides,users", [
    ("lstm-sunspots", {}, False),
    ("lstm-sunspots", {"data.window": 5}, False),            # the recipe's series, other windows
    ("lstm-sunspots", {"data.path": "my.csv"}, True),
    ("mlp-digits", {}, False),
    ("mlp-digits", {"data.name": "digits-table"}, True),
    ("gcn-karate", {"data.name": "sbm"}, True),
    ("gcn-custom", {"data.edges": "e.csv", "data.features": "n.csv"}, True),
])
def test_rule_recipe_data_or_users(recipe, overrides, users):
    assert on_users_data(build_config(recipe, overrides)) is users


def test_rule_knows_every_file_option():
    """The options the rule compares are those declared as a user's file (path=True), and
    each of those says so in its help."""
    declared = set()
    for name in registry.option_datasets():
        for entry in registry.DATASETS.values():
            fields = {f.name: f for f in dataclasses.fields(entry.options)} if entry.options else {}
            if name in fields and fields[name].metadata.get("path"):
                assert "of your own" in fields[name].metadata["help"], (entry.name, name)
                declared.add(name)
    assert set(user_file_options()) == declared and {"path", "edges", "features"} <= declared


def _table(n, seed):
    g = np.random.default_rng(seed)
    y = (g.random(n) < 0.7).astype(np.int64) * 2          # classes 0 and 2, 2 the commoner
    x = g.normal(size=(n, 3)) + y[:, None] * np.array([0.8, -0.5, 0.0])
    return x, y


def test_classification_baselines_by_hand():
    (x, y), (tx, ty) = _table(80, 0), _table(40, 1)
    train = ArrayDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y), {})
    test = ArrayDataset(torch.tensor(tx, dtype=torch.float32), torch.tensor(ty), {})
    got = get_task("classify").baselines(train, test)
    majority = np.bincount(y).argmax()
    assert got["majority"] == pytest.approx(np.mean(ty == majority))
    theirs = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    theirs.fit(train.x.double().numpy(), y)
    assert got["linear"] == pytest.approx(theirs.score(test.x.double().numpy(), ty))


def test_regression_baselines_by_hand():
    g = np.random.default_rng(0)
    x, tx = g.normal(size=(50, 2)), g.normal(size=(20, 2))
    w = np.array([1.5, -2.0])
    y, ty = x @ w + 3 + g.normal(0, 0.1, 50), tx @ w + 3 + g.normal(0, 0.1, 20)
    data = [ArrayDataset(torch.tensor(a, dtype=torch.float32), torch.tensor(b), {})
            for a, b in ((x, y), (tx, ty))]
    got = get_task("regression").baselines(*data)
    assert got["mean"] == pytest.approx(np.sqrt(np.mean((ty - y.mean()) ** 2)), rel=1e-5)
    pred = LinearRegression().fit(data[0].x.double().numpy(), y).predict(data[1].x.double().numpy())
    assert got["linear"] == pytest.approx(np.sqrt(np.mean((ty - pred) ** 2)), rel=1e-5)


def test_persistence_by_hand():
    values = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 8.0, 6.0, 9.0, 7.0])
    v = torch.tensor(values, dtype=torch.float32)
    info = {"std": 2.0}
    # window 2, horizon 1: train targets at 2..4 (values up to 5), test targets at 5..8
    train = SeriesWindows(v[:5], 2, 2, 1, torch.zeros(3, 1), info)
    test = SeriesWindows(v, 5, 2, 1, torch.zeros(3, 1), info)
    got = get_task("forecast").baselines(train, test)
    targets = values[5:]
    assert got["persistence"] == pytest.approx(np.sqrt(np.mean((targets - values[4:8]) ** 2)))
    assert got["mean"] == pytest.approx(np.sqrt(np.mean((targets - values[2:5].mean()) ** 2)))
    assert got["linear AR"] == pytest.approx(np.sqrt(np.mean(targets ** 2)))   # weights all 0


@pytest.fixture
def user_graph(tmp_path):
    """40 nodes of two classes by parity, linked within their class, features leaning to it."""
    edges, nodes = tmp_path / "edges.csv", tmp_path / "nodes.csv"
    pairs = [(i, (i + 2) % 40) for i in range(40)] + [(i, i + 1) for i in range(0, 40, 8)]
    edges.write_text("\n".join(f"{a},{b}" for a, b in pairs) + "\n")
    nodes.write_text("\n".join(f"{i % 2},{0.6 if i % 2 else 0.4},{i % 3 / 3}" for i in range(40))
                     + "\n")
    return edges, nodes


def test_users_graph_judged_by_baselines(user_graph, tmp_path, capsys):
    edges, nodes = user_graph
    files = {"edges": str(edges), "features": str(nodes)}
    run = ann.train("gcn-custom", {**{f"data.{k}": v for k, v in files.items()},
                                   "train.epochs": 5, "train.threads": 1}, out=tmp_path / "run")
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "target" not in s and "reached" not in s
    assert set(s["baselines"]) == {"majority", "linear"}
    train, test = (load_dataset("custom-graph", k, **files).batch(0) for k in ("train", "test"))
    y = train[2].numpy()
    majority = np.bincount(y[train[3].numpy()]).argmax()
    assert s["baselines"]["majority"] == pytest.approx(np.mean(y[test[3].numpy()] == majority))
    best = max(s["baselines"].values())
    assert s["beats_baselines"] == (s["test"]["accuracy"] > best)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "target" not in line
    assert f"baselines: majority {s['baselines']['majority']:.4f}, linear " in line, line
    assert ("does NOT beat" in line) == (not s["beats_baselines"]), line
    assert ann.load(tmp_path / "run").summary == run.summary
    info = api.describe(ann.load(tmp_path / "run")).splitlines()[2]
    assert info.startswith(f"result    test accuracy {s['test']['accuracy']:.4f} (baselines: "
                           f"majority {s['baselines']['majority']:.4f}, linear "), info


def test_recipe_run_keeps_its_target(tmp_path, capsys):
    ann.train("mlp-digits", {"train.max_steps": 3, "train.threads": 1}, out=tmp_path / "run")
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["target"] == 0.96 and isinstance(s["reached"], bool) and "baselines" not in s
    assert "(target 0.96: " in capsys.readouterr().out


def test_no_baseline_line():
    """A task without baselines on the user's data says that neither figure applies."""
    from types import SimpleNamespace

    from ann.runs import result_line

    run = SimpleNamespace(summary={"metric": "loss", "test": {"loss": 1.0}, "baselines": {},
                                   "steps": 1, "wall_time_s": 0.1}, path="r", task=None)
    line = result_line(run)
    assert "no baseline" in line and "target is not about" in line
