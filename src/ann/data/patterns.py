"""Patterns for associative memories (Hopfield networks): binary +1/-1 pictures to store and
recall from noisy copies.

``digit-patterns``: one handwritten digit per class from scikit-learn's 8x8 digits (embedded), the
training image nearest its class's mean, with ink (value 8 of 16 or more) as +1 and paper as -1:
ten correlated 64-unit patterns. The training split is the ten patterns (the memories); val and
test repeat them (10 and 30 copies each) so that the recall task, which flips a share of each
copy's units before recall, measures recall over many noisy starts. Inputs and targets are the
same clean patterns; the corruption is the task's (``model.recall_noise``), from a seeded
generator, so every evaluation of a split sees the same noisy starts.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..registry import register_dataset
from .base import ArrayDataset
from .vision import DIGIT_NAMES, _digits

PATTERNS_INFO = {
    "task": "recall", "n_units": 64, "image_size": 8, "in_channels": 1, "classes": DIGIT_NAMES,
    "scale": 16, "mean": 0.5, "std": 0.5,     # a picture reads as +1 where its ink is at least half
    "description": "ten 8x8 handwritten digits (one per class) as +1/-1 patterns, from "
                   "scikit-learn's digits",
    "source": "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits",
}
COPIES = {"train": 1, "val": 10, "test": 30}


@functools.cache
def digit_patterns() -> torch.Tensor:
    """(10, 64) +1/-1: per class, the training digit nearest the class's mean image."""
    images, labels, splits = _digits()
    train = splits["train"]
    x, y = images[train].reshape(len(train), -1).astype(np.float64), labels[train]
    rows = []
    for c in range(10):
        own = x[y == c]
        nearest = own[((own - own.mean(0)) ** 2).sum(1).argmin()]
        rows.append(np.where(nearest >= 8, 1.0, -1.0))
    return torch.tensor(np.stack(rows), dtype=torch.float32)


@register_dataset("digit-patterns", info=PATTERNS_INFO, embedded=True)
def load_digit_patterns(split: str) -> ArrayDataset:
    """The ten digit patterns, repeated ``COPIES[split]`` times; x = y = the clean patterns."""
    p = digit_patterns().repeat(COPIES[split], 1)              # (10 * copies, 64)
    return ArrayDataset(p.clone(), p.clone(), dict(PATTERNS_INFO))
