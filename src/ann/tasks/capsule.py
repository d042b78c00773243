"""Classification by a capsule network: margin loss plus a masked reconstruction (Sabour et al.
2017, section 4), accuracy by the longest digit capsule.

The loss is the model's per-example ``losses(x, y)["loss"]``; evaluation reports its mean and
those of its two terms (``margin``, and ``reconstruction``, the summed squared error of the
image rebuilt from the true class's capsule) beside ``accuracy`` (the metric). A finished run
adds ``reconstructions.png`` (test images above the images the decoder rebuilds from the
predicted class's capsule) and ``perturbations.png``: one digit capsule's dimensions moved one
at a time from -0.25 to 0.25, as in the paper's figure 4.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..registry import register_task
from ..train.distributed import unwrap
from .classify import Classification


@register_task
class CapsuleClassification(Classification):
    """Classification by capsule lengths: margin loss + weighted reconstruction error;
    accuracy (higher is better)."""

    name = "capsule_classify"

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch[:2]
        return model.losses(x, y)["loss"].mean(), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        sums, correct, count = {"loss": 0.0, "margin": 0.0, "reconstruction": 0.0}, 0, 0
        for x, y in batches:
            terms = model.losses(x, y)
            for k in sums:
                sums[k] += terms[k].sum().item()
            correct += (model(x).argmax(-1) == y).sum().item()
            count += len(y)
        return {**{k: v / max(count, 1) for k, v in sums.items()},
                "accuracy": correct / max(count, 1)}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """The digit capsules' lengths scaled to sum to 1 over the classes, (B, num_classes)
        (each length alone is the probability that its class is present)."""
        lengths = model(x).float()
        return lengths / lengths.sum(-1, keepdim=True).clamp_min(1e-12)

    def report(self, run, test_data, folder) -> None:
        """The classification pictures, ``reconstructions.png`` and ``perturbations.png``."""
        from ..report.generative import plot_rows

        super().report(run, test_data, folder)
        model = unwrap(run.model).eval()
        device = next(model.parameters()).device
        x, y = (t.to(device) for t in test_data.batch(slice(0, min(10, len(test_data))))[:2])
        with torch.no_grad():
            v, _ = model.capsules(x)
            predicted = v.norm(dim=-1).argmax(-1)
            rebuilt = model.reconstruct(v, predicted)
            plot_rows([model.pixels(x), rebuilt], ["input", "rebuilt"],
                      Path(folder) / "reconstructions.png",
                      "reconstructions from the predicted class's capsule (predicted: "
                      + " ".join(str(int(p)) for p in predicted) + ")")
            rows, steps = perturbations(model, v[0], int(predicted[0]))
            plot_rows(rows, [f"dim {d}" for d in range(len(rows))],
                      Path(folder) / "perturbations.png",
                      f"capsule {int(predicted[0])}'s dimensions moved by "
                      f"{steps[0]:+.2f} ... {steps[-1]:+.2f}")


def perturbations(model, v: torch.Tensor, k: int, span: float = 0.25, n: int = 11):
    """Reconstructions from capsule ``k`` of one image's capsules v (J, D) with each dimension
    in turn moved by ``n`` steps over [-span, span]: a list of D rows, each (n, C, H, W)."""
    steps = torch.linspace(-span, span, n, device=v.device)
    rows = []
    for d in range(v.shape[1]):
        moved = v.unsqueeze(0).repeat(n, 1, 1)                                # (n, J, D)
        moved[:, k, d] += steps
        rows.append(model.reconstruct(moved, torch.full((n,), k, device=v.device)))
    return rows, steps.tolist()
