"""Import pretrained weights from Hugging Face ``transformers`` (an optional extra).

Nothing here imports ``transformers``: the functions take a model the caller has already built or
downloaded, e.g. ``from_hf_gpt2(GPT2LMHeadModel.from_pretrained("gpt2"))``.
"""

from __future__ import annotations

import torch

from ...errors import AnnError
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


def from_hf_gpt2(hf_model) -> GPT:
    """A :class:`GPT` with the config and weights of a ``transformers`` GPT-2 model.

    Accepts ``GPT2LMHeadModel`` (or a bare ``GPT2Model``, whose head is the tied embedding).
    GPT-2's ``Conv1D`` layers store weights as (in, out), the transpose of ``nn.Linear``, and its
    ``c_attn`` fuses the query, key and value projections: they are split here.
    """
    conf = _gpt2_config(hf_model.config)
    body = getattr(hf_model, "transformer", hf_model)
    src = {k: v.detach() for k, v in body.state_dict().items()}
    C = conf.n_embd
    out = {"wte.weight": src["wte.weight"], "wpe.weight": src["wpe.weight"],
           "ln_f.weight": src["ln_f.weight"], "ln_f.bias": src["ln_f.bias"]}
    for i in range(conf.n_layer):
        h, b = f"h.{i}.", f"blocks.{i}."
        for ours, theirs in (("ln1", "ln_1"), ("ln2", "ln_2")):
            out[b + ours + ".weight"] = src[h + theirs + ".weight"]
            out[b + ours + ".bias"] = src[h + theirs + ".bias"]
        w_qkv = src[h + "attn.c_attn.weight"].split(C, dim=1)  # 3 x (C, C), each (in, out)
        b_qkv = src[h + "attn.c_attn.bias"].split(C, dim=0)  # 3 x (C,)
        for name, w, bias in zip(("q_proj", "k_proj", "v_proj"), w_qkv, b_qkv, strict=True):
            out[b + f"attn.{name}.weight"] = w.t()  # (out, in) as nn.Linear
            out[b + f"attn.{name}.bias"] = bias
        for ours, theirs in (("attn.out_proj", "attn.c_proj"), ("mlp.fc", "mlp.c_fc"),
                             ("mlp.proj", "mlp.c_proj")):
            out[b + ours + ".weight"] = src[h + theirs + ".weight"].t()  # (out, in)
            out[b + ours + ".bias"] = src[h + theirs + ".bias"]
    head = getattr(hf_model, "lm_head", None)
    out["lm_head.weight"] = out["wte.weight"] if conf.tie_weights else head.weight.detach()
    model = GPT(conf)
    with torch.no_grad():
        model.load_state_dict({k: v.contiguous() for k, v in out.items()}, strict=True)
    return model
