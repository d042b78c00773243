"""Hugging Face vision converters: ``ViTForImageClassification`` (and ``ViTModel``) -> :class:`ViT`,
``CLIPModel`` -> :class:`CLIP`. Registered in ``hf.CONVERTERS`` on import, so ``ann.from_hf``
takes them; like the converters in ``hf.py`` they never import ``transformers`` themselves.
"""

from __future__ import annotations

import math

import torch

from ...errors import AnnError
from .clip import CLIP, CLIPConfig
from .hf import CONVERTERS, Weights, _load
from .vit import ViT, ViTConfig

_ACTS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
         "quick_gelu": "quick_gelu"}


def _act(name: str) -> str:
    if name not in _ACTS:
        raise AnnError(f"activation {name!r} is not supported; supported: {', '.join(_ACTS)}")
    return _ACTS[name]


def _block_weights(src: dict, theirs: str, ours: str, names: dict) -> dict:
    """One encoder block's tensors renamed; ``names`` maps our sub-module to theirs."""
    return {f"{ours}.{o}.{kind}": src[f"{theirs}.{t}.{kind}"]
            for o, t in names.items() for kind in ("weight", "bias")}


# transformers < 5 names (``encoder.layer.i``), and the names of transformers 5 (``layers.i``).
_VIT_BLOCK_V4 = {"ln1": "layernorm_before", "attn.q_proj": "attention.attention.query",
                 "attn.k_proj": "attention.attention.key",
                 "attn.v_proj": "attention.attention.value",
                 "attn.out_proj": "attention.output.dense", "ln2": "layernorm_after",
                 "fc": "intermediate.dense", "proj": "output.dense"}
_VIT_BLOCK_V5 = {"ln1": "layernorm_before", "attn.q_proj": "attention.q_proj",
                 "attn.k_proj": "attention.k_proj", "attn.v_proj": "attention.v_proj",
                 "attn.out_proj": "attention.o_proj", "ln2": "layernorm_after", "fc": "mlp.fc1",
                 "proj": "mlp.fc2"}


def from_hf_vit(hf_model) -> ViT:
    """A :class:`ViT` with the config and weights of a ``transformers`` ViT.

    ``ViTForImageClassification`` keeps its classifier; a bare ``ViTModel`` gets a zero head of
    one class (its pooler, unused by ViT classification, is dropped).
    """
    src = dict(hf_model.state_dict())
    conf, out = vit_weights(hf_model.config, src, type(hf_model).__name__)
    return _load(ViT(conf), out, src)


def vit_weights(hf, src: dict, arch: str) -> tuple[ViTConfig, dict]:
    """ann's :class:`ViTConfig` and ViT tensors from a ViT config, its tensors and its Hugging
    Face class (``ViTForImageClassification`` or ``ViTModel``)."""
    src = Weights(src)
    if not getattr(hf, "qkv_bias", True):
        raise AnnError("a ViT without query/key/value biases (qkv_bias=False) is not supported")
    size, patch = hf.image_size, hf.patch_size
    if not isinstance(size, int) or not isinstance(patch, int):
        raise AnnError("only square ViT images and patches (integer image_size, patch_size) are supported")
    classify = arch == "ViTForImageClassification"
    conf = ViTConfig(in_channels=hf.num_channels, image_size=size,
                     num_classes=hf.num_labels if classify else 1, patch_size=patch,
                     d_model=hf.hidden_size, n_layer=hf.num_hidden_layers,
                     n_head=hf.num_attention_heads, d_ff=hf.intermediate_size,
                     dropout=hf.hidden_dropout_prob, activation=_act(hf.hidden_act),
                     ln_eps=hf.layer_norm_eps)
    p = "vit." if classify else ""
    e = p + "embeddings."
    out = {"encoder.cls": src[e + "cls_token"], "encoder.pos": src[e + "position_embeddings"],
           "encoder.patch.weight": src[e + "patch_embeddings.projection.weight"],
           "encoder.patch.bias": src[e + "patch_embeddings.projection.bias"],
           "encoder.norm.weight": src[p + "layernorm.weight"],
           "encoder.norm.bias": src[p + "layernorm.bias"]}
    v5 = f"{p}layers.0.layernorm_before.weight" in src
    for i in range(conf.n_layer):
        theirs = f"{p}layers.{i}" if v5 else f"{p}encoder.layer.{i}"
        out.update(_block_weights(src, theirs, f"encoder.blocks.{i}",
                                  _VIT_BLOCK_V5 if v5 else _VIT_BLOCK_V4))
    if classify:
        out["head.weight"], out["head.bias"] = src["classifier.weight"], src["classifier.bias"]
    else:
        out["head.weight"] = torch.zeros(1, conf.d_model)
        out["head.bias"] = torch.zeros(1)
    return conf, out


_CLIP_BLOCK = {"ln1": "layer_norm1", "attn.q_proj": "self_attn.q_proj",
               "attn.k_proj": "self_attn.k_proj", "attn.v_proj": "self_attn.v_proj",
               "attn.out_proj": "self_attn.out_proj", "ln2": "layer_norm2", "fc": "mlp.fc1",
               "proj": "mlp.fc2"}


def from_hf_clip(hf_model) -> CLIP:
    """A :class:`CLIP` with the config and weights of a ``transformers.CLIPModel``.

    The text tower pools at the first end token, as ``CLIPTextTransformer`` does for configs
    whose ``eos_token_id`` is not the legacy 2 (those pool at the largest token id instead,
    which ann does not reproduce: such a config is refused). ``pad_id`` and ``bos_id`` are taken
    from the config when set.
    """
    src = dict(hf_model.state_dict())
    conf, out = clip_weights(hf_model.config, src)
    return _load(CLIP(conf), out, src)


def clip_weights(hf, src: dict) -> tuple[CLIPConfig, dict]:
    """ann's :class:`CLIPConfig` and CLIP tensors from a CLIP config (``text_config`` and
    ``vision_config`` within) and its tensors."""
    src = Weights(src)
    t, v = hf.text_config, hf.vision_config
    if t.eos_token_id == 2:
        raise AnnError("this CLIP config has the legacy eos_token_id=2, for which transformers "
                       "pools at the largest token id; set text_config.eos_token_id to the real "
                       "end token")
    if t.hidden_act != v.hidden_act or t.layer_norm_eps != v.layer_norm_eps:
        raise AnnError("ann's CLIP uses one activation and one LayerNorm epsilon for both towers")
    if not isinstance(v.image_size, int) or not isinstance(v.patch_size, int):
        raise AnnError("only square CLIP images and patches are supported")
    conf = CLIPConfig(in_channels=v.num_channels, image_size=v.image_size, patch_size=v.patch_size,
                      vision_width=v.hidden_size, vision_layers=v.num_hidden_layers,
                      vision_heads=v.num_attention_heads, vision_d_ff=v.intermediate_size,
                      vocab_size=t.vocab_size, max_len=t.max_position_embeddings,
                      text_width=t.hidden_size, text_layers=t.num_hidden_layers,
                      text_heads=t.num_attention_heads, text_d_ff=t.intermediate_size,
                      embed_dim=hf.projection_dim, activation=_act(t.hidden_act),
                      ln_eps=t.layer_norm_eps, eos_id=t.eos_token_id,
                      pad_id=t.pad_token_id if t.pad_token_id is not None else 0,
                      bos_id=t.bos_token_id if t.bos_token_id is not None else 2,
                      logit_scale_init=float(hf.logit_scale_init_value))
    ve, te = "vision_model.embeddings.", "text_model.embeddings."
    out = {"visual.cls": src[ve + "class_embedding"].view(1, 1, -1),
           "visual.pos": src[ve + "position_embedding.weight"][None],
           "visual.patch.weight": src[ve + "patch_embedding.weight"],
           "visual.pre_norm.weight": src["vision_model.pre_layrnorm.weight"],
           "visual.pre_norm.bias": src["vision_model.pre_layrnorm.bias"],
           "visual.norm.weight": src["vision_model.post_layernorm.weight"],
           "visual.norm.bias": src["vision_model.post_layernorm.bias"],
           "token_embedding.weight": src[te + "token_embedding.weight"],
           "text_pos.weight": src[te + "position_embedding.weight"],
           "text_norm.weight": src["text_model.final_layer_norm.weight"],
           "text_norm.bias": src["text_model.final_layer_norm.bias"],
           "visual_projection.weight": src["visual_projection.weight"],
           "text_projection.weight": src["text_projection.weight"],
           "logit_scale": src["logit_scale"].reshape(())}
    for i in range(conf.vision_layers):
        out.update(_block_weights(src, f"vision_model.encoder.layers.{i}", f"visual.blocks.{i}",
                                  _CLIP_BLOCK))
    for i in range(conf.text_layers):
        out.update(_block_weights(src, f"text_model.encoder.layers.{i}", f"text_blocks.{i}",
                                  _CLIP_BLOCK))
    if not math.isfinite(float(out["logit_scale"])):
        raise AnnError("this CLIP's logit_scale is not finite")
    return conf, out


CONVERTERS.update({"ViTForImageClassification": from_hf_vit, "ViTModel": from_hf_vit,
                   "CLIPModel": from_hf_clip})
