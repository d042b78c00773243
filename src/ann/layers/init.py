"""Weight initialisation that several families share, named after the paper it comes from.

GPT's initialisation (Radford et al. 2018, "Improving language understanding by generative
pre-training", section 4.1: "a simple weight initialization of N(0, 0.02) was sufficient", since
LayerNorm is used throughout) with GPT-2's scaling of the residual projections (Radford et al.
2019, "Language models are unsupervised multitask learners", section 2.3,
https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf).
GPT, BERT (Devlin et al. 2019; the plain normal, as Hugging Face's port draws it), CLIP and the
captioner start from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from torch import nn

GPT2_STD = 0.02  # std of every Linear and embedding weight (GPT, section 4.1)


def gpt2_init(model: nn.Module, residual: Iterable[nn.Linear] = (), n_layer: int = 0) -> None:
    """Initialise ``model`` in place as GPT-2 (Radford et al. 2019), from the global RNG.

    1. Every ``nn.Linear`` and ``nn.Embedding`` weight (ann's subclasses included) is drawn
       from N(0, 0.02^2) and every Linear bias set to zero, module by module in ``model.apply``
       order; a weight shared by two modules (a tied output layer) is drawn twice, the last
       draw kept.
    2. The weights of the ``residual`` Linear layers, the projections that write into the
       residual stream, are drawn again from N(0, (0.02 / sqrt(2 * n_layer))^2), in the model's
       parameter order. GPT-2 (section 2.3) scales them "by a factor of 1/sqrt(N) where N is the
       number of residual layers", so the stream's variance does not grow with depth; N is
       counted as two residual additions (attention, MLP) per block of ``n_layer``, as nanoGPT
       and Hugging Face's GPT-2 count it.

    Everything else keeps what its constructor gave it: LayerNorm starts at weight 1 and bias 0,
    :class:`~ann.layers.LearnedPositionalEmbedding` at its own N(0, 0.02^2), convolutions and
    bare ``nn.Parameter`` tensors as PyTorch or their module made them.
    """
    targets = {id(layer.weight) for layer in residual}
    writers = [p for p in model.parameters() if id(p) in targets]  # in the model's order
    if len(writers) != len(targets):
        raise ValueError("gpt2_init: some residual layers are not part of the model")
    if writers and n_layer < 1:
        raise ValueError(f"gpt2_init: the residual scaling needs n_layer >= 1, got {n_layer}")
    model.apply(_normal_weights)
    for p in writers:
        nn.init.normal_(p, std=GPT2_STD / math.sqrt(2 * n_layer))


def _normal_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=GPT2_STD)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
