"""Language modelling: next-token prediction over windows of text, and over a stream read in order
(truncated backpropagation through time, the recurrent family)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..layers.recurrent import detach_state
from ..registry import register_task
from ..train.distributed import unwrap
from .base import Task


def _to(state, device):
    return tuple(s.to(device) for s in state) if isinstance(state, tuple) else state.to(device)


@register_task
class LanguageModeling(Task):
    """Next-token prediction: tokens (B, T) to logits (B, T, V); mean cross-entropy per token
    (nats); perplexity = exp(loss). Lower is better."""

    name = "lm"
    metric = "loss"
    higher_is_better = False

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch                                        # (B, T), (B, T)
        logits = model(x)                                   # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten()), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, count = 0.0, 0
        for x, y in batches:
            logits = model(x).float()                       # (B, T, V)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
        loss = total / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Next-token probabilities after each sequence, (B, V)."""
        return torch.softmax(model(x)[:, -1].float(), dim=-1)


@register_task
class StreamLanguageModeling(LanguageModeling):
    """Next-token prediction over the token stream read in order, the recurrent state carried
    from one batch to the next and cut from the graph there (truncated BPTT; Zaremba et al.
    2014, https://arxiv.org/abs/1409.2329, section 4.1).

    ``sequential = True`` makes the engine hand out batches as ``batch_size`` parallel streams
    (:class:`~ann.train.batches.EpochBatches`); :meth:`start_step` resets the carried state at
    each epoch's start, and :meth:`state_dict` puts it into every checkpoint, so a resumed run
    continues with the state an uninterrupted one had. The model is called as
    ``model(x, state) -> (logits, state)`` and gives its zero state by ``initial_state(B, device)``.

    Evaluation reads a whole split as one stream (batch 1, ``eval_chunk`` tokens at a time with
    the state carried), so every token after the first is predicted from all that precede it,
    and the figure does not depend on the window length.
    """

    name = "lm_stream"
    sequential = True
    eval_chunk = 256

    def __init__(self):
        self.carry: dict[int, object] = {}      # micro-batch slot -> state
        self._slot = 0

    def start_step(self, step: int, steps_per_epoch: int):
        self._slot = 0
        if step % steps_per_epoch == 0:
            self.carry = {}

    def state_dict(self) -> dict:
        out = {}
        for slot, state in self.carry.items():
            for i, t in enumerate(state if isinstance(state, tuple) else (state,)):
                out[f"{slot}.{i}.{int(isinstance(state, tuple))}"] = t.detach().cpu()
        return out

    def load_state_dict(self, state: dict):
        parts: dict[int, dict] = {}
        for key, t in state.items():
            slot, i, is_tuple = (int(k) for k in key.split("."))
            parts.setdefault(slot, {"tuple": is_tuple})[i] = t
        self.carry = {}
        for slot, p in parts.items():
            tensors = [p[i] for i in sorted(k for k in p if k != "tuple")]
            self.carry[slot] = tuple(tensors) if p["tuple"] else tensors[0]

    def loss(self, model, batch):
        x, y = batch                                        # (B, T), (B, T)
        slot, self._slot = self._slot, self._slot + 1
        state = self.carry.get(slot)
        if state is None:
            state = unwrap(model).initial_state(x.size(0), x.device)
        else:
            state = _to(state, x.device)
        logits, state = model(x, state)                     # (B, T, V)
        self.carry[slot] = detach_state(state)
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten()), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        xs, ys = zip(*((x, y) for x, y in batches))
        x = torch.cat(xs).flatten()[None]                   # (1, N): the split as one stream
        y = torch.cat(ys).flatten()[None]
        state = unwrap(model).initial_state(1, x.device)
        total = 0.0
        for i in range(0, x.size(1), self.eval_chunk):
            logits, state = model(x[:, i:i + self.eval_chunk], state)   # (1, t, V)
            total += F.cross_entropy(logits[0].float(), y[0, i:i + self.eval_chunk],
                                     reduction="sum").item()
        loss = total / max(y.numel(), 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}
