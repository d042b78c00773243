"""Device selection and mixed precision."""

from __future__ import annotations

import contextlib

import torch

from ..errors import AnnError


def select_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise AnnError("device 'cuda' was asked for but no CUDA GPU is visible; use --device cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise AnnError("device 'mps' was asked for but is not available; use --device cpu")
    return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)


def autocast(device: torch.device, amp: str):
    """bf16 autocast on CUDA by default; on CPU only when asked (it is slower there)."""
    use = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    if not use:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's tensors live on: its first parameter's, else its first buffer's (a
    model fitted in closed form may hold only buffers, as a Hopfield network's weights are), else
    the CPU."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")
