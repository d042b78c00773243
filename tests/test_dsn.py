"""Deep stacking network (Deng & Yu 2011): closed-form upper weights against numpy ridge
regression, the stacked inputs, a recipe through the API, bad input."""

import numpy as np
import pytest
import torch

import ann
from ann.data import ArrayDataset
from ann.registry import create_model
from helpers import ann as ann_cli
from helpers import fails_cleanly


def _blobs(n=120, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    return ArrayDataset(torch.randn(classes, d, generator=g)[y] * 2 + torch.randn(n, d, generator=g), y)


def test_upper_weights_are_the_ridge_solution():
    data = _blobs()
    model = create_model("dsn", in_features=6, num_classes=3, hidden=20, max_modules=1, ridge=1e-2)
    model.fit(data)
    m = model.stack[0]
    H = torch.sigmoid(data.x @ m.w + m.b).detach().double().numpy()
    T = np.eye(3)[data.y.numpy()]
    gram = H.T @ H
    lam = 1e-2 * np.diag(gram).mean()
    want = np.linalg.solve(gram + lam * np.eye(20), H.T @ T)
    np.testing.assert_allclose(m.u.detach().double().numpy(), want, rtol=1e-3, atol=1e-4)


def test_modules_see_the_input_and_every_lower_output():
    model = create_model("dsn", in_features=6, num_classes=3, hidden=10, max_modules=3, patience=3)
    model.fit(_blobs())
    assert model.depth >= 1
    for k in range(model.depth):
        assert model.stack[k].w.shape == (6 + 3 * k, 10)
    assert len(model.outputs(_blobs(6).x)) == model.depth


def test_dsn_digits_through_the_api(tmp_path):
    run = ann.train("dsn-digits", {"train.threads": 1, "model.hidden": 300,
                                   "model.refine_epochs": 1, "model.max_modules": 3},
                    out=tmp_path / "d", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.96, run.summary["test"]
    fit = [r for r in run.history if r.get("split") == "fit" and "modules" in r]
    assert fit and fit[0]["modules"] == 1
    again = ann.load(run.path)                     # module weights sized from the checkpoint
    assert again.model.depth == run.model.depth
    assert again.evaluate("test")["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])


def test_bad_input_through_the_cli(tmp_path):
    fails_cleanly(ann_cli("train", "dsn-digits", "model.in_features=10", "--out", tmp_path / "b",
                          check=False), "64 features", "model.in_features")
