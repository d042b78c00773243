"""Classic networks of issue 26 (part A): the extreme learning machine, the RBF network, the
self-organizing map and LVQ. Each against an independent computation (numpy, scikit-learn,
minisom) and each recipe trained at tiny size."""

import numpy as np
import pytest
import torch

import ann
from ann.data import ArrayDataset
from ann.errors import AnnError
from ann.registry import create_model

TINY = {"train.threads": 1}


def _blobs(n, d, k, seed=0, spread=3.0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    centres = torch.randn(k, d, generator=g) * spread
    return centres[y] + torch.randn(n, d, generator=g), y


# --- extreme learning machine -------------------------------------------------------------------

def test_elm_output_weights_are_the_pseudo_inverse_solution():
    """beta = pinv(H) T (Huang et al. 2006, eq. 17), H computed here with numpy from the
    model's random hidden layer."""
    x, y = _blobs(40, 5, 3)
    elm = create_model("elm", in_features=5, num_classes=3, hidden=12, activation="tanh")
    elm.fit(ArrayDataset(x, y))
    w, b = elm.hidden_weight.double().numpy(), elm.hidden_bias.double().numpy()
    h = np.tanh(x.double().numpy() @ w + b)
    h = np.hstack([h, np.ones((len(h), 1))])
    want = np.linalg.pinv(h) @ np.eye(3)[y.numpy()]
    np.testing.assert_allclose(elm.beta.detach().numpy(), want, atol=1e-4)
    ridge = create_model("elm", in_features=5, num_classes=3, hidden=12, ridge=0.5, chunk=7)
    ridge.fit(ArrayDataset(x, y))
    h = 1 / (1 + np.exp(-(x.double().numpy() @ ridge.hidden_weight.double().numpy()
                           + ridge.hidden_bias.double().numpy())))
    h = np.hstack([h, np.ones((len(h), 1))])
    want = np.linalg.solve(h.T @ h + 0.5 * np.eye(13), h.T @ np.eye(3)[y.numpy()])
    np.testing.assert_allclose(ridge.beta.detach().numpy(), want, atol=1e-4)


def test_elm_recipe_trains_at_tiny_size(tmp_path):
    run = ann.train("elm-digits", {**TINY, "model.hidden": 200}, out=tmp_path / "e", quiet=True)
    assert run.summary["test"]["accuracy"] > 0.85         # 200 random units: about 0.93
    assert (tmp_path / "e" / "confusion.png").exists()
    again = ann.load(run.path)
    assert again.evaluate("test")["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])


def test_elm_refuses_wrong_inputs():
    elm = create_model("elm", in_features=5, num_classes=3, hidden=8)
    with pytest.raises(AnnError, match="in_features=5"):
        elm(torch.zeros(2, 6))
    with pytest.raises(AnnError, match="num_classes=3"):
        elm.fit(ArrayDataset(torch.zeros(4, 5), torch.tensor([0, 1, 2, 3])))


# --- RBF network -------------------------------------------------------------------------------

def test_rbf_kmeans_centres_match_scikit_learn_from_the_same_start():
    from sklearn.cluster import KMeans

    from ann.models.rbf import kmeans

    x, _ = _blobs(120, 3, 4, seed=1, spread=2.0)
    init = x[:6].clone()
    ours, _ = kmeans(x.double(), init.double(), 100)
    theirs = KMeans(6, init=init.double().numpy(), n_init=1, max_iter=100, tol=0,
                    algorithm="lloyd").fit(x.double().numpy()).cluster_centers_
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-8)


def test_rbf_output_is_the_least_squares_fit_of_its_gaussian_units():
    x, y = _blobs(60, 4, 3, seed=2)
    net = create_model("rbf", in_features=4, num_classes=3, centres=7, ridge=0.0)
    net.fit(ArrayDataset(x, y))
    c = net.centres.detach().double().numpy()
    s = net.log_width.detach().double().exp().numpy()
    d = ((x.double().numpy()[:, None, :] - c[None]) ** 2).sum(-1)
    p = np.hstack([np.exp(-d / (2 * s ** 2)), np.ones((len(x), 1))])
    want, *_ = np.linalg.lstsq(p, np.eye(3)[y.numpy()], rcond=None)
    np.testing.assert_allclose(net.out.detach().numpy(), want, atol=1e-3)
    # Moody & Darken widths: RMS distance to the 2 nearest other centres
    dc = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))
    np.fill_diagonal(dc, np.inf)
    near = np.sort(dc, 1)[:, :2]
    np.testing.assert_allclose(s, np.sqrt((near ** 2).mean(1)), rtol=1e-5)


def test_rbf_end_to_end_refinement_lowers_the_training_loss():
    x, y = _blobs(60, 4, 3, seed=3, spread=1.0)
    losses = {}
    for steps in (0, 50):
        net = create_model("rbf", in_features=4, num_classes=3, centres=6, refine_steps=steps)
        net.fit(ArrayDataset(x, y))
        with torch.no_grad():
            losses[steps] = torch.nn.functional.cross_entropy(net(x), y).item()
    assert losses[50] < losses[0]


def test_rbf_recipe_trains_at_tiny_size(tmp_path):
    run = ann.train("rbf-iris", {**TINY, "model.centres": 9}, out=tmp_path / "r", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.8
    with pytest.raises(AnnError, match="model.centres=500"):
        ann.train("rbf-iris", {**TINY, "model.centres": 500}, out=tmp_path / "r2", quiet=True)


# --- self-organizing map ------------------------------------------------------------------------

def _som_and_peer(mode, **overrides):
    """Our map fitted on a tiny table, and minisom trained from the same start by the same
    schedule (minisom's asymptotic decay; samples in order for the online rule)."""
    minisom = pytest.importorskip("minisom")
    x, _ = _blobs(30, 3, 3, seed=4, spread=1.5)
    x = x.double()
    som = create_model("som", in_features=3, rows=4, cols=5, mode=mode, epochs=4, lr=0.5,
                       sigma=1.5, shuffle=False, **overrides).double()
    som.initialize(x, torch.Generator().manual_seed(som.config.seed))
    start = som.weight.clone()
    som.fit(ArrayDataset(x, torch.zeros(30, dtype=torch.long)))      # starts from the same weights
    peer = minisom.MiniSom(4, 5, 3, sigma=1.5, learning_rate=0.5,
                           neighborhood_function="gaussian", random_seed=0)
    peer._weights = start.view(4, 5, 3).numpy().copy()
    if mode == "online":
        peer.train(x.numpy(), 4 * 30)          # t = 0 .. 119 over max_iter = 120, in order
    else:
        peer.train_batch_offline(x.numpy(), 4)
    return som, peer, x


@pytest.mark.parametrize("mode", ["online", "batch"])
def test_som_matches_minisom_from_the_same_start(mode):
    som, peer, x = _som_and_peer(mode)
    np.testing.assert_allclose(som.weight.view(4, 5, 3).numpy(), peer.get_weights(), atol=1e-9)
    qe, te = som.errors(x)
    assert qe.mean().item() == pytest.approx(peer.quantization_error(x.numpy()), rel=1e-9)
    assert te.mean().item() == pytest.approx(peer.topographic_error(x.numpy()), abs=1e-12)


def test_som_u_matrix_is_the_mean_distance_to_grid_neighbours():
    som = create_model("som", in_features=2, rows=3, cols=4)
    som.weight = torch.randn(12, 2, generator=torch.Generator().manual_seed(0))
    w = som.weight.view(3, 4, 2).numpy()
    want = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            d = [np.linalg.norm(w[i, j] - w[a, b]) for a in range(i - 1, i + 2)
                 for b in range(j - 1, j + 2)
                 if (a, b) != (i, j) and 0 <= a < 3 and 0 <= b < 4]
            want[i, j] = np.mean(d)
    np.testing.assert_allclose(som.u_matrix().numpy(), want, rtol=1e-5)


def test_som_recipe_trains_at_tiny_size(tmp_path):
    run = ann.train("som-iris", {**TINY, "model.epochs": 3, "model.rows": 4, "model.cols": 4},
                    out=tmp_path / "s", quiet=True)
    t = run.summary["test"]
    assert t["quantization_error"] < 1.2 and 0 <= t["topographic_error"] <= 1   # a 4x4 map: ~0.85
    assert (tmp_path / "s" / "umatrix.png").exists()
    again = ann.load(run.path)
    assert again.evaluate("test")["quantization_error"] == pytest.approx(t["quantization_error"])
    with pytest.raises(AnnError, match="in_features=4"):
        run.model(torch.zeros(2, 5))


# --- learning vector quantization -------------------------------------------------------------

def test_lvq1_and_lvq21_updates_follow_kohonen_by_hand():
    lvq = create_model("lvq", in_features=2, num_classes=2, prototypes=1, window=0.3)
    lvq.weight.data = torch.tensor([[0.0, 0.0], [2.0, 0.0]])         # class 0 at 0, class 1 at 2
    lvq.lvq1_step(torch.tensor([0.5, 0.0]), 0, 0.1)                  # right: towards
    assert lvq.weight[0].tolist() == pytest.approx([0.05, 0.0])
    lvq.lvq1_step(torch.tensor([0.5, 0.0]), 1, 0.1)                  # wrong: away
    assert lvq.weight[0].tolist() == pytest.approx([0.005, 0.0])
    lvq.weight.data = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    lvq.lvq21_step(torch.tensor([0.9, 0.0]), 1, 0.1)                 # d 0.9 / 1.1 = 0.82 > 0.54
    assert lvq.weight.flatten().tolist() == pytest.approx([-0.09, 0.0, 1.89, 0.0])
    lvq.lvq21_step(torch.tensor([0.1, 0.0]), 1, 0.1)                 # outside the window
    assert lvq.weight.flatten().tolist() == pytest.approx([-0.09, 0.0, 1.89, 0.0])


def test_lvq_recipe_trains_at_tiny_size(tmp_path):
    run = ann.train("lvq-iris", {**TINY, "model.epochs": 5, "model.lvq21_epochs": 2},
                    out=tmp_path / "l", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.8


def test_rbf_global_width_is_the_largest_centre_distance_over_root_2m():
    x, y = _blobs(60, 4, 3, seed=5)
    net = create_model("rbf", in_features=4, num_classes=3, centres=5, widths="global")
    net.fit(ArrayDataset(x, y))
    c = net.centres.detach().double().numpy()
    d_max = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1)).max()
    np.testing.assert_allclose(net.log_width.detach().exp().numpy(), d_max / np.sqrt(10),
                               rtol=1e-5)
