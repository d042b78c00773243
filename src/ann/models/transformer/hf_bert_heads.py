"""Import ``transformers``' BERT token-classification and question-answering models into
:class:`~ann.models.transformer.bert.BertTagger` and :class:`~ann.models.transformer.bert.BertSpanQA`;
registers them in :data:`hf.CONVERTERS`, so ``ann.from_hf`` and ``ann.from_hf_pretrained`` take
``BertForTokenClassification`` and ``BertForQuestionAnswering``. Like the other converters, this
never imports ``transformers``.
"""

from __future__ import annotations

import torch

from ...errors import AnnError
from .bert import BertConfig, BertSpanQA, BertTagger, BertTaggerConfig
from .hf import CONVERTERS, _bert_config, _bert_encoder_weights, _load

HEADS = {"BertForTokenClassification": BertTagger, "BertForQuestionAnswering": BertSpanQA}


def bert_head_weights(hf, src: dict, arch: str) -> tuple[type, BertConfig, dict]:
    """(ann class, config, tensors under ann's names) of a BERT of Hugging Face class ``arch``
    (a key of :data:`HEADS`) from its config (attributes as ``transformers.BertConfig``) and its
    tensors. The pooler, which neither head uses, is left out."""
    if arch not in HEADS:
        raise AnnError(f"{arch} is not a BERT head converted here; supported: {', '.join(HEADS)}")
    if arch == "BertForQuestionAnswering" and hf.num_labels != 2:
        raise AnnError(f"this BertForQuestionAnswering scores {hf.num_labels} things per token; "
                       "an answer span needs 2 (start and end): num_labels=2")
    if arch == "BertForTokenClassification":
        conf = _bert_config(hf, BertTaggerConfig, num_classes=hf.num_labels)
        head = {"classifier.weight": "classifier.weight", "classifier.bias": "classifier.bias"}
    else:
        conf = _bert_config(hf, BertConfig)
        head = {"qa.weight": "qa_outputs.weight", "qa.bias": "qa_outputs.bias"}
    missing = [theirs for theirs in head.values() if theirs not in src]
    if missing:
        raise AnnError(f"the checkpoint lacks the tensor {missing[0]!r} of its {arch} head")
    out = _bert_encoder_weights(src, conf.n_layer, "bert.")
    out.update({ours: src[theirs] for ours, theirs in head.items()})
    return HEADS[arch], conf, out


def from_hf_bert_head(hf_model) -> torch.nn.Module:
    """``BertForTokenClassification`` -> :class:`BertTagger` (logits per token);
    ``BertForQuestionAnswering`` -> :class:`BertSpanQA` (start and end scores per token)."""
    cls, conf, out = bert_head_weights(hf_model.config, hf_model.state_dict(),
                                       type(hf_model).__name__)
    return _load(cls(conf), out)


CONVERTERS.update(dict.fromkeys(HEADS, from_hf_bert_head))
