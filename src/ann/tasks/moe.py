"""Language modelling with a mixture of experts: the cross-entropy plus the router's auxiliary
losses, and the experts' use in the report.

The model (``ann.models.moe``) gives ``router_losses()`` (the weighted load-balancing and z-losses
of its last forward) and ``router_stats()`` (per mixture layer: tokens each expert processed,
assignments dropped over capacity). The training loss is cross-entropy + those terms; evaluation
reports the cross-entropy alone as ``loss`` (so the figure compares with a dense GPT's), and the
share of assignments dropped and the balance loss beside it.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ..registry import register_task
from ..train.distributed import unwrap
from .lm import LanguageModeling


@register_task
class MoELanguageModeling(LanguageModeling):
    """Next-token prediction (as ``lm``) plus the routers' auxiliary losses (Fedus et al. 2021)."""

    name = "lm_moe"

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch                                        # (B, T), (B, T)
        logits = model(x)                                   # (B, T, V)
        ce = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        terms = unwrap(model).router_losses()
        return ce + sum(terms.values()), {"ce": ce.item(), **{k: v.item() for k, v in terms.items()}}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, count, dropped, assigned, balance, n = 0.0, 0, 0, 0, 0.0, 0
        for x, y in batches:
            logits = model(x).float()                       # (B, T, V)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
            for s in unwrap(model).router_stats():
                dropped, assigned = dropped + s.dropped.item(), assigned + s.assigned
                balance, n = balance + s.balance.item(), n + 1
        loss = total / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)),
                "dropped": dropped / max(assigned, 1), "balance": balance / max(n, 1)}

    def report(self, run, test_data, folder) -> None:
        """The samples of ``lm`` and ``experts.png``: tokens per expert in each mixture layer
        over (up to) 64 test windows."""
        super().report(run, test_data, folder)
        loads = expert_loads(run.model, test_data)
        if loads is not None:
            plot_expert_loads(loads, Path(folder) / "experts.png")
            if run.path is not None:
                from .. import fileio

                run.summary["expert_tokens"] = loads.tolist()
                fileio.write_json(run.path / "summary.json", run.summary)


@torch.no_grad()
def expert_loads(model, data, windows: int = 64) -> torch.Tensor | None:
    """(layers, experts) tokens each expert processed over the first ``windows`` of ``data``."""
    if len(data) == 0:
        return None
    device = next(model.parameters()).device
    x, _ = data[torch.arange(min(windows, len(data)))]     # (N, T)
    model.eval()
    model(x.to(device))
    return torch.stack([s.load.cpu() for s in model.router_stats()])


def plot_expert_loads(loads: torch.Tensor, path: Path):
    """A bar chart per mixture layer of the tokens each expert processed."""
    from ..report.plots import save, subplots

    layers, experts = loads.shape
    fig, axes = subplots(1, layers, figsize=(2.6 * layers + 1, 2.8), squeeze=False, sharey=True)
    for i, ax in enumerate(axes[0]):
        ax.bar(range(experts), loads[i].numpy(), color="tab:blue")
        ax.axhline(loads[i].sum().item() / experts, color="grey", lw=0.8, ls="--")
        ax.set_title(f"mixture layer {i}", fontsize=9)
        ax.set_xlabel("expert")
        ax.set_xticks(range(experts))
    axes[0][0].set_ylabel("tokens routed")
    save(fig, path)
