"""Time-series forecasting (the recurrent family): a window of the past to the next values."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..registry import register_task
from ..train.device import model_device
from ..train.distributed import unwrap
from .base import FILES, Answer, Fixed, Option, Task, Verb
from .rows import OUT_CSV, Table, number

MAX_STEPS = 100000     # the most values one `ann predict` forecasts


@register_task
class Forecasting(Task):
    """Time-series forecasting: a batch is ``(x, y, ar)`` with ``x`` (B, window, 1) past values,
    ``y`` (B, horizon) the values that follow and ``ar`` (B, horizon) the linear autoregressive
    baseline's forecast of them (fitted on the train split by the dataset), all in the series'
    own units. The model forecasts in those units too; the loss is the mean squared error
    divided by the train series' variance (``model.config.std ** 2``), so its scale is 1.

    ``evaluate`` reports the RMSE of the model, of the naive forecast (the last value of the
    window, held) and of the AR baseline over all ``horizon`` steps, and ``beats_baselines``
    (1.0 when the model's RMSE is below both). Lower RMSE is better.
    """

    name = "forecast"
    metric = "rmse"
    higher_is_better = False
    verbs = {"predict": Verb("predict", "forecast_file", (
                 dataclasses.replace(FILES, help="forecasters: one CSV file of the series' "
                                     "history (a header row, oldest value first)"),
                 Option("steps", int, "forecasters: how many values to forecast (default: the "
                        "model's horizon)", metavar="N"),
                 Option("column", metavar="NAME", help="forecasters: the column of the history "
                        "file to read (default: the run's data.column)"), OUT_CSV),
                             "the next values of a series after the history in a CSV file; "
                             "--out writes them as CSV")}

    def loss(self, model, batch):
        x, y = batch[0], batch[1]
        pred = model(x)                                     # (B, horizon)
        return F.mse_loss(pred.float(), y) / unwrap(model).config.std ** 2, {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        sq = {"model": 0.0, "naive": 0.0, "ar": 0.0}
        count = 0
        for x, y, ar in batches:
            pred = model(x).float()
            naive = x[:, -1, :1].expand_as(y)               # (B, horizon)
            sq["model"] += ((pred - y) ** 2).sum().item()
            sq["naive"] += ((naive - y) ** 2).sum().item()
            sq["ar"] += ((ar - y) ** 2).sum().item()
            count += y.numel()
        rmse = {k: math.sqrt(v / max(count, 1)) for k, v in sq.items()}
        std = unwrap(model).config.std
        return {"rmse": rmse["model"], "naive_rmse": rmse["naive"], "ar_rmse": rmse["ar"],
                "loss": rmse["model"] ** 2 / std ** 2,
                "beats_baselines": float(rmse["model"] < min(rmse["naive"], rmse["ar"]))}

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``persistence``: the window's last value, held over the horizon; ``mean``: the
        mean of the training targets; ``linear AR``: the dataset's autoregressive forecast
        (fitted on the train split), in the task's RMSE only, which is where evaluate has it."""
        y = train.batch(slice(0, len(train)))[1]
        mean, horizon = float(y.double().mean()), y.size(1)
        config = SimpleNamespace(std=train.info.get("std", 1.0))
        persist = self.evaluate(Fixed(lambda x: x[:, -1, :1].expand(len(x), horizon), config),
                                [test.batch(slice(0, len(test)))])
        metric = metric or self.metric
        out = {"persistence": persist[metric],
               "mean": self.score_fixed(lambda x: torch.full((len(x), horizon), mean), test,
                                        metric, config)}
        if metric == "rmse":
            out["linear AR"] = persist["ar_rmse"]
        return out

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """The forecast of the next ``horizon`` values after each window, (B, horizon)."""
        return model(x).float()

    def forecast_file(self, run, files, steps: int | None = None, column: str | None = None,
                      out=None) -> list[Answer]:
        """``ann predict RUN history.csv [--steps N]``: the ``N`` values after the history, read
        as the series source reads a file (:func:`ann.data.series.read_series_csv`: one numeric
        column, ``--column`` or the run's ``data.column``; in the series' own units, which the
        model scales as in training). The model reads the last ``window`` values and forecasts
        ``horizon`` at once; for more steps its forecasts are appended to the history and it
        forecasts again (iterated forecasts, whose errors grow with the steps). Columns
        ``step`` (1: the value right after the history) and ``value``."""
        from ..data.series import read_series_csv

        files = list(files)
        if len(files) != 1:
            raise AnnError(f"give one history file (CSV), not {len(files)}")
        c = unwrap(run.model).config
        steps = c.horizon if steps is None else steps
        if not 1 <= steps <= MAX_STEPS:
            raise AnnError(f"--steps {steps}: give a number of values from 1 to {MAX_STEPS}")
        history = read_series_csv(str(files[0]), run.info.get("column", "") if column is None
                                  else column, "", "--column ")
        if len(history) < c.window:
            raise AnnError(f"{files[0]} holds {len(history)} values but the model reads the last "
                           f"{c.window}; give at least {c.window} values of history")
        values = forecast(run.model, torch.tensor(history, dtype=torch.float32), c.window, steps)
        table = Table(["step", "value"])
        for n, v in enumerate(values.tolist()):
            table.add([str(n + 1), number(v)], f"step {n + 1}: {v:.6g}", {"step": n + 1, "value": v})
        return table.answers(out, files)

    def report(self, run, test_data, folder):
        """Plot the test span: the model's and the baselines' forecasts against the truth."""
        plot_forecasts(run.model, test_data, folder / "forecast.png")


@torch.no_grad()
def forecast(model, history: torch.Tensor, window: int, steps: int) -> torch.Tensor:
    """The ``steps`` values after ``history`` (T,): the model forecasts its horizon from the
    last ``window`` values, the forecasts are appended, and so on. (steps,) float32."""
    model.eval()
    series = history.to(model_device(model))
    while len(series) < len(history) + steps:
        ahead = model(series[-window:].reshape(1, window, 1)).float().reshape(-1)   # (horizon,)
        series = torch.cat([series, ahead])
    return series[len(history):len(history) + steps].cpu()


@torch.no_grad()
def plot_forecasts(model, data, path, n: int = 4):
    """``n`` forecasts spread over a split, each ``horizon`` steps ahead from its window, drawn
    over the true series with the naive and AR forecasts of the same points."""
    from matplotlib.figure import Figure

    from .. import fileio

    x, y, ar = data.batch(slice(0, len(data)))
    model.eval()
    pred = model(x.to(next(model.parameters()).device)).float().cpu()
    H = y.size(1)
    truth = torch.cat([x[0, :, 0], y[:, 0]]) if H == 1 else torch.cat([x[0, :, 0], x[1:, -1, 0], y[-1]])
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    t0 = x.size(1)
    ax.plot(range(len(truth)), truth.numpy(), color="black", lw=1, label="truth")
    starts = torch.linspace(0, len(y) - 1, n).long().tolist()
    if H == 1:      # one step ahead: each forecast is one point, drawn as lines over the span
        t = range(t0, t0 + len(y))
        ax.plot(t, pred[:, 0].numpy(), color="tab:red", lw=1.5, label="model")
        ax.plot(t, ar[:, 0].numpy(), color="tab:blue", lw=1, ls="--", label="linear AR")
        ax.plot(t, x[:, -1, 0].numpy(), color="tab:gray", lw=1, ls=":", label="naive (last value)")
    for j, s in enumerate(starts if H > 1 else []):
        t = range(t0 + s, t0 + s + H)
        ax.plot(t, pred[s].numpy(), color="tab:red", lw=1.5, label="model" if j == 0 else None)
        ax.plot(t, ar[s].numpy(), color="tab:blue", lw=1, ls="--",
                label="linear AR" if j == 0 else None)
        ax.plot(t, x[s, -1, 0].expand(H).numpy(), color="tab:gray", lw=1, ls=":",
                label="naive (last value)" if j == 0 else None)
    ax.set_xlabel("time step of the split (first window included)")
    ax.set_title(f"{H}-step forecasts on the test span")
    ax.legend()
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
