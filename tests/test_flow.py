"""RealNVP (issue 27): the log-likelihood against an independent change of variables (the
autograd Jacobian and torch.distributions), invertibility, the density task and its verbs, and
the moons recipe trained at a small budget."""

import math

import pytest
import torch

import ann
from ann.api import use
from ann.errors import AnnError
from ann.registry import create_model
from ann.tasks import get_task

TINY = {"train.threads": 1}


def _started(model, x):
    """The model with its ActNorm layers started from ``x`` (a training forward), then eval."""
    model.train()
    model.log_prob(x)
    return model.eval()


@pytest.mark.parametrize("features,actnorm", [(2, True), (5, True), (4, False)])
def test_log_prob_is_the_change_of_variables(features, actnorm):
    """log p(x) = log N(f(x); 0, I) + log|det J_f(x)|, J from torch.func.jacrev (autograd,
    independent of the coupling code's own log-determinant) and the base density from
    torch.distributions."""
    torch.manual_seed(0)
    model = create_model("realnvp", in_features=features, couplings=4, hidden=8, actnorm=actnorm)
    x = torch.randn(6, features) * 1.5 + 0.3
    _started(model, torch.randn(32, features) * 2)
    m = model.double()
    zeros, eye = torch.zeros(features, dtype=torch.float64), torch.eye(features, dtype=torch.float64)
    base = torch.distributions.MultivariateNormal(zeros, eye)
    want = []
    for row in x.double():
        jac = torch.func.jacrev(lambda v: m.encode(v[None])[0][0])(row)       # (D, D)
        want.append(base.log_prob(m.encode(row[None])[0][0]) + torch.linalg.slogdet(jac)[1])
    got = model.log_prob(x.double())
    torch.testing.assert_close(got, torch.stack(want), atol=1e-5, rtol=1e-5)


def test_image_flow_log_det_matches_autograd_and_inverts():
    """Checkerboard and channel couplings around a squeeze: the summed log-determinant equals
    log|det J| of the whole map (16 pixels), and decoding inverts encoding."""
    torch.manual_seed(1)
    model = create_model("realnvp", in_features=0, in_channels=1, image_size=4, scales=1,
                         couplings=2, hidden=4, depth=1).double()
    y = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    _started(model, torch.randn(8, 1, 4, 4, dtype=torch.float64))
    z, logdet = model.encode(y)
    for k in range(3):
        jac = torch.func.jacrev(lambda v: model.encode(v.view(1, 1, 4, 4))[0].flatten())(y[k].flatten())
        assert logdet[k].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-8)
    torch.testing.assert_close(model.decode(z), y, atol=1e-10, rtol=0)


def test_image_log_prob_counts_the_dequantization_and_logit_jacobians():
    """For images the log-likelihood is of the discrete image: with every coupling the
    identity (ActNorm off, s = t = 0), log P(k) = sum over pixels of
    log N(logit(v)) + log|d logit(v)/du| - log 256, v = alpha + (1 - 2 alpha) (k + 1/2) / 256."""
    model = create_model("realnvp", in_features=0, in_channels=1, image_size=4, scales=1,
                         couplings=2, hidden=4, depth=1, actnorm=False, mean=0.0, std=1.0).eval()
    for p in model.parameters():
        p.data.zero_()                       # s = t = 0: each coupling is the identity
    k = torch.randint(0, 256, (2, 1, 4, 4), generator=torch.Generator().manual_seed(0)).double()
    alpha = model.config.alpha
    v = alpha + (1 - 2 * alpha) * (k + 0.5) / 256
    y = torch.log(v) - torch.log1p(-v)
    normal = torch.distributions.Normal(0.0, 1.0)
    want = (normal.log_prob(y) + math.log(1 - 2 * alpha) - torch.log(v * (1 - v))
            - math.log(256)).flatten(1).sum(1)
    got = model.double().log_prob((k / 255).double())
    torch.testing.assert_close(got, want, atol=1e-8, rtol=0)


def test_samples_invert_and_task_figures():
    torch.manual_seed(0)
    model = create_model("realnvp", "tiny").eval()
    g = torch.Generator().manual_seed(0)
    s = model.sample(50, g)
    assert s.shape == (50, 2) and torch.isfinite(s).all()
    z, _ = model.encode(s)
    torch.testing.assert_close(model.decode(z), s, atol=1e-5, rtol=0)
    task = get_task("density")
    assert not task.is_higher_better("nll") and not task.is_higher_better("bits_per_dim")
    figures = task.evaluate(model, [(s, torch.zeros(50))])
    assert figures["bits_per_dim"] == pytest.approx(figures["nll"] / (2 * math.log(2)))
    images = create_model("realnvp", "digits").eval()
    pics = images.sample(4, g)
    assert pics.shape == (4, 1, 8, 8) and 0 <= pics.min() and pics.max() <= 1


def test_refuses_wrong_inputs():
    with pytest.raises(AnnError, match="divisible by 4"):
        create_model("realnvp", in_features=0, image_size=6, scales=2)
    with pytest.raises(AnnError, match="at least 2 features"):
        create_model("realnvp", in_features=1)
    with pytest.raises(AnnError, match="shape"):
        create_model("realnvp", in_features=2).log_prob(torch.zeros(3, 5))


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("flow") / "moons"
    return ann.train("realnvp-moons", {**TINY, "train.max_steps": 200, "train.eval_every": 200},
                     out=out, quiet=True)


@pytest.mark.slow
def test_moons_converges_in_a_small_budget(moons_run):
    # 200 steps: a Gaussian fitted to the moons scores 1.89 nats on the test points, the data's
    # noise floor is about 0.26
    assert moons_run.summary["test"]["nll"] < 0.8
    assert (moons_run.path / "density.png").exists()


@pytest.mark.slow
def test_generate_writes_samples(moons_run, tmp_path):
    answers = use(moons_run, "generate", n=20, out=str(tmp_path / "s.csv"))
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0] == "x0,x1" and len(rows) == 21 and answers[0].data["samples"] == 20
    use(moons_run, "generate", n=200, out=str(tmp_path / "s.png"))
    assert (tmp_path / "s.png").stat().st_size > 1000
    with pytest.raises(AnnError, match="--out"):
        use(moons_run, "generate", out=str(tmp_path / "s.txt"))


@pytest.mark.slow
def test_image_run_reports_bits_per_dim_and_generates_a_grid(tmp_path):
    """A tiny image flow on the 8x8 digits, two steps: the figures are in bits per dimension
    below the uniform model's log2(17), the report and `generate` write image grids."""
    run = ann.train("realnvp-digits", {**TINY, "train.max_steps": 2, "train.eval_every": 2,
                                       "model.couplings": 1, "model.hidden": 4},
                    out=tmp_path / "d", quiet=True)
    test = run.summary["test"]
    assert test["bits_per_dim"] == pytest.approx(test["nll"] / (64 * math.log(2)))
    assert 0 < test["bits_per_dim"] < math.log2(17) + 1
    assert (run.path / "samples.png").exists()
    answers = use(run, "generate", n=9, out=str(tmp_path / "g.png"))
    assert answers[0].data == {"samples": 9, "file": str(tmp_path / "g.png")}
    with pytest.raises(AnnError, match="--out"):
        use(run, "generate", out=str(tmp_path / "g.csv"))
