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
    ridge = create_model("elm", in_features=5, num_classes=3, hidden=12, ridge=0.5)
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
