"""Classification: inputs to class scores, cross-entropy, accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import register_task
from .base import Task


@register_task
class Classification(Task):
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
