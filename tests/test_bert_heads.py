"""BERT's token-classification and question-answering heads: logits parity with transformers'
BertForTokenClassification and BertForQuestionAnswering, weights copied across."""

import pytest
import torch

import ann
from ann.models.transformer import BertSpanQA, BertTagger, from_hf_bert_head

transformers = pytest.importorskip("transformers", reason="transformers is not installed")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _hf(cls, seed=0, **overrides):
    """A random ``transformers`` BERT of odd sizes, every weight moved off its initial value."""
    torch.manual_seed(seed)
    conf = transformers.BertConfig(vocab_size=61, hidden_size=36, num_hidden_layers=2,
                                   num_attention_heads=3, intermediate_size=50,
                                   max_position_embeddings=20, type_vocab_size=2, **overrides)
    model = cls(conf)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


def _batch(B=3, T=17, seed=0):
    """Question then passage (segments 0 then 1), rows 1 and 2 padded at the end."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(5, 61, (B, T), generator=g)
    attention = torch.ones_like(idx)
    attention[1, 11:] = 0
    attention[2, 5:] = 0
    idx[attention == 0] = 0  # [PAD]
    segments = (torch.arange(T) >= 6).long().expand(B, T) * attention  # (B, T)
    return idx, attention, segments


def test_token_classification_matches_hf():
    hf = _hf(transformers.BertForTokenClassification, num_labels=7)
    model = ann.from_hf(hf)
    assert isinstance(model, BertTagger) and model.config.num_classes == 7
    idx, attention, segments = _batch()
    with torch.no_grad():
        ref = hf(input_ids=idx, attention_mask=attention, token_type_ids=segments).logits
        out = model(idx, segments)
    assert out.shape == (3, 17, 7)
    keep = attention.bool()        # padded positions' outputs are not defined the same way
    assert (out[keep] - ref[keep]).abs().max().item() < 1e-4


def test_question_answering_matches_hf():
    hf = _hf(transformers.BertForQuestionAnswering)
    model = from_hf_bert_head(hf).eval()
    assert isinstance(model, BertSpanQA)
    idx, attention, segments = _batch(seed=1)
    with torch.no_grad():
        ref = hf(input_ids=idx, attention_mask=attention, token_type_ids=segments)
        out = model(idx, segments)
    keep = attention.bool()
    assert (out[..., 0][keep] - ref.start_logits[keep]).abs().max().item() < 1e-4
    assert (out[..., 1][keep] - ref.end_logits[keep]).abs().max().item() < 1e-4
    # the best answer span agrees on the unpadded row
    assert out[0, :, 0].argmax() == ref.start_logits[0].argmax()
    assert out[0, :, 1].argmax() == ref.end_logits[0].argmax()


def test_from_hf_pretrained_reads_both_heads(tmp_path):
    idx, attention, segments = _batch(seed=2)
    for cls, labels in ((transformers.BertForTokenClassification, 3),
                        (transformers.BertForQuestionAnswering, 2)):
        hf = _hf(cls, num_labels=labels)
        hf.save_pretrained(tmp_path / cls.__name__)
        model = ann.from_hf_pretrained(str(tmp_path / cls.__name__))
        with torch.no_grad():
            ref = hf(input_ids=idx, attention_mask=attention, token_type_ids=segments).logits \
                if cls is transformers.BertForTokenClassification else \
                torch.stack(hf(input_ids=idx, attention_mask=attention,
                               token_type_ids=segments)[:2], dim=-1)
            out = model(idx, segments)
        keep = attention.bool()
        assert (out[keep] - ref[keep]).abs().max().item() < 1e-4, cls.__name__


def test_a_question_answering_head_of_other_than_two_scores_is_refused():
    hf = _hf(transformers.BertForQuestionAnswering, num_labels=3)
    with pytest.raises(ann.AnnError, match="needs 2"):
        from_hf_bert_head(hf)
