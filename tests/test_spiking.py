"""Spiking networks: the LIF layer and surrogate gradients against snnTorch (an independent
implementation: ``snn.Leaky``, ``snntorch.surrogate``), a whole network against one built of
snnTorch neurons with the same weights, the input codes, and a tiny run of snn-digits."""

import math

import numpy as np
import pytest
import torch

import ann
from ann.errors import AnnError
from ann.models.spiking.snn import ArctanSpike, FastSigmoidSpike, Leaky
from ann.registry import create_model


def _peer_surrogate(name, k):
    surrogate = pytest.importorskip("snntorch.surrogate")
    return surrogate.fast_sigmoid(slope=k) if name == "fast_sigmoid" else surrogate.atan(alpha=k)


@pytest.mark.parametrize("surrogate,k", [("fast_sigmoid", 25.0), ("atan", 2.0)])
def test_leaky_matches_snntorch_membrane_and_spikes(surrogate, k):
    snn = pytest.importorskip("snntorch")
    g = torch.Generator().manual_seed(0)
    current = torch.rand(3, 30, 7, generator=g, dtype=torch.float64) * 0.8     # (B, T, N)
    # beta exact in float32: snnTorch keeps it as a float32 buffer
    ours_spk, ours_mem = Leaky(0.75, 1.0, surrogate, k)(current)
    peer = snn.Leaky(beta=0.75, threshold=1.0, spike_grad=_peer_surrogate(surrogate, k),
                     reset_mechanism="subtract")
    mem = peer.init_leaky()
    spk_rec, mem_rec = [], []
    for t in range(current.shape[1]):
        spk, mem = peer(current[:, t], mem)
        spk_rec.append(spk)
        mem_rec.append(mem)
    assert ours_spk.sum() > 10                                  # the sequence makes spikes
    # snnTorch's spikes are float32 whatever the input's type
    torch.testing.assert_close(ours_spk, torch.stack(spk_rec, 1).double(), rtol=0, atol=0)
    torch.testing.assert_close(ours_mem, torch.stack(mem_rec, 1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("surrogate,k", [("fast_sigmoid", 25.0), ("fast_sigmoid", 5.0),
                                         ("atan", 2.0), ("atan", 0.5)])
def test_surrogate_gradient_matches_snntorch(surrogate, k):
    x = torch.linspace(-2, 2, 401, dtype=torch.float64, requires_grad=True)
    ours = (FastSigmoidSpike if surrogate == "fast_sigmoid" else ArctanSpike).apply(x, k)
    (g_ours,) = torch.autograd.grad(ours, x, torch.ones_like(x))
    xp = x.detach().clone().requires_grad_(True)
    theirs = _peer_surrogate(surrogate, k)(xp)
    (g_theirs,) = torch.autograd.grad(theirs, xp, torch.ones_like(xp))
    torch.testing.assert_close(ours, theirs.double(), rtol=0, atol=0)
    torch.testing.assert_close(g_ours, g_theirs, rtol=0, atol=1e-6)
    # and the formulas themselves at one point
    x0 = 0.3
    want = 1 / (k * x0 + 1) ** 2 if surrogate == "fast_sigmoid" \
        else (k / 2) / (1 + (math.pi / 2 * k * x0) ** 2)
    assert g_ours[x.detach().sub(x0).abs().argmin()].item() == pytest.approx(want, rel=1e-9)


def _peer_forward(net, seq, beta, k):
    """snnTorch's neurons driven by our network's weights, step by step: output spike counts."""
    snn = pytest.importorskip("snntorch")
    lifs = [snn.Leaky(beta=beta, threshold=1.0, spike_grad=_peer_surrogate("fast_sigmoid", k))
            for _ in net.fcs]
    mems = [lif.init_leaky() for lif in lifs]
    count = 0
    for t in range(seq.shape[1]):
        h = seq[:, t]
        for i, (fc, lif) in enumerate(zip(net.fcs, lifs)):
            h, mems[i] = lif(torch.nn.functional.linear(h, fc.weight, fc.bias), mems[i])
            h = h.to(seq.dtype)                # snnTorch's spikes are float32
        count = count + h
    return count


def test_network_and_its_gradients_match_an_snntorch_network_with_the_same_weights():
    torch.manual_seed(0)
    net = create_model("snn", image_size=4, hidden=(12, 9), num_classes=3, steps=20,
                       beta=0.875, slope=10.0, encoding="direct").double()
    with torch.no_grad():                       # larger weights, so that every layer spikes
        for fc in net.fcs:
            fc.weight.mul_(3)
    x = torch.rand(5, 1, 4, 4, dtype=torch.float64)
    ours = net(x)
    seq = net.encode(x)                                             # (B, T, 16)
    theirs = _peer_forward(net, seq, 0.875, 10.0)   # beta exact in float32
    assert ours.sum() > 0
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    w = torch.randn(5, 3, dtype=torch.float64)
    g_ours = torch.autograd.grad((ours * w).sum(), list(net.parameters()))
    g_theirs = torch.autograd.grad((theirs * w).sum(), list(net.parameters()))
    assert all(g.abs().sum() > 0 for g in g_ours)
    # snnTorch's spikes are float32, so the gradients through them are rounded to float32
    # (relative 1e-5 at most, measured); ours stay float64
    for a, b in zip(g_ours, g_theirs):
        torch.testing.assert_close(a, b, rtol=5e-5, atol=1e-6)


def test_codes():
    net = create_model("snn", image_size=2, steps=11, encoding="latency", latency_floor=0.2)
    x = torch.tensor([[[[1.0, 0.5], [0.1, 0.0]]]])                 # mean 0, std 1: as is
    seq = net.encode(x)[0]                                          # (T, 4)
    assert seq[:, 0].nonzero().flatten().tolist() == [0]           # brightest fires first
    assert seq[:, 1].nonzero().flatten().tolist() == [5]           # half as bright: midway
    assert seq[:, 2:].sum() == 0                                   # below the floor: never
    rate = create_model("snn", image_size=2, steps=2000, encoding="rate").eval()
    spikes = rate.encode(x)[0]
    np.testing.assert_allclose(spikes.mean(0).numpy(), [1.0, 0.5, 0.1, 0.0], atol=0.03)
    torch.testing.assert_close(rate.encode(x), spikes[None])       # fixed in evaluation
    rate.train()
    assert not torch.equal(rate.encode(x), rate.encode(x))         # fresh in training
    with pytest.raises(AnnError, match="model.image_size=2"):
        rate(torch.zeros(1, 1, 3, 3))


def test_membrane_readout_is_a_non_spiking_integrator():
    net = create_model("snn", "tiny", readout="membrane")
    x = torch.randn(2, 1, 8, 8)
    layers = net.run(x)
    assert layers[-1][0].sum() == 0                                # the output never spikes
    torch.testing.assert_close(net(x), layers[-1][1].mean(1))


@pytest.mark.slow
def test_snn_digits_trains_at_tiny_size(tmp_path):
    run = ann.train("snn-digits", {"train.threads": 1, "train.epochs": 3},
                    out=tmp_path / "s", quiet=True)
    assert run.summary["test"]["accuracy"] > 0.85, run.summary["test"]
    assert (tmp_path / "s" / "raster.png").exists()
    firing = (tmp_path / "s" / "firing.json").read_text()
    assert "layer1" in firing
