"""Tasks: how a batch becomes a loss, and how a split becomes metrics.

A model names its task in the class attribute ``task``; the one training loop asks the task for
the loss. A model that needs something special (a GAN's two optimisers, a VAE's KL term) defines
``training_step`` itself and the task steps aside.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import unknown


class Classification:
    """Inputs to class scores; cross-entropy loss; accuracy (higher is better)."""

    name = "classify"
    metric = "accuracy"
    higher_is_better = True

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean cross-entropy of one batch ``(x, y)``."""
        x, y = batch
        logits = model(x)                                   # (B, num_classes)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
        return loss, {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        """Loss and accuracy over an iterable of ``(x, y)`` batches (sums, then one division)."""
        total_loss, correct, count = 0.0, 0, 0
        for x, y in batches:
            logits = model(x).float()
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            count += len(y)
        return {"loss": total_loss / max(count, 1), "accuracy": correct / max(count, 1)}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Class probabilities, (B, num_classes)."""
        return torch.softmax(model(x).float(), dim=-1)


class LanguageModeling:
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


TASKS = {"classify": Classification, "lm": LanguageModeling}


def get_task(name: str, **kwargs):
    if name not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[name](**kwargs)
