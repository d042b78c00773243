"""Deterministic batches: the order is a function of (seed, epoch), so a resumed run sees exactly
the batches an uninterrupted one would, and every process agrees on each global batch."""

from __future__ import annotations

import torch


class EpochBatches:
    """Index batches of one global batch size over ``n`` examples, shuffled per epoch.

    Step ``s`` is batch ``s % steps_per_epoch`` of epoch ``s // steps_per_epoch``; the last
    incomplete batch of an epoch is dropped so every step has the same size (and data-parallel
    shares stay equal). Process ``rank`` of ``world`` takes its contiguous share of each batch.

    ``sequential=True`` reads the examples in order instead, as ``batch_size`` parallel streams
    (truncated backpropagation through time, Zaremba et al. 2014): the examples are cut into
    ``batch_size`` contiguous runs of ``steps_per_epoch``, and row ``k`` of step ``s`` is example
    ``k * steps_per_epoch + s % steps_per_epoch``, so each row continues where it stopped the
    step before. Over token windows, that is the token stream cut into parallel streams.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 sequential: bool = False):
        if batch_size > n:
            batch_size = n
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} does not split over {world} processes")
        self.n, self.batch_size, self.seed, self.sequential = n, batch_size, seed, sequential
        self.rank, self.world = rank, world
        self.steps_per_epoch = n // batch_size
        self._epoch, self._perm = -1, None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=g)
        return self._perm

    def indices(self, step: int) -> torch.Tensor:
        """This process's example indices for global step ``step``."""
        epoch, pos = divmod(step, self.steps_per_epoch)
        if self.sequential:
            batch = torch.arange(self.batch_size) * self.steps_per_epoch + pos
        else:
            batch = self._permutation(epoch)[pos * self.batch_size:(pos + 1) * self.batch_size]
        share = self.batch_size // self.world
        return batch[self.rank * share:(self.rank + 1) * share]


def step_generator(seed: int, step: int) -> torch.Generator:
    """A generator for the random choices of one step (augmentation), independent of history."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step + 1)


def eval_batches(dataset, batch_size: int, device: torch.device):
    """Sequential batches over a whole split, moved to ``device``."""
    for i in range(0, len(dataset), batch_size):
        yield tuple(t.to(device, non_blocking=True) for t in dataset.batch(slice(i, i + batch_size)))
