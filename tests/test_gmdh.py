"""GMDH (Ivakhnenko 1971): neurons against numpy least squares, recovering a quadratic, COMBI,
constant and duplicate columns, the readable formula, recipes through the API, bad input."""

import numpy as np
import pytest
import torch

import ann
from ann.data import ArrayDataset
from ann.errors import AnnError
from ann.registry import create_model
from helpers import ann as ann_cli
from helpers import fails_cleanly


def _data(n=300, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = 2.0 + 1.5 * x[:, 1] - 0.8 * x[:, 1] * x[:, 3] + 0.5 * x[:, 3] ** 2
    return x, y


def test_first_layer_neuron_equals_numpy_least_squares():
    x, y = _data()
    model = create_model("gmdh", in_features=5, max_layers=1, ridge=0.0, refit=True)
    model.fit(ArrayDataset(x, y))
    i, j = (int(v) for v in model.pairs[0, 0])
    z = ((x - x.mean(0)) / x.std(0)).double().numpy()
    t = ((y - y.mean()) / y.std()).double().numpy()
    a, b = z[:, i], z[:, j]
    design = np.stack([np.ones_like(a), a, b, a * b, a * a, b * b], 1)
    want = np.linalg.lstsq(design, t, rcond=None)[0]
    np.testing.assert_allclose(model.coefs[0, 0].double().numpy(), want, rtol=1e-4, atol=1e-5)
    assert {i, j} == {1, 3}                      # the pair that generated the data


def test_recovers_a_quadratic_and_prints_it():
    x, y = _data()
    model = create_model("gmdh", in_features=5)
    records = model.fit(ArrayDataset(x[:200], y[:200]))
    pred = model(x[200:])
    r2 = 1 - ((pred - y[200:]) ** 2).sum() / ((y[200:] - y[200:].mean()) ** 2).sum()
    assert r2 > 0.999
    assert any(r["stage"].startswith("layer") for r in records)
    text = model.describe(["a", "b", "c", "d", "e"])
    assert "b'" in text and "d'" in text and "layer diagram" in text and "-> n1." in text


def test_combi_picks_the_true_subset():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200, 4, generator=g)
    y = 3 * x[:, 0] - 2 * x[:, 2] + 0.01 * torch.randn(200, generator=g)
    model = create_model("gmdh", "combi", in_features=4)
    model.fit(ArrayDataset(x, y))
    w = model.coefs[0, 0, 1:].abs()
    assert w[0] > 0.5 and w[2] > 0.5 and w[1] < 0.02 and w[3] < 0.02, w
    assert "COMBI" in model.describe()


def test_constant_and_duplicate_columns_are_dropped_not_a_crash():
    x, y = _data()
    x = torch.cat([x, torch.full((len(x), 1), 7.0), x[:, 1:2]], 1)      # constant, duplicate
    model = create_model("gmdh", in_features=7)
    records = model.fit(ArrayDataset(x, y))
    assert "x5 constant" in records[0]["dropped"] and "x6 duplicates x1" in records[0]["dropped"]
    assert torch.isfinite(model(x)).all()
    with pytest.raises(AnnError, match="informative inputs"):
        create_model("gmdh", in_features=2).fit(ArrayDataset(torch.ones(50, 2), torch.randn(50)))


def test_gmdh_recipes_through_the_api(tmp_path, conv):
    run = ann.train("gmdh-diabetes", conv.overrides, out=tmp_path / "d", quiet=True)
    assert run.summary["test"]["r2"] >= 0.35, run.summary["test"]
    assert "layer diagram" in (run.path / "model.txt").read_text()
    again = ann.load(run.path)                     # layers sized from the weights
    assert again.evaluate("test")["r2"] == pytest.approx(run.summary["test"]["r2"], abs=1e-6)
    run = ann.train("gmdh-breast-cancer", conv.overrides, out=tmp_path / "b", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.9
    run = ann.train("gmdh-sunspots", {"train.threads": 1}, out=tmp_path / "s", quiet=True)
    assert run.summary["test"]["rmse"] < run.summary["test"]["naive_rmse"]
    assert "y[t-1]'" in (run.path / "model.txt").read_text()


def test_bad_input_through_the_cli(tmp_path):
    fails_cleanly(ann_cli("train", "gmdh-breast-cancer", "model.algorithm=combi", "--out",
                          tmp_path / "c", check=False), "COMBI", "too many")
