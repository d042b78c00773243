"""Llama: parity with Hugging Face Llama and Qwen2 (logits, greedy generation), the KV cache, the
way back to transformers, bad checkpoints, and the llama-pydoc recipe."""

import json
import math

import pytest
import torch

import ann
from ann.errors import AnnError
from ann.models.transformer import (
    Llama,
    from_hf_llama,
    llama_from_hf_state,
    llama_weights,
    to_hf_llama_state,
)
from ann.registry import create_model

transformers = pytest.importorskip("transformers", reason="transformers is not installed")

# Odd sizes: 3 heads of 16 sharing 1 key/value head, an MLP of 80, a vocabulary of 101.
SIZES = dict(hidden_size=48, num_attention_heads=3, num_key_value_heads=1, intermediate_size=80,
             num_hidden_layers=2, vocab_size=101, max_position_embeddings=32,
             bos_token_id=None, eos_token_id=None)  # no early stop at an end token
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 16}
LINEAR = {"rope_type": "linear", "factor": 4.0}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _jiggle(model, seed=0):
    """Move every weight (RMSNorm scales off 1, biases off 0) so that a mix-up would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


def _hf_llama(seed=0, **overrides):
    torch.manual_seed(seed)
    conf = transformers.LlamaConfig(**{**SIZES, **overrides})
    return _jiggle(transformers.LlamaForCausalLM(conf), seed)


def _tokens(B=3, T=32, seed=0):
    return torch.randint(0, SIZES["vocab_size"], (B, T), generator=torch.Generator().manual_seed(seed))


def _assert_same_as_hf(hf, model):
    idx = _tokens()
    with torch.no_grad():
        ref, out = hf(idx).logits, model(idx)
    assert (out - ref).abs().max().item() < 1e-4
    prompt = idx[:, :4]
    ref_gen = hf.generate(prompt, max_new_tokens=10, do_sample=False, pad_token_id=0,
                          attention_mask=torch.ones_like(prompt))
    torch.testing.assert_close(model.generate(prompt, 10, temperature=0), ref_gen, rtol=0, atol=0)


# --- parity with transformers ---------------------------------------------------------------------

@pytest.mark.parametrize("tied,rope", [(True, None), (False, None), (False, LLAMA3), (True, LINEAR)],
                         ids=["tied", "untied", "untied-llama3", "tied-linear"])
def test_matches_hf_llama(tied, rope):
    extra = {} if rope is None else {"rope_scaling": rope, "rope_theta": 500.0}
    hf = _hf_llama(tie_word_embeddings=tied, **extra)
    model = from_hf_llama(hf).eval()
    c = model.config
    assert (c.n_head, c.n_kv_head, c.d_ff, c.head_dim) == (3, 1, 80, 0)
    assert (model.lm_head.weight is model.wte.weight) == tied
    assert c.rope_scaling == (rope or {"rope_type": "none"})["rope_type"]
    _assert_same_as_hf(hf, model)


def test_head_dim_other_than_width_over_heads():
    hf = _hf_llama(head_dim=10)                        # 3 heads of 10 in a width of 48
    model = from_hf_llama(hf).eval()
    assert model.config.head_dim == 10 and model.blocks[0].attn.q_proj.weight.shape == (30, 48)
    _assert_same_as_hf(hf, model)


@pytest.mark.parametrize("rope", [LLAMA3, LINEAR], ids=["llama3", "linear"])
def test_rope_scaling_changes_the_logits(rope):
    # The parity above means something only if the scaling moves the logits well past 1e-4.
    hf = _hf_llama(rope_scaling=rope, rope_theta=500.0)
    config, state = to_hf_llama_state(from_hf_llama(hf))
    unscaled = llama_from_hf_state({**config, "rope_scaling": None}, state).eval()
    idx = _tokens()
    with torch.no_grad():
        assert (unscaled(idx) - hf(idx).logits).abs().max().item() > 1e-3


def test_matches_hf_qwen2_with_biases():
    if not hasattr(transformers, "Qwen2ForCausalLM"):
        pytest.skip("this transformers has no Qwen2")
    torch.manual_seed(0)
    conf = transformers.Qwen2Config(**SIZES, rms_norm_eps=1e-6, tie_word_embeddings=False)
    hf = _jiggle(transformers.Qwen2ForCausalLM(conf))
    model = ann.from_hf(hf)
    assert model.config.qkv_bias and not model.config.out_bias
    assert model.blocks[0].attn.q_proj.bias is not None and model.blocks[0].attn.out_proj.bias is None
    _assert_same_as_hf(hf, model)


def test_from_hf_pretrained_reads_a_saved_llama(tmp_path):
    hf = _hf_llama(tie_word_embeddings=True, rope_scaling=LLAMA3)
    hf.save_pretrained(tmp_path)
    model = ann.from_hf_pretrained(str(tmp_path))
    with torch.no_grad():
        assert (model(_tokens()) - hf(_tokens()).logits).abs().max().item() < 1e-4


# --- cache, causality ----------------------------------------------------------------------------

def _tiny(seed=0, **overrides):
    torch.manual_seed(seed)
    return _jiggle(create_model("llama", "tiny", **overrides), seed)


def test_cached_forward_equals_full_forward():
    model = _tiny()
    idx = torch.randint(0, 32, (2, 12))
    with torch.no_grad():
        full = model(idx)
        logits, cache = model(idx[:, :5], model.empty_cache())
        steps = [logits]
        for t in range(5, 12):
            logits, cache = model(idx[:, t:t + 1], cache)
            steps.append(logits)
    assert cache[0].k.shape == (2, 1, 12, 16)                 # one key/value head is cached
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("new", [6, 30], ids=["in-window", "past-window"])
def test_cached_generation_equals_full_recompute(new):
    model = _tiny(rope_scaling="llama3", rope_factor=4.0, rope_original_max_len=8)
    prompt = torch.randint(0, 32, (2, 5))
    fast = model.generate(prompt, new, temperature=0)
    slow = model.generate(prompt, new, temperature=0, use_cache=False)
    assert fast.shape == (2, 5 + new)
    torch.testing.assert_close(fast, slow, rtol=0, atol=0)
    g1, g2 = (torch.Generator().manual_seed(3) for _ in range(2))
    torch.testing.assert_close(model.generate(prompt, new, top_k=5, generator=g1),
                               model.generate(prompt, new, top_k=5, generator=g2, use_cache=False))


def test_causal():
    model = _tiny()
    a = torch.randint(0, 32, (1, 16))
    b = a.clone()
    b[0, 10:] = (b[0, 10:] + 1) % 32
    with torch.no_grad():
        la, lb = model(a), model(b)
    torch.testing.assert_close(la[:, :10], lb[:, :10])
    assert (la[:, 10:] - lb[:, 10:]).abs().max() > 1e-3


# --- the way back ---------------------------------------------------------------------------------

def _save_hf_folder(model, folder):
    from safetensors.torch import save_file

    config, state = to_hf_llama_state(model)
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    save_file(state, str(folder / "model.safetensors"))
    return config


@pytest.mark.parametrize("overrides", [{}, {"tie_weights": False, "rope_scaling": "linear",
                                            "rope_factor": 2.0, "mlp_bias": True},
                                       {"head_dim": 12, "n_head": 4, "n_kv_head": 2,
                                        "rope_scaling": "llama3", "rope_factor": 8.0,
                                        "rope_original_max_len": 8}],
                         ids=["tied", "untied-linear-mlp-bias", "head-dim-llama3"])
def test_way_back_loads_into_transformers(tmp_path, overrides):
    model = _tiny(**overrides).eval()
    _save_hf_folder(model, tmp_path / "hf")
    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "hf").eval()
    idx = torch.randint(0, 32, (2, 16))
    with torch.no_grad():
        assert (hf(idx).logits - model(idx)).abs().max().item() < 1e-4
    assert hf.config.tie_word_embeddings == model.config.tie_weights


def test_way_back_of_qkv_biases_is_qwen2(tmp_path):
    if not hasattr(transformers, "Qwen2ForCausalLM"):
        pytest.skip("this transformers has no Qwen2")
    model = _tiny(qkv_bias=True).eval()
    config = _save_hf_folder(model, tmp_path / "hf")
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    idx = torch.randint(0, 32, (2, 16))
    with torch.no_grad():
        assert (hf(idx).logits - model(idx)).abs().max().item() < 1e-4


# --- bad checkpoints and configs ------------------------------------------------------------------

def test_bad_checkpoints_fail_with_the_tensor_named():
    config, state = to_hf_llama_state(_tiny(tie_weights=False))
    missing = {k: v for k, v in state.items() if k != "model.layers.1.mlp.up_proj.weight"}
    with pytest.raises(AnnError, match=r"lacks the tensor 'model\.layers\.1\.mlp\.up_proj\.weight'"):
        llama_from_hf_state(config, missing)
    with pytest.raises(AnnError, match=r"'model\.layers\.0\.self_attn\.k_proj\.weight' has shape"):
        llama_from_hf_state({**config, "num_key_value_heads": 2}, state)
    extra = {**state, "model.layers.0.self_attn.o_proj.bias": torch.zeros(32)}
    with pytest.raises(AnnError, match=r"o_proj\.bias"):
        llama_from_hf_state(config, extra)
    with pytest.raises(AnnError, match="rotary scaling 'yarn' is not supported"):
        llama_from_hf_state({**config, "rope_scaling": {"rope_type": "yarn", "factor": 2.0}}, state)
    with pytest.raises(AnnError, match="activation 'gelu'"):
        llama_from_hf_state({**config, "hidden_act": "gelu"}, state)
    with pytest.raises(AnnError, match="not a Llama-shaped model"):
        llama_from_hf_state({**config, "model_type": "gpt2"}, state)


def test_bad_head_counts_raise():
    with pytest.raises(AnnError, match="n_kv_head=3 must divide model.n_head=4"):
        create_model("llama", "tiny", n_head=4, n_kv_head=3)
    with pytest.raises(AnnError, match="must be even"):
        create_model("llama", "tiny", n_head=2, head_dim=7)


# --- the recipe -----------------------------------------------------------------------------------

def test_recipe_trains(tmp_path):
    run = ann.train("llama-pydoc", {"model.n_layer": 1, "model.n_head": 2, "model.n_kv_head": 1,
                                    "model.n_embd": 32, "model.d_ff": 48, "model.block_size": 32,
                                    "data.tokenizer": "char", "train.max_steps": 2,
                                    "train.eval_every": 2, "train.batch_size": 4,
                                    "train.eval_batch_size": 8, "train.threads": 1},
                    out=tmp_path / "llama", quiet=True)
    assert run.config.model_name == "llama" and math.isfinite(run.summary["test"]["loss"])
    loaded = ann.load(tmp_path / "llama")
    assert type(loaded.model).__name__ == "Llama" and loaded.model.config.n_kv_head == 1


def test_matches_hf_mistral_and_refuses_its_sliding_window():
    if not hasattr(transformers, "MistralForCausalLM"):
        pytest.skip("this transformers has no Mistral")
    torch.manual_seed(0)
    hf = _jiggle(transformers.MistralForCausalLM(transformers.MistralConfig(**SIZES,
                                                                              sliding_window=None)))
    _assert_same_as_hf(hf, ann.from_hf(hf))
    windowed = transformers.MistralForCausalLM(transformers.MistralConfig(**SIZES, sliding_window=8))
    with pytest.raises(AnnError, match="sliding-window attention"):
        ann.from_hf(windowed)


def test_a_bfloat16_checkpoint_loads_as_float32():
    hf = _hf_llama()
    config, state = to_hf_llama_state(from_hf_llama(hf))
    model = llama_from_hf_state(config, {k: v.bfloat16() for k, v in state.items()}).eval()
    assert model.wte.weight.dtype == torch.float32
    with torch.no_grad():   # the weights lost their last 16 bits, no more
        assert (model(_tokens()) - hf(_tokens()).logits).abs().max().item() < 0.1


def test_a_state_dict_becomes_the_parameters_without_a_copy():
    hf = _hf_llama(tie_word_embeddings=True)
    config, state = to_hf_llama_state(from_hf_llama(hf))
    model = llama_from_hf_state(config, state)
    assert model.wte.weight.data_ptr() == state["model.embed_tokens.weight"].data_ptr()
    assert model.lm_head.weight is model.wte.weight                  # still one tied Parameter
    assert len(list(model.parameters())) == len(state)
    # ... while a live transformers model is copied: training ann's leaves it alone
    model = from_hf_llama(hf)
    assert model.wte.weight.data_ptr() != hf.model.embed_tokens.weight.data_ptr()
    with torch.no_grad():
        assert (model.eval()(_tokens()) - hf(_tokens()).logits).abs().max().item() < 1e-4


def test_recipe_learns_characters_in_60_steps(tmp_path, conv):
    # the loss of knowing nothing is log(vocabulary); 60 small steps must get well below it
    run = ann.train("llama-pydoc", {"model.n_layer": 1, "model.n_head": 2, "model.n_kv_head": 1,
                                    "model.n_embd": 32, "model.d_ff": 64, "model.block_size": 32,
                                    "data.tokenizer": "char", "train.max_steps": 60,
                                    "train.eval_every": 30, "train.batch_size": 16,
                                    "train.warmup_steps": 10, "train.lr": 3e-3, **conv.overrides},
                    out=tmp_path / "llama", quiet=True)
    uniform = math.log(run.config.model.vocab_size)
    assert run.summary["test"]["loss"] < uniform - 1.0, (run.summary["test"], uniform)


def test_llama_weights_gives_the_config_and_tensors_under_anns_names():
    hf = _hf_llama(tie_word_embeddings=False, rope_scaling=LINEAR)
    state = {k: v.detach().clone() for k, v in hf.state_dict().items()}
    conf, weights = llama_weights(hf.config.to_dict(), state)
    assert conf.rope_scaling == "linear" and conf.rope_factor == 4.0 and not conf.tie_weights
    model = Llama(conf)
    model.load_state_dict(weights, strict=True)
    with torch.no_grad():
        assert (model.eval()(_tokens()) - hf(_tokens()).logits).abs().max().item() < 1e-4
