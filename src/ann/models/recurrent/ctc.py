"""Speech recognition with CTC: a bidirectional LSTM/GRU reads log-mel frames and scores, for
every frame, each label and a "blank" (Graves et al. 2006, "Connectionist temporal
classification", ICML, https://www.cs.toronto.edu/~graves/icml_2006.pdf).

The frames are first stacked ``subsample`` at a time (as Listen, Attend and Spell's pyramid and
most CTC systems do: a 10 ms frame is far shorter than a spoken label, and the recurrence
runs ``subsample`` times fewer steps), then run through the recurrent layers as packed
sequences, so padding after an utterance never reaches the backward direction and a frame's
scores do not depend on what else is in its batch. The loss, the decoding and the error rates
are the ``transcribe`` task's (:mod:`ann.tasks.transcribe`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ...config import field
from ...errors import AnnError
from ...layers import Dropout, Linear, Recurrent
from ...layers.recurrent import CELLS
from ...registry import register_model


@dataclass
class CTCRecognizerConfig:
    n_features: int = field(40, "feature coefficients per frame (filled from the dataset)",
                            positive=True)
    num_classes: int = field(10, "labels, blank not counted (filled from the dataset)",
                             positive=True)
    subsample: int = field(2, "frames stacked into one recurrent step", range=(1, 8))
    cell: str = field("gru", "recurrent cell", choices=CELLS)
    n_layer: int = field(2, "stacked recurrent layers", positive=True)
    hidden: int = field(128, "hidden units per layer and direction", positive=True)
    bidirectional: bool = field(True, "read the utterance both ways")
    dropout: float = field(0.1, "dropout on the stacked frames, between layers and before the "
                           "output", range=(0.0, 0.95))


@register_model("ctc-rnn", config=CTCRecognizerConfig, family="recurrent", presets={
    "tiny": {"n_features": 8, "num_classes": 3, "hidden": 16, "n_layer": 1},
    "small": {"hidden": 64, "n_layer": 2, "subsample": 2},
    "base": {"hidden": 128, "n_layer": 2, "subsample": 4, "cell": "gru"},
})
class CTCRecognizer(nn.Module):
    """Feature frames to per-step log-probabilities of the blank (index 0) and each label
    (1 + label).

    Shapes:
        x (B, n_features, T) float, lengths (B,) int64 frames ->
        log_probs (B, T', 1 + num_classes), out_lengths (B,), T' = ceil(T / subsample).
    """

    task = "transcribe"

    def __init__(self, config: CTCRecognizerConfig):
        super().__init__()
        self.config = c = config
        self.drop = Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.rnn = Recurrent(c.cell, c.n_features * c.subsample, c.hidden, c.n_layer,
                             c.bidirectional, c.dropout)
        self.head = Linear((2 if c.bidirectional else 1) * c.hidden, 1 + c.num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        c = self.config
        if x.dim() != 3 or x.size(1) != c.n_features:
            raise AnnError(f"a CTC recognizer takes (batch, {c.n_features} features, frames) "
                           f"inputs, got {tuple(x.shape)}")
        B, F, T = x.shape
        k = c.subsample
        x = nn.functional.pad(x, (0, -T % k))                        # (B, F, k * T')
        x = x.view(B, F, -1, k).permute(0, 2, 3, 1).flatten(2)       # (B, T', k * F)
        steps = (lengths + k - 1) // k                               # (B,)
        # Packed: the fused kernel stops each utterance at its own end, both directions.
        packed = pack_padded_sequence(self.drop(x), steps.cpu(), batch_first=True,
                                      enforce_sorted=False)
        out, _ = self.rnn.net(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        logits = self.head(self.drop(out))                           # (B, T', 1 + C)
        return logits.float().log_softmax(-1), steps

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """``(x, lengths, y)``: random frames and random strings of 3 labels to learn by
        heart (the contract tests overfit them)."""
        c = self.config
        T = 8 * c.subsample * 4
        x = torch.randn(batch_size, c.n_features, T, generator=generator)
        lengths = torch.full((batch_size,), T, dtype=torch.int64)
        y = torch.randint(0, c.num_classes, (batch_size, 3), generator=generator)
        return x, lengths, y
