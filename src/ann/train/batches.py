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

    ``lengths`` (N,) with ``pool`` > 0 batches by length: the epoch's shuffled examples are cut
    into pools of ``pool`` batches, each pool is sorted by length and cut into batches, and the
    batches are shuffled. A batch then holds examples of about one length, so padding it to its
    longest costs little; the order is still a function of (seed, epoch).
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 sequential: bool = False, lengths: torch.Tensor | None = None, pool: int = 0):
        if batch_size > n:
            batch_size = n
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} does not split over {world} processes")
        self.n, self.batch_size, self.seed, self.sequential = n, batch_size, seed, sequential
        self.rank, self.world = rank, world
        self.steps_per_epoch = n // batch_size
        if lengths is not None and len(lengths) != n:
            raise ValueError(f"{len(lengths)} lengths for {n} examples")
        self.lengths = lengths if pool > 0 and not sequential else None
        self.pool = pool
        self._epoch, self._perm = -1, None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            perm = torch.randperm(self.n, generator=g)
            if self.lengths is not None:
                perm = self._by_length(perm, g)
            self._epoch, self._perm = epoch, perm
        return self._perm

    def _by_length(self, perm: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """``perm``'s full batches regrouped by length within pools, in a shuffled batch order."""
        used = perm[:self.steps_per_epoch * self.batch_size]
        size = self.pool * self.batch_size
        pools = []
        for start in range(0, len(used), size):
            chunk = used[start:start + size]
            pools.append(chunk[torch.argsort(self.lengths[chunk], stable=True)])
        batches = torch.cat(pools).view(self.steps_per_epoch, self.batch_size)
        return batches[torch.randperm(self.steps_per_epoch, generator=g)].flatten()

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
