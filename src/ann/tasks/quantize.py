"""Vector quantization by a self-organizing map: how closely and how orderly a map covers data.

A batch is ``(x, y)`` (the labels, when the data has them, only colour the pictures). The model's
``errors(x)`` gives each sample's distance to its best-matching unit and whether its two best
units are grid neighbours; the task reports

* ``quantization_error``: the mean distance from a sample to its best-matching unit's weights
  (the metric, lower is better; ``loss`` is the same figure);
* ``topographic_error``: the share of samples whose two best-matching units are not adjacent on
  the grid (diagonals adjacent), 0 for a map that keeps the data's neighbourhoods (Kiviluoto 1996);

and draws, for a finished run, ``umatrix.png``: the U-matrix (Ultsch & Siemon 1990), each unit's
mean distance to its grid neighbours (dark ridges separate clusters), with the commonest label
of the test samples each unit wins written on it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..registry import register_task
from ..train.distributed import unwrap
from .base import Task


@register_task
class Quantize(Task):
    """Quantize inputs with a map; ``quantization_error`` (lower is better) and
    ``topographic_error``."""

    name = "quantize"
    metric = "quantization_error"
    higher_is_better = False

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The batch's quantization error (a map is trained by its own rule, not by this)."""
        qe, _ = unwrap(model).errors(batch[0])
        return qe.mean(), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        qe_sum, te_sum, count = 0.0, 0.0, 0
        for batch in batches:
            qe, te = unwrap(model).errors(batch[0])
            qe_sum += qe.sum().item()
            te_sum += te.sum().item()
            count += len(qe)
        qe = qe_sum / max(count, 1)
        return {"quantization_error": qe, "topographic_error": te_sum / max(count, 1), "loss": qe}

    def report(self, run, test_data, folder) -> None:
        """``umatrix.png``: the U-matrix with each unit's commonest test label."""
        from ..report.plots import save, subplots

        model = unwrap(run.model).eval()
        c = model.config
        x, y = test_data.batch(slice(0, len(test_data)))[:2]
        x = x.to(model.weight.device)
        u = model.u_matrix().cpu()
        fig, ax = subplots(figsize=(0.5 * c.cols + 2.5, 0.5 * c.rows + 1.5))
        image = ax.imshow(u.numpy(), cmap="bone_r", origin="upper")
        fig.colorbar(image, ax=ax, label="mean distance to neighbours")
        names = test_data.info.get("classes") or []
        if c.num_classes and not y.is_floating_point():
            best = model.best_units(x)[:, 0].cpu()
            counts = torch.zeros(c.rows * c.cols, c.num_classes)
            counts.index_put_((best, y.long().clamp(0, c.num_classes - 1)),
                              torch.ones(len(y)), accumulate=True)
            for k in torch.nonzero(counts.sum(1)).flatten().tolist():
                label = int(counts[k].argmax())
                text = names[label] if label < len(names) else str(label)
                ax.text(k % c.cols, k // c.cols, text[:3], ha="center", va="center",
                        fontsize=7, color="tab:red")
        ax.set(title=f"U-matrix, {c.rows}x{c.cols} map ({c.mode})", xticks=[], yticks=[])
        save(fig, Path(folder) / "umatrix.png")
