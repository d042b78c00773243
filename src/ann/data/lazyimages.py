"""Image splits too large to hold in memory: pictures decoded from their files when a batch asks.

``image-folder`` with ``data.stream=on`` (or ``auto`` past :data:`STREAM_BUDGET`) keeps only the
file names and labels of each split; a batch decodes, crops, resizes and standardises its images
then, in a ``train.workers`` process when there are workers. The tensors are the ones the
in-memory split holds, element for element (the same reader and the same arithmetic), so a run
streams without changing what it learns; the normalisation statistics come from a seeded sample
of at most :data:`STATS_SAMPLE` training images (all of them when there are fewer, which gives
the in-memory figures exactly).

Shapes:
    LazyImages[index] -> (B, C, S, S) float32, standardised (a single int: (C, S, S)).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base import ArrayDataset
from .vision import preprocess_images

STREAM_BUDGET = 2 * 2**30    # bytes of decoded float32 images above which stream=auto streams
STATS_SAMPLE = 2000          # training images the mean and std of a streamed folder come from


def decoded_bytes(count: int, channels: int, size: int) -> int:
    """Bytes ``count`` images take as the float32 (C, size, size) tensors a model reads."""
    return count * channels * size * size * 4


def pixel_stats(pixels: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (floored at 1e-3) of (N, C, S, S) uint8 images on the 0..1 scale."""
    x = torch.from_numpy(pixels).float() / 255                            # (N, C, S, S)
    return (tuple(x.mean((0, 2, 3)).tolist()),
            tuple(x.std((0, 2, 3), correction=0).clamp(min=1e-3).tolist()))


def stats_sample(count: int, seed: int) -> list[int]:
    """The training images (indices, in order) the statistics are taken from: all when there are
    at most :data:`STATS_SAMPLE`, else a seeded sample of that many."""
    if count <= STATS_SAMPLE:
        return list(range(count))
    g = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(count, generator=g)[:STATS_SAMPLE].tolist())


class LazyImages:
    """The standardised images of ``files``, read by ``decode(file) -> (C, S, S) uint8`` when
    indexed (an int, a slice, or a tensor, array or list of indices). Holds no pixels."""

    ndim = 4
    dtype = torch.float32

    def __init__(self, files: tuple[Path, ...], decode: Callable, info: dict):
        self.files, self.decode, self.info = tuple(files), decode, info
        self.shape = torch.Size((len(self.files), info["in_channels"], info["image_size"],
                                 info["image_size"]))

    def __len__(self) -> int:
        return len(self.files)

    def _positions(self, index) -> list[int]:
        if isinstance(index, slice):
            return list(range(len(self.files)))[index]
        index = torch.as_tensor(index)
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        return [i + len(self.files) if i < 0 else i for i in index.reshape(-1).tolist()]

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, int):
            return self[[index]][0]
        positions = self._positions(index)
        if not positions:
            return torch.empty((0, *self.shape[1:]))
        pixels = np.stack([self.decode(self.files[i]) for i in positions])   # (B, C, S, S)
        return preprocess_images(pixels, self.info)

    def head(self, n: int) -> LazyImages:
        return LazyImages(self.files[:n], self.decode, self.info)

    def __repr__(self) -> str:
        return f"LazyImages({len(self)} files, {tuple(self.shape[1:])})"


@dataclass
class StreamedImages(ArrayDataset):
    """An :class:`ArrayDataset` whose ``x`` is :class:`LazyImages`: batches decode their images."""

    def head(self, n: int) -> StreamedImages:
        return dataclasses.replace(self, x=self.x.head(n), y=self.y[:n])
