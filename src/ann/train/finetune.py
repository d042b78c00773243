"""Fine-tuning controls of any model: ``train.freeze`` keeps chosen parameters fixed, and
``train.lora_rank`` trains low-rank adapters (LoRA, Hu et al. 2021,
https://arxiv.org/abs/2106.09685) in place of the full weight matrices.

``train.freeze=PATTERNS`` is a comma-separated list of parameter-name prefixes or globs, matched
at dot boundaries: ``encoder.tok`` freezes ``encoder.tok.weight``, ``*.ln1`` every block's first
norm, and a range ``a-b`` as one part of a name stands for each layer index in it
(``encoder.blocks.0-2`` is blocks 0, 1 and 2). A pattern that matches no parameter is one line
listing some real names.

``train.lora_rank=R`` replaces each ``nn.Linear`` whose name matches ``train.lora_targets``
(default: the attention projections, ``q_proj,k_proj,v_proj,out_proj``; the same grammar, a
bare word matching the last part of a module's name) with :class:`LoRALinear`:
``y = W x + b + (alpha / R) B A x``, ``A`` (R, in) random and ``B`` (out, R) zero, so training
starts from the unchanged model. Only ``A`` and ``B`` train, and the parameters that the
starting weights did not provide (a new classification head). At the end :func:`merge` folds
``B A`` into ``W`` and puts back plain ``nn.Linear`` layers, so the saved run is an ordinary one.
The adapters keep the layer's parameter names (``weight``, ``bias``) beside ``lora_A`` and
``lora_B``, so checkpoints taken during training resume exactly.
"""

from __future__ import annotations

import fnmatch
import math
import re

import torch
from torch import nn

from ..errors import AnnError

DEFAULT_TARGETS = "q_proj,k_proj,v_proj,out_proj"
_RANGE = re.compile(r"^(\d+)-(\d+)$")


class LoRALinear(nn.Linear):
    """``nn.Linear`` plus a trainable low-rank update ``(alpha / rank) B A``.

    Shapes:
        input (*, in_features) -> output (*, out_features).
    """

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: float,
                 bias: bool = True, device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.rank, self.alpha, self.scale = rank, alpha, alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, in_features, device=device, dtype=dtype))
        self.lora_B = nn.Parameter(torch.zeros(out_features, rank, device=device, dtype=dtype))

    @classmethod
    def wrap(cls, linear: nn.Linear, rank: int, alpha: float,
             generator: torch.Generator) -> LoRALinear:
        """A LoRA layer holding ``linear``'s weight and bias (frozen) and fresh adapters: A
        Kaiming-uniform as ``nn.Linear``'s own weight (the LoRA reference code), B zero."""
        w = linear.weight
        out = cls(linear.in_features, linear.out_features, rank, alpha, linear.bias is not None,
                  device=w.device, dtype=w.dtype)
        with torch.no_grad():
            out.weight.copy_(w)
            if linear.bias is not None:
                out.bias.copy_(linear.bias)
            bound = 1 / math.sqrt(linear.in_features)       # kaiming_uniform_(a=sqrt(5))
            a = torch.rand(out.lora_A.shape, generator=generator) * 2 * bound - bound
            out.lora_A.copy_(a)
        out.weight.requires_grad_(False)
        if out.bias is not None:
            out.bias.requires_grad_(False)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = (x @ self.lora_A.t()) @ self.lora_B.t()  # (*, out_features)
        return super().forward(x) + self.scale * update

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function: ``W + (alpha / rank) B A``."""
        w = self.weight
        out = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                        device=w.device, dtype=w.dtype)
        with torch.no_grad():
            out.weight.copy_(w + self.scale * (self.lora_B @ self.lora_A))
            if self.bias is not None:
                out.bias.copy_(self.bias)
        return out


# --- patterns ----------------------------------------------------------------------------------

def _items(patterns: str) -> list[str]:
    return [p.strip() for p in patterns.split(",") if p.strip()]


def _expand(item: str) -> list[str]:
    """``a.0-2.b`` -> ``a.0.b``, ``a.1.b``, ``a.2.b``: a range as one part is each index in it."""
    out = [""]
    for part in item.split("."):
        m = _RANGE.match(part)
        choices = [str(i) for i in range(int(m[1]), int(m[2]) + 1)] if m else [part]
        out = [f"{o}.{c}" if o else c for o in out for c in choices]
    return out


def _matches(name: str, item: str, last_part: bool = False) -> bool:
    """Whether the dotted ``name`` (or one of its dotted prefixes) matches ``item``; with
    ``last_part`` a bare word (no dot) may also match the name's last part."""
    parts = name.split(".")
    for pattern in _expand(item):
        if any(fnmatch.fnmatchcase(".".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            return True
        if last_part and "." not in pattern and fnmatch.fnmatchcase(parts[-1], pattern):
            return True
    return False


def _few(names: list[str], n: int = 6) -> str:
    return ", ".join(names[:n]) + (" ..." if len(names) > n else "")


def _select(names: list[str], patterns: str, key: str, what: str, last_part: bool) -> set[str]:
    chosen = set()
    for item in _items(patterns):
        hit = {n for n in names if _matches(n, item, last_part)}
        if not hit:
            raise AnnError(f"{key}: {item!r} matches no {what} of this model; its {what}s are "
                           f"named like {_few(names)}")
        chosen |= hit
    return chosen


def _lora_layers(model: nn.Module, targets: str) -> list[str]:
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n]
    if not names:
        raise AnnError("train.lora_rank: this model has no Linear layers to adapt; set "
                       "train.lora_rank=0")
    chosen = _select(names, targets or DEFAULT_TARGETS, "train.lora_targets", "Linear layer",
                     last_part=True)
    uses: dict[int, int] = {}
    for _, p in model.named_parameters(remove_duplicate=False):
        uses[id(p)] = uses.get(id(p), 0) + 1
    tied = [n for n in names if n in chosen and uses[id(model.get_submodule(n).weight)] > 1]
    if tied:     # an adapter there would untie the weight from its twin (an LM head, say)
        raise AnnError(f"train.lora_targets: {tied[0]} shares its weight with another layer "
                       "(tied embeddings), which an adapter would untie; leave it out of "
                       "train.lora_targets")
    return [n for n in names if n in chosen]


def _parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Every parameter under each of its names: a tied weight (GPT's ``lm_head.weight``, the
    token embedding) answers to both."""
    return list(model.named_parameters(remove_duplicate=False))


def check(model: nn.Module, tc) -> None:
    """Refuse freeze patterns and LoRA targets that name nothing in ``model``, before any file
    is written."""
    if tc.freeze:
        _select([n for n, _ in _parameters(model)], tc.freeze, "train.freeze", "parameter",
                last_part=False)
    if tc.lora_rank:
        _lora_layers(model, tc.lora_targets)


def prepare(model: nn.Module, tc, provided: set[str] | None = None) -> nn.Module:
    """Apply ``train.lora_rank`` and ``train.freeze`` to ``model`` (in place, before the optimizer
    is built). ``provided``: the parameter names the starting weights gave (with LoRA, the other
    parameters, such as a new head, still train); None trains only the adapters."""
    if tc.lora_rank:
        generator = torch.Generator().manual_seed(tc.seed)
        fresh = set() if provided is None else {n for n, _ in model.named_parameters()} - provided
        for name in _lora_layers(model, tc.lora_targets):
            parent, _, child = name.rpartition(".")
            owner = model.get_submodule(parent) if parent else model
            setattr(owner, child, LoRALinear.wrap(getattr(owner, child), tc.lora_rank,
                                                  tc.lora_alpha, generator))
        for name, p in model.named_parameters():
            p.requires_grad_(name.rsplit(".", 1)[-1] in ("lora_A", "lora_B") or name in fresh)
    if tc.freeze:
        params = _parameters(model)
        frozen = _select([n for n, _ in params], tc.freeze, "train.freeze", "parameter",
                         last_part=False)
        for name, p in params:
            if name in frozen:
                p.requires_grad_(False)
    return model


def merge(model: nn.Module) -> nn.Module:
    """Fold every :class:`LoRALinear` of ``model`` into a plain ``nn.Linear`` (in place), every
    parameter trainable again as in an ordinary model."""
    layers = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name in layers:
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, getattr(owner, child).merged())
    for p in model.parameters():
        p.requires_grad_(True)
    return model
