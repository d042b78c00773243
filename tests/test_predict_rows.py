"""``ann predict`` on new data for every family that predicts one thing per input: rows of a
table (classes, numbers, anomaly scores), the next values of a series, the unlabelled nodes of a
graph; ``--out`` CSV, printed lines and ``--json``; one line for each bad input, no file left."""

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import ann
from ann.api import load_split
from ann.cli import main
from helpers import fails_cleanly

COLOURS = ("red", "green", "blue")
KINDS = ("x", "y", "z")


def cli(capsys, *args):
    """``ann ARGS`` in this process: its exit status and what it printed."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def plants(tmp_path_factory):
    """90 rows: two numbers, a colour word (loosely tied to the kind), the kind to predict;
    columns in an order the prediction file will not keep."""
    rng = np.random.RandomState(0)
    rows = [[f"{rng.randn() + 2 * (i % 3):.3f}", COLOURS[(i % 3 + (rng.rand() < 0.3)) % 3],
             f"{rng.randn() - i % 3:.3f}", KINDS[i % 3]] for i in range(90)]
    return write_csv(tmp_path_factory.mktemp("plants") / "plants.csv",
                     ["a", "colour", "b", "kind"], rows)


@pytest.fixture(scope="module")
def pnn(plants, tmp_path_factory):
    return ann.train("pnn-iris", {"data.name": "table", "data.path": str(plants),
                                  "data.target": "kind"},
                     out=tmp_path_factory.mktemp("runs") / "pnn", quiet=True)


def encode(rows, info):
    """The test's own encoding of plant rows (a, colour, b): numbers, the colour one-hot over
    the run's categories, standardised with the run's recorded statistics."""
    levels = info["categories"]["colour"]
    raw = np.array([[float(r[0]), *(float(r[1] == c) for c in levels), float(r[2])]
                    for r in rows])
    assert info["feature_names"] == ["a", *(f"colour={c}" for c in levels), "b"]
    return torch.tensor((raw - np.array(info["mean"])) / np.array(info["std"]),
                        dtype=torch.float32)


def test_table_classes_as_csv_match_the_model_and_the_reported_accuracy(pnn, plants, tmp_path,
                                                                        capsys):
    _, rows = read_csv(plants)
    # the file read by name, not position: columns shuffled, the target dropped
    shuffled = write_csv(tmp_path / "new.csv", ["kind", "b", "a", "colour", "note"],
                         [[r[3], r[2], r[0], r[1], "n"] for r in rows])
    out = tmp_path / "pred.csv"
    done = cli(capsys, "predict", pnn.path, shuffled, "--out", out)
    assert done.returncode == 0, done.stderr
    header, got = read_csv(out)
    assert header == ["row", "class", "p(x)", "p(y)", "p(z)"]
    assert [int(r[0]) for r in got] == list(range(1, 91))
    probs = np.array([[float(v) for v in r[2:]] for r in got])
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert [r[1] for r in got] == [KINDS[i] for i in probs.argmax(1)]
    # the same numbers as the model on the test's own encoding of the rows
    expected = ann.load(pnn.path).predict(encode(rows, pnn.info)).numpy()
    assert np.allclose(probs, expected, atol=1e-6)
    # over the training file the accuracy is the row-weighted mean of the run's own figures
    # on its three splits (the test split's is the one training reported)
    right = sum(r[1] == row[3] for r, row in zip(got, rows))
    n = pnn.info["rows"]
    reported = (pnn.summary["test"]["accuracy"] * n["test"]
                + pnn.evaluate("train")["accuracy"] * n["train"]
                + pnn.evaluate("val")["accuracy"] * n["val"])
    assert right == round(reported)
    assert f"accuracy {right / 90:.4f} on the 90 rows" in done.stdout
    # printed lines and JSON lines: one per row, then the accuracy
    printed = cli(capsys, "predict", pnn.path, plants, "--top", "1").stdout.splitlines()
    assert len(printed) == 91 and printed[0].startswith(f"row 1: {got[0][1]}  ({got[0][1]} ")
    lines = [json.loads(x) for x in cli(capsys, "predict", pnn.path, plants, "--json").stdout
             .splitlines()]
    assert [x["row"] for x in lines[:-1]] == list(range(1, 91))
    assert lines[5]["probabilities"]["y"] == pytest.approx(probs[5, 1], abs=1e-5)
    assert lines[-1] == {"target": "kind", "scored": 90, "accuracy": pytest.approx(right / 90)}


def test_npy_rows_of_a_built_in_table(tmp_path, capsys):
    """A PNN on scikit-learn's iris reads .npy rows on the raw scale, in feature order."""
    from sklearn.datasets import load_iris

    run = ann.train("pnn-iris", out=tmp_path / "iris", quiet=True)
    bunch = load_iris()
    np.save(tmp_path / "rows.npy", bunch.data)
    lines = cli(capsys, "predict", run.path, tmp_path / "rows.npy", "--json").stdout.splitlines()
    got = [json.loads(x) for x in lines]
    assert len(got) == 150 and "accuracy" not in got[-1]
    names = list(bunch.target_names)
    assert np.mean([names.index(g["class"]) == t for g, t in zip(got, bunch.target)]) > 0.93
    one = json.loads(cli(capsys, "predict", run.path, tmp_path / "rows.npy", "--json")
                     .stdout.splitlines()[7])
    x = (bunch.data[7] - np.array(run.info["mean"])) / np.array(run.info["std"])
    p = run.predict(torch.tensor(x[None], dtype=torch.float32))[0]
    assert [one["probabilities"][c] for c in names] == pytest.approx(p.tolist(), abs=1e-6)


def test_table_regression(tmp_path, capsys):
    rng = np.random.RandomState(1)
    rows = []
    for i in range(80):
        a, b, colour = rng.randn(), rng.randn(), ("red", "blue")[i % 2]
        rows.append([f"{a:.3f}", f"{b:.3f}", colour,
                     f"{3 * a - b + (colour == 'red') + 0.1 * rng.randn():.3f}"])
    file = write_csv(tmp_path / "prices.csv", ["a", "b", "colour", "price"], rows)
    run = ann.train("grnn-diabetes", {"data.name": "table", "data.path": str(file),
                                      "data.target": "price"}, out=tmp_path / "grnn", quiet=True)
    done = cli(capsys, "predict", run.path, file, "--out", tmp_path / "p.csv")
    header, got = read_csv(tmp_path / "p.csv")
    assert header == ["row", "prediction"] and len(got) == 80
    pred = np.array([float(r[1]) for r in got])
    levels = run.info["categories"]["colour"]
    raw = np.array([[float(r[0]), float(r[1]), *(float(r[2] == c) for c in levels)] for r in rows])
    x = torch.tensor((raw - run.info["mean"]) / np.array(run.info["std"]), dtype=torch.float32)
    assert np.allclose(pred, run.predict(x).numpy(), rtol=1e-6, atol=1e-5)
    # squared error over the file = the run's split figures weighted by their rows
    truth = np.array([float(r[3]) for r in rows])
    n = run.info["rows"]
    sse = sum(run.summary["test"]["rmse"] ** 2 * n["test"] if s == "test" else
              run.evaluate(s)["rmse"] ** 2 * n[s] for s in ("train", "val", "test"))
    assert ((pred - truth) ** 2).sum() == pytest.approx(sse, rel=1e-4)
    assert "rmse" in done.stdout and "'price' value" in done.stdout
    printed = cli(capsys, "predict", run.path, file).stdout.splitlines()
    assert len(printed) == 81 and float(printed[0].split(": ")[1]) == pytest.approx(pred[0])


def test_autoencoder_anomaly_scores_of_table_rows(pnn, plants, tmp_path, capsys):
    run = ann.train("ae-anomaly-breast-cancer", {
        "data.name": "table", "data.path": str(plants), "data.target": "kind",
        "train.max_steps": 5, "train.eval_every": 5}, out=tmp_path / "ae", quiet=True)
    _, rows = read_csv(plants)
    got = [json.loads(x) for x in cli(capsys, "predict", run.path, plants, "--json")
           .stdout.splitlines()]
    assert [g["row"] for g in got] == list(range(1, 91))
    # the score is the reconstruction's mean squared error, computed here from the model
    x = encode(rows, run.info)
    with torch.no_grad():
        mse = ((run.model(x) - x) ** 2).mean(1).numpy()
    assert np.allclose([g["score"] for g in got], mse, rtol=1e-5)


def test_anomaly_scores_give_the_reported_auroc(tmp_path, capsys):
    """The breast-cancer detector's test rows written as a CSV with the scikit-learn feature
    names: the AUROC of the scores ann predict gives them is the one the run reported."""
    from sklearn.metrics import roc_auc_score

    run = ann.train("ae-anomaly-breast-cancer", {"train.max_steps": 30, "train.eval_every": 30},
                    out=tmp_path / "ae", quiet=True)
    test = load_split(run.config, "test")
    info = run.info
    raw = test.x.double().numpy() * np.array(info["std"]) + np.array(info["mean"])
    file = write_csv(tmp_path / "test.csv", info["feature_names"],
                     [[f"{v:.9g}" for v in r] for r in raw])
    cli(capsys, "predict", run.path, file, "--out", tmp_path / "scores.csv")
    _, got = read_csv(tmp_path / "scores.csv")
    auroc = roc_auc_score(test.y.numpy(), [float(r[1]) for r in got])
    assert auroc == pytest.approx(run.summary["test"]["auroc"], abs=2e-4)


def test_series_next_values(tmp_path, capsys):
    """GMDH fits a sine's lags exactly, so its iterated forecasts after a history are the
    sine's own continuation."""
    t = np.arange(200)
    values = 10 + 5 * np.sin(t / 5)
    series = write_csv(tmp_path / "sine.csv", ["year", "value"],
                       [[1800 + i, f"{v:.6f}"] for i, v in enumerate(values)])
    run = ann.train("gmdh-sunspots", {"data.path": str(series), "data.column": "value"},
                    out=tmp_path / "gmdh", quiet=True)
    history = write_csv(tmp_path / "history.csv", ["year", "value"],
                        [[1800 + i, f"{v:.6f}"] for i, v in enumerate(values[:150])])
    done = cli(capsys, "predict", run.path, history, "--steps", 6, "--json")
    got = [json.loads(x) for x in done.stdout.splitlines()]
    assert [g["step"] for g in got] == list(range(1, 7))
    assert np.allclose([g["value"] for g in got], values[150:156], atol=1e-3)
    cli(capsys, "predict", run.path, history, "--out", tmp_path / "next.csv")
    assert read_csv(tmp_path / "next.csv") == (["step", "value"],
                                                [["1", f"{got[0]['value']:.7g}"]])
    short = write_csv(tmp_path / "short.csv", ["value"], [[1.0], [2.0]])
    fails_cleanly(cli(capsys, "predict", run.path, short), "2 values", "at least")
    fails_cleanly(cli(capsys, "predict", run.path, history, "--column", "year2"),
                  "no column 'year2'")


def test_graph_unlabelled_nodes(tmp_path, capsys):
    rng = np.random.RandomState(0)
    n, hidden = 30, (4, 11, 25)
    y = np.arange(n) % 2
    nodes = [[-1 if i in hidden else y[i], *(f"{v:.3f}" for v in rng.randn(3) + 2 * y[i])]
             for i in range(n)]
    write_csv(tmp_path / "nodes.csv", ["#label", "f1", "f2", "f3"], nodes)
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if y[i] == y[j] and rng.rand() < .2]
    write_csv(tmp_path / "edges.csv", ["# source", "target"], edges)
    run = ann.train("gcn-custom", {"data.edges": str(tmp_path / "edges.csv"),
                                   "data.features": str(tmp_path / "nodes.csv"),
                                   "train.epochs": 0, "train.max_steps": 5,
                                   "train.eval_every": 5}, out=tmp_path / "gcn", quiet=True)
    got = [json.loads(x) for x in cli(capsys, "predict", run.path, "--json").stdout.splitlines()]
    assert [g["node"] for g in got] == list(hidden)
    graph = load_split(run.config, "test").graph
    with torch.no_grad():
        probs = torch.softmax(run.model(graph.x, graph.edge_index), -1)
    for g in got:
        assert sum(g["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert [g["probabilities"][c] for c in ("0", "1")] == pytest.approx(
            probs[g["node"]].tolist(), abs=1e-6)
    cli(capsys, "predict", run.path, "--out", tmp_path / "nodes_pred.csv")
    header, rows = read_csv(tmp_path / "nodes_pred.csv")
    assert header == ["node", "class", "p(0)", "p(1)"] and [r[0] for r in rows] == ["4", "11", "25"]


@pytest.mark.parametrize("change, words", [
    (lambda h, r: (h, r[:3] + [[r[3][0], "purple", *r[3][2:]]] + r[4:]),
     ["line 5", "'colour'", "'purple'", "blue, green, red"]),
    (lambda h, r: ([c for c in h if c != "b"], [[c for j, c in enumerate(x) if j != 2] for x in r]),
     ["no column 'b'", "a, colour, b"]),
    (lambda h, r: (h, r[:6] + [r[6][:3]] + r[7:]), ["line 8", "3 cells", "4 columns"]),
    (lambda h, r: (h, r[:1] + [["abc", *r[1][1:]]] + r[2:]),
     ["line 3", "'a'", "'abc'", "not a finite number"]),
    (lambda h, r: (h, r[:2] + [[r[2][0], "", *r[2][2:]]] + r[3:]), ["line 4", "missing"]),
    (lambda h, r: (h, r[:9] + [[*r[9][:3], "w"]] + r[10:]), ["line 11", "'w'", "x, y, z"]),
])
def test_bad_rows_fail_in_one_line_and_write_nothing(pnn, plants, tmp_path, capsys, change,
                                                     words):
    header, rows = read_csv(plants)
    file = write_csv(tmp_path / "bad.csv", *change(header, rows))
    out = tmp_path / "pred.csv"
    fails_cleanly(cli(capsys, "predict", pnn.path, file, "--out", out), "bad.csv", *words)
    assert [p for p in tmp_path.iterdir() if p.name != "cache"] == [file]   # cache: ANN_CACHE_DIR


def test_other_bad_inputs(pnn, plants, tmp_path, capsys):
    fails_cleanly(cli(capsys, "predict", pnn.path, plants, plants), "one file of rows")
    fails_cleanly(cli(capsys, "predict", pnn.path, tmp_path / "absent.csv"), "no such file")
    np.save(tmp_path / "wide.npy", np.zeros((2, 3)))
    fails_cleanly(cli(capsys, "predict", pnn.path, tmp_path / "wide.npy"), "shape (2, 3)",
                  "(N, 5)")
    fails_cleanly(cli(capsys, "predict", pnn.path, plants, "--out", plants), "input file")
    fails_cleanly(cli(capsys, "predict", pnn.path, plants, "--steps", 3), "--steps",
                  "does not apply")


def test_many_rows_go_through_the_model_in_batches(pnn, plants, tmp_path, capsys, monkeypatch):
    from ann.models.other.pnn import PNN

    _, rows = read_csv(plants)
    big = write_csv(tmp_path / "big.csv", ["a", "colour", "b"], [r[:3] for r in rows] * 28)
    seen, forward = [], PNN.forward
    monkeypatch.setattr(PNN, "forward", lambda self, x: seen.append(len(x)) or forward(self, x))
    cli(capsys, "predict", pnn.path, big, "--out", tmp_path / "big_pred.csv")
    assert seen == [1024, 1024, 472]
    _, got = read_csv(tmp_path / "big_pred.csv")
    assert len(got) == 2520 and [r[1] for r in got[:90]] == [r[1] for r in got[2430:]]


def test_missing_cells_imputed_as_in_training(plants, tmp_path, capsys):
    run = ann.train("pnn-iris", {"data.name": "table", "data.path": str(plants),
                                 "data.target": "kind", "data.missing": "impute"},
                    out=tmp_path / "pnn", quiet=True)
    info = run.info
    filled = [["", "", "NA"],
              [f"{info['mean'][0]!r}", info["modes"]["colour"], f"{info['mean'][-1]!r}"]]
    file = write_csv(tmp_path / "gaps.csv", ["a", "colour", "b"], [filled[0], filled[1]])
    got = [json.loads(x) for x in cli(capsys, "predict", run.path, file, "--json")
           .stdout.splitlines()]
    assert got[0]["probabilities"] == pytest.approx(got[1]["probabilities"], abs=1e-6)
