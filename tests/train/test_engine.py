"""The training loop: determinism, exact resume, crash safety, accumulation, early stopping."""

import dataclasses
import os
import signal

import pytest
import torch
from torch import nn

from ann import config as cfg
from ann.data.base import ArrayDataset
from ann.errors import AnnError, CorruptFile
from ann.tasks.classify import Classification
from ann.train import RunConfig, Trainer, checkpoint, engine
from ann.train.engine import Interrupted, seed_everything


@dataclasses.dataclass
class TinyConfig:
    hidden: int = 16


class Tiny(nn.Module):
    """Two layers with dropout, so that RNG state matters for exact resume."""

    task = "classify"

    def __init__(self, dropout=0.3):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(32, 3))

    def forward(self, x):
        return self.net(x)


def data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 4, 4, generator=g)
    y = (x.flatten(1)[:, :3].argmax(1)).long()     # a learnable rule
    return ArrayDataset(x, y, {"num_classes": 3})


def config(**train):
    rc = RunConfig(recipe="tiny", model_name="tiny", model=TinyConfig())
    base = dict(max_steps=24, batch_size=16, lr=1e-2, eval_every=6, log_every=3, seed=3,
                deterministic=True, weight_decay=0.01, warmup_steps=4)
    rc.train = dataclasses.replace(rc.train, **{**base, **train})
    return rc


def shift(x, g):
    """A stand-in augmentation that consumes the step generator."""
    return x + 0.1 * torch.randn(x.shape, generator=g)


def make(rc, run_dir, dropout=0.3, augment=shift):
    seed_everything(rc.train.seed, True)
    model = Tiny(dropout)
    return Trainer(rc, model, Classification(), data(), data(48, seed=1), torch.device("cpu"),
                   run_dir, augment=augment, quiet=True), model


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_two_runs_give_identical_weights(tmp_path, conv):
    conv.apply()
    t1, m1 = make(config(seed=conv.seed), tmp_path / "a")
    t1.fit()
    t2, m2 = make(config(seed=conv.seed), tmp_path / "b")
    t2.fit()
    assert_same(weights(m1), weights(m2))
    # and training changed them: the model learned something
    assert t1.best_val["accuracy"] > 0.5


def test_resume_after_crash_equals_uninterrupted(tmp_path, monkeypatch):
    full, m_full = make(config(checkpoint_every=5), tmp_path / "full")
    full.fit()

    crashed, _ = make(config(checkpoint_every=5), tmp_path / "crash")
    real_step = Trainer.train_step

    def dying(self):
        if self.step == 13:
            raise RuntimeError("simulated crash")
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_step", dying)
    with pytest.raises(RuntimeError):
        crashed.fit()
    monkeypatch.setattr(Trainer, "train_step", real_step)
    assert checkpoint.read_pointer(tmp_path / "crash" / "checkpoints")["step"] == 12

    resumed, m_res = make(config(checkpoint_every=5), tmp_path / "crash")
    resumed.restore()
    assert resumed.step == 12
    resumed.fit()
    assert_same(weights(m_full), weights(m_res))
    # metrics.jsonl holds each step once: lines after the checkpoint were dropped on resume
    steps = [r["step"] for r in resumed.log.rows if r["split"] == "train"]
    assert steps == sorted(set(steps))


def ctrl_c_at_step_7(trainer, monkeypatch):
    """Fit ``trainer`` with a Ctrl-C (a real SIGINT) arriving during its 7th step: the step
    finishes, the run stops after it, a checkpoint of step 7 is saved, and the error tells how
    to resume."""
    real_step = Trainer.train_step

    def interrupted(self):
        loss = real_step(self)
        if self.step == 6:                  # the 7th step, not yet counted
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(Interrupted, match="resume with"):
        trainer.fit()
    monkeypatch.setattr(Trainer, "train_step", real_step)


class Clock:
    """A stand-in for the time module whose clock moves 5 s on every reading."""

    def __init__(self, start: float):
        self.now = start

    def time(self) -> float:
        self.now += 5.0
        return self.now


def test_a_resumed_run_reports_the_training_time_of_every_session(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "time", Clock(1000.0))
    t, _ = make(config(), tmp_path / "run")
    ctrl_c_at_step_7(t, monkeypatch)
    saved = checkpoint.load(tmp_path / "run" / "checkpoints", "last", Tiny(), torch.device("cpu"))
    assert saved["step"] == 7 and saved["seconds"] > 0

    clock = Clock(50_000.0)                                # a later session, a new clock
    monkeypatch.setattr(engine, "time", clock)
    resumed, _ = make(config(), tmp_path / "run")
    resumed.restore()
    assert resumed.seconds_before == saved["seconds"]
    result = resumed.fit()
    # the first session's seconds plus this session's (its last clock reading is the result's)
    this_session = clock.now - resumed._fit_start
    assert 0 < this_session and result.wall_time == pytest.approx(saved["seconds"] + this_session)


def test_ctrl_c_saves_a_checkpoint_and_resume_completes(tmp_path, monkeypatch):
    full, m_full = make(config(), tmp_path / "full")
    full.fit()
    t, _ = make(config(), tmp_path / "int")
    ctrl_c_at_step_7(t, monkeypatch)
    assert checkpoint.read_pointer(tmp_path / "int" / "checkpoints")["step"] == 7
    resumed, m_res = make(config(), tmp_path / "int")
    resumed.restore()
    resumed.fit()
    assert_same(weights(m_full), weights(m_res))


def test_crash_during_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    t, model = make(config(max_steps=12, eval_every=6), tmp_path / "r")
    real_save = torch.save

    def half_write(obj, f, *a, **k):
        if t.step == 12:
            with open(f, "wb") as fh:
                fh.write(b"PK\x03\x04 partial")
            raise OSError("disk vanished")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", half_write)
    with pytest.raises(OSError):
        t.fit()
    monkeypatch.setattr(torch, "save", real_save)
    ckpt = tmp_path / "r" / "checkpoints"
    assert checkpoint.read_pointer(ckpt)["last"] == "step-00000006"
    state = checkpoint.load(ckpt, "last", Tiny(), "cpu")
    assert state["step"] == 6


@pytest.mark.parametrize("damage", ["weights", "state", "pointer"])
def test_corrupt_checkpoint_is_a_clear_error(tmp_path, damage):
    t, _ = make(config(max_steps=6), tmp_path / "r")
    t.fit()
    ckpt = tmp_path / "r" / "checkpoints"
    folder = ckpt / checkpoint.read_pointer(ckpt)["last"]
    target = {"weights": folder / "model.safetensors", "state": folder / "state.pt",
              "pointer": ckpt / "latest.json"}[damage]
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
    fresh, _ = make(config(max_steps=6), tmp_path / "r")
    with pytest.raises(CorruptFile) as e:
        fresh.restore()
    assert "\n" not in str(e.value) and str(target.name) in str(e.value)


def test_gradient_accumulation_matches_one_big_batch(tmp_path):
    a, ma = make(config(grad_accum=1, weight_decay=0.0), None, dropout=0.0, augment=None)
    a.fit()
    b, mb = make(config(grad_accum=4, weight_decay=0.0), None, dropout=0.0, augment=None)
    b.fit()
    for k, v in weights(ma).items():
        torch.testing.assert_close(v, weights(mb)[k], rtol=1e-5, atol=1e-6)


def test_batch_must_split_over_accumulation():
    with pytest.raises(AnnError, match="divisible"):
        make(config(grad_accum=5), None)


def test_early_stopping_stops(tmp_path):
    # lr so small that validation never improves after the first evaluation
    t, _ = make(config(max_steps=200, eval_every=2, early_stop=3, lr=1e-9, warmup_steps=0), None)
    result = t.fit()
    assert result.stopped_early and result.step == 8


def test_nan_loss_is_a_clear_error():
    t, model = make(config(), None, augment=lambda x, g: x * float("nan"))
    with pytest.raises(AnnError, match="lower train.lr"):
        t.fit()


def test_only_last_and_best_checkpoints_are_kept(tmp_path):
    t, _ = make(config(max_steps=24, eval_every=6), tmp_path / "r")
    t.fit()
    ckpt = tmp_path / "r" / "checkpoints"
    pointer = checkpoint.read_pointer(ckpt)
    kept = {p.name for p in ckpt.iterdir()}
    assert kept == {"latest.json", pointer["last"], pointer["best"]}
    assert pointer["last"] == "step-00000024"


def test_bf16_autocast_when_asked_on_cpu(conv):
    conv.apply()
    t, _ = make(config(amp="bf16", max_steps=48, seed=conv.seed), None, dropout=0.0, augment=None)
    seen = []
    real_loss = t.task.loss

    def spy(model, batch):
        seen.append(torch.is_autocast_enabled("cpu"))
        return real_loss(model, batch)

    t.task.loss = spy
    result = t.fit()
    assert all(seen) and result.best_val["accuracy"] > 0.5


class Collated:
    """A dataset whose batch() joins examples into one structure (as graphs are batched): the
    engine must ask it for each micro-batch's examples instead of slicing tensors."""

    collated = True

    def __init__(self, base):
        self.base, self.info, self.asked = base, base.info, []

    def __len__(self):
        return len(self.base)

    def batch(self, index):
        self.asked.append(index.tolist() if torch.is_tensor(index) else index)
        x, y = self.base.batch(index)
        return x, y


def test_collated_dataset_is_asked_per_micro_batch(tmp_path):
    rc = config(grad_accum=2)
    seed_everything(0, True)
    coll = Collated(data())
    trainer = Trainer(rc, Tiny(), Classification(), coll, data(48, seed=1), torch.device("cpu"),
                      None, quiet=True)
    parts = trainer.micro_batches(0)
    assert len(parts) == 2 and all(len(p[0]) == 8 for p in parts)
    whole = trainer.batches.indices(0).tolist()
    assert coll.asked == [whole[:8], whole[8:]]
    # the same examples, in the same order, as the sliced path gives
    plain = Trainer(rc, Tiny(), Classification(), data(), data(48, seed=1), torch.device("cpu"),
                    None, augment=None, quiet=True).micro_batches(0)
    for a, b in zip(parts, plain):
        torch.testing.assert_close(a[0], b[0])


# --- checkpoint selection (train.select): the engine's, for every family ----------------------

def val_rows(trainer):
    return [r for r in trainer.log.rows if r["split"] == "val"]


def best_state(run_dir):
    return checkpoint.load(run_dir / "checkpoints", "best", Tiny(), "cpu")


def test_select_last_keeps_the_final_model(tmp_path):
    t, _ = make(config(select="last"), tmp_path / "r")
    result = t.fit()
    assert result.best_step == result.step == 24
    assert [r["evaluations"] for r in val_rows(t)] == [1, 2, 3, 4]
    assert best_state(tmp_path / "r")["step"] == 24


def test_select_loss_keeps_the_lowest_validation_loss(tmp_path):
    t, _ = make(config(select="loss", max_steps=36, eval_every=3, lr=5e-2), tmp_path / "r")
    result = t.fit()
    rows = val_rows(t)
    lowest = min(rows, key=lambda r: r["loss"])
    assert result.best_step == lowest["step"] == best_state(tmp_path / "r")["step"]
    assert result.best_val["loss"] == lowest["loss"]
    # the accuracy picks another checkpoint here, so the test tells the two rules apart
    highest = max(rows, key=lambda r: (r["accuracy"], -r["step"]))
    metric, _ = make(config(max_steps=36, eval_every=3, lr=5e-2), None)
    assert metric.fit().best_step == highest["step"] != lowest["step"]


def test_select_window_means_the_last_evaluations(tmp_path):
    t, _ = make(config(select="window", select_window=2, eval_every=3), tmp_path / "r")
    result = t.fit()
    rows = val_rows(t)
    acc = [r["accuracy"] for r in rows]
    windows = [0.0] + [(a + b) / 2 for a, b in zip(acc, acc[1:])]
    assert [r["window_accuracy"] for r in rows] == pytest.approx(windows)
    full = rows[1:]                          # the first full window beats the partial one
    best = max(full, key=lambda r: (r["window_accuracy"], -r["step"]))
    assert result.best_step == best["step"]
    metric, _ = make(config(eval_every=3), None)            # the plain maximum is elsewhere
    assert metric.fit().best_step != best["step"]


def test_select_window_resumes_exactly(tmp_path, monkeypatch):
    """The window and the evaluation count are in every checkpoint: a run stopped between
    evaluations and resumed selects the same checkpoint, with the same figures."""
    rc = config(select="window", select_window=3, eval_every=3, checkpoint_every=5)
    full, m_full = make(rc, tmp_path / "full")
    want = full.fit()
    t, _ = make(rc, tmp_path / "int")
    ctrl_c_at_step_7(t, monkeypatch)
    saved = checkpoint.load(tmp_path / "int" / "checkpoints", "last", Tiny(), "cpu")
    assert saved["select"]["count"] == 2 and len(saved["select"]["recent"]) == 2
    resumed, m_res = make(rc, tmp_path / "int")
    resumed.restore()
    got = resumed.fit()
    assert (got.best_step, got.best_val) == (want.best_step, want.best_val)
    assert val_rows(resumed) == val_rows(full)
    assert_same(weights(m_full), weights(m_res))


def test_select_metric_writes_no_selection_state(tmp_path):
    t, _ = make(config(max_steps=6), tmp_path / "r")
    t.fit()
    state = checkpoint.load(tmp_path / "r" / "checkpoints", "last", Tiny(), "cpu")
    assert "select" not in state            # checkpoints as before train.select existed


def test_select_choices_are_checked():
    rc = config()
    with pytest.raises(AnnError, match="train.select must be one of metric, loss, window, last"):
        cfg.set_key(rc, "train.select", "best")


def test_a_window_kept_by_an_earlier_versions_graph_task_is_restored(tmp_path, monkeypatch):
    """Before train.select, a graph task kept the window as its own state (``task``: the
    values, no count); resuming such a checkpoint continues that window."""
    rc = config(select="window", select_window=2, eval_every=3, checkpoint_every=5)
    t, _ = make(rc, tmp_path / "r")
    ctrl_c_at_step_7(t, monkeypatch)
    ckpt = tmp_path / "r" / "checkpoints"
    path = ckpt / checkpoint.read_pointer(ckpt)["last"] / "state.pt"
    state = torch.load(path, weights_only=True)
    recent = state.pop("select")["recent"]
    state["task"] = {"recent": recent}                      # as the old task wrote it
    torch.save(state, path)
    resumed, _ = make(rc, tmp_path / "r")
    resumed.restore()
    assert resumed.selection.recent == recent.tolist() and len(recent) == 2
    assert resumed.selection.count == 3                     # full: past the first full window
