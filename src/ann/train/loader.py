"""Training batches prepared ahead by worker processes (``train.workers=N``).

The loop's order of examples is a function of (seed, step) (:class:`~ann.train.batches.EpochBatches`);
the workers change where a batch is built, never which one: the sampler hands the
:class:`torch.utils.data.DataLoader` each step's example indices, precomputed from the run's seeded
order in the training process, and a worker turns them into the step's micro-batches (decoding
images lazily, reading token windows, augmenting with the step's own generator) exactly as the
training process would. So a run with ``train.workers=2`` ends with the weights of one with
``train.workers=0``, and a resumed run starts its loader at the step it resumes from.
Evaluation reads a split's batches in order the same way (:func:`split_batches`).

A split whose ``batch`` draws from the global random generator (``Split.random_batches``:
negative sampling) is built in the training process whatever ``train.workers`` says: a worker's
generator is not the run's.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import AnnError
from .batches import EpochBatches, eval_batches, step_generator


class MicroBatches:
    """Step ``step``'s micro-batches for process ``rank`` of ``world`` from its global batch's
    example ``indices`` (the work a loader worker does, picklable without the model).

    A split whose ``batch`` joins examples into one structure (``collated = True``: graphs
    batched as one block-diagonal graph) is asked for each micro-batch's examples; any other
    is asked for the whole global batch, which is augmented and then sliced, so that the
    augmentation does not depend on the number of processes."""

    def __init__(self, data, augment: Callable | None, seed: int, rank: int, world: int,
                 grad_accum: int):
        self.data, self.augment, self.seed = data, augment, seed
        self.rank, self.world, self.grad_accum = rank, world, grad_accum

    def __call__(self, step: int, indices: torch.Tensor) -> list[tuple]:
        share = len(indices) // self.world
        micro = share // self.grad_accum
        parts = range(self.grad_accum)
        if self.data.collated:
            own = indices[self.rank * share:(self.rank + 1) * share]
            return [self.data.batch(own[i * micro:(i + 1) * micro]) for i in parts]
        batch = self.data.batch(indices)
        if self.augment is not None:
            batch = (self.augment(batch[0], step_generator(self.seed, step)),) + batch[1:]
        batch = tuple(t[self.rank * share:(self.rank + 1) * share] for t in batch)
        return [tuple(t[i * micro:(i + 1) * micro] for t in batch) for i in parts]


class _StepIndices(Sampler):
    """``(step, global batch indices)`` for steps ``start .. stop - 1``, in order."""

    def __init__(self, batches: EpochBatches, start: int, stop: int):
        self.batches, self.start, self.stop = batches, start, stop

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield step, self.batches.indices(step)

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)


class _Steps(Dataset):
    def __init__(self, make: MicroBatches):
        self.make = make

    def __getitem__(self, item):
        step, indices = item
        try:
            return step, self.make(step, indices)
        except AnnError as e:         # a user's bad file: its one line, not a worker's traceback
            return step, e


def _raising(batches: Iterator):
    for step, parts in batches:
        if isinstance(parts, AnnError):
            raise parts
        yield step, parts


def _as_is(item):
    return item


def _context():
    """``fork`` where the platform has it: the workers share the parent's splits (an in-memory
    split is not copied, and an augmentation closure needs no pickling)."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else None


def _ignore_ctrl_c(worker_id: int):
    """A worker leaves Ctrl-C to the training process, which stops between two steps (a worker
    that died of it would leave the loop without its next batch)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def step_batches(make: MicroBatches, batches: EpochBatches, start: int, stop: int,
                 workers: int) -> Iterator[tuple[int, list[tuple]]]:
    """``(step, micro-batches)`` for steps ``start .. stop - 1``: built here when ``workers`` is
    0 (or the split draws random batches), else by ``workers`` processes two steps ahead each."""
    if workers == 0 or make.data.random_batches or start >= stop:
        return ((s, make(s, batches.indices(s))) for s in range(start, stop))
    loader = DataLoader(_Steps(make), batch_size=None, sampler=_StepIndices(batches, start, stop),
                        num_workers=workers, collate_fn=_as_is, prefetch_factor=2,
                        multiprocessing_context=_context(), persistent_workers=False,
                        # the workers' seeds come from here, not from the run's global generator
                        # (whose state drives dropout and must stay as workers=0 leaves it)
                        generator=torch.Generator().manual_seed(start),
                        worker_init_fn=_ignore_ctrl_c)
    return _raising(iter(loader))


class _Slices(Dataset):
    def __init__(self, data):
        self.data = data

    def __getitem__(self, index: slice):
        try:
            return self.data.batch(index)
        except AnnError as e:
            return e


def split_batches(data, batch_size: int, device: torch.device, workers: int) -> Iterator[tuple]:
    """:func:`~ann.train.batches.eval_batches` (a whole split in order, on ``device``), built by
    ``workers`` processes when there are several batches to build (a streamed split's pictures
    decoded in parallel); the same batches either way."""
    starts = range(0, len(data), batch_size)
    if workers == 0 or data.random_batches or len(starts) < 2:
        yield from eval_batches(data, batch_size, device)
        return
    loader = DataLoader(_Slices(data), batch_size=None,
                        sampler=[slice(i, i + batch_size) for i in starts],
                        num_workers=min(workers, len(starts)), collate_fn=_as_is,
                        multiprocessing_context=_context(),
                        generator=torch.Generator().manual_seed(0), worker_init_fn=_ignore_ctrl_c)
    for batch in loader:
        if isinstance(batch, AnnError):
            raise batch
        yield tuple(t.to(device, non_blocking=True) for t in batch)
