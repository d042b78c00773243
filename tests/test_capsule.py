"""The capsule network (Sabour et al. 2017): routing by agreement against an independent numpy
computation of Procedure 1, squash and margin loss against their formulas, and a tiny run of
capsnet-digits. No maintained library holds capsule networks, so the anchors are the paper's
equations, written out here."""

import numpy as np
import pytest
import torch

import ann
from ann.errors import AnnError
from ann.models.capsule import margin_loss, route, squash
from ann.registry import create_model


def _np_squash(s):
    n = np.linalg.norm(s, axis=-1, keepdims=True)
    return (n ** 2 / (1 + n ** 2)) * s / n


def _np_routing(u_hat, iters):
    """Procedure 1 of Sabour et al. for one example, loop by loop: u_hat (I, J, D)."""
    n_in, n_out, _ = u_hat.shape
    b = np.zeros((n_in, n_out))
    for r in range(iters):
        c = np.exp(b) / np.exp(b).sum(1, keepdims=True)          # softmax over the outputs j
        v = np.zeros((n_out, u_hat.shape[2]))
        for j in range(n_out):
            s = sum(c[i, j] * u_hat[i, j] for i in range(n_in))
            v[j] = _np_squash(s)
        if r < iters - 1:
            for i in range(n_in):
                for j in range(n_out):
                    b[i, j] += u_hat[i, j] @ v[j]
    return v, c


def test_routing_matches_procedure_1_computed_by_hand():
    rng = np.random.default_rng(0)
    u_hat = rng.normal(size=(2, 5, 3, 4))                          # (B, I, J, D)
    for iters in (1, 2, 3):
        v, c = route(torch.tensor(u_hat), iters)
        for k in range(2):
            want_v, want_c = _np_routing(u_hat[k], iters)
            np.testing.assert_allclose(v[k].numpy(), want_v, atol=1e-10)
            np.testing.assert_allclose(c[k].numpy(), want_c, atol=1e-10)


def test_routing_small_example_by_hand():
    """Two input capsules, two outputs, 1-D: both predict +1 for output 0; for output 1 the
    first predicts +1, the second -1. The numbers below are worked on paper."""
    u_hat = torch.tensor([[[[1.0], [1.0]], [[1.0], [-1.0]]]], dtype=torch.float64)
    v, c = route(u_hat, 2)
    # iteration 1: c = 1/2 everywhere; s_0 = 1, v_0 = 1/2; s_1 = 0, v_1 = 0
    # then b = [[1/2, 0], [1/2, 0]]; iteration 2: c_i0 = e^0.5 / (e^0.5 + 1) for both inputs
    c0 = np.exp(0.5) / (np.exp(0.5) + 1)
    s0 = 2 * c0
    np.testing.assert_allclose(c[0, :, 0].numpy(), [c0, c0])
    np.testing.assert_allclose(v[0, 0, 0].item(), s0 ** 2 / (1 + s0 ** 2))
    np.testing.assert_allclose(v[0, 1, 0].item(), 0.0, atol=1e-12)


def test_squash_keeps_direction_and_length_below_one():
    s = torch.randn(50, 7, dtype=torch.float64) * torch.logspace(-3, 3, 50,
                                                                 dtype=torch.float64)[:, None]
    v = squash(s)
    np.testing.assert_allclose(v.numpy(), _np_squash(s.numpy()), rtol=1e-6, atol=1e-12)
    lengths = v.norm(dim=-1)
    assert (lengths < 1).all() and (lengths > 0).all()
    cos = torch.nn.functional.cosine_similarity(v, s, dim=-1)
    np.testing.assert_allclose(cos.numpy(), 1.0, atol=1e-9)


def test_margin_loss_is_equation_4():
    lengths = torch.tensor([[0.95, 0.3, 0.05], [0.5, 0.2, 0.8]])
    y = torch.tensor([0, 2])
    # example 0: present 0.95 > 0.9 -> 0; absent 0.3 -> 0.5 * 0.2^2; 0.05 < 0.1 -> 0
    # example 1: present 0.8 -> 0.1^2; absent 0.5 -> 0.5 * 0.4^2, 0.2 -> 0.5 * 0.1^2
    want = [0.5 * 0.2 ** 2, 0.1 ** 2 + 0.5 * 0.4 ** 2 + 0.5 * 0.1 ** 2]
    np.testing.assert_allclose(margin_loss(lengths, y).numpy(), want, rtol=1e-6)


def test_capsnet_losses_and_shapes():
    net = create_model("capsnet", "tiny").eval()
    x, y = net.example_batch(3, torch.Generator().manual_seed(0))
    v, c = net.capsules(x)
    assert v.shape == (3, 10, 6) and c.shape == (3, net.n_primary, 10)
    torch.testing.assert_close(c.sum(-1), torch.ones(3, net.n_primary))
    assert (net(x) < 1).all()
    terms = net.losses(x, y)
    rebuilt = net.reconstruct(v, y)
    sse = ((rebuilt - net.pixels(x)) ** 2).flatten(1).sum(1)
    torch.testing.assert_close(terms["reconstruction"], sse)
    torch.testing.assert_close(terms["loss"], terms["margin"] + 0.0005 * sse)
    # the decoder sees only the true class's capsule: changing another one changes nothing
    other = v.clone()
    other[torch.arange(3), (y + 1) % 10] += 1.0
    torch.testing.assert_close(net.reconstruct(other, y), rebuilt)
    with pytest.raises(AnnError, match="too small"):
        create_model("capsnet", image_size=8, conv_kernel=9)
    with pytest.raises(AnnError, match="capsnet reads images"):
        net(torch.zeros(1, 1, 9, 9))


@pytest.mark.slow
def test_capsnet_digits_trains_at_tiny_size(tmp_path):
    run = ann.train("capsnet-digits", {"train.threads": 1, "train.epochs": 3,
                                       "model.conv_channels": 16, "model.primary_types": 4,
                                       "model.decoder": [64]},
                    out=tmp_path / "c", quiet=True)
    test = run.summary["test"]
    assert test["accuracy"] > 0.85, test
    assert {"margin", "reconstruction"} <= set(test)
    for picture in ("reconstructions.png", "perturbations.png", "confusion.png"):
        assert (tmp_path / "c" / picture).exists()
    probs = ann.load(run.path).predict(torch.zeros(2, 1, 8, 8))
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
