"""Regression of one real target: mean squared error; RMSE, MAE and R^2 over a split.

Registered as ``regression``. A model returns (B,) or (B, 1)
predictions on the target's own scale; the dataset's ``y`` is (B,) float.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from ..registry import register_task
from ..train.device import model_device
from .base import FILES, Answer, Task, Verb, fit_rows
from .rows import OUT_CSV, Table, batched, number, read_rows_of

# The rows file a run trained on rows reads (`ann predict RUN rows.csv`).
ROWS = dataclasses.replace(FILES, help="regression runs: one CSV/TSV file with a header (the "
                           "training columns), or a .npy array of encoded rows")


def _flat(out: torch.Tensor) -> torch.Tensor:
    return out.float().reshape(len(out), -1)[:, 0]          # (B,)


@register_task
class Regression(Task):
    """Real-valued targets; MSE loss; RMSE selects the model (lower is better)."""

    name = "regression"
    targets = "number"
    metric = "rmse"
    higher_is_better = False
    verbs = {"predict": Verb("predict", "predict_rows", (ROWS, OUT_CSV),
                             "the predicted number for each row of a CSV/TSV (or .npy) file; "
                             "--out writes them as CSV")}

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

    def predict_rows(self, run, files, out=None) -> list[Answer]:
        """``ann predict RUN rows.csv``: the prediction for each row of one CSV/TSV (or
        ``.npy``) file, encoded as the run's training rows were (:mod:`ann.data.rows`), in
        batches. CSV columns: ``row`` (1 for the first row) and ``prediction`` (in the target's
        units). When the file holds the run's target column, the RMSE and MAE over the rows
        with a value in it follow."""
        from ..data.rows import target_numbers

        path, rows = read_rows_of(run, files)
        pred = batched(run.predict, rows.x, model_device(run.model)).double()        # (N,)
        table = Table(["row", "prediction"])
        for n, value in enumerate(pred.tolist()):
            table.add([str(n + 1), number(value)], f"row {n + 1}: {value:.6g}",
                      {"row": n + 1, "prediction": value})
        if rows.target is not None:
            at, truth = target_numbers(rows.target, rows.lines, rows.target_name, path)
            if len(at):
                err = pred.numpy()[at] - truth
                rmse, mae = math.sqrt(float((err ** 2).mean())), float(abs(err).mean())
                table.summary = {"target": rows.target_name, "scored": len(at), "rmse": rmse,
                                 "mae": mae}
                table.summary_text = (f"rmse {rmse:.4g}, mae {mae:.4g} on the {len(at)} rows "
                                      f"with a {rows.target_name!r} value")
        return table.answers(out, [path])
