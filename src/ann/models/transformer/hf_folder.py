"""Read a Hugging Face model folder without ``transformers``: ``config.json`` and the weights
(``model.safetensors``, sharded ``model-0000N-of-0000M.safetensors`` with their index, or a
``pytorch_model.bin`` read with ``torch.load(weights_only=True)``), and turn it into an ann model
with the same weights.

:func:`read_folder` gives the config (as a plain dict) and the tensors by their Hugging Face
names; :func:`convert` builds the ann model. :data:`ARCHITECTURES` holds one entry per Hugging
Face ``model_type``: the Hugging Face classes it takes, the defaults of that type's config (a
``config.json`` written by ``save_pretrained`` leaves some out), and the converter. Another
architecture is one more entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ...errors import AnnError
from . import hf, hf_llama, hf_t5, hf_vision
from .bert import BertMLM
from .clip import CLIP
from .gpt import GPT
from .llama import Llama
from .t5 import T5
from .vit import ViT


class MissingKey(AnnError, AttributeError):
    """A config entry the converter needs and neither config.json nor the defaults hold
    (an ``AttributeError`` too, so ``getattr(conf, key, default)`` works)."""


class HFConfig:
    """Attribute view of a ``config.json`` object, falling back to its type's defaults, as the
    converters read a ``transformers`` config."""

    def __init__(self, data: dict, defaults: dict, where: str = "config.json"):
        self._data, self._defaults, self._where = data, defaults, where

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._data:
            return self._data[name]
        if name == "num_labels" and isinstance(self._data.get("id2label"), dict):
            return len(self._data["id2label"])
        if name in self._defaults:
            return self._defaults[name]
        raise MissingKey(f"{self._where} lacks the entry {name!r}; write the folder again with "
                         "transformers' save_pretrained")


@dataclass(frozen=True)
class Architecture:
    """How one Hugging Face ``model_type`` becomes an ann model."""

    # the Hugging Face classes taken (config.json "architectures") -> the ann recipe an imported
    # run belongs to (its data source and training settings, for `ann train RECIPE
    # train.init_from=RUN` and `ann eval`)
    recipes: dict[str, str]
    defaults: dict                # that type's config defaults, for entries config.json leaves out
    # (config, tensors, class, extra) -> (ann model name, model class, ann config, ann tensors);
    # extra holds what the tokenizer knows (mask_id, n_special)
    convert: Callable


def _gpt2(conf, src, arch, extra):
    c, out = hf.gpt2_weights(conf, src)
    return "gpt", GPT, c, out


def _bert(conf, src, arch, extra):
    # checkpoints converted from Google's TensorFlow release name LayerNorm's tensors gamma/beta
    src = {k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias"): v
           for k, v in src.items()}
    keys = ("mask_id", "n_special") if arch == "BertForMaskedLM" else ()
    cls, c, out = hf.bert_weights(conf, src, arch, **{k: extra[k] for k in keys if k in extra})
    return ("bert" if cls is BertMLM else "bert-classifier"), cls, c, out


def _t5(conf, src, arch, extra):
    proj = conf.feed_forward_proj
    parts = proj.split("-")
    derived = {"is_gated_act": parts[0] == "gated",
               "dense_act_fn": "gelu_new" if proj == "gated-gelu" else parts[-1]}
    conf = HFConfig({**derived, **conf._data}, conf._defaults)
    c, out = hf_t5.t5_weights(conf, src)
    return "t5", T5, c, out


def _vit(conf, src, arch, extra):
    c, out = hf_vision.vit_weights(conf, src, arch)
    return "vit", ViT, c, out


_CLIP_TOWER = {"hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "num_hidden_layers": 12,
               "hidden_dropout_prob": 0.0}
_CLIP_TEXT = {**_CLIP_TOWER, "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048,
              "num_attention_heads": 8, "max_position_embeddings": 77, "pad_token_id": 1,
              "bos_token_id": 49406, "eos_token_id": 49407}
_CLIP_VISION = {**_CLIP_TOWER, "hidden_size": 768, "intermediate_size": 3072,
                "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32}


def _clip(conf, src, arch, extra):
    text = dict(conf.text_config)
    vocab = text.get("vocab_size", _CLIP_TEXT["vocab_size"])
    if text.get("eos_token_id", 2) == 2 and extra.get("eos_id") == vocab - 1:
        # OpenAI's configs keep the legacy eos_token_id=2, for which transformers pools at the
        # largest id: their end token is the last of the vocabulary, so that is the end token
        text["eos_token_id"] = extra["eos_id"]
    towers = HFConfig({**conf._data, "text_config": HFConfig(text, _CLIP_TEXT,
                                                             "config.json's text_config"),
                       "vision_config": HFConfig(conf.vision_config, _CLIP_VISION,
                                                 "config.json's vision_config")}, conf._defaults)
    c, out = hf_vision.clip_weights(towers, src)
    return "clip", CLIP, c, out


def _llama(conf, src, arch, extra):
    # Llama, Qwen2 and Mistral share one layout; hf_llama reads each type's own entries (rope
    # scaling in both of transformers' spellings, biases, sliding windows refused)
    c, out = hf_llama.llama_weights({**conf._defaults, **conf._data}, src)
    return "llama", Llama, c, out


_LLAMA = {"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
          "tie_word_embeddings": False, "hidden_act": "silu", "attention_bias": False,
          "mlp_bias": False, "max_position_embeddings": 2048}

ARCHITECTURES: dict[str, Architecture] = {
    "gpt2": Architecture({"GPT2LMHeadModel": "gpt-pydoc"}, {
        "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
        "n_inner": None, "activation_function": "gelu_new", "resid_pdrop": 0.1,
        "layer_norm_epsilon": 1e-5, "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False, "tie_word_embeddings": True}, _gpt2),
    "bert": Architecture({"BertForMaskedLM": "bert-pydoc",
                          "BertForSequenceClassification": "bert-sst2"}, {
        "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
        "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute",
        "is_decoder": False, "tie_word_embeddings": True, "num_labels": 2}, _bert),
    "t5": Architecture({"T5ForConditionalGeneration": "t5-tasks"}, {
        "vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6,
        "num_decoder_layers": None, "num_heads": 8, "relative_attention_num_buckets": 32,
        "relative_attention_max_distance": 128, "dropout_rate": 0.1,
        "layer_norm_epsilon": 1e-6, "initializer_factor": 1.0, "feed_forward_proj": "relu",
        "tie_word_embeddings": True, "pad_token_id": 0, "eos_token_id": 1,
        "decoder_start_token_id": 0}, _t5),
    "vit": Architecture({"ViTForImageClassification": "vit-digits"}, {
        "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "layer_norm_eps": 1e-12, "image_size": 224, "patch_size": 16, "num_channels": 3,
        "qkv_bias": True, "num_labels": 2}, _vit),
    "clip": Architecture({"CLIPModel": "clip-digits"}, {
        "text_config": {}, "vision_config": {}, "projection_dim": 512,
        "logit_scale_init_value": 2.6592}, _clip),
    "llama": Architecture({"LlamaForCausalLM": "llama-pydoc"}, _LLAMA, _llama),
    "qwen2": Architecture({"Qwen2ForCausalLM": "llama-pydoc"}, _LLAMA, _llama),
    "mistral": Architecture({"MistralForCausalLM": "llama-pydoc"}, _LLAMA, _llama),
}


def supported() -> str:
    """The architectures ann imports, for error messages."""
    return "; ".join(f"{t} ({', '.join(a.recipes)})" for t, a in ARCHITECTURES.items())


def read_config(folder: Path) -> dict:
    file = folder / "config.json"
    if not file.is_file():
        raise AnnError(f"{folder} holds no config.json, so it is not a Hugging Face model folder; "
                       "give the folder that transformers' save_pretrained wrote")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise AnnError(f"{file} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise AnnError(f"{file} holds a {type(data).__name__}, not a model config object")
    return data


def architecture(data: dict) -> tuple[str, Architecture, str]:
    """(model_type, its :class:`Architecture`, the Hugging Face class) of a config, or an error
    listing the architectures ann has."""
    model_type = data.get("model_type")
    arch = (data.get("architectures") or [None])[0]
    entry = ARCHITECTURES.get(model_type)
    if entry is not None and arch is None:      # an old config.json names only its model_type
        arch = next(iter(entry.recipes))
    if entry is None or arch not in entry.recipes:
        what = f"{arch or 'a model'} (model_type {model_type!r})"
        raise AnnError(f"config.json describes {what}, which ann cannot import; it imports "
                       f"{supported()}")
    return model_type, entry, arch


def _read_safetensors(file: Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(file))             # memory-mapped by safetensors
    except Exception as e:  # safetensors raises several types for a damaged file
        raise AnnError(f"{file} cannot be read as safetensors ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''}); it is damaged") from None


def _read_bin(file: Path) -> dict:
    import pickle

    try:
        try:
            data = torch.load(str(file), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:       # the legacy (pre-zip) format cannot be memory-mapped
            if "mmap" not in str(e):
                raise
            data = torch.load(str(file), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        why = str(e).split("WeightsUnpickler error:")[-1].strip().splitlines()[0]
        why = why.split(". Please")[0]      # torch's advice to allowlist the class: not ours
        raise AnnError(f"{file} holds pickled Python objects besides tensors, which ann does not "
                       f"load (torch.load with weights_only=True refused it: {why}); save the "
                       "model as safetensors with save_pretrained") from None
    except (RuntimeError, OSError, EOFError, ValueError) as e:
        raise AnnError(f"{file} cannot be read as a PyTorch weights file "
                       f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise AnnError(f"{file} holds no state dict of tensors; save the model with save_pretrained")
    return data


def _read_shards(folder: Path, index: Path, read) -> dict:
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        shards = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise AnnError(f"{index} is damaged (it needs a \"weight_map\" of tensor -> shard file)"
                       ) from None
    for name in shards:
        if Path(name).name != name:
            raise AnnError(f"{index} names shard {name!r} outside the folder; refusing to read it")
    missing = [s for s in shards if not (folder / s).is_file()]
    if missing:
        raise AnnError(f"{folder} lacks shard {missing[0]} of the {len(shards)} that {index.name} "
                       "lists; download the missing shards into the folder")
    out = {}
    for name in shards:
        out.update(read(folder / name))
    return out


def read_weights(folder: Path) -> dict:
    """The tensors of a model folder by their Hugging Face names."""
    if (folder / "model.safetensors").is_file():
        return _read_safetensors(folder / "model.safetensors")
    if (folder / "model.safetensors.index.json").is_file():
        return _read_shards(folder, folder / "model.safetensors.index.json", _read_safetensors)
    if (folder / "pytorch_model.bin").is_file():
        return _read_bin(folder / "pytorch_model.bin")
    if (folder / "pytorch_model.bin.index.json").is_file():
        return _read_shards(folder, folder / "pytorch_model.bin.index.json", _read_bin)
    raise AnnError(f"{folder} holds config.json but no weights (model.safetensors, its sharded "
                   "index model.safetensors.index.json, or pytorch_model.bin)")


@dataclass
class Imported:
    """A converted checkpoint: the ann model, its registered name, and where it came from."""

    model_name: str
    model: torch.nn.Module
    model_type: str
    hf_class: str
    hf_config: dict
    recipe: str


def convert(folder, extra: dict | None = None) -> Imported:
    """The ann model of a Hugging Face folder, weights loaded (eval mode). ``extra``: config
    fields Hugging Face keeps in the tokenizer (``mask_id``, ``n_special``)."""
    folder = Path(folder)
    data = read_config(folder)
    model_type, entry, arch = architecture(data)
    src = read_weights(folder)
    conf = HFConfig(data, entry.defaults)
    name, cls, c, out = entry.convert(conf, src, arch, extra or {})
    model = hf._load(cls(c), out, src)
    return Imported(name, model.eval(), model_type, arch, data, entry.recipes[arch])
