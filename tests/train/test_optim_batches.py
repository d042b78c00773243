"""Schedules, parameter groups and deterministic batch order."""

import math

import pytest
import torch
from torch import nn

from ann.train import TrainConfig
from ann.train.batches import EpochBatches
from ann.train.optim import build_optimizer, lr_factor


def tc(**kw):
    c = TrainConfig(max_steps=100)
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def test_warmup_then_cosine_to_min_lr():
    c = tc(lr=1.0, min_lr=0.1, warmup_steps=10, schedule="cosine")
    assert lr_factor(0, 100, c) == pytest.approx(0.1)
    assert lr_factor(9, 100, c) == pytest.approx(1.0)
    assert lr_factor(10, 100, c) == pytest.approx(1.0)
    assert lr_factor(55, 100, c) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_factor(100, 100, c) == pytest.approx(0.1)


def test_linear_and_constant():
    assert lr_factor(50, 100, tc(lr=1.0, schedule="linear")) == pytest.approx(0.5)
    assert lr_factor(77, 100, tc(lr=1.0, schedule="constant")) == 1.0
    assert math.isclose(lr_factor(100, 100, tc(lr=2.0, min_lr=0.5, schedule="linear")), 0.25)


def test_no_weight_decay_on_biases_and_norms():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = build_optimizer(model, tc(weight_decay=0.1))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert {p.ndim for p in decay["params"]} == {2}
    assert len(no_decay["params"]) == 4      # two biases, batch-norm weight and bias
    assert isinstance(build_optimizer(model, tc(optimizer="sgd")), torch.optim.SGD)


def test_each_example_once_per_epoch_and_order_changes():
    b = EpochBatches(n=50, batch_size=8, seed=1)
    assert b.steps_per_epoch == 6
    epoch0 = torch.cat([b.indices(s) for s in range(6)])
    epoch1 = torch.cat([b.indices(s) for s in range(6, 12)])
    assert len(set(epoch0.tolist())) == 48 and len(set(epoch1.tolist())) == 48
    assert not torch.equal(epoch0, epoch1)
    again = EpochBatches(n=50, batch_size=8, seed=1)
    assert torch.equal(again.indices(9), b.indices(9))   # a function of (seed, step) alone


def test_length_buckets_group_lengths_and_keep_each_example_once():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 40, (203,), generator=g)
    plain = EpochBatches(n=203, batch_size=10, seed=3)
    sorted_ = EpochBatches(n=203, batch_size=10, seed=3, lengths=lengths, pool=5)
    assert sorted_.steps_per_epoch == plain.steps_per_epoch == 20

    def spread(b, epoch):
        steps = range(epoch * 20, (epoch + 1) * 20)
        batches = [b.indices(s) for s in steps]
        # padding a batch to its longest row: the tokens that are padding, over the epoch
        pad = sum(int((lengths[i].max() - lengths[i]).sum()) for i in batches)
        return torch.cat(batches), pad

    for epoch in (0, 1):
        idx, pad = spread(sorted_, epoch)
        plain_idx, plain_pad = spread(plain, epoch)
        assert len(set(idx.tolist())) == 200            # each example at most once, full batches
        assert pad < plain_pad / 2                      # sorting within pools of 5 batches
    # the batches are shuffled after sorting: their longest rows are not in order
    tops = [int(lengths[sorted_.indices(s)].max()) for s in range(20)]
    assert tops != sorted(tops) and tops != sorted(tops, reverse=True)
    # deterministic in (seed, step), and a new epoch draws new pools
    again = EpochBatches(n=203, batch_size=10, seed=3, lengths=lengths, pool=5)
    assert torch.equal(again.indices(27), sorted_.indices(27))
    assert not torch.equal(spread(sorted_, 0)[0], spread(sorted_, 1)[0])
    with pytest.raises(ValueError, match="lengths"):
        EpochBatches(n=10, batch_size=2, seed=0, lengths=lengths, pool=2)
