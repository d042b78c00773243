"""PNN and GRNN (Specht 1990, 1991): the kernel sums against a direct computation, chunking,
sigma by cross-validation, runs through the API and the CLI, and bad input."""

import math

import numpy as np
import pytest
import torch

import ann
from ann.data import ArrayDataset
from ann.errors import AnnError
from ann.registry import create_model
from helpers import ann as ann_cli
from helpers import fails_cleanly


def _blobs(n=60, d=3, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(classes, d, generator=g)[y] * 2 + torch.randn(n, d, generator=g)
    return ArrayDataset(x, y)


def test_pnn_equals_specht_formula():
    """Scores = log(h_c l_c / n_c * sum_k exp(-|x - x_k|^2 / 2 sigma^2)), computed here with
    plain numpy loops."""
    train, query = _blobs(30), _blobs(7, seed=1)
    model = create_model("pnn", in_features=3, num_classes=3, sigma=0.7, losses=(1.0, 2.0, 1.0))
    model.fit(train)
    x, y = train.x.double().numpy(), train.y.numpy()
    want = np.zeros((7, 3))
    for i, q in enumerate(query.x.double().numpy()):
        for c in range(3):
            members = x[y == c]
            dens = np.exp(-((members - q) ** 2).sum(1) / (2 * 0.7 ** 2)).sum() / len(members)
            want[i, c] = math.log((len(members) / len(y)) * [1.0, 2.0, 1.0][c] * dens)
    got = model(query.x).detach().double().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_chunking_does_not_change_the_output():
    train, query = _blobs(50), _blobs(9, seed=2)
    big = create_model("pnn", in_features=3, num_classes=3, sigma=0.5)
    small = create_model("pnn", in_features=3, num_classes=3, sigma=0.5, chunk=4)
    big.fit(train)
    small.fit(train)
    torch.testing.assert_close(big(query.x), small(query.x), rtol=1e-5, atol=1e-5)
    # no density underflows to zero far from the data: the scores stay finite
    assert torch.isfinite(big(query.x * 50)).all()


def test_grnn_equals_nadaraya_watson():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 2, generator=g)
    y = torch.sin(x[:, 0]) + x[:, 1]
    model = create_model("grnn", in_features=2, sigma=0.4, chunk=7)
    model.fit(ArrayDataset(x, y))
    q = torch.randn(5, 2, generator=g)
    w = np.exp(-((q.double().numpy()[:, None] - x.double().numpy()[None]) ** 2).sum(-1) / (2 * 0.16))
    want = (w * y.double().numpy()).sum(1) / w.sum(1)
    np.testing.assert_allclose(model(q).detach().double().numpy(), want, rtol=1e-4, atol=1e-4)


def test_sigma_is_chosen_by_cross_validation_and_per_feature_refines_it():
    train = _blobs(90)
    model = create_model("pnn", in_features=3, num_classes=3, grid=8)
    records = model.fit(train)
    grid = [r for r in records if "loo_error" in r]
    assert len(grid) == 8
    chosen = next(r["sigma"] for r in records if r["stage"] == "chosen")
    best = min(grid, key=lambda r: (r["loo_error"], r["loo_ce"]))
    assert chosen == pytest.approx(best["sigma"])
    per = create_model("pnn", "per-feature", in_features=3, num_classes=3, grid=8, refine_steps=20)
    per.fit(train)
    assert per.log_sigma.shape == (3,) and per.log_sigma.std() > 0


def test_empty_class_and_zero_sigma_are_clear_errors():
    with pytest.raises(AnnError, match="class 3 has no training examples"):
        create_model("pnn", in_features=3, num_classes=4).fit(_blobs(30))
    with pytest.raises(AnnError, match="greater than 0"):
        create_model("pnn", in_features=3, sigma=0.0)


def test_bad_input_through_the_cli(tmp_path):
    fails_cleanly(ann_cli("train", "pnn-iris", "model.sigma=0", "--out", tmp_path / "a",
                          check=False), "model.sigma", "greater than 0")


def test_pnn_iris_trains_loads_and_evaluates(tmp_path, conv):
    run = ann.train("pnn-iris", conv.overrides, out=tmp_path / "r", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.9
    for name in ("config.json", "metrics.jsonl", "model.safetensors", "summary.json",
                 "curves.png", "confusion.png"):
        assert (run.path / name).exists(), name
    again = ann.load(run.path)                 # the stored patterns are sized from the weights
    assert len(again.model.patterns) == len(ann.load_dataset("iris", "train"))
    assert again.evaluate("test")["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])


def test_grnn_diabetes_reaches_r2(tmp_path, conv):
    run = ann.train("grnn-diabetes", conv.overrides, out=tmp_path / "g", quiet=True)
    assert run.summary["test"]["r2"] >= 0.3, run.summary["test"]
    assert ann.load(run.path).evaluate("test")["r2"] == pytest.approx(run.summary["test"]["r2"],
                                                                      abs=1e-6)


def test_loader_sizes_empty_placeholders_and_nothing_else(tmp_path):
    """The general rule behind loading fitted runs: a tensor created empty takes the shape
    stored in the weights file; a non-empty tensor of another shape is still an error."""
    from ann.errors import CorruptFile
    from ann.train.checkpoint import load_weights, save_weights

    fitted = create_model("pnn", in_features=3, num_classes=3, sigma=0.5)
    fitted.fit(_blobs(30))
    save_weights(fitted, tmp_path / "w.safetensors")
    fresh = create_model("pnn", in_features=3, num_classes=3)
    assert fresh.patterns.shape == (0, 3)
    load_weights(fresh, tmp_path / "w.safetensors")
    assert fresh.patterns.shape == (30, 3)
    torch.testing.assert_close(fresh(_blobs(5).x), fitted(_blobs(5).x))
    other = create_model("pnn", in_features=3, num_classes=4)        # starts (5,) not (4,)
    with pytest.raises((CorruptFile, RuntimeError), match="size mismatch|does not fit"):
        load_weights(other, tmp_path / "w.safetensors")
