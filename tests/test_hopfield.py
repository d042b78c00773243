"""Hopfield networks: storage rules against independent formulas, energy descent, the modern
update against torch's attention, capacity on random patterns, the recipe and `ann predict`."""

import json

import numpy as np
import pytest
import torch

import ann
from ann.errors import AnnError
from ann.registry import create_model
from ann.tasks.recall import flip
from helpers import ann as ann_cli
from helpers import fails_cleanly


def _patterns(k, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.where(torch.rand(k, n, generator=g) < 0.5, 1.0, -1.0)


def test_hebbian_and_pseudoinverse_weights_match_their_formulas():
    xi = _patterns(6, 40)
    x = xi.numpy().astype(np.float64)
    hebb = create_model("hopfield", n_units=40, rule="hebbian")
    hebb.store(xi)
    want = x.T @ x / 40
    np.fill_diagonal(want, 0)
    np.testing.assert_allclose(hebb.weight.numpy(), want, atol=1e-6)
    proj = create_model("hopfield", n_units=40, rule="pseudoinverse")
    proj.store(xi)
    want = np.linalg.pinv(x) @ x                        # the projection onto the patterns' span
    np.fill_diagonal(want, 0)
    np.testing.assert_allclose(proj.weight.numpy(), want, atol=1e-5)
    assert torch.allclose(proj.weight, proj.weight.T, atol=1e-6)


@pytest.mark.parametrize("rule", ["hebbian", "pseudoinverse"])
def test_asynchronous_recall_never_raises_the_energy(rule):
    net = create_model("hopfield", n_units=50, rule=rule, max_sweeps=20)
    xi = _patterns(12, 50, seed=1)
    net.store(xi)
    g = torch.Generator().manual_seed(0)
    out, energies = net.recall(flip(xi, 0.3, g), g, trace=True)       # (B, sweeps + 1)
    assert (energies[:, 1:] <= energies[:, :-1] + 1e-5).all()
    assert torch.equal(net.step(out, g), out)                          # it stopped at a fixed point


def test_pseudoinverse_keeps_correlated_patterns_as_fixed_points():
    base = _patterns(1, 64, seed=2)
    g = torch.Generator().manual_seed(3)
    xi = torch.where(torch.rand(20, 64, generator=g) < 0.15, -base, base)  # 20 close relatives
    net = create_model("hopfield", n_units=64, rule="pseudoinverse")
    net.store(xi)
    assert torch.equal(net.recall(xi, g), xi)
    hebb = create_model("hopfield", n_units=64, rule="hebbian")
    hebb.store(xi)
    assert not torch.equal(hebb.recall(xi, g), xi)      # Hebbian storage merges them


def test_modern_update_is_attention_over_the_stored_patterns():
    """One modern Hopfield update (Ramsauer et al. 2020, eq. 3) equals torch's scaled dot-product
    attention with the state as query and the patterns as keys and values, scale beta."""
    net = create_model("hopfield", n_units=32, rule="modern", beta=0.7)
    xi = _patterns(9, 32, seed=4)
    net.store(xi)
    s = torch.randn(5, 32, generator=torch.Generator().manual_seed(5))
    theirs = torch.nn.functional.scaled_dot_product_attention(
        s[None, None], xi[None, None], xi[None, None], scale=0.7)[0, 0]
    torch.testing.assert_close(net.step(s), theirs, rtol=1e-5, atol=1e-6)


def test_hebbian_capacity_on_random_patterns():
    """Amit et al. 1985: about 0.138 N random patterns; here N = 200 from 5% noise."""
    net = create_model("hopfield", n_units=200, rule="hebbian", update="sync", max_sweeps=30)
    shares = {}
    for k in (10, 60):                                 # 0.05 N and 0.3 N
        xi = _patterns(k, 200, seed=k)
        net.store(xi)
        g = torch.Generator().manual_seed(0)
        shares[k] = (net.recall(flip(xi, 0.05, g), g) == xi).all(1).float().mean().item()
    assert shares[10] >= 0.9 and shares[60] <= 0.2, shares
    modern = create_model("hopfield", n_units=200, rule="modern")
    xi = _patterns(60, 200, seed=60)
    modern.store(xi)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(modern.recall(flip(xi, 0.05, g), g), xi)      # far past 0.138 N


def test_recipe_trains_reports_and_predicts(tmp_path):
    run = ann.train("hopfield-digits", {"train.threads": 1}, out=tmp_path / "h", quiet=True)
    t = run.summary["test"]
    assert t["recall"] >= 0.9 and t["recall"] + t["other_memory"] + t["spurious"] == pytest.approx(1)
    for name in ("recall.png", "capacity.png", "capacity.json", "curves.png"):
        assert (tmp_path / "h" / name).exists(), name
    curve = json.loads((tmp_path / "h" / "capacity.json").read_text())
    assert curve["modern"][-1] == 1.0 and curve["hebbian"][-1] < 0.1
    again = ann.load(run.path)                     # the stored patterns come back from the weights
    assert again.evaluate("test")["recall"] == pytest.approx(t["recall"])
    # a seven with 8 of its 64 units flipped, on the dataset's raw scale (0-16)
    from ann.data.patterns import digit_patterns

    seven = digit_patterns()[7].clone()
    seven[:8] *= -1
    np.save(tmp_path / "seven.npy", ((seven + 1) * 8).view(1, 8, 8).numpy())
    out = ann_cli("predict", tmp_path / "h", tmp_path / "seven.npy", "--json").stdout
    assert json.loads(out)["recalled"] == "7"
    np.save(tmp_path / "wide.npy", np.zeros((1, 8, 9)))
    fails_cleanly(ann_cli("predict", tmp_path / "h", tmp_path / "wide.npy", check=False), "wide.npy")
    fails_cleanly(ann_cli("generate", tmp_path / "h", check=False), "does not generate",
                  "ann predict")


def test_bad_patterns_fail_in_one_line():
    net = create_model("hopfield", n_units=16)
    with pytest.raises(AnnError, match="fit it first"):
        net.recall(_patterns(1, 16))
    with pytest.raises(AnnError, match="n_units=16"):
        net.store(_patterns(2, 20))
