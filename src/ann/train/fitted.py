"""Families fitted in closed form rather than by gradient steps (GMDH, PNN, GRNN, DSN).

A model that defines ``fit(train, val, evaluate)`` is fitted by that method instead of the
gradient loop; :class:`FittedTrainer` stands in for :class:`~ann.train.engine.Trainer` and
records the run exactly as the loop does: ``metrics.jsonl`` (one ``fit`` line per stage the
model reports, e.g. a GMDH layer, a DSN module or a PNN smoothing candidate, and a ``val`` line
with the task's metrics after each stage), a checkpoint (the fitted state lives in the model's
parameters and buffers), and the same result the api turns into ``summary.json``, the test
evaluation and the plots.

The model's ``fit`` contract:

* ``train`` and ``val`` are datasets with ``batch(index)`` (e.g. :class:`ArrayDataset`);
* ``evaluate()`` returns the task's metrics on ``val`` for the model as it stands (the model may
  call it after each stage, to choose how far to grow);
* a ``fit`` that also takes ``augment`` (the DSN's, whose refinement takes gradient steps) gets
  the run's ``data.augment_shift``/``augment_flip`` as ``augment(images, generator)``; the others
  refuse augmentation with a clear error;
* it returns a list of records (dicts), one per stage: ``{"stage": name, ...numbers...,
  "val": metrics}``; fitting is deterministic given the seed, so a resumed run refits.

The fitted model is the one tested (the model's ``fit`` chose how far to grow), so of the
engine's checkpoint selections (``train.select``) only ``metric`` and ``last`` apply.

Fitted state whose size is known only after fitting (a PNN's stored training set, a GMDH's
layers) is a buffer or parameter created empty; :func:`ann.train.checkpoint.load_weights` sizes
such placeholders from the checkpoint before loading.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import fileio, logs
from ..errors import AnnError
from ..registry import Training
from . import checkpoint, distributed, tracking
from .batches import eval_batches
from .device import autocast
from .engine import FitResult
from .progress import MetricsLog


def all_of(data, device=None):
    """Every example of a split as one batch ``(x, y)``, on ``device``."""
    batch = data.batch(slice(0, len(data)))
    return tuple(t.to(device) for t in batch) if device is not None else batch


def check_fitted(cfg, task, dist, augment, training: Training):
    """Refuse, with one line, settings a model fitted in closed form cannot follow (torchrun,
    augmentation, a checkpoint selection other than the fit's own): what
    :class:`FittedTrainer` refuses, asked before the run directory exists."""
    tracking.check(cfg.train.log_to)
    if dist.active:
        raise AnnError(f"{cfg.model_name} is fitted in closed form on one process; run it "
                       "without torchrun")
    if augment is not None and not training.augments:
        raise AnnError(f"{cfg.model_name} is fitted in closed form, which does not use data "
                       "augmentation; drop data.augment_shift / data.augment_flip")
    if cfg.train.select not in ("metric", "last"):
        raise AnnError(f"{cfg.model_name} is fitted in closed form and tests the fitted model "
                       f"(its fit chooses how far to grow on the validation {task.metric}); "
                       f"train.select={cfg.train.select} does not apply: drop it")


class FittedTrainer:
    """The engine's stand-in for models with a ``fit`` method; same constructor and interface
    (``fit``, ``evaluate``, ``restore``, ``log``, ``ckpt_dir``, ``epoch``) as ``Trainer``."""

    def __init__(self, cfg, model, task, train, val, device, run_dir: Path | None,
                 dist: distributed.Dist | None = None, augment=None, quiet: bool = False,
                 training: Training | None = None, width: int | None = None, watch=None):
        self.cfg, self.tc = cfg, cfg.train
        self.watch = watch
        training = training or Training("fit")
        self.training = training
        self.model, self.task, self.train_data, self.val_data = model, task, train, val
        self.device, self.dist = device, dist or distributed.Dist()
        check_fitted(cfg, task, self.dist, augment, training)
        self.augment = augment
        self.ckpt_dir = Path(run_dir) / "checkpoints" if run_dir is not None else None
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.quiet = quiet
        self.log = MetricsLog(self.run_dir / "metrics.jsonl" if self.run_dir else None,
                              self.tc.log_to)
        self.step = 0

    @property
    def epoch(self) -> float:
        return 1.0 if self.step else 0.0

    def restore(self):
        """A resumed fitted run is fitted again from the start (fitting is deterministic)."""
        self.log.truncate_after(0)

    def evaluate(self, data) -> dict:
        self.model.eval()
        with autocast(self.device, self.tc.amp):
            return self.task.evaluate(self.model, eval_batches(data, self.tc.eval_batch_size,
                                                              self.device))

    def _evaluate_stage(self) -> dict:
        """The callback a model's ``fit`` calls after a stage: val metrics, shown at once."""
        val = self.evaluate(self.val_data)
        self._say(f"{time.time() - self._start:.0f}s | val {self.task.metric} "
                  f"{val[self.task.metric]:.4f}")
        return val

    def _say(self, text: str):
        if not self.quiet:
            logs.info(f"fit | {text}", __name__)

    def fit(self) -> FitResult:
        start = self._start = time.time()
        extra = {"augment": self.augment} if self.augment is not None else {}
        records = self.model.fit(self.train_data, self.val_data, self._evaluate_stage,
                                 **extra) or []
        key = self.task.metric
        for i, record in enumerate(records, start=1):
            record = dict(record)
            val = record.pop("val", None)
            numbers = {k: v for k, v in record.items()
                       if isinstance(v, (int, float, str)) and (not isinstance(v, float)
                                                                 or np.isfinite(v))}
            self.log.write({"step": i, "epoch": 1.0, "split": "fit", **numbers})
            shown = " | ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                               for k, v in numbers.items())
            if val is not None:
                self.log.write({"step": i, "epoch": 1.0, "split": "val", **val})
                shown += f" | val {key} {val[key]:.4f}"
            self._say(shown)
        self.step = max(len(records), 1)
        val = self.evaluate(self.val_data)
        if not records or records[-1].get("val") != val:
            self.log.write({"step": self.step, "epoch": 1.0, "split": "val", **val})
        self._say(" | ".join(f"val {k} {v:.4f}" for k, v in val.items()))
        if self.run_dir is not None and self.watch is not None:
            self.watch(self.log.rows)
        if self.run_dir is not None and self.training.describes:    # GMDH's formula
            text = self.model.describe(self.train_data.info.get("feature_names"))
            fileio.write_text(self.run_dir / "model.txt", text + "\n")
        if self.run_dir is not None:
            checkpoint.save(self.ckpt_dir, self.step, self.model,
                            {"step": self.step, "best_step": self.step, "best_val": val,
                             "fitted": True}, best=True)
        return FitResult(self.step, self.step, val, False, time.time() - start)
