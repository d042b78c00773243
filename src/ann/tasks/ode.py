"""The neural ODE family's objectives: classification that also reports the solver's work, and
extrapolation of irregularly sampled trajectories.

Both report ``nfe``, the vector field's evaluations per forward pass at evaluation (an adaptive
solver chooses them: the network's "depth"), and ``train_nfe``, the mean per training step since
the evaluation before; the report draws both against the training steps (``nfe.png``). A model
of these tasks keeps ``nfe`` (its last solve) and the running ``nfe_seen`` / ``solves_seen`` of
its training solves.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..registry import register_task
from ..train.device import model_device
from ..train.distributed import unwrap
from .base import Task
from .classify import Classification


def _train_nfe(model) -> dict[str, float]:
    """The mean training NFE per step since the last call (and the counts start again)."""
    m = unwrap(model)
    if not m.solves_seen:
        return {}
    out = {"train_nfe": m.nfe_seen / m.solves_seen}
    m.nfe_seen = m.solves_seen = 0
    return out


def plot_nfe(run, path: Path) -> None:
    """``nfe.png``: function evaluations per forward pass against the training step."""
    from ..report.plots import save, subplots

    log = Path(run.path) / "metrics.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    rows = [r for r in rows if r.get("split") == "val" and "nfe" in r]
    if not rows:
        return
    fig, ax = subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["nfe"] for r in rows], "o-", label="evaluation")
    train = [r for r in rows if "train_nfe" in r]
    ax.plot([r["step"] for r in train], [r["train_nfe"] for r in train], "s--",
            label="training (mean since the last evaluation)")
    ax.set(xlabel="training step", ylabel="function evaluations per forward pass",
           title=f"solver work ({run.config.model.method})")
    ax.legend(fontsize=8)
    save(fig, path)


@register_task
class ODEClassification(Classification):
    """Classification (cross-entropy, accuracy; higher is better) by a neural ODE, with the
    solver's function evaluations reported beside the accuracy."""

    name = "ode_classify"

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        nfe = []

        def counted():
            for batch in batches:
                yield batch
                nfe.append(unwrap(model).nfe)

        out = super().evaluate(model, counted())
        return {**out, "nfe": sum(nfe) / max(len(nfe), 1), **_train_nfe(model)}

    def report(self, run, test_data, folder) -> None:
        super().report(run, test_data, folder)
        plot_nfe(run, Path(folder) / "nfe.png")


@register_task
class Extrapolation(Task):
    """Trajectories from irregular observations: a batch is ``(x, mask, y)``, ``x`` (B, T, D)
    noisy values observed where ``mask`` (B, T) is 1, ``y`` (B, T, D) the noiseless truth on the
    whole grid. The model reads the observations of its first ``observed`` times and returns the
    trajectory over all T; its ``losses(x, mask)`` gives the training loss (a latent ODE's
    negative ELBO over every observed value). ``extrap_mse``, the squared error against the
    truth over the times after the observation span (averaged over times and values), selects
    the model (lower is better); ``interp_mse`` is the same over the observation span."""

    name = "extrapolate"
    metric = "extrap_mse"
    higher_is_better = False

    def inputs(self, model, batch) -> tuple:
        return batch[0], batch[1]

    def loss(self, model, batch):
        x, mask = batch[0], batch[1]
        return unwrap(model).losses(x, mask)["loss"].mean(), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        k = unwrap(model).config.observed
        sums = {"interp_mse": 0.0, "extrap_mse": 0.0, "loss": 0.0, "nfe": 0.0}
        counts = {"interp_mse": 0, "extrap_mse": 0, "loss": 0, "nfe": 0}
        generator = None
        for x, mask, y in batches:
            pred = model(x, mask).float()                          # (B, T, D)
            sums["nfe"] += unwrap(model).nfe
            counts["nfe"] += 1
            err = (pred - y).pow(2)
            sums["interp_mse"] += err[:, :k].sum().item()
            counts["interp_mse"] += err[:, :k].numel()
            sums["extrap_mse"] += err[:, k:].sum().item()
            counts["extrap_mse"] += err[:, k:].numel()
            if generator is None:         # the ELBO's sample, the same at every evaluation
                generator = torch.Generator(x.device).manual_seed(0)
            sums["loss"] += unwrap(model).losses(x, mask, generator)["loss"].sum().item()
            counts["loss"] += len(x)
        out = {key: sums[key] / counts[key] if counts[key] else math.nan for key in sums}
        return {**out, **_train_nfe(model)}

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``last value``: the last observation of the observation span, held over every
        time; ``mean``: the training truth's mean at each time."""
        k = int(train.info["observed"])
        x, mask, y = test.batch(slice(0, len(test)))
        seen = mask[:, :k].cumsum(1).argmax(1)                     # (B,) index of the last one
        held = x[torch.arange(len(x)), seen][:, None].expand_as(y)
        mean = train.batch(slice(0, len(train)))[2].mean(0, keepdim=True).expand_as(y)
        metric = metric or self.metric
        span = slice(k, None) if metric == "extrap_mse" else slice(0, k)
        return {"last value": float((held - y)[:, span].pow(2).mean()),
                "mean": float((mean - y)[:, span].pow(2).mean())}

    @torch.no_grad()
    def predict(self, model, x, mask=None) -> torch.Tensor:
        """The trajectories (B, T, D) of observations ``x`` (all observed without a mask)."""
        mask = torch.ones(x.shape[:2], device=x.device) if mask is None else mask
        return model(x, mask).float()

    def report(self, run, test_data, folder) -> None:
        """``trajectories.png``: test trajectories, observations, truth and the model's
        interpolation and extrapolation; ``nfe.png``."""
        plot_trajectories(run.model, test_data, Path(folder) / "trajectories.png")
        plot_nfe(run, Path(folder) / "nfe.png")


@torch.no_grad()
def plot_trajectories(model, data, path: Path, n: int = 6) -> None:
    from ..report.plots import save, subplots

    m = unwrap(model).eval()
    k = m.config.observed
    x, mask, y = data.batch(slice(0, n))
    pred = m(x.to(model_device(m)), mask.to(model_device(m))).float().cpu()
    cols = min(n, 3)
    fig, axes = subplots(math.ceil(len(x) / cols), cols, figsize=(3.2 * cols, 3.2 * len(x) / cols),
                         squeeze=False)
    for i, ax in enumerate(axes.flat[:len(x)]):
        seen = (mask[i] > 0) & (torch.arange(len(mask[i])) < k)
        ax.plot(y[i, :, 0], y[i, :, 1], color="grey", lw=1, label="truth")
        ax.plot(x[i, seen, 0], x[i, seen, 1], "k.", ms=4, label="observations read")
        ax.plot(pred[i, :k, 0], pred[i, :k, 1], color="tab:blue", lw=1.5, label="interpolated")
        ax.plot(pred[i, k - 1:, 0], pred[i, k - 1:, 1], color="tab:red", lw=1.5, ls="--",
                label="extrapolated")
        ax.set_xticks([])
        ax.set_yticks([])
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("latent ODE on test trajectories")
    save(fig, path)
