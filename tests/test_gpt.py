"""GPT: parity with Hugging Face GPT-2, caching, causality, sampling, errors and weight tying."""

import pytest
import torch

from ann.errors import AnnError
from ann.models.sampling import sample
from ann.models.transformer import GPT, GPTConfig, from_hf_gpt2
from ann.registry import create_model


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: extra threads only contend with whatever else uses the CPU.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tiny(seed=0, **overrides):
    torch.manual_seed(seed)
    return create_model("gpt", "tiny", **overrides).eval()


def _prompt(model, B=2, T=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.vocab_size, (B, T), generator=g)


# --- parity with transformers ---------------------------------------------------------------------

@pytest.mark.parametrize("tied", [True, False])
def test_matches_hf_gpt2(tied):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    torch.manual_seed(0)
    hf_conf = transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=32, n_layer=2, n_head=2,
                                      tie_word_embeddings=tied, bos_token_id=None,
                                      eos_token_id=None)  # no early stop at an end token
    hf = transformers.GPT2LMHeadModel(hf_conf).eval()
    with torch.no_grad():   # move LayerNorms and biases off (1, 0) so a mix-up would show
        for p in hf.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = from_hf_gpt2(hf).eval()
    assert model.config.activation == "gelu_tanh" and model.config.block_size == 16
    assert (model.lm_head.weight is model.wte.weight) == tied
    idx = torch.randint(0, 50, (3, 16))
    with torch.no_grad():
        ref = hf(idx).logits
        out = model(idx)
    assert (out - ref).abs().max().item() < 1e-4
    prompt = idx[:, :4]
    ref_gen = hf.generate(prompt, max_new_tokens=10, do_sample=False, pad_token_id=0,
                          attention_mask=torch.ones_like(prompt))
    torch.testing.assert_close(model.generate(prompt, 10, temperature=0), ref_gen, rtol=0, atol=0)


# --- cache and causality --------------------------------------------------------------------------

def test_cached_forward_equals_full_forward():
    model = _tiny()
    idx = _prompt(model, T=12)
    with torch.no_grad():
        full = model(idx)
        first, cache = model(idx[:, :7], model.empty_cache())
        steps = [first]
        for t in range(7, 12):
            logits, cache = model(idx[:, t:t + 1], cache)
            steps.append(logits)
    assert len(cache[0]) == 12
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


def test_cached_and_uncached_greedy_agree_past_the_window():
    model = _tiny()
    prompt = _prompt(model, T=5)
    n = 2 * model.config.block_size   # runs past block_size: the cache must be rebuilt
    cached = model.generate(prompt, n, temperature=0, use_cache=True)
    plain = model.generate(prompt, n, temperature=0, use_cache=False)
    assert cached.shape == (2, 5 + n)
    torch.testing.assert_close(cached, plain, rtol=0, atol=0)


def test_stream_yields_the_generated_tokens():
    model = _tiny()
    prompt = _prompt(model)
    tokens = list(model.generate_stream(prompt, 4, temperature=0))
    assert [t.shape for t in tokens] == [(2, 1)] * 4
    torch.testing.assert_close(torch.cat([prompt, *tokens], 1), model.generate(prompt, 4, 0))


def test_causal():
    model = _tiny()
    idx = _prompt(model, T=10)
    changed = idx.clone()
    changed[:, 6] = (changed[:, 6] + 1) % model.config.vocab_size
    with torch.no_grad():
        a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6], rtol=0, atol=0)
    assert (a[:, 6:] - b[:, 6:]).abs().max() > 1e-4


# --- errors ---------------------------------------------------------------------------------------

def _one_line_error(fn, match):
    with pytest.raises(AnnError, match=match) as err:
        fn()
    assert "\n" not in str(err.value)


def test_too_long_input_raises():
    model = _tiny()
    B = model.config.block_size
    _one_line_error(lambda: model(torch.zeros(1, B + 1, dtype=torch.long)), "block_size")
    _, cache = model(torch.zeros(1, B, dtype=torch.long), model.empty_cache())
    _one_line_error(lambda: model(torch.zeros(1, 1, dtype=torch.long), cache), "block_size")


@pytest.mark.parametrize("kwargs,match", [
    ({"max_new_tokens": -1}, "max_new_tokens"),
    ({"temperature": -0.5}, "temperature"),
    ({"top_p": 0.0}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"top_k": 0}, "top_k"),
])
def test_bad_generate_arguments_raise(kwargs, match):
    model = _tiny()
    args = {"max_new_tokens": 3, **kwargs}
    _one_line_error(lambda: model.generate(_prompt(model), **args), match)
    _one_line_error(lambda: model.generate_stream(_prompt(model), **args), match)  # eager check


def test_empty_prompt_raises():
    model = _tiny()
    _one_line_error(lambda: model.generate(torch.zeros(1, 0, dtype=torch.long), 2), "prompt")


# --- sampling -------------------------------------------------------------------------------------

def test_top_k_one_and_tiny_top_p_are_greedy():
    model = _tiny()
    prompt = _prompt(model)
    greedy = model.generate(prompt, 8, temperature=0)
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(model.generate(prompt, 8, temperature=1.0, top_k=1, generator=g), greedy)
    torch.testing.assert_close(model.generate(prompt, 8, temperature=1.0, top_p=1e-6, generator=g), greedy)


def test_generator_makes_sampling_reproducible():
    model = _tiny()
    prompt = _prompt(model)

    def run(seed):
        return model.generate(prompt, 12, temperature=2.0, generator=torch.Generator().manual_seed(seed))

    torch.testing.assert_close(run(1), run(1), rtol=0, atol=0)
    assert not torch.equal(run(1), run(2))


def test_top_k_and_top_p_keep_only_the_allowed_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(2000, 4)
    g = torch.Generator().manual_seed(0)
    assert set(sample(logits, top_k=2, generator=g).unique().tolist()) == {0, 1}
    # cumulative 0.5, 0.8, 0.95: top_p=0.8 keeps the first two tokens, top_p=0.81 the first three
    assert set(sample(logits, top_p=0.8, generator=g).unique().tolist()) == {0, 1}
    assert set(sample(logits, top_p=0.81, generator=g).unique().tolist()) == {0, 1, 2}


# --- weight tying ---------------------------------------------------------------------------------

def test_weight_tying():
    tied, untied = GPT(GPTConfig(tie_weights=True)), GPT(GPTConfig(tie_weights=False))
    assert tied.lm_head.weight is tied.wte.weight
    assert untied.lm_head.weight is not untied.wte.weight
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    c = tied.config
    assert n_untied - n_tied == c.vocab_size * c.n_embd


def test_from_hf_and_from_hf_pretrained_dispatch_gpt2(tmp_path):
    transformers = pytest.importorskip("transformers")
    import ann

    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=40, n_positions=16, n_embd=32, n_layer=2, n_head=2)).eval()
    hf.save_pretrained(tmp_path)
    idx = torch.randint(0, 40, (2, 9))
    with torch.no_grad():
        ref = hf(idx).logits
        for model in (ann.from_hf(hf), ann.from_hf_pretrained(str(tmp_path))):
            assert isinstance(model, GPT) and not model.training
            assert (model(idx) - ref).abs().max() < 1e-4


def test_from_hf_rejects_unsupported_classes(tmp_path):
    import ann

    with pytest.raises(ann.AnnError, match="cannot convert a Linear; supported"):
        ann.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ann.AnnError, match="cannot read a Hugging Face model config"):
        pytest.importorskip("transformers")
        ann.from_hf_pretrained(str(tmp_path / "nothing-here"))
