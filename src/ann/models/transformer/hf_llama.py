"""Import Hugging Face Llama-shaped checkpoints into :class:`~ann.models.transformer.llama.Llama`
and write them back; registers its converters in :data:`hf.CONVERTERS`.

``from_hf_llama(model)`` takes a live ``transformers`` ``LlamaForCausalLM`` (also
``Qwen2ForCausalLM``, and ``MistralForCausalLM`` without a sliding window);
``llama_from_hf_state(config, state)`` does the same from ``config.json`` as a dict and the
tensors by their Hugging Face names, so a folder can be read without ``transformers``
(``llama_weights`` gives the config and renamed tensors alone).
``to_hf_llama_state(model)`` is the way back: a config dict and tensors that
``LlamaForCausalLM.from_pretrained`` loads. Like the other converters, this never imports
``transformers``.
"""

from __future__ import annotations

import torch

from ...errors import AnnError
from .hf import CONVERTERS
from .llama import Llama, LlamaConfig, rotary

# ann's name inside a block -> Hugging Face's, under model.layers.{i}.
_LLAMA_LAYER = {"norm1": "input_layernorm", "norm2": "post_attention_layernorm",
                "attn.q_proj": "self_attn.q_proj", "attn.k_proj": "self_attn.k_proj",
                "attn.v_proj": "self_attn.v_proj", "attn.out_proj": "self_attn.o_proj",
                "mlp.gate": "mlp.gate_proj", "mlp.up": "mlp.up_proj", "mlp.down": "mlp.down_proj"}
_LLAMA_TOP = {"wte.weight": "model.embed_tokens.weight", "norm_f.weight": "model.norm.weight",
              "lm_head.weight": "lm_head.weight"}
_LLAMA_TYPES = ("llama", "qwen2", "mistral")
_ROPE_TYPES = {"default": "none", "linear": "linear", "llama3": "llama3"}


def _llama_hf_name(key: str) -> str:
    """The Hugging Face name of one tensor of ann's :class:`Llama`."""
    if not key.startswith("blocks."):
        return _LLAMA_TOP[key]
    _, i, rest = key.split(".", 2)
    module, kind = rest.rsplit(".", 1)
    return f"model.layers.{i}.{_LLAMA_LAYER[module]}.{kind}"


def _llama_rope(config: dict) -> dict:
    """ann's rotary settings from a config's ``rope_parameters`` (transformers 5) or
    ``rope_theta`` + ``rope_scaling`` (transformers 4 and most config.json files)."""
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind not in _ROPE_TYPES:
        raise AnnError(f"rotary scaling {kind!r} is not supported; supported: "
                       f"{', '.join(_ROPE_TYPES)}")
    if rope.get("partial_rotary_factor", config.get("partial_rotary_factor", 1.0)) != 1.0:
        raise AnnError("rotary positions on part of each head (partial_rotary_factor) are not "
                       "supported")
    out = {"rope_theta": float(rope.get("rope_theta", config.get("rope_theta", 10000.0))),
           "rope_scaling": _ROPE_TYPES[kind]}
    if kind != "default":
        out["rope_factor"] = float(rope["factor"])
    if kind == "llama3":
        out.update(rope_low_freq_factor=float(rope["low_freq_factor"]),
                   rope_high_freq_factor=float(rope["high_freq_factor"]),
                   rope_original_max_len=int(rope["original_max_position_embeddings"]))
    return out


def _llama_config(config: dict) -> LlamaConfig:
    """A :class:`LlamaConfig` equivalent to a Hugging Face Llama, Qwen2 or Mistral config dict."""
    kind = config.get("model_type", "llama")
    if kind not in _LLAMA_TYPES:
        raise AnnError(f"a {kind!r} config is not a Llama-shaped model; supported model types: "
                       f"{', '.join(_LLAMA_TYPES)}")
    act = config.get("hidden_act", "silu")
    if act != "silu":
        raise AnnError(f"activation {act!r} is not supported; Llama's SwiGLU uses 'silu'")
    window = config.get("sliding_window") if config.get("use_sliding_window", kind == "mistral") else None
    if window is not None and window < config["max_position_embeddings"]:
        raise AnnError(f"sliding-window attention (sliding_window={window}) is not supported")
    C, nh = config["hidden_size"], config["num_attention_heads"]
    hs = config.get("head_dim") or C // nh
    bias = bool(config.get("attention_bias", False))
    return LlamaConfig(
        vocab_size=config["vocab_size"], block_size=config["max_position_embeddings"],
        n_layer=config["num_hidden_layers"], n_head=nh,
        n_kv_head=config.get("num_key_value_heads") or nh, n_embd=C,
        head_dim=0 if C % nh == 0 and hs == C // nh else hs,
        d_ff=config["intermediate_size"], norm_eps=config.get("rms_norm_eps", 1e-6),
        tie_weights=bool(config.get("tie_word_embeddings", False)),
        qkv_bias=bias or kind == "qwen2", out_bias=bias,
        mlp_bias=bool(config.get("mlp_bias", False)),
        dropout=float(config.get("attention_dropout", 0.0) or 0.0), **_llama_rope(config))


def llama_weights(config: dict, state: dict) -> tuple[LlamaConfig, dict]:
    """ann's :class:`LlamaConfig` and Llama tensors (under ann's names) from a Hugging Face
    config (``config.json`` as a dict) and its tensors.

    ``state`` holds ``LlamaForCausalLM``'s tensor names (``model.layers.0.self_attn.q_proj.weight``
    ...; a bare ``LlamaModel``'s, without ``model.``, too); a tied checkpoint may leave
    ``lm_head.weight`` out, as ``save_pretrained`` does. Missing tensors, tensors of the wrong
    shape and tensors the config does not explain fail with the tensor's name. Float32 tensors
    are passed on, not copied; others are cast to float32.
    """
    conf = _llama_config(config)
    with torch.device("meta"):  # shapes only
        shapes = {k: tuple(v.shape) for k, v in Llama(conf).state_dict().items()}
    if state and not any(k.startswith("model.") for k in state):  # a bare LlamaModel's names
        state = {("model." + k if k != "lm_head.weight" else k): v for k, v in state.items()}
    out, used = {}, set()
    for key, shape in shapes.items():
        name = _llama_hf_name(key)
        if key == "lm_head.weight" and conf.tie_weights:
            out[key] = out["wte.weight"]
            used.add(name)
            continue
        if name not in state:
            raise AnnError(f"the checkpoint lacks the tensor {name!r} that its config implies")
        if tuple(state[name].shape) != shape:
            raise AnnError(f"tensor {name!r} has shape {tuple(state[name].shape)} but the config "
                           f"implies {shape}")
        out[key] = state[name].detach().float().contiguous()  # no copy if already so
        used.add(name)
    extra = sorted(k for k in state if k not in used and not k.endswith("rotary_emb.inv_freq"))
    if extra:
        raise AnnError(f"the checkpoint has tensors its config does not explain, e.g. {extra[0]!r}"
                       f" ({len(extra)} in all); check attention_bias / mlp_bias in config.json")
    return conf, out


def llama_from_hf_state(config: dict, state: dict) -> Llama:
    """A :class:`Llama` from a Hugging Face config (``config.json`` as a dict) and state dict
    (see :func:`llama_weights` for the names and the errors).

    The model takes the tensors over rather than copying them (float32 ones; others are cast), so
    a memory-mapped checkpoint costs no second copy of its weights: pass tensors nothing else
    will change.
    """
    conf, out = llama_weights(config, state)
    with torch.device("meta"):  # shapes only: the checkpoint's tensors become the parameters
        model = Llama(conf)
    model.load_state_dict(out, strict=True, assign=True)
    if conf.tie_weights:  # assign gave the two modules two Parameters; make them one again
        model.lm_head.weight = model.wte.weight
    model.rope = rotary(conf)  # the non-persistent angle tables, built on the CPU
    return model


def from_hf_llama(hf_model) -> Llama:
    """A :class:`Llama` with the config and weights of a ``transformers`` ``LlamaForCausalLM``
    (or ``Qwen2ForCausalLM``, ``MistralForCausalLM`` without a sliding window)."""
    state = {k: v.detach().clone() for k, v in hf_model.state_dict().items()}  # not shared
    return llama_from_hf_state(hf_model.config.to_dict(), state)


def to_hf_llama_state(model: Llama) -> tuple[dict, dict]:
    """``(config, state)``: a Hugging Face config dict and state dict equal to ``model``.

    ``LlamaForCausalLM`` (``Qwen2ForCausalLM`` when only the query/key/value projections have
    biases) loads them: ``config`` is what ``config.json`` holds, ``state`` the tensors, without
    ``lm_head.weight`` when it is tied to the embedding (as ``save_pretrained`` writes it).
    """
    c: LlamaConfig = model.config
    qwen2 = c.qkv_bias and not c.out_bias
    if c.out_bias and not c.qkv_bias:
        raise AnnError("a Llama with a bias on the attention output only (out_bias without "
                       "qkv_bias) has no Hugging Face equivalent")
    rope = None
    if c.rope_scaling != "none":
        rope = {"rope_type": c.rope_scaling, "factor": c.rope_factor}
    if c.rope_scaling == "llama3":
        rope.update(low_freq_factor=c.rope_low_freq_factor, high_freq_factor=c.rope_high_freq_factor,
                    original_max_position_embeddings=c.rope_original_max_len)
    config = {
        "architectures": ["Qwen2ForCausalLM" if qwen2 else "LlamaForCausalLM"],
        "model_type": "qwen2" if qwen2 else "llama",
        "vocab_size": c.vocab_size, "max_position_embeddings": c.block_size,
        "hidden_size": c.n_embd, "intermediate_size": c.d_ff,
        "num_hidden_layers": c.n_layer, "num_attention_heads": c.n_head,
        "num_key_value_heads": c.n_kv_head, "head_dim": c.head_dim or c.n_embd // c.n_head,
        "hidden_act": "silu", "rms_norm_eps": c.norm_eps, "rope_theta": c.rope_theta,
        "rope_scaling": rope, "tie_word_embeddings": c.tie_weights, "mlp_bias": c.mlp_bias,
        "attention_dropout": c.dropout, "bos_token_id": None, "eos_token_id": None,
        "torch_dtype": "float32"}
    if qwen2:
        config.update(use_sliding_window=False, sliding_window=None)
    else:
        config["attention_bias"] = c.qkv_bias
    state = {_llama_hf_name(k): v.detach().clone().contiguous()
             for k, v in model.state_dict().items()
             if not (k == "lm_head.weight" and c.tie_weights)}
    return config, state


CONVERTERS.update({"LlamaForCausalLM": from_hf_llama, "Qwen2ForCausalLM": from_hf_llama,
                   "MistralForCausalLM": from_hf_llama})
