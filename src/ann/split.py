"""What the engine asks of one split of a dataset: its size, a batch at some indices, and the
facts the model and later commands need (``info``). Every dataset's split is a :class:`Split`
(``ann.data.base.ArrayDataset`` for tensors held in memory, token windows, graph sets, ...), so
the engine reads these attributes without asking whether they are there.

Shapes:
    batch(index) -> tuple of tensors, batch-first, e.g. (x (B, ...), y (B,)).
"""

from __future__ import annotations

from typing import Any


class Split:
    """One split of a dataset.

    ``collated``: ``False`` when ``batch`` returns tensors whose first dimension is the batch, so
    the engine asks once for the whole global batch (augments it, then slices it between
    processes and micro-batches, which keeps augmentation independent of the process count);
    ``True`` when ``batch`` joins its examples into one structure (graphs batched as one
    block-diagonal graph, triples with shared negatives), so the engine asks for each
    micro-batch's examples instead.

    ``random_batches``: ``True`` when ``batch`` draws from the global random generator (fresh
    negative samples each step), so that the engine builds its batches in the training process
    even under ``train.workers`` (a loader worker's generator is not the run's)."""

    collated: bool = False
    random_batches: bool = False
    info: dict[str, Any]

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must say how many examples it holds")

    def batch(self, index) -> tuple:
        """The batch at ``index`` (a tensor of example indices or a slice)."""
        raise NotImplementedError(f"{type(self).__name__} must build a batch from indices")
