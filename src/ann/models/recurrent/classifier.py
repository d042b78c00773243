"""Recurrent sequence classifier: read a sequence step by step, classify it from the states.

Two kinds of input, chosen by the config:

* token ids (``vocab_size`` > 0), e.g. SST-2 sentences as ``[CLS] pieces [SEP] [PAD]...``: an
  embedding, then the recurrent layers; padding (``pad_id``) is left out of the pooling;
* real-valued rows (``vocab_size`` = 0), e.g. an image read one pixel row per time step (the
  "row-by-row MNIST" setting of Le et al. 2015, https://arxiv.org/abs/1504.00941): images
  (B, C, H, W) become H steps of C * W values;
* audio features (``n_features`` > 0, filled from ``fsdd``, ``chirps``, ``audio-folder``):
  (B, F, T) log-mel or MFCC frames become T steps of F values.

The sequence is summarised by the mean and the max of the top layer's outputs over the real
steps (both directions when bidirectional), then a linear layer gives the class scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...layers import Dropout, Embedding, Linear, Recurrent
from ...layers.recurrent import CELLS
from ...registry import register_model


@dataclass
class SequenceClassifierConfig:
    num_classes: int = field(10, "number of classes (filled from the dataset)", positive=True)
    vocab_size: int = field(0, "token ids (filled from text data); 0: real-valued rows",
                            nonneg=True)
    in_channels: int = field(1, "image channels, for images read row by row (filled)",
                             positive=True)
    image_size: int = field(8, "image height and width, for images read row by row (filled)",
                            positive=True)
    n_features: int = field(0, "audio: coefficients per frame, read one frame per step "
                            "(filled from audio data); 0: not audio", nonneg=True)
    pad_id: int = field(0, "the padding token id, left out of the pooling", nonneg=True)
    max_len: int = field(128, "the longest sequence the model reads (filled from text data)",
                         positive=True)
    cell: str = field("lstm", "recurrent cell", choices=CELLS)
    n_layer: int = field(1, "stacked recurrent layers", positive=True)
    n_embd: int = field(128, "token embedding width (token input only)", positive=True)
    hidden: int = field(128, "hidden units per layer and direction", positive=True)
    bidirectional: bool = field(False, "read the sequence both ways")
    dropout: float = field(0.0, "dropout on embeddings, between layers and before the output",
                           range=(0.0, 0.95))
    fused: bool = field(True, "run the recurrence through PyTorch's fused kernel")


@register_model("rnn-classifier", config=SequenceClassifierConfig, family="recurrent", presets={
    "tiny": {"num_classes": 3, "in_channels": 1, "image_size": 6, "hidden": 32},
    "rows": {"hidden": 128, "cell": "lstm"},
    "text": {"cell": "gru", "n_embd": 128, "hidden": 128, "bidirectional": True, "dropout": 0.3},
})
class SequenceClassifier(nn.Module):
    """Token or row sequences to class scores through RNN/LSTM/GRU layers.

    Shapes:
        x (B, T) int64 token ids (vocab_size > 0), or (B, T, F) values, or images (B, C, H, W)
        read as H steps of C * W values, or audio (B, n_features, T) read as T steps of
        n_features values -> logits (B, num_classes).
    """

    reads = ("audio",)      # input forms beyond its recipes' own (see ann.registry.same_kind)

    task = "classify"

    def __init__(self, config: SequenceClassifierConfig):
        super().__init__()
        self.config = c = config
        width = c.n_embd if c.vocab_size else c.n_features or c.in_channels * c.image_size
        self.embed = Embedding(c.vocab_size, c.n_embd) if c.vocab_size else nn.Identity()
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.rnn = Recurrent(c.cell, width, c.hidden, c.n_layer, c.bidirectional, c.dropout,
                             fused=c.fused)
        directions = 2 if c.bidirectional else 1
        self.head = Linear(2 * directions * c.hidden, c.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.vocab_size:
            if x.dim() != 2 or x.dtype != torch.int64:
                raise AnnError(f"this classifier reads token ids (batch, length), got "
                               f"{tuple(x.shape)} {x.dtype}")
            keep = (x != c.pad_id).unsqueeze(-1)                     # (B, T, 1)
        else:
            if x.dim() == 4:
                x = x.permute(0, 2, 1, 3).flatten(2)                 # (B, H, C*W): rows
            elif c.n_features:
                x = x.transpose(1, 2)                                # (B, T, F): frames
            if x.dim() != 3 or x.size(-1) != self.rnn.net.input_size:
                raise AnnError(f"this classifier reads {self.rnn.net.input_size} values per "
                               f"step, got inputs of shape {tuple(x.shape)}; train it on the "
                               "data it was built for")
            keep = torch.ones(*x.shape[:2], 1, dtype=torch.bool, device=x.device)
        if x.size(1) > c.max_len:
            raise AnnError(f"the sequence has {x.size(1)} steps but model.max_len is {c.max_len};"
                           " shorten it or raise model.max_len")
        out, _ = self.rnn(self.drop(self.embed(x)))                  # (B, T, D*H)
        mean = (out * keep).sum(1) / keep.sum(1).clamp(min=1)        # (B, D*H)
        peak = out.masked_fill(~keep, float("-inf")).amax(1)         # (B, D*H)
        return self.head(self.drop(torch.cat([mean, peak], dim=-1)))  # (B, num_classes)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """``(x, y)``: random inputs of the model's kind, labelled by where their largest
        value (or token id) falls, so the label depends on the whole sequence."""
        c = self.config
        if c.vocab_size:
            T = min(c.max_len, 12)
            x = torch.randint(1, c.vocab_size, (batch_size, T), generator=generator)
            return x, x.argmax(1) % c.num_classes
        x = torch.randn(batch_size, c.in_channels, c.image_size, c.image_size, generator=generator)
        return x, x.flatten(1).argmax(1) % c.num_classes
