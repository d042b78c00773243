"""Mamba (ann.models.ssm): the parallel scan against the sequential one, parity with mambapy
(weights copied across), state carried across calls, generation and the recipe rows."""

import pytest
import torch

from ann.errors import AnnError
from ann.models.ssm import parallel_scan, sequential_scan
from ann.recipes import RECIPES, TERMS
from ann.registry import create_model


@pytest.mark.parametrize("T", [1, 5, 16, 37])
def test_parallel_scan_equals_the_sequential_scan(T):
    g = torch.Generator().manual_seed(T)
    a = torch.rand(2, T, 3, 4, generator=g, dtype=torch.float64)     # decays in (0, 1)
    b = torch.randn(2, T, 3, 4, generator=g, dtype=torch.float64)
    h0 = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(parallel_scan(a, b, h0), sequential_scan(a, b, h0))
    # and both against the recurrence written out for the last step
    h = h0
    for t in range(T):
        h = a[:, t] * h + b[:, t]
    torch.testing.assert_close(parallel_scan(a, b, h0)[:, -1], h)


def test_the_parallel_scans_backward_pass_is_the_gradient():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 6, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(2, 6, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    h0 = torch.randn(2, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(parallel_scan, (a, b, h0))


def test_both_scans_give_the_same_model_and_gradients():
    torch.manual_seed(0)
    par = create_model("mamba", "tiny", scan="parallel")
    seq = create_model("mamba", "tiny", scan="sequential")
    seq.load_state_dict(par.state_dict())
    x, y = par.example_batch(3, torch.Generator().manual_seed(0))
    for m in (par, seq):
        torch.nn.functional.cross_entropy(m(x).flatten(0, 1), y.flatten()).backward()
    torch.testing.assert_close(par(x), seq(x), atol=1e-5, rtol=1e-5)
    for (name, p), q in zip(par.named_parameters(), seq.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)


class _PeerLM(torch.nn.Module):
    """mambapy's block stack and RMSNorm (``mambapy.lm`` needs einops) with an embedding and a
    head tied to it, the language model ``mambapy.lm.LM`` builds."""

    def __init__(self, peer_config, vocab_size):
        super().__init__()
        from mambapy.mamba import Mamba as PeerMamba
        from mambapy.mamba import RMSNorm as PeerRMSNorm

        self.embedding = torch.nn.Embedding(vocab_size, peer_config.d_model)
        self.mamba = PeerMamba(peer_config)
        self.norm_f = PeerRMSNorm(peer_config.d_model, peer_config.rms_norm_eps)

    def forward(self, tokens):
        x = self.norm_f(self.mamba(self.embedding(tokens)))
        return x @ self.embedding.weight.T

    def step(self, token, caches):
        x, caches = self.mamba.step(self.embedding(token), caches)
        return self.norm_f(x) @ self.embedding.weight.T, caches


def _mambapy_copy(model):
    """A mambapy model of the same size holding ``model``'s weights."""
    peer_mamba = pytest.importorskip("mambapy.mamba")
    c = model.config
    peer = _PeerLM(peer_mamba.MambaConfig(
        d_model=c.d_model, n_layers=c.n_layer, d_state=c.d_state, expand_factor=c.expand,
        d_conv=c.d_conv, dt_rank=model.layers[0].mixer.ssm.rank, rms_norm_eps=c.norm_eps),
        c.vocab_size)
    ours = model.state_dict()
    theirs = {"embedding.weight": ours["wte.weight"], "norm_f.weight": ours["norm_f.weight"]}
    for key, value in ours.items():
        if key.startswith("layers."):   # layers.i.{norm,mixer}.* ; our SSM sits one level lower
            theirs["mamba." + key.replace("mixer.ssm.", "mixer.")] = value
    assert set(theirs) == set(peer.state_dict())
    peer.load_state_dict(theirs)
    return peer


def test_logits_match_mambapy_with_weights_copied():
    torch.manual_seed(0)
    for scan in ("parallel", "sequential"):
        model = create_model("mamba", "tiny", n_layer=2, d_model=48, scan=scan).eval()
        peer = _mambapy_copy(model).eval()
        x = torch.randint(0, model.config.vocab_size, (3, 24))
        with torch.no_grad():
            ours, theirs = model(x), peer(x)
        assert ours.abs().max() > 0.1
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_step_by_step_state_matches_mambapy_step():
    torch.manual_seed(1)
    model = create_model("mamba", "tiny").eval()
    peer = _mambapy_copy(model).eval()
    x = torch.randint(0, model.config.vocab_size, (2, 10))
    caches = [(None, torch.zeros(2, 2 * model.config.d_model, model.config.d_conv - 1))
              for _ in range(model.config.n_layer)]
    state = model.initial_state(2)
    with torch.no_grad():
        for t in range(x.size(1)):
            theirs, caches = peer.step(x[:, t], caches)              # (B, V)
            ours, state = model(x[:, t:t + 1], state)                # (B, 1, V)
            torch.testing.assert_close(ours[:, 0], theirs, atol=1e-5, rtol=1e-5)


def test_state_carries_across_calls():
    torch.manual_seed(0)
    model = create_model("mamba", "tiny").eval()
    x = torch.randint(0, 32, (2, 20))
    with torch.no_grad():
        whole = model(x)
        first, state = model(x[:, :7], model.initial_state(2))
        rest, _ = model(x[:, 7:], state)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole, atol=1e-5, rtol=1e-5)


def test_generation_has_no_context_limit_and_checks_its_arguments():
    torch.manual_seed(0)
    model = create_model("mamba", "tiny").eval()
    prompt = torch.zeros(1, 3, dtype=torch.long)
    out = model.generate(prompt, 40, temperature=0.0)       # beyond block_size=16
    assert out.shape == (1, 43) and (out[:, :3] == 0).all()
    again = model.generate(prompt, 40, temperature=0.0)
    assert torch.equal(out, again)
    with pytest.raises(AnnError, match="temperature"):
        model.generate(prompt, 2, temperature=-1.0)


def test_recipes_and_glossary():
    assert RECIPES["mamba-shakespeare"].dataset == RECIPES["gpt-shakespeare"].dataset
    gpt = create_model("gpt", RECIPES["gpt-shakespeare"].preset)
    mamba = create_model("mamba", RECIPES["mamba-shakespeare"].preset)
    n_gpt, n_mamba = (sum(p.numel() for p in m.parameters()) for m in (gpt, mamba))
    assert abs(n_mamba - n_gpt) / n_gpt < 0.05, (n_gpt, n_mamba)
    assert RECIPES["mamba-pydoc"].tour is not None
    assert {"state-space model", "selective scan"} <= set(TERMS)
