"""Import pretrained weights from Hugging Face ``transformers`` (an optional extra).

``from_hf(model)`` takes a ``transformers`` model object the caller has built or downloaded and
returns the ann model with the same weights; ``from_hf_pretrained(path_or_name)`` loads one with
``transformers`` first. Each supported class has a converter in :data:`CONVERTERS` (class name ->
function); the converters themselves never import ``transformers``. The tensor mapping of each
architecture works on a plain config and state dict (:func:`gpt2_weights`, :func:`bert_weights`,
``hf_t5.t5_weights``, ``hf_vision.vit_weights`` / ``clip_weights``), which is what ``ann import``
uses to read a saved folder without ``transformers`` (see :mod:`.hf_folder`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...errors import AnnError
from .bert import BertClassifier, BertClassifierConfig, BertConfig, BertEncoder, BertMLM, BertMLMConfig
from .gpt import GPT, GPTConfig

_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}


def _gpt2_config(hf) -> GPTConfig:
    """A :class:`GPTConfig` equivalent to a ``transformers.GPT2Config``; unsupported options raise."""
    if hf.activation_function not in _ACTIVATIONS:
        raise AnnError(f"GPT-2 activation {hf.activation_function!r} is not supported; "
                       f"supported: {', '.join(_ACTIVATIONS)}")
    if hf.n_inner is not None and hf.n_inner != 4 * hf.n_embd:
        raise AnnError(f"GPT-2 n_inner={hf.n_inner} is not 4 * n_embd; ann's GPT uses a 4x MLP")
    if not hf.scale_attn_weights or hf.scale_attn_by_inverse_layer_idx:
        raise AnnError("GPT-2 attention scaling other than 1/sqrt(head size) is not supported")
    return GPTConfig(
        vocab_size=hf.vocab_size, block_size=hf.n_positions, n_layer=hf.n_layer, n_head=hf.n_head,
        n_embd=hf.n_embd, dropout=hf.resid_pdrop, bias=True,
        tie_weights=getattr(hf, "tie_word_embeddings", True),
        activation=_ACTIVATIONS[hf.activation_function], ln_eps=hf.layer_norm_epsilon)


class Weights(dict):
    """A checkpoint's tensors by their Hugging Face names; a name the converter needs but the
    checkpoint lacks is one clear error, not a ``KeyError``."""

    def __missing__(self, name):
        raise AnnError(f"the checkpoint lacks tensor {name!r}, which its config.json implies; "
                       "the weights and config.json do not belong together")


def _check_shape(src: dict, name: str, shape: tuple, prefix: str = "") -> torch.Tensor:
    if tuple(src[name].shape) != tuple(shape):
        raise AnnError(f"tensor {prefix + name!r} has shape {tuple(src[name].shape)} but config.json implies "
                       f"{tuple(shape)}; the weights and config.json do not belong together")
    return src[name]


def gpt2_weights(hf, src: dict) -> tuple[GPTConfig, dict]:
    """ann's :class:`GPTConfig` and GPT tensors from a GPT-2 config (a ``transformers`` config
    or anything with its attributes) and its tensors (``transformer.`` prefix optional).

    GPT-2's ``Conv1D`` layers store weights as (in, out), the transpose of ``nn.Linear``, and its
    ``c_attn`` fuses the query, key and value projections: they are split here.
    """
    conf = _gpt2_config(hf)
    prefix = "transformer." if any(k.startswith("transformer.") for k in src) else ""
    src = Weights({k.removeprefix("transformer."): v for k, v in src.items()})
    C = conf.n_embd
    out = {"wte.weight": src["wte.weight"], "wpe.weight": src["wpe.weight"],
           "ln_f.weight": src["ln_f.weight"], "ln_f.bias": src["ln_f.bias"]}
    for i in range(conf.n_layer):
        h, b = f"h.{i}.", f"blocks.{i}."
        for ours, theirs in (("ln1", "ln_1"), ("ln2", "ln_2")):
            out[b + ours + ".weight"] = src[h + theirs + ".weight"]
            out[b + ours + ".bias"] = src[h + theirs + ".bias"]
        w_qkv = _check_shape(src, h + "attn.c_attn.weight", (C, 3 * C), prefix).split(C, dim=1)
        b_qkv = _check_shape(src, h + "attn.c_attn.bias", (3 * C,), prefix).split(C, dim=0)
        for name, w, bias in zip(("q_proj", "k_proj", "v_proj"), w_qkv, b_qkv, strict=True):
            out[b + f"attn.{name}.weight"] = w.t()  # (out, in) as nn.Linear
            out[b + f"attn.{name}.bias"] = bias
        for ours, theirs in (("attn.out_proj", "attn.c_proj"), ("mlp.fc", "mlp.c_fc"),
                             ("mlp.proj", "mlp.c_proj")):
            out[b + ours + ".weight"] = src[h + theirs + ".weight"].t()  # (out, in)
            out[b + ours + ".bias"] = src[h + theirs + ".bias"]
    head = src["lm_head.weight"] if not conf.tie_weights else out["wte.weight"]
    out["lm_head.weight"] = head
    return conf, out


def from_hf_gpt2(hf_model) -> GPT:
    """A :class:`GPT` with the config and weights of a ``transformers`` GPT-2 model.

    Accepts ``GPT2LMHeadModel`` (or a bare ``GPT2Model``, whose head is the tied embedding).
    """
    src = {k: v.detach() for k, v in hf_model.state_dict().items()}
    conf, out = gpt2_weights(hf_model.config, src)
    return _load(GPT(conf), out)


def _bert_config(hf, cls: type, **extra) -> BertConfig:
    """A BERT config of class ``cls`` equivalent to a ``transformers.BertConfig``."""
    if hf.hidden_act != "gelu":
        raise AnnError(f"BERT activation {hf.hidden_act!r} is not supported; ann's BERT uses the "
                       "exact GELU ('gelu')")
    if (getattr(hf, "position_embedding_type", None) or "absolute") != "absolute":
        raise AnnError("only BERT's absolute position embeddings are supported, not "
                       f"{hf.position_embedding_type!r}")
    if getattr(hf, "is_decoder", False):
        raise AnnError("a BERT configured as a decoder (is_decoder=True) is not supported")
    return cls(vocab_size=hf.vocab_size, max_len=hf.max_position_embeddings,
               n_layer=hf.num_hidden_layers, n_head=hf.num_attention_heads, n_embd=hf.hidden_size,
               d_ff=hf.intermediate_size, n_segments=hf.type_vocab_size,
               dropout=hf.hidden_dropout_prob, ln_eps=hf.layer_norm_eps,
               pad_id=hf.pad_token_id or 0, **extra)


def _bert_encoder_weights(src: dict, n_layer: int, prefix: str = "") -> dict:
    """ann ``BertEncoder`` weights, named ``encoder.*``, from a ``BertModel`` state dict."""
    emb = prefix + "embeddings."
    out = {"encoder.tok.weight": src[emb + "word_embeddings.weight"],
           "encoder.pos.weight": src[emb + "position_embeddings.weight"],
           "encoder.seg.weight": src[emb + "token_type_embeddings.weight"],
           "encoder.ln.weight": src[emb + "LayerNorm.weight"],
           "encoder.ln.bias": src[emb + "LayerNorm.bias"]}
    pairs = (("attn.q_proj", "attention.self.query"), ("attn.k_proj", "attention.self.key"),
             ("attn.v_proj", "attention.self.value"), ("attn.out_proj", "attention.output.dense"),
             ("ln1", "attention.output.LayerNorm"), ("mlp.fc", "intermediate.dense"),
             ("mlp.proj", "output.dense"), ("ln2", "output.LayerNorm"))
    for i in range(n_layer):
        for ours, theirs in pairs:
            for kind in ("weight", "bias"):  # BERT's Linear layers are (out, in), as ours
                out[f"encoder.blocks.{i}.{ours}.{kind}"] = src[f"{prefix}encoder.layer.{i}.{theirs}.{kind}"]
    return out


def _load(model: torch.nn.Module, weights: dict, src: dict | None = None) -> torch.nn.Module:
    """``model`` with ``weights`` (ann's names) loaded; a tensor whose shape disagrees with the
    model the config describes is named (by its name in ``src``, the checkpoint, when given)."""
    own = model.state_dict()
    for name, w in weights.items():
        if name in own and own[name].shape != w.shape:
            theirs = _source_name(w, src) or name
            raise AnnError(f"tensor {theirs!r} has shape {tuple(w.shape)} but config.json implies "
                           f"{tuple(own[name].shape)}; the weights and config.json do not belong "
                           "together")
    with torch.no_grad():
        model.load_state_dict({k: v.detach().float().contiguous() for k, v in weights.items()},
                              strict=True)
    return model


def _source_name(tensor: torch.Tensor, src: dict | None) -> str | None:
    """The checkpoint's name of the tensor ``tensor`` was taken from (it shares its storage)."""
    if src is None:
        return None
    ptr = tensor.untyped_storage().data_ptr()
    return next((k for k, v in src.items() if v.untyped_storage().data_ptr() == ptr), None)


BERT_KINDS = {"BertModel": BertEncoder, "BertForMaskedLM": BertMLM,
              "BertForSequenceClassification": BertClassifier}


def bert_weights(hf, src: dict, arch: str, **extra) -> tuple[type, BertConfig, dict]:
    """(ann class, config, tensors) of a BERT of Hugging Face class ``arch`` (a key of
    :data:`BERT_KINDS`) from its config and tensors; ``extra`` sets config fields a Hugging Face
    config lacks (``mask_id``, ``n_special``)."""
    src = Weights(src)
    if arch == "BertModel":
        conf = _bert_config(hf, BertConfig)
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in src else ""
        weights = {k.removeprefix("encoder."): v
                   for k, v in _bert_encoder_weights(src, conf.n_layer, prefix).items()}
        return BertEncoder, conf, weights
    if arch == "BertForMaskedLM":
        if not getattr(hf, "tie_word_embeddings", True):
            raise AnnError("this BertForMaskedLM has an output layer separate from its token "
                           "embedding (tie_word_embeddings=False); ann's BERT ties them")
        conf = _bert_config(hf, BertMLMConfig, **extra)
        out = _bert_encoder_weights(src, conf.n_layer, "bert.")
        p = "cls.predictions."
        out.update({"mlm.0.weight": src[p + "transform.dense.weight"],
                    "mlm.0.bias": src[p + "transform.dense.bias"],
                    "mlm.2.weight": src[p + "transform.LayerNorm.weight"],
                    "mlm.2.bias": src[p + "transform.LayerNorm.bias"],
                    "decoder.weight": out["encoder.tok.weight"], "decoder.bias": src[p + "bias"]})
        return BertMLM, conf, out
    conf = _bert_config(hf, BertClassifierConfig, num_classes=hf.num_labels, **extra)
    out = _bert_encoder_weights(src, conf.n_layer, "bert.")
    out.update({"pooler.0.weight": src["bert.pooler.dense.weight"],
                "pooler.0.bias": src["bert.pooler.dense.bias"],
                "classifier.weight": src["classifier.weight"],
                "classifier.bias": src["classifier.bias"]})
    return BertClassifier, conf, out


def from_hf_bert(hf_model) -> torch.nn.Module:
    """The ann BERT with the config and weights of a ``transformers`` BERT model.

    ``BertForMaskedLM`` -> :class:`BertMLM`; ``BertForSequenceClassification`` ->
    :class:`BertClassifier`; a bare ``BertModel`` -> :class:`BertEncoder` (its hidden states;
    the pooler is dropped). The masked-LM task's ``mask_id`` and ``n_special`` are not in a
    Hugging Face config: they keep ann's defaults (its tokenizers put five specials first); for
    Google's vocabularies set ``model.config.mask_id = 103`` and ``n_special = 104`` to train on.
    (``ann import`` reads them from the checkpoint's tokenizer.)
    """
    kind = type(hf_model).__name__
    src = hf_model.state_dict()
    cls, conf, out = bert_weights(hf_model.config, src, kind)
    return _load(cls(conf), out, src)


# Hugging Face class name -> converter. Other modules of this family add their converters here.
CONVERTERS: dict[str, Callable] = {"GPT2LMHeadModel": from_hf_gpt2, "GPT2Model": from_hf_gpt2,
                                  "BertForMaskedLM": from_hf_bert, "BertModel": from_hf_bert,
                                  "BertForSequenceClassification": from_hf_bert}


def from_hf(hf_model) -> torch.nn.Module:
    """The ann model with the configuration and weights of a ``transformers`` model object.

    Supported: the classes in :data:`CONVERTERS` (GPT-2, BERT, ...). The result is in eval mode,
    like a model from ``transformers``' ``from_pretrained``.
    """
    name = type(hf_model).__name__
    if name not in CONVERTERS:
        raise AnnError(f"cannot convert a {name}; supported Hugging Face classes: "
                       f"{', '.join(sorted(CONVERTERS))}")
    return CONVERTERS[name](hf_model).eval()


def from_hf_pretrained(path_or_name: str) -> torch.nn.Module:
    """:func:`from_hf` of ``transformers.AutoModel...from_pretrained(path_or_name)``: a saved
    directory (``config.json`` + weights) or, where a network exists, a hub name."""
    try:
        import transformers
    except ImportError:
        raise AnnError("from_hf_pretrained needs the optional `transformers` package: "
                       "pip install 'ann-nets[peers]'") from None
    try:
        conf = transformers.AutoConfig.from_pretrained(path_or_name)
    except (OSError, ValueError) as e:
        raise AnnError(f"cannot read a Hugging Face model config from {path_or_name!r}: "
                       f"{str(e).splitlines()[0]}") from None
    arch = (conf.architectures or [None])[0]
    if arch not in CONVERTERS:
        raise AnnError(f"{path_or_name!r} holds a {arch or 'model of unknown architecture'}; "
                       f"supported: {', '.join(sorted(CONVERTERS))}")
    cls = getattr(transformers, arch)
    return from_hf(cls.from_pretrained(path_or_name))
