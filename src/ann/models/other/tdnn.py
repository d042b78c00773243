"""Time-delay neural networks: Waibel's original and the modern x-vector form.

A. Waibel, T. Hanazawa, G. Hinton, K. Shikano and K. Lang, "Phoneme recognition using
time-delay neural networks", IEEE Transactions on Acoustics, Speech, and Signal Processing
37(3):328-339, 1989, https://doi.org/10.1109/29.21701. D. Snyder, D. Garcia-Romero, G. Sell,
D. Povey and S. Khudanpur, "X-vectors: robust DNN embeddings for speaker recognition", ICASSP
2018, https://doi.org/10.1109/ICASSP.2018.8461375.

Waibel's TDNN: each unit of a layer sees a window of time-delayed frames of the layer below
(3 frames for the first hidden layer, 5 for the second), with the same weights at every time
step, i.e. a 1-D convolution over time; each output unit integrates its class evidence over the
whole utterance. Because every weight is shared across time and the output sums over time, a
pattern shifted in time gives (up to the edges) the same output: shift invariance.

The x-vector form: five frame-level layers, dilated 1-D convolutions with growing context
(t-2..t+2, then {t-2, t, t+2}, then {t-3, t, t+3}, then two per-frame layers), statistics
pooling (the mean and standard deviation of the last frame layer over time) and two segment-level
layers before the class scores; batch norm and ReLU after each layer, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...config import field
from ...errors import AnnError
from ...registry import register_model


@dataclass
class TDNNConfig:
    n_features: int = field(40, "feature coefficients per frame (filled from the dataset)",
                            positive=True)
    frames: int = field(101, "frames per example (filled from the dataset)", positive=True)
    num_classes: int = field(10, "number of classes (filled from the dataset)", positive=True)
    hidden: tuple[int, ...] = field((32, 32), "units of the two hidden layers", positive=True)
    delays: tuple[int, ...] = field((3, 5), "frames each hidden layer sees (its time window)",
                                    positive=True)
    dropout: float = field(0.1, "dropout before the output layer", range=(0.0, 0.9))

    def __post_check__(self):
        if len(self.hidden) != len(self.delays):
            raise AnnError(f"model.hidden has {len(self.hidden)} layers but model.delays "
                           f"{len(self.delays)}; give one delay window per hidden layer")
        if self.frames < sum(d - 1 for d in self.delays) + 1:
            raise AnnError(f"{self.frames} frames are fewer than the network's time window "
                           f"({sum(d - 1 for d in self.delays) + 1}); use longer inputs or "
                           "smaller model.delays")


class AudioClassifier(nn.Module):
    """What both TDNNs share: features by frames in, class scores out."""

    task = "classify"

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """x (B, n_features, frames) standard normal, y (B,) random labels."""
        c = self.config
        x = torch.randn(batch_size, c.n_features, c.frames, generator=generator)
        return x, torch.randint(0, c.num_classes, (batch_size,), generator=generator)

    def _check(self, x: torch.Tensor):
        c = self.config
        if x.ndim != 3 or x.shape[1] != c.n_features:
            raise AnnError(f"a TDNN takes (batch, {c.n_features} features, frames) inputs, "
                           f"got shape {tuple(x.shape)}")


@register_model("tdnn", config=TDNNConfig, family="other", presets={
    "tiny": {"n_features": 8, "frames": 12, "num_classes": 3, "hidden": (8, 8)},
    "waibel": {"hidden": (8, 3), "dropout": 0.0},
})
class TDNN(AudioClassifier):
    """Waibel et al. (1989): time-delay layers (convolutions over time, weights shared across
    time), per-frame class evidence integrated (averaged) over the utterance.

    Shapes:
        input (B, F, T) -> hidden (B, H1, T - 2) -> (B, H2, T - 6) -> class scores (B, C).
    """

    def __init__(self, config: TDNNConfig):
        super().__init__()
        self.config = c = config
        layers, width = [], c.n_features
        for h, d in zip(c.hidden, c.delays):
            layers += [nn.Conv1d(width, h, d), nn.Tanh()]      # one unit per time step, shared
            width = h
        self.frames = nn.Sequential(*layers)
        self.drop = nn.Dropout(c.dropout)
        self.evidence = nn.Conv1d(width, c.num_classes, 1)     # class evidence at each frame

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        h = self.frames(x)                                     # (B, H, T')
        return self.evidence(self.drop(h)).mean(-1)           # integrate over time: (B, C)


@dataclass
class XVectorConfig:
    n_features: int = field(40, "feature coefficients per frame (filled from the dataset)",
                            positive=True)
    frames: int = field(101, "frames per example (filled from the dataset)", positive=True)
    num_classes: int = field(10, "number of classes (filled from the dataset)", positive=True)
    channels: int = field(128, "width of the frame-level layers (the paper: 512)", positive=True)
    pool_dim: int = field(256, "width of the last frame layer, pooled (the paper: 1500)",
                          positive=True)
    embed_dim: int = field(128, "width of the segment-level layers (the paper: 512)",
                           positive=True)
    dropout: float = field(0.2, "dropout in the segment-level layers", range=(0.0, 0.9))

    def __post_check__(self):
        if self.frames < 15:
            raise AnnError(f"{self.frames} frames are fewer than the x-vector TDNN's context of "
                           "15 frames; use longer inputs")


def _frame_layer(c_in: int, c_out: int, kernel: int, dilation: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, dilation=dilation), nn.ReLU(),
                         nn.BatchNorm1d(c_out))


class StatsPooling(nn.Module):
    """Mean and standard deviation over time (Snyder et al. 2018, section 2.1).

    Shapes:
        (B, C, T) -> (B, 2C).
    """

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        mean = h.mean(-1)
        std = (h.var(-1, unbiased=False) + 1e-5).sqrt()
        return torch.cat([mean, std], -1)


@register_model("tdnn-xvector", config=XVectorConfig, family="other", presets={
    "tiny": {"n_features": 8, "frames": 20, "num_classes": 3, "channels": 8, "pool_dim": 8,
             "embed_dim": 8},
    "paper": {"channels": 512, "pool_dim": 1500, "embed_dim": 512},
})
class XVectorTDNN(AudioClassifier):
    """The modern TDNN (Snyder et al. 2018): dilated frame layers with contexts [t-2, t+2],
    {t-2, t, t+2}, {t-3, t, t+3}, {t}, {t}; statistics pooling; two segment layers.

    Shapes:
        input (B, F, T) -> frames (B, pool_dim, T - 14) -> pooled (B, 2 pool_dim)
        -> embedding (B, embed_dim) -> class scores (B, C).
    """

    def __init__(self, config: XVectorConfig):
        super().__init__()
        self.config = c = config
        w = c.channels
        self.frame_layers = nn.Sequential(
            _frame_layer(c.n_features, w, 5, 1),               # t-2 .. t+2
            _frame_layer(w, w, 3, 2),                          # {t-2, t, t+2}
            _frame_layer(w, w, 3, 3),                          # {t-3, t, t+3}
            _frame_layer(w, w, 1, 1),
            _frame_layer(w, c.pool_dim, 1, 1))
        self.pool = StatsPooling()
        self.segment = nn.Sequential(
            nn.Linear(2 * c.pool_dim, c.embed_dim), nn.ReLU(), nn.BatchNorm1d(c.embed_dim),
            nn.Dropout(c.dropout),
            nn.Linear(c.embed_dim, c.embed_dim), nn.ReLU(), nn.BatchNorm1d(c.embed_dim),
            nn.Dropout(c.dropout))
        self.head = nn.Linear(c.embed_dim, c.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        h = self.frame_layers(x)                               # (B, pool_dim, T - 14)
        return self.head(self.segment(self.pool(h)))           # (B, C)


@torch.no_grad()
def shift_agreement(model: nn.Module, x: torch.Tensor, shifts=(0, 5, 10, 20)) -> dict[int, float]:
    """How often the prediction for ``x`` (B, F, T) shifted in time by ``s`` frames (rolled:
    trailing frames, silence or noise in the datasets here, wrap round to the start) equals the
    prediction for the unshifted ``x``: the shift-invariance check of Waibel et al. (1989)."""
    model.eval()
    base = model(x).argmax(-1)
    return {s: float((model(torch.roll(x, s, dims=-1)).argmax(-1) == base).float().mean())
            for s in shifts}
