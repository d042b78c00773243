"""ann.layers attention and positional encodings: fused vs written-out math, parity with
torch.nn.MultiheadAttention (weights copied across), the KV cache, causality, and the position
formulas."""

import math

import pytest
import torch
from torch import nn

from ann import layers as L
from ann.errors import AnnError

TOL = {"rtol": 1e-5, "atol": 1e-5}
B, T, D, H = 2, 6, 16, 4


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _pair(**kw):
    """An sdpa and a math MultiHeadAttention with the same weights, in eval mode."""
    sdpa = L.MultiHeadAttention(D, H, impl="sdpa", **kw).eval()
    math_ = L.MultiHeadAttention(D, H, impl="math", **kw).eval()
    math_.load_state_dict(sdpa.state_dict())
    return sdpa, math_


def _pad_mask():
    """Key-padding mask (B, T), True = keep: row 0 full, row 1 with its last two keys padded."""
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, -2:] = False
    return mask


# --- the fused kernel against the formula --------------------------------------------------------

@pytest.mark.parametrize("use_mask,causal", [(False, False), (False, True), (True, False), (True, True)])
def test_sdpa_matches_math_self_attention(use_mask, causal):
    sdpa, math_ = _pair()
    x, mask = torch.randn(B, T, D), (_pad_mask() if use_mask else None)
    out = sdpa(x, mask=mask, causal=causal)
    assert out.shape == (B, T, D)
    torch.testing.assert_close(out, math_(x, mask=mask, causal=causal), **TOL)


def test_sdpa_matches_math_cross_attention_other_length_and_width():
    sdpa, math_ = _pair(kv_dim=10)
    x, ctx = torch.randn(B, 3, D), torch.randn(B, 7, 10)
    mask = torch.ones(B, 7, dtype=torch.bool)
    mask[0, 4:] = False
    out = sdpa(x, context=ctx, mask=mask)
    assert out.shape == (B, 3, D)
    torch.testing.assert_close(out, math_(x, context=ctx, mask=mask), **TOL)
    torch.testing.assert_close(sdpa(x, context=ctx), math_(x, context=ctx), **TOL)


def test_fully_masked_query_gives_zeros_in_both_kernels():
    # Left padding + causal: the first query of row 1 sees only padding.
    sdpa, math_ = _pair()
    x, mask = torch.randn(B, T, D), torch.ones(B, T, dtype=torch.bool)
    mask[1, :2] = False
    out = math_(x, mask=mask, causal=True)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, sdpa(x, mask=mask, causal=True), **TOL)
    q = torch.randn(1, 1, 2, 4)
    y, w = L.attention_math(q, q, q, torch.tensor([[False, False], [True, True]]))
    assert (y[0, 0, 0] == 0).all() and (w[0, 0, 0] == 0).all()
    torch.testing.assert_close(w.sum(-1)[0, 0, 1], torch.tensor(1.0))


def test_attention_math_weights_are_softmax_of_scaled_scores():
    q, k, v = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4)
    y, w = L.attention_math(q, k, v, None)
    expected = torch.softmax(torch.einsum("bhtd,bhsd->bhts", q, k) / 2.0, dim=-1)
    torch.testing.assert_close(w, expected, **TOL)
    torch.testing.assert_close(y, torch.einsum("bhts,bhsd->bhtd", expected, v), **TOL)


# --- parity with torch.nn.MultiheadAttention ----------------------------------------------------

def _torch_copy(ours):
    ref = nn.MultiheadAttention(D, H, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    return ref


@pytest.mark.parametrize("impl", ["sdpa", "math"])
def test_matches_torch_with_key_padding_mask(impl):
    ours = L.MultiHeadAttention(D, H, impl=impl).eval()
    ref = _torch_copy(ours)
    x, mask = torch.randn(B, T, D), _pad_mask()
    expected, _ = ref(x, x, x, key_padding_mask=~mask)  # torch: True = ignore
    torch.testing.assert_close(ours(x, mask=mask), expected, **TOL)


@pytest.mark.parametrize("impl", ["sdpa", "math"])
def test_matches_torch_with_causal_mask(impl):
    ours = L.MultiHeadAttention(D, H, impl=impl).eval()
    ref = _torch_copy(ours)
    x = torch.randn(B, T, D)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)  # torch: True = not allowed
    expected, _ = ref(x, x, x, attn_mask=future)
    torch.testing.assert_close(ours(x, causal=True), expected, **TOL)


# --- KV cache and causality ----------------------------------------------------------------------

@pytest.mark.parametrize("impl", ["sdpa", "math"])
def test_kv_cache_one_token_at_a_time_matches_full_causal(impl):
    attn = L.MultiHeadAttention(D, H, impl=impl).eval()
    x = torch.randn(B, T, D)
    full = attn(x, causal=True)
    cache, steps = L.KVCache(), []
    for t in range(T):
        y, cache = attn(x[:, t:t + 1], causal=True, cache=cache)
        steps.append(y)
    assert len(cache) == T and cache.k.shape == (B, H, T, D // H)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, **TOL)


def test_kv_cache_prefill_then_chunk_uses_causal_offset():
    # A 2-token chunk after a 3-token prefill: T=2 queries against S=5 keys.
    attn = L.MultiHeadAttention(D, H).eval()
    x = torch.randn(B, 5, D)
    y1, cache = attn(x[:, :3], causal=True, cache=L.KVCache())
    y2, cache = attn(x[:, 3:], causal=True, cache=cache)
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), attn(x, causal=True), **TOL)


def test_cache_append_leaves_old_cache_untouched():
    k = torch.randn(1, 2, 3, 4)
    old = L.KVCache().append(k, k)
    new = old.append(k[:, :, :1], k[:, :, :1])
    assert len(old) == 3 and len(new) == 4


def test_cross_attention_cache_reuses_projected_context():
    attn = L.MultiHeadAttention(D, H, kv_dim=8).eval()
    x, ctx = torch.randn(B, 4, D), torch.randn(B, 5, 8)
    full = attn(x, context=ctx)
    y0, cache = attn(x[:, :1], context=ctx, cache=L.KVCache())
    y1, cache2 = attn(x[:, 1:], context=torch.zeros_like(ctx), cache=cache)  # context now ignored
    assert cache2 is cache and len(cache) == 5
    torch.testing.assert_close(torch.cat([y0, y1], dim=1), full, **TOL)


@pytest.mark.parametrize("impl", ["sdpa", "math"])
def test_causal_future_token_does_not_change_the_past(impl):
    attn = L.MultiHeadAttention(D, H, impl=impl).eval()
    x = torch.randn(B, T, D)
    x2 = x.clone()
    x2[:, 4] += 1.0
    y, y2 = attn(x, causal=True), attn(x2, causal=True)
    torch.testing.assert_close(y[:, :4], y2[:, :4], **TOL)
    assert not torch.allclose(y[:, 4:], y2[:, 4:], atol=1e-4)
    assert not torch.allclose(attn(x)[:, :4], attn(x2)[:, :4], atol=1e-4)  # without causal it leaks


def test_gradients_reach_every_parameter():
    attn = L.MultiHeadAttention(D, H, dropout=0.1, kv_dim=12).train()
    y = attn(torch.randn(B, T, D), context=torch.randn(B, 5, 12), mask=torch.ones(B, 5, dtype=torch.bool))
    y.square().sum().backward()
    for name, p in attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_arguments_raise_one_line_ann_errors():
    with pytest.raises(AnnError, match="divisible"):
        L.MultiHeadAttention(10, 3)
    with pytest.raises(AnnError, match="did you mean 'math'"):
        L.MultiHeadAttention(D, H, impl="maths")
    with pytest.raises(AnnError, match=r"expected \(batch, 6\)"):
        L.MultiHeadAttention(D, H)(torch.randn(B, T, D), mask=torch.ones(B, 5, dtype=torch.bool))


# --- positional encodings ------------------------------------------------------------------------

def test_sinusoidal_matches_the_formula():
    d = 8
    pe = L.SinusoidalPositionalEncoding(d, max_len=50)
    assert not list(pe.parameters()) and "pe" not in pe.state_dict()
    out = pe(torch.zeros(1, 50, d))[0]
    for pos in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert out[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert out[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_adds_with_offset_and_handles_odd_width():
    pe = L.SinusoidalPositionalEncoding(7, max_len=10)
    x = torch.randn(2, 3, 7)
    torch.testing.assert_close(pe(x, offset=4), x + pe.pe[4:7])
    torch.testing.assert_close(pe(x, offset=4) - x, (pe(torch.zeros(1, 10, 7)))[:, 4:7].expand(2, 3, 7))


@pytest.mark.parametrize("make", [lambda: L.SinusoidalPositionalEncoding(8, 5),
                                  lambda: L.LearnedPositionalEmbedding(5, 8)])
def test_absolute_positions_reject_too_long_sequences(make):
    with pytest.raises(AnnError, match="max_len=5"):
        make()(torch.zeros(1, 6, 8))
    with pytest.raises(AnnError, match="max_len=5"):
        make()(torch.zeros(1, 2, 8), offset=4)


def test_learned_positional_embedding_adds_its_rows():
    pe = L.LearnedPositionalEmbedding(10, 8)
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(pe(x, offset=2), x + pe.weight[2:5])
    pe(x).sum().backward()
    assert pe.weight.grad[:3].abs().sum() > 0 and (pe.weight.grad[3:] == 0).all()


def _rotate_at(rope, vec, pos):
    """Rotate one vector (hs,) as if at position ``pos``."""
    return rope.rotate(vec[None], offset=pos)[0]


def test_rotary_preserves_norms():
    rope = L.RotaryEmbedding(8, max_len=32)
    q = torch.randn(B, H, 32, 8)
    rq = rope.rotate(q)
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1), **TOL)
    assert not torch.allclose(rq[:, :, 1:], q[:, :, 1:])  # it does rotate (position 0 is the identity)


def test_rotary_dot_product_depends_only_on_relative_position():
    rope = L.RotaryEmbedding(8, max_len=64)
    q, k = torch.randn(8), torch.randn(8)
    dot = lambda m, n: torch.dot(_rotate_at(rope, q, m), _rotate_at(rope, k, n))
    torch.testing.assert_close(dot(5, 2), dot(40, 37), **TOL)
    torch.testing.assert_close(dot(0, 9), dot(20, 29), **TOL)
    assert not torch.allclose(dot(5, 2), dot(5, 3), atol=1e-4)


def test_rotary_offset_equals_slicing_the_full_rotation():
    rope = L.RotaryEmbedding(8, max_len=16)
    q, k = torch.randn(B, H, 10, 8), torch.randn(B, H, 10, 8)
    fq, fk = rope(q, k)
    oq, ok = rope(q[:, :, 3:7], k[:, :, 3:7], offset=3)
    torch.testing.assert_close(oq, fq[:, :, 3:7], **TOL)
    torch.testing.assert_close(ok, fk[:, :, 3:7], **TOL)
    with pytest.raises(AnnError, match="max_len=16"):
        rope.rotate(q, offset=7)
    with pytest.raises(AnnError, match="even head_dim"):
        L.RotaryEmbedding(7, 16)
