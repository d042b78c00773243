"""Classic networks II (issue 26): the echo state network against reservoirpy and its own
closed-loop contract; the RBM against scikit-learn's BernoulliRBM and a hand computation; the
deep belief net's greedy pretraining and fine-tuning."""

import numpy as np
import pytest
import torch

import ann
from ann.errors import AnnError
from ann.registry import create_model, load_dataset
from ann.tasks import get_task


# --- echo state network ------------------------------------------------------------------------
def _esn(**kw):
    torch.manual_seed(0)
    return create_model("esn", **{"n_reservoir": 30, "leak": 0.4, "spectral_radius": 0.9,
                                  "bias_scaling": 0.3, **kw})


def test_reservoir_has_the_spectral_radius_and_density_asked_for():
    net = _esn(n_reservoir=200, spectral_radius=0.8, density=0.2)
    radius = np.abs(np.linalg.eigvals(net.w.double().numpy())).max()
    assert radius == pytest.approx(0.8, rel=1e-4)
    assert 0.17 < (net.w != 0).float().mean().item() < 0.23


def test_states_and_readout_match_reservoirpy_with_the_same_weights():
    """reservoirpy's Reservoir node given ann's W, W_in and bias gives the same states; its
    Ridge node fitted on the same [u, x] features gives the same readout (it centres the
    features instead of leaving the intercept unpenalised: the same solution)."""
    rpy = pytest.importorskip("reservoirpy.nodes")
    net = _esn(washout=10, ridge=1e-3)
    series = np.sin(0.3 * np.arange(120)) + 0.5 * np.sin(0.71 * np.arange(120))   # (T,)
    theirs = rpy.Reservoir(W=net.w.double().numpy(), Win=net.w_in.double().numpy(),
                           bias=net.bias.double().numpy(), lr=0.4).run(series[:, None])
    ours = net.states(torch.tensor(series, dtype=torch.float32)[None])[0].double().numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    from ann.data import ArrayDataset

    x = torch.tensor(series[:100], dtype=torch.float32)[None, :, None]   # one sequence
    y = torch.tensor(series[100:102], dtype=torch.float32)[None]
    net.fit(ArrayDataset(x, y))             # (mean 0, std 1: the series as it is)
    seq = np.concatenate([series[:100], series[100:102]])
    feats = np.hstack([seq[:-1, None], theirs[:101]])[10:]
    ridge = rpy.Ridge(ridge=1e-3).fit(feats, seq[1:, None][10:])
    np.testing.assert_allclose(net.w_out[1:].double().numpy(), ridge.Wout[:, 0], rtol=1e-3,
                               atol=1e-4)
    assert net.w_out[0].item() == pytest.approx(float(ridge.bias[0]), abs=1e-4)


def test_closed_loop_feeds_each_prediction_back():
    net = _esn(window=20, horizon=5)
    g = torch.Generator().manual_seed(0)
    from ann.data import ArrayDataset

    x, y, _ = net.example_batch(16, g)
    net.fit(ArrayDataset(x, y))
    window = x[:3]
    free = net.generate(window, 5)                                       # (3, 5)
    # step by step by hand: each forecast appended to the window, the reservoir re-read
    by_hand = window.clone()
    for _ in range(5):
        z = by_hand[..., 0]
        s = net.states(z)[:, -1]
        nxt = net.readout(z[:, -1], s)
        by_hand = torch.cat([by_hand, nxt[:, None, None]], 1)
    torch.testing.assert_close(free, by_hand[:, 20:, 0], rtol=1e-4, atol=1e-5)
    assert torch.equal(net(window), free)


def test_esn_learns_mackey_glass_far_past_the_ar_baseline():
    data = {s: load_dataset("mackey-glass", s, window=100, horizon=20) for s in ("train", "test")}
    info = data["train"].info
    net = _esn(n_reservoir=100, leak=0.3, spectral_radius=1.25, bias_scaling=0.2, ridge=1e-7,
               window=100, horizon=20, mean=info["mean"], std=info["std"])
    net.fit(data["train"])
    test = data["test"].batch(slice(0, 200, 4))
    out = get_task("freerun").evaluate(net, [test])
    # measured: nrmse 0.089, rmse a quarter of the AR(100) baseline's
    assert out["nrmse"] < 0.2 and out["rmse"] < 0.5 * out["ar_rmse"], out


def test_esn_recipe_runs_and_draws_the_free_run(tmp_path):
    run = ann.train("esn-sunspots", {"train.threads": 1}, out=tmp_path / "e", quiet=True)
    assert run.summary["test"]["rmse"] < run.summary["test"]["naive_rmse"]
    assert (tmp_path / "e" / "freerun.png").exists()
    again = ann.load(run.path)
    assert again.evaluate("test")["rmse"] == pytest.approx(run.summary["test"]["rmse"], rel=1e-5)


def test_esn_errors_are_one_line():
    net = _esn()
    with pytest.raises(AnnError, match="fit it first"):
        net(torch.zeros(1, 5, 1))
    net.fitted.fill_(True)
    with pytest.raises(AnnError, match=r"\(batch, length, 1\)"):
        net(torch.zeros(1, 5))


# --- restricted Boltzmann machine --------------------------------------------------------------
class _Uniforms:
    """A stand-in for numpy's RandomState whose ``uniform`` hands out prepared draws, so that
    scikit-learn's Gibbs sampling and ann's use the same random numbers."""

    def __init__(self, draws):
        self.draws = list(draws)

    def uniform(self, size=None):
        out = self.draws.pop(0)
        assert out.shape == tuple(size)
        return out


def _rbm_pair(n_visible=12, n_hidden=5, seed=0):
    from sklearn.neural_network import BernoulliRBM

    torch.manual_seed(seed)
    ours = create_model("rbm", image_size=1, in_channels=n_visible, n_hidden=n_hidden,
                        init_std=0.3)
    theirs = BernoulliRBM(n_components=n_hidden, learning_rate=0.1, random_state=3)
    theirs.components_ = ours.layer.weight.detach().double().numpy().copy()     # (H, V)
    theirs.intercept_hidden_ = ours.layer.h_bias.detach().double().numpy().copy()
    theirs.intercept_visible_ = ours.layer.v_bias.detach().double().numpy().copy()
    return ours, theirs


def test_pcd_update_matches_scikit_learn_with_the_same_gibbs_samples():
    """One persistent-CD step of scikit-learn's BernoulliRBM (its ``_fit``) against ann's: the
    same weights, the same chain, the same uniform draws; ann's update is autograd of the CD
    loss followed by plain SGD at lr / batch."""
    ours, theirs = _rbm_pair()
    with torch.no_grad():
        ours.layer.v_bias.normal_(0, 0.5)
        ours.layer.h_bias.normal_(0, 0.5)
    theirs.intercept_visible_ = ours.layer.v_bias.detach().double().numpy().copy()
    theirs.intercept_hidden_ = ours.layer.h_bias.detach().double().numpy().copy()
    rng = np.random.RandomState(7)
    v_pos = (rng.uniform(size=(8, 12)) < 0.4).astype(np.float64)
    chain_h = (rng.uniform(size=(8, 5)) < 0.5).astype(np.float64)      # the persistent chain
    u_v, u_h = rng.uniform(size=(8, 12)), rng.uniform(size=(8, 5))
    theirs.h_samples_ = chain_h.copy()
    theirs._fit(v_pos, _Uniforms([u_v, u_h]))
    layer = ours.layer.double()
    v_neg = layer.sample(layer.visible_probs(torch.tensor(chain_h)), uniform=torch.tensor(u_v))
    with torch.no_grad():               # the chain moves on to the negatives' hidden samples
        h_next = layer.sample(layer.hidden_probs(v_neg), uniform=torch.tensor(u_h))
    layer.cd_loss(torch.tensor(v_pos), v_neg).backward()
    with torch.no_grad():
        for p in layer.parameters():
            p -= 0.1 * p.grad                 # cd_loss is a batch mean: lr 0.1 is sklearn's lr/B * sum
    np.testing.assert_allclose(layer.weight.detach().numpy(), theirs.components_, atol=1e-10)
    np.testing.assert_allclose(layer.h_bias.detach().numpy(), theirs.intercept_hidden_, atol=1e-10)
    np.testing.assert_allclose(layer.v_bias.detach().numpy(), theirs.intercept_visible_, atol=1e-10)
    np.testing.assert_array_equal(h_next.numpy(), theirs.h_samples_)


def test_cd1_update_matches_the_hand_computation():
    """CD-1 (Hinton 2002) by hand in numpy: dW = (v0^T p(h|v0) - v1^T p(h|v1)) / B."""
    ours, _ = _rbm_pair(seed=1)
    layer = ours.layer.double()
    rng = np.random.RandomState(0)
    v0 = (rng.uniform(size=(6, 12)) < 0.5).astype(np.float64)
    v1 = (rng.uniform(size=(6, 12)) < 0.5).astype(np.float64)           # any negatives
    w, b, c = (t.detach().numpy().copy() for t in (layer.weight, layer.v_bias, layer.h_bias))
    sig = lambda a: 1 / (1 + np.exp(-a))                                 # noqa: E731
    h0, h1 = sig(v0 @ w.T + c), sig(v1 @ w.T + c)
    layer.cd_loss(torch.tensor(v0), torch.tensor(v1)).backward()
    np.testing.assert_allclose(-layer.weight.grad.numpy(), (h0.T @ v0 - h1.T @ v1) / 6, atol=1e-12)
    np.testing.assert_allclose(-layer.v_bias.grad.numpy(), (v0 - v1).mean(0), atol=1e-12)
    np.testing.assert_allclose(-layer.h_bias.grad.numpy(), (h0 - h1).mean(0), atol=1e-12)


def test_pseudo_likelihood_matches_scikit_learn():
    ours, theirs = _rbm_pair(seed=2)
    rng = np.random.RandomState(1)
    v = (rng.uniform(size=(20, 12)) < 0.3).astype(np.float64)
    index = np.random.RandomState(3).randint(0, 12, 20)                  # sklearn's flips (seed 3)
    mine = ours.layer.double().pseudo_likelihood(torch.tensor(v), torch.tensor(index))
    np.testing.assert_allclose(mine.numpy(), theirs.score_samples(v), rtol=1e-10)


def test_rbm_trains_on_digits_past_its_start_and_draws_samples(tmp_path):
    """A short CD-1 run on the digits raises the pseudo-likelihood far above the untrained
    model's (measured: about -44 at the start; -23 after 3 epochs of 32 units)."""
    run = ann.train("rbm-digits", {"train.threads": 1, "train.epochs": 3, "model.n_hidden": 32},
                    out=tmp_path / "r", quiet=True)
    torch.manual_seed(0)
    fresh = create_model("rbm", **{k: getattr(run.model.config, k)
                                   for k in ("n_hidden", "image_size", "mean", "std")})
    split = load_dataset("digits", "test")
    start = get_task("boltzmann").evaluate(fresh, [split.batch(slice(0, len(split)))])
    test = run.summary["test"]
    assert test["pseudo_likelihood"] > -30 > start["pseudo_likelihood"], (test, start)
    assert test["recon_error"] < 0.5 * start["recon_error"]
    for name in ("samples.png", "filters.png"):
        assert (tmp_path / "r" / name).exists(), name


def test_persistent_chains_carry_over_between_updates():
    torch.manual_seed(0)
    net = create_model("rbm", "tiny", persistent=True, k=1)
    before = net.chains.clone()
    x, _ = net.example_batch(4, torch.Generator().manual_seed(0))
    negatives = net.negatives(net.visible(x))
    assert negatives.shape == before.shape and torch.equal(net.chains, negatives)
    assert not torch.equal(net.chains, before)          # one Gibbs step moved them
    cd = create_model("rbm", "tiny")                      # CD-k starts at the data instead
    v = cd.visible(x)
    assert cd.negatives(v).shape == v.shape


# --- deep belief net ---------------------------------------------------------------------------
def test_dbn_pretrains_layer_by_layer_then_fine_tunes():
    torch.manual_seed(0)
    net = create_model("dbn", "tiny", pretrain_steps=3)
    from ann.train.config import TrainConfig

    opts = net.configure_optimizers(TrainConfig())
    x, y = net.example_batch(8, torch.Generator().manual_seed(0))
    snap = lambda: [p.detach().clone() for p in net.parameters()]   # noqa: E731
    names = [n for n, _ in net.named_parameters()]
    changed = lambda a, b: {n for n, p, q in zip(names, a, b) if not torch.equal(p, q)}  # noqa: E731
    start = snap()
    for step in range(3):
        assert net.training_step((x, y), opts, step)["pretrain_layer"] == 1
    after_one = snap()
    assert changed(start, after_one) == {"rbms.0.weight", "rbms.0.v_bias", "rbms.0.h_bias"}
    for step in range(3, 6):
        net.training_step((x, y), opts, step)
    after_two = snap()
    assert changed(after_one, after_two) == {"rbms.1.weight", "rbms.1.v_bias", "rbms.1.h_bias"}
    out = net.training_step((x, y), opts, 6)
    assert "pretrain_layer" not in out
    assert changed(after_two, snap()) == set(names) - {"rbms.0.v_bias", "rbms.1.v_bias"}


def test_dbn_classifies_digits(tmp_path):
    """Greedy pretraining (300 CD-1 steps a layer) then 600 steps of fine-tuning on the digits."""
    run = ann.train("dbn-digits", {"train.threads": 1, "model.hidden": (64, 64),
                                   "model.pretrain_steps": 300, "train.max_steps": 1200,
                                   "train.eval_every": 600, "train.lr": 1e-2}, out=tmp_path / "d", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.9, run.summary["test"]
