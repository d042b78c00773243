"""T5: parity with Hugging Face ``transformers`` (weights copied by ``ann.from_hf``), the relative
position buckets against their definition, the shared per-stack bias, the decoder cache, and the
attention layer's additive bias and scale."""

import math

import pytest
import torch

from ann import layers as L
from ann.errors import AnnError
from ann.models.transformer.t5 import T5, relative_position_bucket
from ann.registry import create_model


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _hf_t5(feed_forward: str, factor: float = 1.0):
    transformers = pytest.importorskip("transformers")
    conf = transformers.T5Config(
        vocab_size=48, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
        num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
        dropout_rate=0.0, feed_forward_proj=feed_forward, tie_word_embeddings=feed_forward == "relu",
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, initializer_factor=factor)
    return transformers.T5ForConditionalGeneration(conf).eval()


def _inputs():
    src = torch.randint(3, 48, (3, 30))
    src[1, 19], src[1, 20:] = 1, 0  # a shorter input: end token, then padding
    tgt = torch.randint(3, 48, (3, 25))
    tgt[:, 0] = 0  # the decoder's start token
    return src, tgt


@pytest.mark.parametrize("feed_forward", ["relu", "gated-gelu"])
def test_logits_equal_transformers(feed_forward):
    from ann.models.transformer import from_hf

    hf = _hf_t5(feed_forward)
    ours = from_hf(hf)
    assert isinstance(ours, T5)
    assert ours.config.feed_forward == feed_forward
    assert ours.config.tie_embeddings == (feed_forward == "relu")  # v1.0 ties and rescales
    src, tgt = _inputs()
    with torch.no_grad():
        theirs = hf(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        mine = ours(src, tgt)
    torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-4)


@pytest.mark.parametrize("feed_forward", ["relu", "gated-gelu"])
def test_greedy_equals_transformers_generate(feed_forward):
    from ann.models.transformer import from_hf

    hf = _hf_t5(feed_forward, factor=8.0)  # large weights: varied, confident random outputs
    ours = from_hf(hf)
    src, _ = _inputs()
    theirs = hf.generate(input_ids=src, attention_mask=(src != 0).long(), max_new_tokens=12,
                         do_sample=False, num_beams=1)[:, 1:]  # without the start token
    mine = ours.greedy(src, max_len=12)
    assert len(set(mine.flatten().tolist())) > 3, "degenerate outputs prove little"
    assert torch.equal(mine[:, :theirs.size(1)], theirs)


def test_converter_refuses_unsupported_activation():
    from ann.models.transformer import from_hf

    transformers = pytest.importorskip("transformers")
    conf = transformers.T5Config(vocab_size=16, d_model=8, d_kv=4, d_ff=16, num_layers=1,
                                 num_heads=2, feed_forward_proj="gated-silu")
    with pytest.raises(AnnError, match="not supported"):
        from_hf(transformers.T5ForConditionalGeneration(conf))


def _bucket_by_definition(rel: int, bidirectional: bool, n: int, max_distance: int) -> int:
    """The bucket of one offset, straight from the paper's description (scalar arithmetic)."""
    base = 0
    if bidirectional:
        n //= 2
        base = n if rel > 0 else 0
        distance = abs(rel)
    else:
        distance = max(-rel, 0)
    exact = n // 2
    if distance < exact:
        return base + distance
    wide = exact + int(math.log(distance / exact) / math.log(max_distance / exact) * (n - exact))
    return base + min(wide, n - 1)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_relative_position_buckets(bidirectional):
    rel = torch.arange(-300, 301)[None, :]
    got = relative_position_bucket(rel, bidirectional, 32, 128)[0].tolist()
    want = [_bucket_by_definition(r, bidirectional, 32, 128) for r in range(-300, 301)]
    assert got == want
    assert max(got) == 31 and min(got) == 0


def test_one_bias_table_per_stack():
    model = create_model("t5", "tiny")
    tables = [n for n, _ in model.named_parameters() if "bias" in n and "table" in n]
    assert tables == ["encoder_bias.table.weight", "decoder_bias.table.weight"]


def test_cached_decoding_equals_full_decoding():
    model = create_model("t5", "tiny").eval()
    src, _ = model.example_batch(4, torch.Generator().manual_seed(0))
    assert torch.equal(model.greedy(src, use_cache=True), model.greedy(src, use_cache=False))
    beams = model.translate(src, beam_size=3)
    assert beams.shape[0] == 4


def test_attention_bias_and_scale_match_the_formula():
    # the additive bias and the scale, fused kernel against attention written out by hand
    q_in = torch.randn(2, 5, 16)
    attn = L.MultiHeadAttention(16, 4, bias=False, scale=1.0, head_dim=6).eval()
    bias = torch.randn(1, 4, 5, 5)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    out = attn(q_in, mask=mask, bias=bias)
    q = attn.q_proj(q_in).view(2, 5, 4, 6).transpose(1, 2)
    k = attn.k_proj(q_in).view(2, 5, 4, 6).transpose(1, 2)
    v = attn.v_proj(q_in).view(2, 5, 4, 6).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1) + bias).masked_fill(~mask[:, None, None, :], float("-inf"))
    want = attn.out_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 24))
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    maths = L.MultiHeadAttention(16, 4, bias=False, scale=1.0, head_dim=6, impl="math").eval()
    maths.load_state_dict(attn.state_dict())
    torch.testing.assert_close(maths(q_in, mask=mask, bias=bias), want, rtol=1e-5, atol=1e-5)


def test_config_checks():
    with pytest.raises(AnnError, match="divisible"):
        create_model("t5", d_model=30, n_heads=4)
    with pytest.raises(AnnError, match="max_src_len"):
        model = create_model("t5", "tiny")
        model(torch.ones(1, 40, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(AnnError, match="model.tasks"):
        create_model("t5", "tiny", tasks="reverse=x")
