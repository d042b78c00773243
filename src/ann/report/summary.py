"""A model's layer table and parameter counts.

``summary(model, example_input)`` runs one forward pass with hooks on the leaf modules (and on
any module holding parameters of its own; ``nn.Identity`` is left out) and prints, per call: the
dotted name, the type, the output shape and the parameters split into weights and biases, then
the totals.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def is_bias(name: str) -> bool:
    """True for a bias term: a parameter named ``bias`` (also PyTorch's ``bias_ih_l0``-style
    recurrent biases and ``in_proj_bias``-style attention biases)."""
    last = name.rsplit(".", 1)[-1]
    return last == "bias" or last.startswith("bias_") or last.endswith("_bias")


def _split(named_params) -> dict[str, int]:
    counts = {"total": 0, "trainable": 0, "weights": 0, "biases": 0}
    for name, p in named_params:
        n = p.numel()
        counts["total"] += n
        counts["trainable"] += n if p.requires_grad else 0
        counts["biases" if is_bias(name) else "weights"] += n
    return counts


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts: ``total``, ``trainable``, ``weights`` and ``biases`` (shared ones once)."""
    return _split(model.named_parameters())


def _shape(out: Any) -> str:
    """Shape text of a module output: a tensor, or a (nested) tuple/list of tensors."""
    if isinstance(out, torch.Tensor):
        return str(list(out.shape))
    if isinstance(out, (tuple, list)):
        return "(" + ", ".join(_shape(o) for o in out) + ")"
    if isinstance(out, dict):
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in out.items()) + "}"
    return "-" if out is None else type(out).__name__


def _traced_modules(model: nn.Module):
    """(name, module) for leaves and for modules with parameters of their own; ``nn.Identity``
    (a disabled feature) is left out."""
    for name, module in model.named_modules():
        own = next(module.parameters(recurse=False), None) is not None
        leaf = next(module.children(), None) is None and not isinstance(module, nn.Identity)
        if own or leaf:
            yield name or type(model).__name__, module


def _record(model: nn.Module, example_input) -> list[tuple[str, str, str, int, int]]:
    """Run one forward pass in eval mode and return one row per traced module call."""
    rows, seen, handles = [], set(), []

    def hook_for(name):
        def hook(module, inputs, output):
            first = id(module) not in seen    # a shared module's parameters count once
            seen.add(id(module))
            c = _split(module.named_parameters(recurse=False)) if first else {}
            rows.append((name, type(module).__name__, _shape(output),
                         c.get("weights", 0), c.get("biases", 0)))
        return hook

    for name, module in _traced_modules(model):
        handles.append(module.register_forward_hook(hook_for(name)))
    was_training = model.training
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    try:
        model.eval()
        with torch.no_grad():
            model(*args)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return rows


def layer_rows(model: nn.Module, example_input) -> list[tuple[str, str, str, int, int]]:
    """(name, type, output shape, weights, biases) per traced module call on ``example_input``."""
    return _record(model, example_input)


def summary(model: nn.Module, example_input) -> str:
    """The layer table of ``model`` on ``example_input`` (a tensor, or a tuple of arguments).

    One row per call of a leaf module: name, type, output shape, weights, biases; then totals.
    The model is run once in eval mode without gradients; its mode is restored afterwards.
    """
    rows = _record(model, example_input)
    head = ("Layer", "Type", "Output shape", "Weights", "Biases")
    cells = [head] + [(n, t, s, f"{w:,}", f"{b:,}") for n, t, s, w, b in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    right = (False, False, False, True, True)

    def line(r):
        return "  ".join(c.rjust(w) if rj else c.ljust(w)
                         for c, w, rj in zip(r, widths, right)).rstrip()

    rule = "-" * len(line(head))
    c = count_parameters(model)
    out = [line(head), rule, *(line(r) for r in cells[1:]), rule,
           f"Total params:         {c['total']:,}",
           f"Trainable params:     {c['trainable']:,}",
           f"Non-trainable params: {c['total'] - c['trainable']:,}",
           f"Weights:              {c['weights']:,}",
           f"Biases:               {c['biases']:,}"]
    return "\n".join(out)
