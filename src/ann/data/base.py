"""The in-memory dataset every supervised family starts from, and the options several datasets
share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import config
from ..split import Split


@dataclass
class ArrayDataset(Split):
    """Inputs and targets held as tensors, batch-first, already preprocessed.

    Shapes:
        x: (N, ...) float inputs, e.g. (N, C, H, W) images scaled and standardised.
        y: (N,) int64 class indices.
    ``info`` holds the facts a model and ``ann predict`` need: ``task``, ``in_channels``,
    ``image_size``, ``num_classes``, ``classes`` (names), ``scale``, ``mean``, ``std``.
    """

    x: torch.Tensor
    y: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} items but y has {len(self.y)}")

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x, self.y

    def batch(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch ``(x, y)`` at ``index`` (a tensor of indices or a slice). Every dataset the
        engine trains on has this method; datasets that build examples on the fly (token
        windows over one shared token stream) implement it without materialising the split."""
        return self.x[index], self.y[index]

    def head(self, n: int) -> ArrayDataset:
        """The first ``n`` examples (``data.train_subset``)."""
        return dataclasses.replace(self, x=self.x[:n], y=self.y[:n])


@dataclass
class FoldOptions:
    """``data.*`` options of a dataset split by stratified K-fold cross-validation."""

    fold: int = config.field(0, "the cross-validation fold held out as test (datasets with folds)",
                             nonneg=True)
    folds: int = config.field(10, "the number of cross-validation folds (datasets with folds)",
                              range=(2, 1000))
