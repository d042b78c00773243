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
import math
from collections.abc import Callable, Iterable, Iterator
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


def pixel_stats(images: Iterable[np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (floored at 1e-3) on the 0..1 scale of uint8 images, given as
    (C, S, S) arrays or (B, C, S, S) batches of them. Computed from exact integer sums of the
    pixels and their squares, so the figures do not depend on how the images are grouped, and
    only one group is in memory at a time (a streamed folder's sample is read one by one)."""
    count, sums, squares = 0, None, None
    for a in images:
        a = np.asarray(a, dtype=np.int64)
        a = a[None] if a.ndim == 3 else a                                  # (B, C, S, S)
        s, q = a.sum((0, 2, 3)), (a * a).sum((0, 2, 3))
        sums, squares = (s, q) if sums is None else (sums + s, squares + q)
        count += a.shape[0] * a.shape[2] * a.shape[3]
    s, q = [int(v) for v in sums], [int(v) for v in squares]
    mean = tuple(si / (255 * count) for si in s)
    # variance (n q - s^2) / (255 n)^2, exact in integers until the one division
    std = tuple(max(math.sqrt((count * qi - si * si) / (255 * count) ** 2), 1e-3)
                for si, qi in zip(s, q))
    return mean, std


def image_groups(images: np.ndarray, size: int = 256) -> Iterator[np.ndarray]:
    """(B, C, S, S) groups of ``size`` images of an (N, C, S, S) array, for :func:`pixel_stats`."""
    return (images[i:i + size] for i in range(0, len(images), size))


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
