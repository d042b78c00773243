"""Checkpoint selection: which validation figure picks the checkpoint that is tested and drives
early stopping (``train.select``), the same for every family.

* ``metric``: the task's own metric (``task.metric``, better as ``task.higher_is_better``);
* ``loss``: the validation loss, lower better (as the GAT reference code's patience does);
* ``window``: the task's metric averaged over the last ``train.select_window`` evaluations,
  logged as ``window_<metric>`` (0 until the window is full). On a validation fold of ~19 graphs
  one epoch's accuracy moves in steps of 5%, and its maximum is mostly noise; the model at the
  end of the best window is kept;
* ``last``: every evaluation is the best, so the final model is tested (a fixed epoch count
  chosen beforehand); the figure ``evaluations`` counts them.

The window's values and the count are saved in every checkpoint (:meth:`Selection.state_dict`),
so a resumed run selects exactly as an uninterrupted one.
"""

from __future__ import annotations

import torch

CHOICES = ("metric", "loss", "window", "last")


class Selection:
    """The selection rule of a run: :meth:`figures` adds the selection figure to each
    evaluation's metrics, :meth:`better` says whether they beat the best so far."""

    def __init__(self, how: str, width: int, task):
        self.how, self.width = how, width
        self.recent: list[float] = []      # window: the task metric's last `width` values
        self.count = 0                     # evaluations so far
        self.metric = task.metric
        self.key, self.higher = {
            "metric": (task.metric, task.higher_is_better),
            "loss": ("loss", False),
            "window": (f"window_{task.metric}", task.higher_is_better),
            "last": ("evaluations", True),
        }[how]

    def figures(self, val: dict) -> dict:
        """The figures selection adds to an evaluation's metrics ``val`` (called once per
        evaluation: it moves the window)."""
        self.count += 1
        if self.how == "window":
            self.recent = (self.recent + [float(val[self.metric])])[-self.width:]
            full = len(self.recent) == self.width
            return {self.key: sum(self.recent) / self.width if full else 0.0}
        if self.how == "last":
            return {self.key: self.count}
        return {}

    def better(self, val: dict, best: dict) -> bool:
        """Whether ``val`` (with :meth:`figures` added) beats ``best`` (empty: nothing yet)."""
        if not best or self.how == "last":
            return True
        if self.how == "window" and self.count <= self.width:
            # a partial window (its figure is only a placeholder) never beats anything; the
            # first full one beats every partial one, whichever way the metric is better
            return self.count == self.width
        if self.higher:
            return val[self.key] > best[self.key]
        return val[self.key] < best[self.key]

    def state_dict(self) -> dict:
        """Tensors a checkpoint keeps (nothing for ``metric`` and ``loss``)."""
        if self.how == "window":
            return {"recent": torch.tensor(self.recent, dtype=torch.float64),
                    "count": torch.tensor(self.count)}
        if self.how == "last":
            return {"count": torch.tensor(self.count)}
        return {}

    def load_state_dict(self, state: dict):
        self.recent = state["recent"].tolist() if "recent" in state else []
        if "count" in state:
            self.count = int(state["count"])
        else:   # an earlier version's graph task kept the window without a count; a full
            # window there had already beaten the partial ones
            self.count = len(self.recent) + (len(self.recent) == self.width)
