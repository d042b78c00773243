"""Kolmogorov-Arnold networks (issue 27): the B-spline basis against pykan's, grid update keeps
the function, pruning removes edges, the symbolic read-out recovers known curves, and the toy
recipe trained at a small budget."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

import ann
from ann.errors import AnnError
from ann.models.kan.kan import KANLayer, bspline_basis, extended_grid, fit_symbolic
from ann.registry import create_model

TINY = {"train.threads": 1}


def _pykan_spline():
    """pykan's ``kan/spline.py`` (it imports only torch), loaded from the installed package
    without running the package's ``__init__``, which needs pandas."""
    spec = importlib.util.find_spec("kan")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pykan is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "spline.py"
    module_spec = importlib.util.spec_from_file_location("pykan_spline", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("grid,order", [(5, 3), (7, 2), (3, 1), (10, 3)])
def test_basis_equals_pykans_b_batch(grid, order):
    """The same extended grid, the same inputs: ann's Cox-de Boor basis equals pykan's
    ``kan.spline.B_batch`` to 1e-6 (inputs inside and a little outside the range)."""
    spline = _pykan_spline()
    g = torch.Generator().manual_seed(grid)
    points = torch.sort(torch.rand(3, grid + 1, generator=g) * 4 - 2, dim=1).values
    points[:, 0], points[:, -1] = -2.0, 2.0
    knots = extended_grid(points, order)                                    # (3, G+1+2k)
    peer_knots = spline.extend_grid(points, k_extend=order)
    torch.testing.assert_close(knots, peer_knots)
    x = torch.rand(50, 3, generator=g) * 4.4 - 2.2                          # (B, n)
    ours = bspline_basis(x.double(), knots.double(), order)
    theirs = spline.B_batch(x.double(), peer_knots.double(), k=order)
    assert ours.shape == theirs.shape == (50, 3, grid + order)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)


def test_basis_is_a_partition_of_unity_inside_the_grid():
    knots = extended_grid(torch.linspace(-1, 1, 6)[None].double(), 3)
    x = torch.linspace(-0.999, 0.999, 101, dtype=torch.float64)[:, None]
    torch.testing.assert_close(bspline_basis(x, knots, 3).sum(-1), torch.ones(101, 1,
                               dtype=torch.float64))


def test_grid_update_keeps_the_function():
    """Inputs on [-0.3, 0.9], away from the starting grid [-1, 1]: after the update each grid
    spans the samples' quantiles and the network's outputs on them barely move."""
    torch.manual_seed(0)
    model = create_model("kan", in_features=2, hidden=(4,), grid=5, noise_scale=1.0).double()
    x = (torch.rand(400, 2) * 1.2 - 0.3).double()
    before = model(x)
    model.update_grid(x)
    knots = model.layers[0].knots
    order = model.config.order
    assert knots[:, order].tolist() == pytest.approx(x.min(0).values.tolist(), abs=1e-12)
    assert knots[:, -order - 1].tolist() == pytest.approx(x.max(0).values.tolist(), abs=1e-12)
    after = model(x)
    scale = before.std().item()
    assert (after - before).abs().max().item() < 0.05 * scale
    assert (after - before).abs().mean().item() < 0.01 * scale


def test_pruning_removes_weak_edges_only():
    torch.manual_seed(0)
    model = create_model("kan", in_features=3, hidden=(2,), grid=4)
    with torch.no_grad():      # edge 2 -> 1 of the first layer does (almost) nothing
        model.layers[0].scale_base[2, 1] = 0.0
        model.layers[0].scale_spline[2, 1] = 1e-6
    x = torch.rand(200, 3) * 2 - 1
    scores = model.edge_scores(x)
    assert scores[0][2, 1] < 1e-5 < scores[0].flatten().sort().values[1]
    before, alive = model(x), model.edges_alive()
    assert model.prune(x, threshold=1e-4) == 1
    assert model.edges_alive() == alive - 1 and model.layers[0].mask[2, 1] == 0
    torch.testing.assert_close(model(x), before, atol=1e-5, rtol=0)
    assert model.prune(x, threshold=1e-4) == 0                    # nothing more to remove


def _edge_set_to(curve, grid=20):
    """A one-edge KAN whose spline is fitted (least squares, the basis alone) to ``curve`` on
    [-1, 1] and whose SiLU branch is off."""
    layer = KANLayer(1, 1, grid, 3, (-1.0, 1.0), 0.1, 0.02)
    t = torch.linspace(-1, 1, 400)[:, None]
    basis = layer.basis(t)[:, 0]                                            # (N, G+k)
    coef = torch.linalg.lstsq(basis, curve(t))[0]                          # (G+k, 1)
    with torch.no_grad():
        layer.coef.copy_(coef.T[None])
        layer.scale_base.zero_()
        layer.scale_spline.fill_(1.0)
    model = create_model("kan", in_features=1, hidden=(), grid=grid)
    model.layers[0] = layer
    return model


@pytest.mark.parametrize("name,curve", [("sin", lambda t: 0.8 * torch.sin(math.pi * t) + 0.1),
                                        ("x^2", lambda t: 2 * t ** 2 - 0.5),
                                        ("exp", lambda t: torch.exp(1.5 * t))])
def test_symbolic_read_out_recovers_the_edges_function(name, curve):
    fit = _edge_set_to(curve).symbolic(0, 0, 0)
    assert fit.name == name and fit.r2 > 0.9999, str(fit)
    if name == "sin":               # a sin(b x + c) + d, up to the sign and phase symmetries
        assert abs(abs(fit.b) - math.pi) < 0.01 and abs(abs(fit.a) - 0.8) < 0.01
        assert fit.d == pytest.approx(0.1, abs=0.01)


def test_symbolic_fit_of_noise_is_poor():
    t = torch.linspace(-1, 1, 200)
    y = torch.randn(200, generator=torch.Generator().manual_seed(0))
    assert fit_symbolic(t, y).r2 < 0.3


def test_refuses_wrong_edges_and_inputs():
    model = create_model("kan", "tiny")
    with pytest.raises(AnnError, match="layer 5"):
        model.symbolic(5, 0, 0)
    with pytest.raises(AnnError, match="edge 7->0"):
        model.symbolic(0, 7, 0)
    with pytest.raises(AnnError, match="in_features=2"):
        model(torch.zeros(3, 4))
    with pytest.raises(AnnError, match="grid_range"):
        create_model("kan", grid_range=(1.0, -1.0))


@pytest.mark.slow
def test_toy_recipe_converges_and_reads_out_sin(tmp_path):
    """kan-toy at 300 steps: test RMSE under 0.1 (the target's std is 1.6); then, pruned on the
    training inputs, an edge from x reads out as a sine."""
    run = ann.train("kan-toy", {**TINY, "train.max_steps": 300, "train.eval_every": 300},
                    out=tmp_path / "k", quiet=True)
    assert run.summary["test"]["rmse"] < 0.1
    x = torch.rand(500, 2, generator=torch.Generator().manual_seed(3)) * 2 - 1
    model = run.model.eval()
    fits = [model.symbolic(0, 0, j, x) for j in range(model.config.hidden[0])]
    scores = model.edge_scores(x)[0][0]
    strongest = fits[int(scores.argmax())]
    assert strongest.name == "sin" and strongest.r2 > 0.99, [str(f) for f in fits]
    # the grids followed the training inputs while training (updates up to step 50)
    knots = model.layers[1].knots
    assert not torch.allclose(knots, extended_grid(torch.linspace(-1, 1, 6)[None], 3).expand_as(knots))
