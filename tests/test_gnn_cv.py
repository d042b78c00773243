"""Graph classification protocols: the cross-validation splits (fair, and Xu et al. 2019's that
reads the test fold), the step schedule halving every 50 epochs, checkpoint selection on a window
of evaluations or the final model, the benchmark's best-mean-epoch arithmetic, and the sparse
input path of GCN/GAT (same function as the dense one)."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import real_data

import ann
from ann.data.graphs import fold_split, sbm_graph_set
from ann.layers import message_passing as mp
from ann.models.gnn.common import random_graph
from ann.registry import create_model
from ann.tasks import get_task
from ann.train import RunConfig
from ann.train.optim import step_factor
from ann.train.select import Selection
from helpers import ann as ann_cli
from helpers import benchmark_module, fails_cleanly


def _ids(split):
    return sorted(id(g) for g in split.graphs)


def test_fold_split_protocols():
    data = sbm_graph_set(60)
    fair = {s: fold_split(data, s, 3, 10) for s in ("train", "val", "test")}
    assert (len(fair["train"]), len(fair["val"]), len(fair["test"])) == (48, 6, 6)
    assert not set(_ids(fair["val"])) & set(_ids(fair["test"]))
    xu = {s: fold_split(data, s, 3, 10, protocol="xu2019") for s in ("train", "val", "test")}
    assert _ids(xu["val"]) == _ids(xu["test"]) == _ids(fair["test"])   # validation = test fold
    assert len(xu["train"]) == 54 and not set(_ids(xu["train"])) & set(_ids(xu["test"]))
    assert sorted(_ids(xu["train"]) + _ids(xu["test"])) == sorted(id(g) for g in data.graphs)
    cycled = fold_split(data, "train", 3, 10, protocol="xu2019", epoch_size=160)
    assert len(cycled) == 160 and set(_ids(cycled)) == set(_ids(xu["train"]))


def test_step_schedule_halves_every_50_epochs():
    assert [step_factor(e * 5, 50, 0.5, 5, 50) for e in (0, 49, 50, 99, 100, 349)] == \
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.5 ** 6]
    # decay_every=1 keeps the per-epoch decay (Zaremba et al.'s LSTM recipes)
    assert [step_factor(e, 4, 0.5, 1) for e in (0, 3, 4, 5)] == [1.0, 1.0, 0.5, 0.25]


def test_window_and_last_selection():
    """train.select=window: the task's accuracy averaged over the last select_window
    evaluations (window_accuracy, 0 until the window is full), kept in checkpoints;
    train.select=last: every evaluation is the best (evaluations counts them)."""
    model = create_model("gin", "tiny").eval()
    task = get_task(model.task)
    window = Selection("window", 3, task)
    assert (task.name, window.key, window.higher) == ("graph_classify", "window_accuracy", True)
    batch = model.example_batch(8, torch.Generator().manual_seed(0))
    first = [window.figures(task.evaluate(model, [batch]))["window_accuracy"] for _ in range(3)]
    assert first[:2] == [0.0, 0.0] and first[2] == pytest.approx(
        task.evaluate(model, [batch])["accuracy"])              # a full window: the mean
    restored = Selection("window", 3, task)
    restored.load_state_dict(window.state_dict())
    assert (restored.recent, restored.count) == (window.recent, window.count) == (window.recent, 3)
    model_gat = create_model("gat", "tiny").eval()
    last, gat_task = Selection("last", 10, get_task(model_gat.task)), get_task(model_gat.task)
    gat_batch = model_gat.example_batch(6, torch.Generator())
    assert [last.figures(gat_task.evaluate(model_gat, [gat_batch]))["evaluations"]
            for _ in range(2)] == [1, 2]
    assert last.better({"evaluations": 3, "accuracy": 0.0}, {"evaluations": 2, "accuracy": 1.0})


def test_window_selection_is_worst_until_full_either_way():
    """A partial window never beats anything, and the first full window beats the partial
    ones, also for a metric that is better when lower (the 0 placeholder would win there)."""
    class Lower:
        metric, higher_is_better = "mse", False

    select = Selection("window", 2, Lower())
    best: dict = {}
    kept = []
    for i, mse in enumerate([5.0, 4.0, 3.0, 9.0, 1.0, 1.0]):
        val = {"mse": mse, **select.figures({"mse": mse})}
        if select.better(val, best):
            best = val
            kept.append(i)
    # windows: -, 4.5, 3.5, 6.0, 5.0, 1.0 -> the first eval (nothing yet), then full windows
    assert kept == [0, 1, 2, 5] and best["window_mse"] == 1.0


def test_last_selection_tests_the_final_model(tmp_path, conv):
    """select=last: the final model is tested (a fixed epoch count), and it still learns."""
    run = ann.train("gin-sbm", {"train.epochs": 6, **conv.overrides, "train.select": "last",
                                "train.schedule": "step", "train.decay_start": 3,
                                "train.decay_every": 3}, out=tmp_path / "run", quiet=True)
    assert run.summary["best_step"] == run.summary["steps"]
    assert run.summary["test"]["accuracy"] >= 0.9, run.summary["test"]


def test_window_selection_learns(tmp_path, conv):
    run = ann.train("gin-sbm", {"train.epochs": 8, **conv.overrides, "train.select": "window",
                                "train.select_window": 3}, out=tmp_path / "run", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.9, run.summary["test"]
    assert run.summary["best_val"]["window_accuracy"] > 0


def test_the_old_selection_keys_are_aliases():
    """model.selection / model.select_window (the graph models' settings before selection
    moved into the engine) still work on the command line, as train.select /
    train.select_window, so recorded commands (BENCHMARKS.md) still run; GMDH's own
    model.selection (a fraction) is untouched."""
    from ann.api import build_config

    rc = build_config("gin-mutag", ["model.selection=window", "model.select_window=3"])
    assert (rc.train.select, rc.train.select_window) == ("window", 3)
    assert not hasattr(rc.model, "selection")
    assert build_config("gat-cora", {"model.selection": "accuracy"}).train.select == "metric"
    gmdh = build_config("gmdh-diabetes", ["model.selection=0.5"])
    assert (gmdh.model.selection, gmdh.train.select) == (0.5, "metric")
    fails_cleanly(ann_cli("train", "gin-sbm", "model.selection=best", check=False),
                  "train.select", "metric, loss, window, last")


def test_an_old_run_that_selected_on_a_window_loads_and_evaluates(tmp_path):
    """A run directory of an earlier version whose config.json holds model.selection (here
    gcn-karate's, set to window as such a run had it) loads, selected as train.select now."""
    old = Path(__file__).resolve().parent / "data" / "old_runs" / "gcn-karate"
    run_dir = tmp_path / "gcn-karate"
    shutil.copytree(old, run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["selection"] == "accuracy"      # as the earlier version wrote it
    config["model"].update(selection="window", select_window=5)
    (run_dir / "config.json").write_text(json.dumps(config))
    run = ann.load(run_dir)
    assert (run.config.train.select, run.config.train.select_window) == ("window", 5)
    assert run.task.name == "node_classify"
    test = run.evaluate("test")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(test) == set(summary["test"])
    assert test == pytest.approx(summary["test"], abs=1e-6)
    # and the old config as written (selection=accuracy) is the task's own metric
    config["model"].update(selection="accuracy", select_window=10)
    migrated = RunConfig.from_dict(config)
    assert (migrated.train.select, migrated.train.select_window) == ("metric", 10)


def test_cv_protocol_bad_values_cli():
    fails_cleanly(ann_cli("train", "gin-mutag", "data.cv_protocol=paper", check=False),
                  "data.cv_protocol")
    fails_cleanly(ann_cli("train", "gin-sbm", "data.cv_protocol=xu2019", check=False),
                  "data.cv_protocol")


def test_xu2019_protocol_validates_on_the_test_fold(tmp_path):
    """On MUTAG under data.cv_protocol=xu2019 the last validation line IS the test accuracy of
    the final model: the validation split is the test fold (the protocol reads it)."""
    real_data("tudataset")
    run = ann.train("gin-mutag", {"train.epochs": 3, "train.threads": 1,
                                  "data.cv_protocol": "xu2019", "train.select": "last",
                                  "data.fold": 2}, out=tmp_path / "run", quiet=True)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
            if line]
    val = [r for r in rows if r["split"] == "val"]
    assert len(val) == 3 and val[-1]["accuracy"] == run.summary["test"]["accuracy"]
    assert run.summary["steps"] == 3 * (169 // 32)           # 9 folds train: 169 graphs


def test_best_mean_epoch():
    bench = benchmark_module("recipes")
    curves = [{1: 0.5, 2: 0.9, 3: 0.7}, {1: 0.6, 2: 0.7, 3: 0.9, 4: 1.0}]
    best, mean = bench.best_mean_epoch(curves)                 # epochs all curves have: 1-3
    assert best == 2 and mean == pytest.approx([0.55, 0.8, 0.8])   # first of a tie


# --- the sparse first layer (Kipf & Welling's sparse dropout and matmul) ------------------------

def _bag_of_words(n=40, f=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, f, generator=g) < 0.02).float()
    x[0, 0] = 1.0
    return x / x.sum(1, keepdim=True).clamp(min=1)


@pytest.mark.parametrize("name", ["gcn", "gat"])
def test_sparse_input_is_the_same_function(name):
    x = _bag_of_words()
    edge_index = random_graph(40, 1, torch.Generator().manual_seed(1))[1]   # loops, repeats
    torch.manual_seed(0)
    sparse = create_model(name, "tiny", in_channels=200, num_classes=3).eval()
    dense = create_model(name, "tiny", in_channels=200, num_classes=3, sparse_input=False).eval()
    dense.load_state_dict(sparse.state_dict())
    assert sparse.state_dict().keys() == dense.state_dict().keys()
    out_s, out_d = sparse(x, edge_index), dense(x, edge_index)
    torch.testing.assert_close(out_s, out_d, atol=1e-5, rtol=1e-5)
    out_s.square().sum().backward()
    out_d.square().sum().backward()
    for (k, a), b in zip(sparse.named_parameters(), dense.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=k)


def test_feature_dropout_keeps_zeros_and_scales():
    x = _bag_of_words(200, 300)
    drop = mp.FeatureDropout(0.5).train()
    torch.manual_seed(0)
    out = drop(x)
    assert out.layout == torch.sparse_csr
    dense = out.to_dense()
    assert torch.all(dense[x == 0] == 0)
    kept = dense[x != 0] != 0
    torch.testing.assert_close(dense[x != 0][kept], 2 * x[x != 0][kept])
    assert 0.4 < kept.float().mean() < 0.6
    assert mp.FeatureDropout(0.5)(torch.randn(5, 4)).layout == torch.strided   # dense stays dense


@pytest.mark.parametrize("layer", ["gcn", "gat"])
def test_sparse_layers_match_pyg(layer):
    pyg = pytest.importorskip("torch_geometric.nn")
    x = _bag_of_words()
    edge_index = torch.randint(0, 40, (2, 120), generator=torch.Generator().manual_seed(2))
    if layer == "gcn":
        ref, ours = pyg.GCNConv(200, 7), mp.GCNConv(200, 7)
        ours.lin.weight.data.copy_(ref.lin.weight)
        ours.bias.data.copy_(ref.bias)
    else:
        ref, ours = pyg.GATConv(200, 4, heads=3), mp.GATConv(200, 4, heads=3)
        ours.load_state_dict({"lin.weight": ref.lin.weight, "att_src": ref.att_src,
                              "att_dst": ref.att_dst, "bias": ref.bias})
    torch.nn.init.normal_(ref.bias)
    ours.bias.data.copy_(ref.bias)
    xs = mp.sparse_features(x)
    assert xs is not None and xs.layout == torch.sparse_csr
    torch.testing.assert_close(ours(xs, edge_index), ref(x, edge_index), atol=1e-5, rtol=1e-5)


def test_sparse_features_declines_dense_or_trainable():
    assert mp.sparse_features(torch.randn(10, 10)) is None
    assert mp.sparse_features(_bag_of_words().requires_grad_()) is None
    assert mp.sparse_features(_bag_of_words()) is not None
