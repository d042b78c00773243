"""BERT: a bidirectional Transformer encoder, pretrained by masked language modelling.

Devlin et al. 2019, "BERT: Pre-training of deep bidirectional transformers for language
understanding" (NAACL), https://arxiv.org/abs/1810.04805.

The input is ``[CLS] tokens [SEP]`` (a second sentence would follow with its own ``[SEP]`` and
segment id 1), padded with ``[PAD]``. Each position's vector is the sum of a token, a learned
absolute position and a segment embedding, then LayerNorm and dropout (section 3, figure 2). The
encoder blocks are post-LayerNorm, as in the original Transformer (Vaswani et al. 2017):
``x = LN(x + attn(x))`` then ``x = LN(x + ffn(x))``, with a GELU feed-forward layer four times as
wide and self-attention that never looks at padding (a key-padding mask from ``idx != pad_id``).

Heads on one encoder, registered as models whose encoder parameters share their names
(``encoder.*``), so that weights pretrained with one start the other:

* ``bert``: the masked-LM head (section 3.1, task 1): dense + GELU + LayerNorm, then a decoder
  whose weight is the token embedding (Press & Wolf 2017) plus an output bias. Task ``mlm``.
* ``bert-classifier``: the pooler (dense + tanh on the final ``[CLS]`` vector) and a linear
  classifier over it (section 4.1). Task ``classify``.

* ``bert-qa``: answer start and end scores per token (section 4.2, SQuAD), :class:`BertQA`, whose
  ``[CLS]`` position means "no answer" (section 4.3). Task ``qa`` (:mod:`ann.tasks.qa`).

Two heads carry the weights of ``transformers``' ``BertForTokenClassification`` (:class:`BertTagger`:
a linear layer on every token; unregistered, no ann task trains it yet) and
``BertForQuestionAnswering`` (:class:`BertSpanQA`, the span head that ``bert-qa`` trains).

Next-sentence prediction is left out: RoBERTa (Liu et al. 2019, https://arxiv.org/abs/1907.11692)
found that it does not help, and the corpora here are single sentences. The pooler therefore
starts untrained when a classifier is fine-tuned from a masked-LM run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import (
    GELU,
    Dropout,
    Embedding,
    LayerNorm,
    LearnedPositionalEmbedding,
    Linear,
    MultiHeadAttention,
    Tanh,
    gpt2_init,
)
from ...registry import register_model


@dataclass
class BertConfig:
    vocab_size: int = field(8192, "number of token ids (filled from the dataset's tokenizer)",
                            positive=True)
    max_len: int = field(128, "longest input in tokens, [CLS] and [SEP] included (filled from "
                              "the dataset)", positive=True)
    n_layer: int = field(4, "number of encoder blocks", positive=True)
    n_head: int = field(4, "attention heads per block; must divide n_embd", positive=True)
    n_embd: int = field(256, "hidden size of every position's vector", positive=True)
    d_ff: int = field(0, "feed-forward width (0: 4 * n_embd, as in BERT)", nonneg=True)
    n_segments: int = field(2, "segment (token type) embeddings: sentence A and sentence B",
                            positive=True)
    dropout: float = field(0.1, "dropout on embeddings, attention weights and residual branches",
                           range=(0.0, 0.95))
    ln_eps: float = field(1e-12, "epsilon added to the variance in every LayerNorm", positive=True)
    pad_id: int = field(0, "id of [PAD]; padded positions are hidden from attention (filled from "
                           "the dataset)", nonneg=True)

    def __post_check__(self):
        if self.pad_id >= self.vocab_size:
            raise AnnError(f"model.pad_id={self.pad_id} is not below vocab_size={self.vocab_size}")


@dataclass
class BertMLMConfig(BertConfig):
    mask_id: int = field(4, "id of [MASK], the placeholder of masked inputs (filled from the "
                            "dataset)", nonneg=True)
    n_special: int = field(5, "ids below this are special tokens ([PAD] [UNK] [CLS] [SEP] "
                              "[MASK]): never masked nor used as random replacements", positive=True)

    def __post_check__(self):
        super().__post_check__()
        if not self.mask_id < self.n_special < self.vocab_size:
            raise AnnError(f"need model.mask_id ({self.mask_id}) < n_special ({self.n_special}) < "
                           f"vocab_size ({self.vocab_size}): special tokens take the first ids")


@dataclass
class BertClassifierConfig(BertConfig):
    num_classes: int = field(2, "number of classes (filled from the dataset)", positive=True)


class FeedForward(nn.Module):
    """Position-wise feed-forward layer: Linear to ``d_ff``, GELU, Linear back.

    Shapes:
        x (B, T, C) -> (B, T, C).
    """

    def __init__(self, c: BertConfig):
        super().__init__()
        d_ff = c.d_ff or 4 * c.n_embd
        self.fc = Linear(c.n_embd, d_ff)
        self.act = GELU()  # the exact (erf) GELU of BERT's release
        self.proj = Linear(d_ff, c.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.act(self.fc(x)))  # (B, T, C)


class Block(nn.Module):
    """Post-LayerNorm encoder block: ``x = LN(x + attn(x))``, then ``x = LN(x + ffn(x))``.

    Shapes:
        x (B, T, C), keep (B, T) bool (True = a real token) -> (B, T, C).
    """

    def __init__(self, c: BertConfig):
        super().__init__()
        self.attn = MultiHeadAttention(c.n_embd, c.n_head, dropout=c.dropout)
        self.ln1 = LayerNorm(c.n_embd, eps=c.ln_eps)
        self.mlp = FeedForward(c)
        self.ln2 = LayerNorm(c.n_embd, eps=c.ln_eps)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = self.ln1(x + self.drop(self.attn(x, mask=keep)))  # (B, T, C)
        return self.ln2(x + self.drop(self.mlp(x)))  # (B, T, C)


class BertEncoder(nn.Module):
    """Embeddings (token + position + segment, LayerNorm, dropout) and the encoder blocks.

    Shapes:
        idx (B, T) int64, T <= max_len; segments (B, T) int64 or None (all sentence A)
        -> hidden states (B, T, C).
    """

    def __init__(self, c: BertConfig):
        super().__init__()
        self.config = c
        self.tok = Embedding(c.vocab_size, c.n_embd)
        self.pos = LearnedPositionalEmbedding(c.max_len, c.n_embd)
        self.seg = Embedding(c.n_segments, c.n_embd)
        self.ln = LayerNorm(c.n_embd, eps=c.ln_eps)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))

    def forward(self, idx: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        if idx.dim() != 2:
            raise AnnError(f"BERT takes token ids of shape (batch, tokens), got {tuple(idx.shape)}")
        if idx.size(1) > self.config.max_len:
            raise AnnError(f"the input is {idx.size(1)} tokens, [CLS] and [SEP] included, but the "
                           f"model reads at most max_len={self.config.max_len}; shorten the text")
        if segments is None:
            segments = torch.zeros_like(idx)
        keep = idx != self.config.pad_id  # (B, T): padding is never attended to
        x = self.pos(self.tok(idx)) + self.seg(segments)  # (B, T, C)
        x = self.drop(self.ln(x))
        for block in self.blocks:
            x = block(x, keep)  # (B, T, C)
        return x


def _sentences(c: BertConfig, batch_size: int, generator, n_special: int = 5):
    """Rows ``[CLS] tokens [SEP] [PAD]...`` of random lengths (at least 3 tokens): prefixes of
    one sequence of consecutive non-special ids, so every token follows from its position (and
    from its neighbours). Ids as in ann's BERT tokenizers: [PAD] 0, [CLS] 2, [SEP] 3. Returns the
    rows (B, max_len) and their content lengths (B,)."""
    T, span = c.max_len, c.vocab_size - n_special
    lengths = torch.randint(3, T - 1, (batch_size,), generator=generator)  # (B,)
    t = torch.arange(T)  # (T,)
    rows = (n_special + (t - 1) % span).repeat(batch_size, 1)  # (B, T): content at 1..length
    rows[:, 0] = 2  # [CLS]
    rows = torch.where(t == lengths[:, None] + 1, 3, rows)  # [SEP]
    rows = torch.where(t > lengths[:, None] + 1, c.pad_id, rows)  # [PAD]
    return rows, lengths


# Sizes named as in Turc et al. 2019 (https://arxiv.org/abs/1908.08962), whose BERT-Tiny is
# L2-H128 and BERT-Mini L4-H256; L12-H768 is BERT-Base. "tiny" is the size of the model tests.
PRESETS = {
    "tiny": {"vocab_size": 32, "max_len": 16, "n_layer": 2, "n_head": 2, "n_embd": 32,
             "dropout": 0.0},
    "L2-H128": {"n_layer": 2, "n_head": 2, "n_embd": 128},
    "L4-H256": {"n_layer": 4, "n_head": 4, "n_embd": 256},
    "L12-H768": {"n_layer": 12, "n_head": 12, "n_embd": 768, "max_len": 512},
}


@register_model("bert", config=BertMLMConfig, family="transformer", presets=PRESETS)
class BertMLM(nn.Module):
    """BERT with the masked-language-model head (Devlin et al. 2019).

    ``forward(idx)`` gives vocabulary logits at every position; ``forward(idx, select=mask)``
    only at the positions where ``mask`` is True, in row-major order: the masked-LM loss needs
    just the ~15% masked positions, and the vocabulary-wide decoder is the costliest layer.

    Shapes:
        idx (B, T) int64 -> logits (B, T, vocab_size); with select (B, T) bool holding N True
        -> (N, vocab_size). segments (B, T) int64 or None (all sentence A).
    """

    task = "mlm"

    def __init__(self, config: BertMLMConfig):
        super().__init__()
        self.config = c = config
        self.encoder = BertEncoder(c)
        self.mlm = nn.Sequential(Linear(c.n_embd, c.n_embd), GELU(),
                                 LayerNorm(c.n_embd, eps=c.ln_eps))
        self.decoder = Linear(c.n_embd, c.vocab_size)  # its bias is BERT's output bias
        gpt2_init(self)  # BERT's initialisation: every weight N(0, 0.02^2), biases 0, LayerNorm (1, 0)
        self.decoder.weight = self.encoder.tok.weight  # tied to the token embedding

    def forward(self, idx: torch.Tensor, select: torch.Tensor | None = None,
                segments: torch.Tensor | None = None) -> torch.Tensor:
        h = self.encoder(idx, segments)  # (B, T, C)
        if select is not None:
            h = h[select]  # (N, C)
        return self.decoder(self.mlm(h))  # (B, T, V) or (N, V)

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """Sentences of consecutive ids (see :func:`_sentences`) as ``(x, x)``: the masked-LM
        task hides some tokens of ``x`` and predicts them, which their positions make certain."""
        x, _ = _sentences(self.config, batch_size, generator, self.config.n_special)
        return x, x


@register_model("bert-classifier", config=BertClassifierConfig, family="transformer",
                presets=PRESETS)
class BertClassifier(nn.Module):
    """BERT with the pooler and a classification head on ``[CLS]`` (Devlin et al. 2019, 4.1).

    Shapes:
        idx (B, T) int64 (position 0 holds [CLS]), segments (B, T) or None
        -> logits (B, num_classes).
    """

    task = "classify"

    def __init__(self, config: BertClassifierConfig):
        super().__init__()
        self.config = c = config
        self.encoder = BertEncoder(c)
        self.pooler = nn.Sequential(Linear(c.n_embd, c.n_embd), Tanh())
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.classifier = Linear(c.n_embd, c.num_classes)
        gpt2_init(self)  # BERT's initialisation, as BertMLM

    def forward(self, idx: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        h = self.encoder(idx, segments)  # (B, T, C)
        pooled = self.pooler(h[:, 0])  # (B, C): the [CLS] position
        return self.classifier(self.drop(pooled))  # (B, num_classes)

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """Sentences of consecutive ids (see :func:`_sentences`); the label is the length of
        the content modulo ``num_classes``, so the classifier must count the non-padding tokens."""
        x, lengths = _sentences(self.config, batch_size, generator)
        return x, lengths % self.config.num_classes


@dataclass
class BertTaggerConfig(BertConfig):
    num_classes: int = field(2, "number of tags a token can take (filled from the dataset)",
                             positive=True)


class BertTagger(nn.Module):
    """BERT with a linear layer over every token's final vector: token classification (named
    entities, parts of speech; Devlin et al. 2019, section 5.3), as ``BertForTokenClassification``.

    Shapes:
        idx (B, T) int64, segments (B, T) or None -> logits (B, T, num_classes).
    """

    def __init__(self, config: BertTaggerConfig):
        super().__init__()
        self.config = c = config
        self.encoder = BertEncoder(c)
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.classifier = Linear(c.n_embd, c.num_classes)
        gpt2_init(self)  # BERT's initialisation, as BertMLM

    def forward(self, idx: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.drop(self.encoder(idx, segments)))  # (B, T, num_classes)


class BertSpanQA(nn.Module):
    """BERT for extractive question answering (Devlin et al. 2019, section 4.2, SQuAD): the
    question as sentence A, the passage as sentence B, and two scores per token, that the answer
    starts there and that it ends there; as ``BertForQuestionAnswering``.

    Shapes:
        idx (B, T) int64, segments (B, T) or None -> logits (B, T, 2): [..., 0] start scores,
        [..., 1] end scores.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = c = config
        self.encoder = BertEncoder(c)
        self.qa = Linear(c.n_embd, 2)
        gpt2_init(self)  # BERT's initialisation, as BertMLM

    def forward(self, idx: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        return self.qa(self.encoder(idx, segments))  # (B, T, 2)


@dataclass
class BertQAConfig(BertConfig):
    sep_id: int = field(3, "id of [SEP]: tokens after the first one are the passage, segment 1 "
                           "(filled from the dataset)", nonneg=True)
    max_answer_len: int = field(30, "longest answer in tokens a prediction may be (SQuAD's "
                                    "max_answer_length)", positive=True)


@register_model("bert-qa", config=BertQAConfig, family="transformer", presets=PRESETS)
class BertQA(BertSpanQA):
    """:class:`BertSpanQA` trained by ann's ``qa`` task: input rows ``[CLS] question [SEP]
    passage [SEP]``, whose segments it reads off the first ``[SEP]`` when none are given. The
    ``[CLS]`` position stands for "no answer" (start = end = 0), as BERT does for SQuAD 2.0
    (Devlin et al. 2019, section 4.3); :func:`ann.tasks.qa.best_spans` picks the answer.

    Shapes:
        idx (B, T) int64, segments (B, T) or None -> logits (B, T, 2) (start, end scores).
    """

    task = "qa"

    def forward(self, idx: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        if segments is None:
            sep = (idx == self.config.sep_id).long()                 # (B, T)
            segments = ((sep.cumsum(1) - sep) > 0).long()            # after the first [SEP]: 1
        return super().forward(idx, segments)  # (B, T, 2)

    def example_batch(self, batch_size: int, generator: torch.Generator | None):
        """Rows ``[CLS] q [SEP] passage [SEP]`` of consecutive ids (:func:`_sentences`, the
        first content token as the question); the answer is the one token at position 4 (the
        last content token in shorter rows)."""
        x, lengths = _sentences(self.config, batch_size, generator)
        x = x.clone()
        x[:, 2] = self.config.sep_id                                 # [CLS] q [SEP] ...
        start = torch.full((batch_size,), 4).clamp(max=lengths)      # (B,) inside the passage
        y = torch.stack([start, start], 1)                           # (B, 2) one-token answers
        return x, y
