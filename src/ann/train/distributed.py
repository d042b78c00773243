"""Data-parallel training through ``torchrun``: gloo on CPU, nccl on GPU, same command.

``torchrun --nproc_per_node=2 -m ann train cnn-mnist`` starts two processes; each sees
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` in its environment, takes its share of every global batch,
and DistributedDataParallel averages gradients so that the update equals one process's update on
the whole global batch. Only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside DistributedDataParallel (``.module``) and torch.compile
    (``._orig_mod``) wrappers; the model itself when it is not wrapped."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        model = model.module
    dynamo = sys.modules.get("torch._dynamo")     # loaded once torch.compile has run (importing
    if dynamo is not None and isinstance(model, dynamo.eval_frame.OptimizedModule):  # it costs 1 s)
        model = model._orig_mod
    return model


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup(device_name: str) -> Dist:
    """Join the process group when launched by torchrun; a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        use_nccl = device_name in ("auto", "cuda") and torch.cuda.is_available()
        dist.init_process_group("nccl" if use_nccl else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def teardown():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(d: Dist):
    if d.active:
        dist.barrier()


def mean_across(d: Dist, value: float) -> float:
    """Average a Python number over all processes."""
    if not d.active:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return t.item() / d.world


def wrap(model: torch.nn.Module, d: Dist, device: torch.device) -> torch.nn.Module:
    if not d.active:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def no_sync(model: torch.nn.Module, sync: bool):
    """Skip the gradient all-reduce on micro-batches that are not the last of a step."""
    if sync or not isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()
