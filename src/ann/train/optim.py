"""Optimizers with decay/no-decay groups, and warmup + decay schedules."""

from __future__ import annotations

import math

import torch

from ..errors import AnnError


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices and kernels only: biases, norm scales and 1-d parameters are left
    alone (decaying them only shrinks the function toward zero; Loshchilov & Hutter 2019)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(model: torch.nn.Module, tc) -> torch.optim.Optimizer:
    groups = param_groups(model, tc.weight_decay)
    if tc.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=tc.lr, momentum=tc.momentum)
    return torch.optim.AdamW(groups, lr=tc.lr, betas=(tc.beta1, tc.beta2))


def lr_factor(step: int, total: int, tc, d_model: int | None = None,
              steps_per_epoch: int | None = None) -> float:
    """Multiplier of ``tc.lr`` at ``step``: linear warmup, then cosine/linear decay to min_lr,
    or a step decay per epoch; or the noam schedule (``d_model``: the model's width, unless
    ``tc.noam_d_model`` is set)."""
    if tc.schedule == "noam":
        return noam_factor(step, tc.warmup_steps, tc.noam_d_model or d_model)
    if tc.warmup_steps and step < tc.warmup_steps:
        return (step + 1) / tc.warmup_steps
    if tc.schedule == "constant":
        return 1.0
    if tc.schedule == "step":
        return step_factor(step, tc.decay_start, tc.decay_factor, steps_per_epoch,
                           tc.decay_every)
    progress = min(1.0, (step - tc.warmup_steps) / max(1, total - tc.warmup_steps))
    floor = tc.min_lr / tc.lr
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if tc.schedule == "cosine" else 1 - progress
    return floor + (1 - floor) * shape


def step_factor(step: int, decay_start: int, decay_factor: float,
                steps_per_epoch: int | None, decay_every: int = 1) -> float:
    """The learning rate stays for ``decay_start`` epochs, then is multiplied by ``decay_factor``
    at the start of that epoch and of every ``decay_every``-th later one (Zaremba et al. 2014: 4
    epochs at lr 1, then halved every epoch; Xu et al. 2019: halved every 50 epochs, from
    the 50th)."""
    if not steps_per_epoch:
        raise AnnError("train.schedule=step needs the number of steps per epoch")
    epoch = step // steps_per_epoch
    if epoch < decay_start:
        return 1.0
    return decay_factor ** ((epoch - decay_start) // decay_every + 1)


def noam_factor(step: int, warmup_steps: int, d_model: int | None) -> float:
    """Vaswani et al. 2017, eq. 3: d_model^-0.5 * min(n^-0.5, n * warmup^-1.5), n = step + 1.

    Rises linearly for ``warmup_steps`` steps, peaks at (d_model * warmup_steps)^-0.5, then
    decays as 1/sqrt(n). ``train.lr`` multiplies it (1.0 for the paper's values).
    """
    if not d_model:
        raise AnnError("train.schedule=noam needs the model width: this model has no d_model, "
                       "so set train.noam_d_model")
    n = step + 1
    return d_model ** -0.5 * min(n ** -0.5, n * warmup_steps ** -1.5)


def build_schedule(optimizer, total_steps: int, tc, d_model: int | None = None,
                   steps_per_epoch: int | None = None):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, tc, d_model, steps_per_epoch))
