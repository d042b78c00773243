"""Write ann's Transformers back as Hugging Face checkpoints: the way back of :mod:`.hf_folder`.

:func:`to_hf_state` takes an ann model (GPT, BERT with its masked-LM or classification head,
T5, ViT, Llama) and gives ``(config, state)``: the dict ``config.json`` holds and the tensors by
their Hugging Face names, which ``transformers``' ``GPT2LMHeadModel``,
``BertForMaskedLM``, ``BertForSequenceClassification``, ``T5ForConditionalGeneration``,
``ViTForImageClassification`` and ``LlamaForCausalLM`` load with ``from_pretrained``. An ann
setting with no Hugging Face equivalent is refused in one line naming it. Like the importers,
this never imports ``transformers``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...errors import AnnError
from .bert import BertClassifier, BertMLM
from .gpt import GPT
from .hf_llama import to_hf_llama_state
from .llama import Llama
from .t5 import T5
from .vit import ViT


def _state(model) -> dict:
    return {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}


def _gpt(model: GPT) -> tuple[dict, dict]:
    c, s = model.config, _state(model)
    C = c.n_embd
    act = {"gelu": "gelu", "gelu_tanh": "gelu_new"}[c.activation]
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
              "vocab_size": c.vocab_size, "n_positions": c.block_size, "n_ctx": c.block_size,
              "n_embd": C, "n_layer": c.n_layer, "n_head": c.n_head, "n_inner": None,
              "activation_function": act, "resid_pdrop": c.dropout, "embd_pdrop": c.dropout,
              "attn_pdrop": c.dropout, "layer_norm_epsilon": c.ln_eps,
              "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
              "reorder_and_upcast_attn": False, "tie_word_embeddings": c.tie_weights,
              "bos_token_id": None, "eos_token_id": None}

    def bias(name, n=C):    # ann's bias=False is GPT-2 with zero biases
        return s.get(name, torch.zeros(n))

    out = {"transformer.wte.weight": s["wte.weight"], "transformer.wpe.weight": s["wpe.weight"],
           "transformer.ln_f.weight": s["ln_f.weight"], "transformer.ln_f.bias": bias("ln_f.bias")}
    for i in range(c.n_layer):
        b, h = f"blocks.{i}.", f"transformer.h.{i}."
        for ours, theirs in (("ln1", "ln_1"), ("ln2", "ln_2")):
            out[h + theirs + ".weight"] = s[b + ours + ".weight"]
            out[h + theirs + ".bias"] = bias(b + ours + ".bias")
        qkv = ("q_proj", "k_proj", "v_proj")
        # GPT-2's Conv1D stores (in, out) and fuses q, k, v along the output
        out[h + "attn.c_attn.weight"] = torch.cat([s[b + f"attn.{n}.weight"] for n in qkv]).t()
        out[h + "attn.c_attn.bias"] = torch.cat([bias(b + f"attn.{n}.bias") for n in qkv])
        for ours, theirs, n in (("attn.out_proj", "attn.c_proj", C), ("mlp.fc", "mlp.c_fc", 4 * C),
                                ("mlp.proj", "mlp.c_proj", C)):
            out[h + theirs + ".weight"] = s[b + ours + ".weight"].t()
            out[h + theirs + ".bias"] = bias(b + ours + ".bias", n)
    if not c.tie_weights:
        out["lm_head.weight"] = s["lm_head.weight"]
    return config, out


_BERT_PAIRS = (("attn.q_proj", "attention.self.query"), ("attn.k_proj", "attention.self.key"),
               ("attn.v_proj", "attention.self.value"),
               ("attn.out_proj", "attention.output.dense"), ("ln1", "attention.output.LayerNorm"),
               ("mlp.fc", "intermediate.dense"), ("mlp.proj", "output.dense"),
               ("ln2", "output.LayerNorm"))


def _bert_encoder(model, arch: str) -> tuple[dict, dict]:
    c, s = model.config, _state(model)
    config = {"architectures": [arch], "model_type": "bert", "vocab_size": c.vocab_size,
              "hidden_size": c.n_embd, "num_hidden_layers": c.n_layer,
              "num_attention_heads": c.n_head, "intermediate_size": c.d_ff or 4 * c.n_embd,
              "hidden_act": "gelu", "hidden_dropout_prob": c.dropout,
              "attention_probs_dropout_prob": c.dropout, "max_position_embeddings": c.max_len,
              "type_vocab_size": c.n_segments, "layer_norm_eps": c.ln_eps,
              "pad_token_id": c.pad_id, "position_embedding_type": "absolute",
              "tie_word_embeddings": True}
    e = "bert.embeddings."
    out = {e + "word_embeddings.weight": s["encoder.tok.weight"],
           e + "position_embeddings.weight": s["encoder.pos.weight"],
           e + "token_type_embeddings.weight": s["encoder.seg.weight"],
           e + "LayerNorm.weight": s["encoder.ln.weight"], e + "LayerNorm.bias": s["encoder.ln.bias"]}
    for i in range(c.n_layer):
        for ours, theirs in _BERT_PAIRS:
            for kind in ("weight", "bias"):
                out[f"bert.encoder.layer.{i}.{theirs}.{kind}"] = s[f"encoder.blocks.{i}.{ours}.{kind}"]
    return config, out


def _bert_mlm(model: BertMLM) -> tuple[dict, dict]:
    config, out = _bert_encoder(model, "BertForMaskedLM")
    s, p = _state(model), "cls.predictions."
    out.update({p + "transform.dense.weight": s["mlm.0.weight"],
                p + "transform.dense.bias": s["mlm.0.bias"],
                p + "transform.LayerNorm.weight": s["mlm.2.weight"],
                p + "transform.LayerNorm.bias": s["mlm.2.bias"],
                p + "decoder.weight": s["decoder.weight"], p + "decoder.bias": s["decoder.bias"],
                p + "bias": s["decoder.bias"]})
    return config, out


def _bert_classifier(model: BertClassifier) -> tuple[dict, dict]:
    config, out = _bert_encoder(model, "BertForSequenceClassification")
    s = _state(model)
    n = model.config.num_classes
    config.update(num_labels=n, id2label={str(i): f"LABEL_{i}" for i in range(n)},
                  label2id={f"LABEL_{i}": i for i in range(n)})
    out.update({"bert.pooler.dense.weight": s["pooler.0.weight"],
                "bert.pooler.dense.bias": s["pooler.0.bias"],
                "classifier.weight": s["classifier.weight"], "classifier.bias": s["classifier.bias"]})
    return config, out


def _t5(model: T5) -> tuple[dict, dict]:
    c, s = model.config, _state(model)
    gated = c.feed_forward == "gated-gelu"
    config = {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5",
              "vocab_size": c.vocab_size, "d_model": c.d_model,
              "d_kv": c.d_kv or c.d_model // c.n_heads, "d_ff": c.d_ff,
              "num_layers": c.n_encoder_layers, "num_decoder_layers": c.n_decoder_layers,
              "num_heads": c.n_heads, "relative_attention_num_buckets": c.num_buckets,
              "relative_attention_max_distance": c.max_distance, "dropout_rate": c.dropout,
              "layer_norm_epsilon": c.ln_eps, "initializer_factor": c.init_factor,
              "feed_forward_proj": c.feed_forward, "is_encoder_decoder": True,
              # T5 v1.0 scales the decoder output and ties the head; v1.1 does neither
              "tie_word_embeddings": c.tie_embeddings, "pad_token_id": c.pad_id,
              "eos_token_id": c.eos_id, "decoder_start_token_id": c.bos_id,
              "n_positions": max(c.max_src_len, c.max_tgt_len)}
    ff = ("wi_0", "wi_1", "wo") if gated else ("wi", "wo")
    out = {"shared.weight": s["embed.weight"],
           "encoder.final_layer_norm.weight": s["encoder_norm.weight"],
           "decoder.final_layer_norm.weight": s["decoder_norm.weight"],
           "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight":
               s["encoder_bias.table.weight"],
           "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight":
               s["decoder_bias.table.weight"], "lm_head.weight": s["head.proj.weight"]}

    def attention(ours, theirs):
        for a, b in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "out_proj")):
            out[f"{theirs}.{a}.weight"] = s[f"{ours}.{b}.weight"]

    for stack, n in (("encoder", c.n_encoder_layers), ("decoder", c.n_decoder_layers)):
        for i in range(n):
            b, h = f"{stack}.{i}.", f"{stack}.block.{i}.layer."
            attention(b + "self_attn", h + "0.SelfAttention")
            out[h + "0.layer_norm.weight"] = s[b + "attn_norm.weight"]
            k = 1
            if stack == "decoder":
                attention(b + "cross_attn", h + "1.EncDecAttention")
                out[h + "1.layer_norm.weight"] = s[b + "cross_norm.weight"]
                k = 2
            for name in ff:
                out[f"{h}{k}.DenseReluDense.{name}.weight"] = s[f"{b}ff.{name}.weight"]
            out[f"{h}{k}.layer_norm.weight"] = s[b + "ff_norm.weight"]
    return config, out


_VIT_ACTS = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "quick_gelu": "quick_gelu"}
_VIT_BLOCK = {"ln1": "layernorm_before", "attn.q_proj": "attention.attention.query",
              "attn.k_proj": "attention.attention.key", "attn.v_proj": "attention.attention.value",
              "attn.out_proj": "attention.output.dense", "ln2": "layernorm_after",
              "fc": "intermediate.dense", "proj": "output.dense"}


def _vit(model: ViT) -> tuple[dict, dict]:
    c, s = model.config, _state(model)
    if c.activation not in _VIT_ACTS:
        raise AnnError(f"model.activation={c.activation!r} has no Hugging Face ViT equivalent; "
                       f"exportable: {', '.join(_VIT_ACTS)}")
    n = c.num_classes
    config = {"architectures": ["ViTForImageClassification"], "model_type": "vit",
              "hidden_size": c.d_model, "num_hidden_layers": c.n_layer,
              "num_attention_heads": c.n_head, "intermediate_size": c.d_ff,
              "hidden_act": _VIT_ACTS[c.activation], "hidden_dropout_prob": c.dropout,
              "attention_probs_dropout_prob": c.dropout, "layer_norm_eps": c.ln_eps,
              "image_size": c.image_size, "patch_size": c.patch_size,
              "num_channels": c.in_channels, "qkv_bias": True, "num_labels": n,
              "id2label": {str(i): f"LABEL_{i}" for i in range(n)},
              "label2id": {f"LABEL_{i}": i for i in range(n)}}
    e = "vit.embeddings."
    out = {e + "cls_token": s["encoder.cls"], e + "position_embeddings": s["encoder.pos"],
           e + "patch_embeddings.projection.weight": s["encoder.patch.weight"],
           e + "patch_embeddings.projection.bias": s["encoder.patch.bias"],
           "vit.layernorm.weight": s["encoder.norm.weight"],
           "vit.layernorm.bias": s["encoder.norm.bias"],
           "classifier.weight": s["head.weight"], "classifier.bias": s["head.bias"]}
    for i in range(c.n_layer):
        for ours, theirs in _VIT_BLOCK.items():
            for kind in ("weight", "bias"):
                out[f"vit.encoder.layer.{i}.{theirs}.{kind}"] = s[f"encoder.blocks.{i}.{ours}.{kind}"]
    return config, out


def _llama(model: Llama) -> tuple[dict, dict]:
    c = model.config
    if c.qkv_bias and not c.out_bias and c.mlp_bias:
        raise AnnError("model.mlp_bias=true with query/key/value biases only (model.qkv_bias "
                       "without model.out_bias) has no Hugging Face equivalent: Qwen2 has no "
                       "feed-forward biases")
    config, state = to_hf_llama_state(model)
    if model.config.tie_weights:    # safetensors keeps one copy; transformers ties it back
        state.pop("lm_head.weight", None)
    return config, state


# ann model class -> its exporter. Another architecture is one more entry.
EXPORTERS: dict[type, Callable[[torch.nn.Module], tuple[dict, dict]]] = {
    GPT: _gpt, BertMLM: _bert_mlm, BertClassifier: _bert_classifier, T5: _t5, ViT: _vit,
    Llama: _llama}


def exportable() -> str:
    return ", ".join(getattr(c, "registry_name", c.__name__) for c in EXPORTERS)


def to_hf_state(model: torch.nn.Module) -> tuple[dict, dict]:
    """``(config, state)`` of the Hugging Face checkpoint equal to ``model``; the tensors are
    float32 and share no storage (safetensors writes each once)."""
    exporter = EXPORTERS.get(type(model))
    if exporter is None:
        name = getattr(model, "registry_name", type(model).__name__)
        raise AnnError(f"model {name!r} has no Hugging Face export; exportable: {exportable()}")
    config, state = exporter(model)
    config = {**config, "torch_dtype": "float32"}
    return config, {k: v.detach().float().clone().contiguous() for k, v in state.items()}
