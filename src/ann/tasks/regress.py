"""Regression of one real target: mean squared error; RMSE, MAE and R^2 over a split.

Registered as ``regression``. A model returns (B,) or (B, 1)
predictions on the target's own scale; the dataset's ``y`` is (B,) float.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..registry import register_task
from .base import Task, fit_rows


def _flat(out: torch.Tensor) -> torch.Tensor:
    return out.float().reshape(len(out), -1)[:, 0]          # (B,)


@register_task
class Regression(Task):
    """Real-valued targets; MSE loss; RMSE selects the model (lower is better)."""

    name = "regression"
    metric = "rmse"
    higher_is_better = False

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        return F.mse_loss(_flat(model(x)), y.float()), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        """MSE (``loss``), ``rmse``, ``mae`` and ``r2`` = 1 - SSE / SST over the whole split."""
        preds, targets = [], []
        for x, y in batches:
            preds.append(_flat(model(x)).double().cpu())
            targets.append(y.double().cpu())
        p, t = torch.cat(preds), torch.cat(targets)
        sse = float(((p - t) ** 2).sum())
        sst = float(((t - t.mean()) ** 2).sum())
        n = max(len(t), 1)
        return {"loss": sse / n, "rmse": math.sqrt(sse / n), "mae": float((p - t).abs().mean()),
                "r2": 1.0 - sse / sst if sst > 0 else float("nan")}

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``mean``: the mean of the training targets, for every example; ``linear``: least
        squares on the flattened inputs (with an intercept), fitted on at most 5,000 training
        examples."""
        from sklearn.linear_model import LinearRegression

        x, y = train.batch(slice(0, len(train)))[:2]
        mean = float(y.double().mean())
        out = {"mean": self.score_fixed(lambda x: torch.full((len(x),), mean), test, metric)}
        fitted = LinearRegression().fit(*fit_rows(x, y.double()))

        def linear(inputs):
            rows = inputs.reshape(len(inputs), -1).double().cpu().numpy()
            return torch.as_tensor(fitted.predict(rows))

        out["linear"] = self.score_fixed(linear, test, metric)
        return out

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Predictions, (B,)."""
        return _flat(model(x))
