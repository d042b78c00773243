"""Tasks of the recurrent family: language modelling with state carried across batches
(truncated backpropagation through time) and time-series forecasting.

Registered in :data:`ann.train.tasks.TASKS` (by ``tasks.py``) as ``lm_stream`` and ``forecast``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..layers.recurrent import detach_state
from .tasks import LanguageModeling, _config


def _inner(model):
    inner = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner)


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
            state = _inner(model).initial_state(x.size(0), x.device)
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
        state = _inner(model).initial_state(1, x.device)
        total = 0.0
        for i in range(0, x.size(1), self.eval_chunk):
            logits, state = model(x[:, i:i + self.eval_chunk], state)   # (1, t, V)
            total += F.cross_entropy(logits[0].float(), y[0, i:i + self.eval_chunk],
                                     reduction="sum").item()
        loss = total / max(y.numel(), 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def _to(state, device):
    return tuple(s.to(device) for s in state) if isinstance(state, tuple) else state.to(device)


class Forecasting:
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

    def loss(self, model, batch):
        x, y = batch[0], batch[1]
        pred = model(x)                                     # (B, horizon)
        return F.mse_loss(pred.float(), y) / _config(model).std ** 2, {}

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
        std = _config(model).std
        return {"rmse": rmse["model"], "naive_rmse": rmse["naive"], "ar_rmse": rmse["ar"],
                "loss": rmse["model"] ** 2 / std ** 2,
                "beats_baselines": float(rmse["model"] < min(rmse["naive"], rmse["ar"]))}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """The forecast of the next ``horizon`` values after each window, (B, horizon)."""
        return model(x).float()

    def report(self, run, test_data, folder):
        """Plot the test span: the model's and the baselines' forecasts against the truth."""
        plot_forecasts(run.model, test_data, folder / "forecast.png")


@torch.no_grad()
def plot_forecasts(model, data, path, n: int = 4):
    """``n`` forecasts spread over a split, each ``horizon`` steps ahead from its window, drawn
    over the true series with the naive and AR forecasts of the same points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y, ar = data.batch(slice(0, len(data)))
    model.eval()
    pred = model(x.to(next(model.parameters()).device)).float().cpu()
    H = y.size(1)
    truth = torch.cat([x[0, :, 0], y[:, 0]]) if H == 1 else torch.cat([x[0, :, 0], x[1:, -1, 0], y[-1]])
    fig, ax = plt.subplots(figsize=(10, 4))
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
    fig.savefig(path, dpi=100)
    plt.close(fig)


RECURRENT_TASKS = {"lm_stream": StreamLanguageModeling, "forecast": Forecasting}
