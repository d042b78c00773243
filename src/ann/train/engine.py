"""The one training loop every gradient-trained family uses.

It knows nothing of model families: a model is an ``nn.Module``, a task turns a batch into a loss
and a split into metrics, data is a set of tensors indexed by :class:`EpochBatches`. Everything a
resumed run needs (weights, optimizer, schedule, RNG, step, best so far, the checkpoint
selection's window) goes into each checkpoint,
and the data order depends only on (seed, step): a run killed at any moment and resumed ends with
the weights an uninterrupted run would have had (on CPU, in deterministic mode). The batches are
built in the training process, or ahead of the loop by ``train.workers`` processes
(:mod:`ann.train.loader`), from the same step indices: the weights do not depend on which.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import AnnError
from ..registry import Training
from . import checkpoint, distributed, tracking
from .batches import EpochBatches
from .device import autocast
from .loader import MicroBatches, split_batches, step_batches
from .optim import build_optimizer, build_schedule, noam_factor
from .progress import MetricsLog, Progress
from .select import Selection


class Interrupted(AnnError):
    """Ctrl-C: a checkpoint was saved; the message says how to resume."""

    exit_code = 130


def seed_everything(seed: int, deterministic: bool):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def rng_state() -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": torch.from_numpy(np_state[1].astype(np.int64)),
             "numpy_pos": int(np_state[2]),
             "python": [int(x) for x in random.getstate()[1]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict):
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


_UNSET = object()


def check_setup(tc, model, task, train, dist: distributed.Dist, training: Training | None = None,
                lengths=_UNSET, width: int | None = None):
    """Refuse, with one line, training settings that do not fit this model, task and data
    (accumulation that does not divide the batch, length buckets without lengths, a model that
    steps itself asked to accumulate): what :class:`Trainer` would refuse, asked before the run
    directory exists. ``lengths``: the task's lengths of ``train`` when already computed;
    ``width``: the model's width, which the noam schedule needs."""
    training = training or Training()
    tracking.check(tc.log_to)                    # train.log_to's packages are there
    if len(train) == 0:
        raise AnnError("the training split holds no examples; give the dataset more data")
    if tc.schedule == "noam" and not (tc.noam_d_model or width):
        noam_factor(0, tc.warmup_steps, None)         # its one-line refusal
    if tc.length_buckets:
        if lengths is _UNSET:
            lengths = None if task.sequential else task.lengths(model, train)
        if lengths is None:
            raise AnnError(f"train.length_buckets batches sequences by length; the "
                           f"{task.name} task has no lengths to sort by: set "
                           "train.length_buckets=0")
    batch = min(tc.batch_size, len(train))       # EpochBatches takes at most the whole set
    if batch % (dist.world * tc.grad_accum):
        raise AnnError(f"train.batch_size={batch} must be divisible by "
                       f"processes x train.grad_accum = {dist.world * tc.grad_accum}")
    if training.kind == "steps" and (tc.grad_accum != 1 or dist.active):
        raise AnnError(f"{type(model).__name__} takes its own training steps, on one "
                       "process and without accumulation; set train.grad_accum=1 and run "
                       "without torchrun")


@dataclass
class FitResult:
    step: int
    best_step: int
    best_val: dict
    stopped_early: bool
    wall_time: float        # training seconds; a resumed run's earlier sessions included


class Trainer:
    """Train ``model`` on ``train`` data under ``task``; evaluate on ``val``; checkpoint to
    ``run_dir / "checkpoints"`` (rank 0 only; ``run_dir=None`` writes nothing). ``watch(rows)``,
    where given, is called after each evaluation with the metrics rows so far (the runner
    redraws ``curves.png`` so that a long run can be watched)."""

    def __init__(self, cfg, model, task, train, val, device, run_dir: Path | None,
                 dist: distributed.Dist | None = None, augment: Callable | None = None,
                 quiet: bool = False, training: Training | None = None, width: int | None = None,
                 watch: Callable[[list[dict]], None] | None = None):
        self.cfg, self.tc = cfg, cfg.train
        training = training or Training()
        self.watch = watch          # called with the metrics rows after each evaluation (curves)
        self.model, self.task, self.train_data, self.val_data = model, task, train, val
        self.device, self.dist = device, dist or distributed.Dist()
        self.ckpt_dir = Path(run_dir) / "checkpoints" if run_dir is not None else None
        self.run_dir = Path(run_dir) if run_dir is not None and self.dist.main else None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.augment, self.quiet = augment, quiet or not self.dist.main
        self.log = MetricsLog(self.run_dir / "metrics.jsonl" if self.run_dir else None,
                              self.tc.log_to)
        # A task that carries state from step to step (truncated BPTT) reads the data in order.
        sequential = task.sequential
        lengths = task.lengths(model, train) if self.tc.length_buckets and not sequential else None
        check_setup(self.tc, model, task, train, self.dist, training, lengths, width)
        self.batches = EpochBatches(len(train), self.tc.batch_size, self.tc.seed, 0, 1,
                                    sequential=sequential, lengths=lengths,
                                    pool=self.tc.length_buckets)
        spe = self.batches.steps_per_epoch
        self.total = self.tc.max_steps or self.tc.epochs * spe
        self.eval_every = self.tc.eval_every or spe
        self.ckpt_every = self.tc.checkpoint_every or self.eval_every
        self.opt = build_optimizer(model, self.tc)
        self.sched = build_schedule(self.opt, self.total, self.tc, width, spe)
        # A model with several optimizers (a GAN's two players) builds them and takes each step
        # itself (``configure_optimizers``, ``training_step``: ``training.kind == "steps"``, read
        # by the registry from its class); batching, logging, evaluation, checkpoints, early
        # stopping and resuming stay here. Every optimizer gets the schedule. ``width`` is the
        # model's width for the noam schedule (``train.noam_d_model`` overrides it).
        self.optimizers = self.schedules = None
        self.step_extras: dict[str, float] = {}
        if training.kind == "steps":
            self.optimizers = dict(model.configure_optimizers(self.tc))
            self.schedules = {k: build_schedule(o, self.total, self.tc, width, spe)
                              for k, o in self.optimizers.items()}
            self.opt = next(iter(self.optimizers.values()))
            self.sched = next(iter(self.schedules.values()))
        self.step, self.best_step, self.best_val, self.bad_evals = 0, 0, {}, 0
        self.selection = Selection(self.tc.select, self.tc.select_window, task)  # train.select
        # Training seconds up to the last checkpoint of earlier sessions of this run (a resumed
        # run reports its whole training time, not only the last session's), and when this
        # session's fit began.
        self.seconds_before, self._fit_start = 0.0, None
        self.make_batches = MicroBatches(train, augment, self.tc.seed, self.dist.rank,
                                         self.dist.world, self.tc.grad_accum)
        self._loader = None             # fit's (step, micro-batches) iterator
        self.train_model = distributed.wrap(torch.compile(model) if self.tc.compile else model,
                                            self.dist, device)

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict:
        state = {"step": self.step, "optimizer": self.opt.state_dict(),
                 "schedule": self.sched.state_dict(), "rng": rng_state(),
                 "best_step": self.best_step, "best_val": self.best_val,
                 "bad_evals": self.bad_evals, "seconds": self.seconds}
        carried = self.task.state_dict()          # state a task carries between steps (tensors)
        if carried:
            state["task"] = carried
        selecting = self.selection.state_dict()   # a window of evaluations, their count
        if selecting:
            state["select"] = selecting
        if self.optimizers is not None:           # a model that steps itself: all its optimizers
            state["optimizers"] = {k: o.state_dict() for k, o in self.optimizers.items()}
            state["schedules"] = {k: s.state_dict() for k, s in self.schedules.items()}
        return state

    def restore(self):
        """Continue from the last checkpoint of ``run_dir``."""
        state = checkpoint.load(self.ckpt_dir, "last", self.model, self.device)
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["schedule"])
        for k, opt in (self.optimizers or {}).items():
            opt.load_state_dict(state["optimizers"][k])
            self.schedules[k].load_state_dict(state["schedules"][k])
        set_rng_state(state["rng"])
        self.step, self.best_step = state["step"], state["best_step"]
        self.best_val, self.bad_evals = state["best_val"], state["bad_evals"]
        self.seconds_before = float(state.get("seconds", 0.0))  # absent in older checkpoints
        if "task" in state:
            self.task.load_state_dict(state["task"])
        # an earlier version's graph tasks kept the selection window as their own state
        self.selection.load_state_dict(state.get("select", state.get("task", {})))
        self.log.truncate_after(self.step)

    def save(self, best: bool):
        if self.run_dir is not None:
            checkpoint.save(self.run_dir / "checkpoints", self.step, self.model, self.state(), best)
        distributed.barrier(self.dist)

    # -- the loop --------------------------------------------------------------------------
    def micro_batches(self, step: int) -> list[tuple]:
        """This process's micro-batches of global step ``step``, on the host (see
        :class:`~ann.train.loader.MicroBatches`)."""
        return self.make_batches(step, self.batches.indices(step))

    def _step_batches(self) -> list[tuple]:
        """The current step's micro-batches: from the loader :meth:`fit` opened (built ahead by
        ``train.workers`` processes), else built now."""
        if self._loader is None:
            return self.micro_batches(self.step)
        step, parts = next(self._loader)
        if step != self.step:       # the loader runs in step with the loop, or not at all
            raise RuntimeError(f"the batch loader is at step {step}, the loop at {self.step}")
        return parts

    def model_step(self) -> float:
        """One step of a model that steps itself: ``training_step(batch, optimizers, step)``
        returns its losses as numbers, ``loss`` the one shown and checked."""
        (batch,) = self._step_batches()
        batch = tuple(t.to(self.device, non_blocking=True) for t in batch)
        losses = self.model.training_step(batch, self.optimizers, self.step)
        for schedule in self.schedules.values():
            schedule.step()
        self.step_extras = {k: float(v) for k, v in losses.items() if k != "loss"}
        return float(losses["loss"])

    def train_step(self) -> float:
        if self.optimizers is not None:
            return self.model_step()
        total_loss = 0.0
        self.task.start_step(                     # e.g. reset carried state at an epoch's start
            self.step, self.batches.steps_per_epoch)
        for i, mb in enumerate(self._step_batches()):
            mb = tuple(t.to(self.device, non_blocking=True) for t in mb)
            with distributed.no_sync(self.train_model, i == self.tc.grad_accum - 1):
                with autocast(self.device, self.tc.amp):
                    loss, _ = self.task.loss(self.train_model, mb)
                (loss / self.tc.grad_accum).backward()
            total_loss += loss.item() / self.tc.grad_accum
        if self.tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        return total_loss

    def evaluate(self, data) -> dict:
        self.model.eval()
        with autocast(self.device, self.tc.amp):
            metrics = self.task.evaluate(self.model, split_batches(
                data, self.tc.eval_batch_size, self.device, self.tc.workers))
        self.model.train()
        return metrics

    def _better(self, val: dict) -> bool:
        """Whether ``val`` beats the best evaluation so far, as ``train.select`` says."""
        return self.selection.better(val, self.best_val)

    def _on_eval(self, bar: Progress, train_loss: float) -> bool:
        """Evaluate, track the best, checkpoint; True when early stopping says stop."""
        val = self.evaluate(self.val_data)
        val = {**val, **self.selection.figures(val)}   # e.g. window_accuracy, evaluations
        best = self._better(val)
        if best:
            self.best_step, self.best_val, self.bad_evals = self.step, val, 0
        else:
            self.bad_evals += 1
        self.log.write({"step": self.step, "epoch": self.epoch, "split": "val", **val})
        if self.run_dir is not None:                                        # e.g. sample grids
            self.task.after_eval(self.model, self.run_dir, self.step)
            if self.watch is not None:
                self.watch(self.log.rows)
        key = self.selection.key
        bar.extra = {f"val_{key}": val[key]}
        shown = " | ".join(f"val {k} {v:.4f}" for k, v in val.items())
        bar.line(self.step, f"epoch {self.epoch:.2f} | train loss {train_loss:.4f} | {shown}"
                 + (" *" if best else ""))
        self.save(best)
        return bool(self.tc.early_stop) and self.bad_evals >= self.tc.early_stop

    @property
    def seconds(self) -> float:
        """Training seconds of this run so far, earlier sessions (to their checkpoint) included."""
        now = 0.0 if self._fit_start is None else time.time() - self._fit_start
        return self.seconds_before + now

    @property
    def epoch(self) -> float:
        return self.step / self.batches.steps_per_epoch

    def fit(self) -> FitResult:
        self._fit_start = time.time()
        self.model.train()
        bar = Progress(self.total, self.step, self.cfg.recipe or self.cfg.model_name, self.quiet)
        window, last_loss, stopped = [], float("nan"), False
        extras: dict[str, float] = {}             # other losses a self-stepping model reports
        saved = self.step or None                 # the step of the last checkpoint written
        with _CtrlC() as ctrl_c:
            self._loader = step_batches(self.make_batches, self.batches, self.step, self.total,
                                        self.tc.workers)
            try:
                while self.step < self.total and not stopped and not ctrl_c.asked(self.dist):
                    loss = self.train_step()
                    if not np.isfinite(loss):
                        raise AnnError(f"the training loss became {loss} at step {self.step}; lower "
                                       "train.lr or set train.grad_clip=1.0")
                    self.step += 1
                    window.append(loss)
                    extras = {k: extras.get(k, 0.0) + v for k, v in self.step_extras.items()}
                    bar.update(loss=loss)
                    if self.step % self.tc.log_every == 0 or self.step == self.total:
                        last_loss = distributed.mean_across(self.dist, sum(window) / len(window))
                        self.log.write({"step": self.step, "epoch": self.epoch, "split": "train",
                                        "loss": last_loss, "lr": self.sched.get_last_lr()[0],
                                        **{k: v / len(window) for k, v in extras.items()}})
                        window, extras = [], {}
                    if self.step % self.eval_every == 0 or self.step == self.total:
                        stopped = self._on_eval(bar, last_loss)
                        saved = self.step
                    elif self.step % self.ckpt_every == 0:
                        self.save(best=False)
                        saved = self.step
            finally:
                self._loader = None         # stops the loader's workers
            # Ctrl-C only raised a flag: the loop stopped between two whole steps, after any
            # checkpoint of the last one was written, so this state is the one a resume needs.
            # Another Ctrl-C while it is saved is ignored until the save is done.
            if ctrl_c.pressed:
                bar.close()
                if saved != self.step:
                    self.save(best=False)
                where = f"; resume with: ann train --resume {self.run_dir}" if self.run_dir else ""
                raise Interrupted(f"interrupted at step {self.step}, checkpoint saved{where}")
        bar.close()
        return FitResult(self.step, self.best_step, self.best_val, stopped, self.seconds)


class _CtrlC:
    """Ctrl-C (SIGINT) during :meth:`Trainer.fit` only sets ``pressed``: the loop finishes the
    step (and the checkpoint) it is in and stops there, instead of a KeyboardInterrupt landing
    between ``opt.step()`` and the step count, or halfway through a checkpoint. The previous
    handler comes back afterwards. Outside the main thread signals cannot be caught: nothing
    changes there."""

    def __init__(self):
        self.pressed, self._before = False, None

    def _press(self, signum, frame):
        self.pressed = True

    def asked(self, dist: distributed.Dist) -> bool:
        """Whether Ctrl-C was pressed in any process: all stop after the same step."""
        if dist.active:
            self.pressed = distributed.mean_across(dist, float(self.pressed)) > 0
        return self.pressed

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._before = signal.signal(signal.SIGINT, self._press)
        return self

    def __exit__(self, *exc):
        if self._before is not None:
            signal.signal(signal.SIGINT, self._before)
        return False
