"""Free-running (closed-loop) forecasting, the echo state network's objective: the model reads
a window and then forecasts ``horizon`` values by feeding its own predictions back.

Everything of :class:`~ann.tasks.forecast.Forecasting` (batches ``(x, y, ar)``, RMSE against
the naive and AR baselines, ``ann predict RUN history.csv``), plus the normalised errors of the
reservoir-computing literature (Jaeger 2001): ``nrmse``, the RMSE of the ``horizon``-th value
ahead divided by the train series' std (the metric: on Mackey-Glass with ``data.horizon=84``,
the 84-step-ahead NRMSE), and ``nrmse_mean``, over every step of the horizon. The report draws
``freerun.png``: the model run in closed loop over the whole test span from its first window.
"""

from __future__ import annotations

import math

import torch

from ..registry import register_task
from ..train.device import model_device
from ..train.distributed import unwrap
from .forecast import Forecasting


@register_task
class FreeRunForecasting(Forecasting):
    """Closed-loop forecasting judged by ``nrmse`` at the horizon's last step (lower is better)."""

    name = "freerun"
    metric = "nrmse"
    higher_is_better = False

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        sq = {"model": 0.0, "naive": 0.0, "ar": 0.0, "last": 0.0}
        count = rows = 0
        for x, y, ar in batches:
            pred = model(x).float()                                  # (B, horizon), one run
            sq["model"] += ((pred - y) ** 2).sum().item()
            sq["naive"] += ((x[:, -1, :1] - y) ** 2).sum().item()
            sq["ar"] += ((ar - y) ** 2).sum().item()
            sq["last"] += ((pred[:, -1] - y[:, -1]) ** 2).sum().item()
            count, rows = count + y.numel(), rows + len(y)
        rmse = {k: math.sqrt(v / max(count, 1)) for k, v in sq.items() if k != "last"}
        std = unwrap(model).config.std
        return {"rmse": rmse["model"], "naive_rmse": rmse["naive"], "ar_rmse": rmse["ar"],
                "loss": rmse["model"] ** 2 / std ** 2,
                "beats_baselines": float(rmse["model"] < min(rmse["naive"], rmse["ar"])),
                "nrmse": math.sqrt(sq["last"] / max(rows, 1)) / std,
                "nrmse_mean": rmse["model"] / std}

    def report(self, run, test_data, folder) -> None:
        """``freerun.png``: the test span, truth against the model running free from its first
        window (how far a closed loop follows the series before it drifts)."""
        plot_free_run(run.model, test_data, folder / "freerun.png")


@torch.no_grad()
def plot_free_run(model, data, path) -> None:
    from ..report.plots import save, subplots

    x, y, _ = data.batch(slice(0, len(data)))
    truth = torch.cat([y[:, 0], y[-1, 1:]])                                  # (L,) the test span
    model.eval()
    free = unwrap(model).generate(x[:1].to(model_device(model)), len(truth)).float().cpu()[0]
    horizon = unwrap(model).config.horizon
    fig, ax = subplots(figsize=(10, 4))
    ax.plot(truth.numpy(), color="black", lw=1, label="truth")
    ax.plot(free.numpy(), color="tab:red", lw=1.2, label="closed loop (free run)")
    ax.axvline(horizon - 1, color="grey", ls=":", label=f"step {horizon} (the metric's)")
    ax.set(xlabel="steps after the first test window", title="free-running prediction, test span")
    ax.legend(fontsize=8)
    save(fig, path)
