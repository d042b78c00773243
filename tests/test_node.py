"""Neural ODEs (issue 27): ann's solvers and adjoint against torchdiffeq (an independent peer,
the same vector field handed to both), against analytic solutions, and the recipes at tiny size."""

import math

import pytest
import torch

import ann
from ann.errors import AnnError
from ann.models.node.solvers import odeint, odeint_adjoint
from ann.registry import create_model

torchdiffeq = pytest.importorskip("torchdiffeq")


class Field(torch.nn.Module):
    """A small MLP vector field that also reads the time, in float64."""

    def __init__(self, dim=3, hidden=16, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(dim + 1, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, dim)).double()

    def forward(self, t, y):
        return self.net(torch.cat([y, t.expand(*y.shape[:-1], 1)], -1))


def _start(seed=1):
    return torch.randn(4, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


T = torch.tensor([0.0, 0.3, 1.1, 2.0], dtype=torch.float64)


def test_dopri5_matches_torchdiffeq_at_the_same_tolerances():
    f, y0 = Field(), _start()
    for rtol, atol in ((1e-7, 1e-9), (1e-9, 1e-11)):
        ours = odeint(f, y0, T, method="dopri5", rtol=rtol, atol=atol)
        theirs = torchdiffeq.odeint(f, y0, T, method="dopri5", rtol=rtol, atol=atol)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    # and backwards in time
    back = T.flip(0)
    torch.testing.assert_close(odeint(f, y0, back, rtol=1e-7, atol=1e-9),
                               torchdiffeq.odeint(f, y0, back, rtol=1e-7, atol=1e-9),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", ["rk4", "euler"])
def test_fixed_step_solvers_match_torchdiffeq_on_the_same_grid(method):
    """torchdiffeq's rk4 is the 3/8 variant of Kutta's rule (ours is the classic one): on a
    grid of 0.05 the two agree far inside 1e-5; Euler is the same rule on both sides."""
    f, y0 = Field(), _start()
    t = torch.linspace(0, 2, 5, dtype=torch.float64)
    ours = odeint(f, y0, t, method=method, step_size=0.05)
    theirs = torchdiffeq.odeint(f, y0, t, method=method, options=dict(step_size=0.05))
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5 if method == "rk4" else 1e-12)


def _gradients(solve, f, y0, t):
    y0 = y0.clone().requires_grad_(True)
    f.zero_grad()
    out = solve(f, y0, t)
    (out.sin() * torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape)).sum().backward()
    return torch.cat([y0.grad.reshape(-1), *(p.grad.reshape(-1) for p in f.parameters())])


def test_adjoint_gradients_match_torchdiffeq_and_direct_backprop():
    f, y0 = Field(), _start()
    tol = dict(rtol=1e-8, atol=1e-10)
    ours = _gradients(lambda *a: odeint_adjoint(*a, **tol), f, y0, T)
    peer = _gradients(lambda *a: torchdiffeq.odeint_adjoint(*a, **tol), f, y0, T)
    direct = _gradients(lambda *a: odeint(*a, **tol), f, y0, T)
    assert ours.abs().max() > 1e-2                   # a gradient worth comparing
    torch.testing.assert_close(ours, peer, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours, direct, rtol=0, atol=1e-5)
    # the fixed-step adjoint too, against torchdiffeq's adjoint on the same grid
    rk4 = dict(method="rk4", step_size=0.01)
    ours = _gradients(lambda *a: odeint_adjoint(*a, **rk4), f, y0, T[[0, 2]])
    peer = _gradients(lambda *a: torchdiffeq.odeint_adjoint(
        *a, method="rk4", options=dict(step_size=0.01)), f, y0, T[[0, 2]])
    torch.testing.assert_close(ours, peer, rtol=0, atol=1e-5)


class Linear(torch.nn.Module):
    """dy/dt = A y, a damped rotation: y(t) = e^{-a t} R(w t) y0."""

    a, w = 0.3, 2.0

    def forward(self, t, y):
        a, w = self.a, self.w
        return torch.stack([-a * y[..., 0] + w * y[..., 1], -w * y[..., 0] - a * y[..., 1]], -1)

    def exact(self, y0, t):
        c, s = torch.cos(self.w * t), torch.sin(self.w * t)
        x = c[:, None] * y0[None, :, 0] + s[:, None] * y0[None, :, 1]
        y = -s[:, None] * y0[None, :, 0] + c[:, None] * y0[None, :, 1]
        return torch.exp(-self.a * t)[:, None, None] * torch.stack([x, y], -1)


def test_dopri5_meets_its_tolerance_on_an_analytic_solution_and_spends_more_for_less():
    f, y0 = Linear(), _start()[:, :2]
    t = torch.linspace(0, 5, 11, dtype=torch.float64)
    calls = []
    for rtol in (1e-3, 1e-6, 1e-9):
        count = [0]

        def counted(s, y, count=count):
            count[0] += 1
            return f(s, y)

        out = odeint(counted, y0, t, rtol=rtol, atol=rtol * 1e-2)
        error = (out - f.exact(y0, t)).abs().max().item()
        assert error < 10 * rtol, (rtol, error)      # global error within 10x the local bound
        calls.append(count[0])
    assert calls[0] < calls[1] < calls[2], calls


def test_rk4_is_fourth_order_and_euler_first():
    f, y0 = Linear(), _start()[:, :2]
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    exact = f.exact(y0, t)[-1]
    for method, order in (("rk4", 4), ("euler", 1)):
        e1, e2 = ((odeint(f, y0, t, method=method, step_size=h)[-1] - exact).abs().max().item()
                  for h in (0.02, 0.01))
        assert abs(math.log2(e1 / e2) - order) < 0.2, (method, e1 / e2)


def test_odenet_trains_through_the_adjoint():
    """Every parameter of ODE-Net, the downsampling stages' too (through dL/dh(0)), gets its
    gradient from the adjoint, pointing where backpropagation's does. (Not to 1e-5: the tiny
    net's ReLU and per-channel norms make its gradient sensitive to the solver's path;
    torchdiffeq's adjoint and direct gradients differ by 4% of their norm on it, measured.)"""
    torch.manual_seed(0)
    net = create_model("odenet", "tiny", method="dopri5", rtol=1e-5, atol=1e-5)
    x, y = net.example_batch(3, torch.Generator().manual_seed(0))
    grads = {}
    for adjoint in (False, True):
        net.config.adjoint = adjoint
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        assert all(p.grad.abs().sum() > 0 for p in net.parameters())
        grads[adjoint] = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    assert torch.nn.functional.cosine_similarity(grads[True], grads[False], 0) > 0.99


def test_latent_ode_adjoint_gradients_equal_backprop_through_the_solver():
    """The latent ODE's smooth (ELU) field: the adjoint's gradient of the ELBO, through eight
    output times, is backpropagation's to 1e-4 of its scale (measured: 7e-5 at rtol 1e-7)."""
    torch.manual_seed(0)
    net = create_model("latent-ode", "tiny", method="dopri5", rtol=1e-7, atol=1e-7).double()
    x, mask, _ = net.example_batch(4, torch.Generator().manual_seed(0))
    grads = {}
    for adjoint in (False, True):
        net.config.adjoint = adjoint
        net.zero_grad()
        terms = net.losses(x.double(), mask.double(), torch.Generator().manual_seed(0))
        terms["loss"].mean().backward()
        grads[adjoint] = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    scale = grads[False].abs().max().item()
    assert scale > 1
    torch.testing.assert_close(grads[True], grads[False], rtol=0, atol=1e-4 * scale)


def test_wrong_settings_end_in_one_line():
    with pytest.raises(AnnError, match="unknown ODE solver"):
        odeint(Linear(), torch.zeros(1, 2), torch.tensor([0.0, 1.0]), method="rk45")
    with pytest.raises(AnnError, match="must be one of"):
        create_model("odenet", "tiny", method="heun")
    net = create_model("latent-ode", "tiny")
    with pytest.raises(AnnError, match="latent-ode reads x of shape"):
        net(torch.zeros(2, 3, 2), torch.ones(2, 3))
    with pytest.raises(AnnError, match="observed=9 exceeds points=8"):
        create_model("latent-ode", "tiny", observed=9)


@pytest.mark.slow
def test_node_digits_recipe_learns_within_a_small_budget(tmp_path):
    """60 steps of a narrow ODE-Net (RK4, two steps: 8 evaluations a pass) on the digits."""
    run = ann.train("node-digits", {"train.threads": 1, "train.epochs": 0, "train.max_steps": 60,
                                    "train.lr": 1e-2, "model.width": 16, "model.method": "rk4",
                                    "model.step_size": 0.5}, out=tmp_path / "d", quiet=True)
    assert run.summary["test"]["accuracy"] > 0.35        # measured: 0.48 (chance: 0.1)
    assert run.summary["test"]["nfe"] == 8
    assert (tmp_path / "d" / "nfe.png").exists()


@pytest.mark.slow
def test_node_spiral_recipe_beats_the_mean_trajectory(tmp_path):
    """100 steps of the latent ODE extrapolate the test spirals better than the mean train
    trajectory does (the full recipe: 0.0083)."""
    run = ann.train("node-spiral", {"train.threads": 1, "train.epochs": 5, "model.rtol": 1e-2,
                                    "model.atol": 1e-2}, out=tmp_path / "s", quiet=True)
    assert run.summary["test"]["extrap_mse"] < 0.35      # measured: 0.27; the mean: 0.43
    assert (tmp_path / "s" / "trajectories.png").exists()
