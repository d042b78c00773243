"""Import Hugging Face ``transformers`` T5 weights (``T5ForConditionalGeneration``) into
:class:`~ann.models.transformer.t5.T5`; registers itself in :data:`hf.CONVERTERS`.

Both T5 v1.0 (ReLU feed-forward, output layer tied to the embedding) and v1.1 (gated GELU,
untied) configurations convert. Like the other converters, this never imports ``transformers``.
"""

from __future__ import annotations

import torch

from ...errors import AnnError
from .hf import CONVERTERS, Weights, _load
from .t5 import T5, T5Config

_FEED_FORWARD = {("relu", False): "relu", ("gelu_new", True): "gated-gelu"}


def _t5_config(hf) -> T5Config:
    """A :class:`T5Config` equivalent to a ``transformers.T5Config``; unsupported options raise."""
    key = (hf.dense_act_fn, bool(hf.is_gated_act))
    if key not in _FEED_FORWARD:
        raise AnnError(f"T5 feed-forward {hf.feed_forward_proj!r} is not supported; supported: "
                       "'relu' (v1.0) and 'gated-gelu' (v1.1)")
    n_positions = getattr(hf, "n_positions", 512) or 512  # T5 has no limit; 512 as released
    return T5Config(
        vocab_size=hf.vocab_size, pad_id=hf.pad_token_id, eos_id=hf.eos_token_id,
        bos_id=hf.decoder_start_token_id, unk_id=-1, max_src_len=n_positions,
        max_tgt_len=n_positions, n_encoder_layers=hf.num_layers,
        n_decoder_layers=hf.num_decoder_layers or hf.num_layers, d_model=hf.d_model,
        n_heads=hf.num_heads, d_kv=hf.d_kv, d_ff=hf.d_ff, feed_forward=_FEED_FORWARD[key],
        tie_embeddings=_scales_output(hf),
        num_buckets=hf.relative_attention_num_buckets,
        max_distance=hf.relative_attention_max_distance, dropout=hf.dropout_rate,
        ln_eps=hf.layer_norm_epsilon, init_factor=hf.initializer_factor)


def _scales_output(hf) -> bool:
    """Whether the decoder output is scaled by d_model^-0.5 before the (tied) output layer: T5
    v1.0. ``transformers`` 5 keeps this as ``scale_decoder_outputs`` (and ties every T5's head);
    older versions read it from ``tie_word_embeddings``."""
    return bool(getattr(hf, "scale_decoder_outputs", hf.tie_word_embeddings))


def _attention(src: dict, theirs: str, ours: str, out: dict):
    for a, b in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "out_proj")):
        out[f"{ours}.{b}.weight"] = src[f"{theirs}.{a}.weight"]


def _feed_forward(src: dict, theirs: str, ours: str, names, out: dict):
    for name in names:
        out[f"{ours}.{name}.weight"] = src[f"{theirs}.{name}.weight"]


def from_hf_t5(hf_model) -> T5:
    """A :class:`T5` with the config and weights of a ``transformers`` T5 model."""
    src = {k: v.detach() for k, v in hf_model.state_dict().items()}
    conf, out = t5_weights(hf_model.config, src)
    return _load(T5(conf), out, src)


def t5_weights(hf, src: dict) -> tuple[T5Config, dict]:
    """ann's :class:`T5Config` and T5 tensors from a T5 config and its tensors.

    Hugging Face nests each block's sub-layers as ``layer.0`` (self-attention), ``layer.1``
    (cross-attention in the decoder, feed-forward in the encoder), ``layer.2``; its first block
    of each stack holds that stack's ``relative_attention_bias``.
    """
    conf = _t5_config(hf)
    src = Weights(src)
    ff = ("wi_0", "wi_1", "wo") if conf.feed_forward == "gated-gelu" else ("wi", "wo")
    ff_name = "DenseReluDense"
    out = {"embed.weight": src["shared.weight"],
           "encoder_norm.weight": src["encoder.final_layer_norm.weight"],
           "decoder_norm.weight": src["decoder.final_layer_norm.weight"],
           "encoder_bias.table.weight":
               src["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"],
           "decoder_bias.table.weight":
               src["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]}
    for i in range(conf.n_encoder_layers):
        h, b = f"encoder.block.{i}.layer.", f"encoder.{i}."
        _attention(src, h + "0.SelfAttention", b + "self_attn", out)
        out[b + "attn_norm.weight"] = src[h + "0.layer_norm.weight"]
        _feed_forward(src, h + "1." + ff_name, b + "ff", ff, out)
        out[b + "ff_norm.weight"] = src[h + "1.layer_norm.weight"]
    for i in range(conf.n_decoder_layers):
        h, b = f"decoder.block.{i}.layer.", f"decoder.{i}."
        _attention(src, h + "0.SelfAttention", b + "self_attn", out)
        out[b + "attn_norm.weight"] = src[h + "0.layer_norm.weight"]
        _attention(src, h + "1.EncDecAttention", b + "cross_attn", out)
        out[b + "cross_norm.weight"] = src[h + "1.layer_norm.weight"]
        _feed_forward(src, h + "2." + ff_name, b + "ff", ff, out)
        out[b + "ff_norm.weight"] = src[h + "2.layer_norm.weight"]
    head = src["lm_head.weight"] if "lm_head.weight" in src else out["embed.weight"]
    if conf.tie_embeddings and not torch.equal(head, out["embed.weight"]):
        raise AnnError("this T5 scales its decoder output as v1.0 does, but its output layer is "
                       "not its embedding; ann's T5 ties the two in that case")
    out["head.proj.weight"] = out["embed.weight"] if conf.tie_embeddings else head
    return conf, out


CONVERTERS.update({"T5ForConditionalGeneration": from_hf_t5})
