"""Issue 30, sections 0 and 4: Ctrl-C stops between steps and resumes bit-identically, a run
killed before its first checkpoint can be resumed or started again, one writer at a time holds a
run directory, a damaged metrics.jsonl tail does not stop a resume, and settings the model, task
or data refuse are refused before the run directory exists."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import ann
from ann import runner, runs
from ann.errors import AnnError
from ann.train import Interrupted, Trainer, checkpoint
from ann.train import engine as engine_module
from helpers import env, fails_cleanly

BASE = {"train.epochs": 0, "train.max_steps": 12, "train.eval_every": 4, "train.log_every": 1,
        "train.batch_size": 32, "train.threads": 1, "train.deterministic": True, "train.seed": 3}
CLI = [f"{k}={str(v).lower()}" for k, v in BASE.items()]


def _weights(run):
    return load_file(str(run / "model.safetensors"))


def _same_weights(a, b):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def _pointer(run):
    return json.loads((run / "checkpoints" / "latest.json").read_text())


def _summary(run):
    return json.loads((run / "summary.json").read_text())


def _best_agrees(run):
    """latest.json's best checkpoint is the step summary.json names as best."""
    assert _pointer(run)["best"] == f"step-{_summary(run)['best_step']:08d}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every interrupted one must end equal to."""
    out = tmp_path_factory.mktemp("ref") / "run"
    ann.train("cnn-digits", BASE, out=out, quiet=True)
    _best_agrees(out)
    return out


def _ctrl_c_at(monkeypatch, where: str, nth: int):
    """Press Ctrl-C at the ``nth`` forward pass (train or eval: ``autocast`` wraps each), or
    right after the ``nth`` optimizer update (before the step is counted)."""
    calls = [0]

    def press():
        calls[0] += 1
        if calls[0] == nth:
            os.kill(os.getpid(), signal.SIGINT)

    if where == "forward":
        real = engine_module.autocast

        @contextlib.contextmanager
        def pressing(*args, **kwargs):
            press()
            with real(*args, **kwargs):
                yield

        monkeypatch.setattr(engine_module, "autocast", pressing)
    else:
        update = torch.optim.AdamW.step

        def pressing(self, *args, **kwargs):
            out = update(self, *args, **kwargs)
            press()                                # the weights moved; the step is not counted
            return out

        monkeypatch.setattr(torch.optim.AdamW, "step", pressing)


@pytest.mark.parametrize("where,nth,workers", [("forward", 1, 0), ("update", 3, 0),
                                               ("update", 4, 0), ("forward", 6, 0),
                                               ("forward", 11, 0), ("update", 5, 2)])
def test_ctrl_c_inside_a_step_stops_after_it_and_resumes_bit_identically(
        reference, tmp_path, monkeypatch, where, nth, workers):
    out = tmp_path / "run"
    before = signal.getsignal(signal.SIGINT)
    _ctrl_c_at(monkeypatch, where, nth)
    with pytest.raises(Interrupted, match=r"interrupted at step \d+, checkpoint saved; resume"):
        ann.train("cnn-digits", {**BASE, "train.workers": workers}, out=out, quiet=True)
    assert signal.getsignal(signal.SIGINT) is before          # the handler is put back
    assert not (out / "summary.json").exists()
    assert 1 <= _pointer(out)["step"] < 12
    monkeypatch.undo()
    ann.train(resume=out, quiet=True)
    _same_weights(reference, out)
    _best_agrees(out)
    assert not (out / runs.LOCK).exists()


def test_ctrl_c_twice_during_the_best_save_finishes_it(reference, tmp_path, monkeypatch):
    """Both presses land inside the weights write of the step-8 checkpoint (a new best in the
    reference run): the save finishes marked best, then the run stops."""
    assert _summary(reference)["best_step"] >= 8
    out, saves, real = tmp_path / "run", [0], checkpoint._save_weights

    def pressed_while_saving(model, path):
        saves[0] += 1
        if saves[0] == 2:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        real(model, path)

    monkeypatch.setattr(checkpoint, "_save_weights", pressed_while_saving)
    with pytest.raises(Interrupted, match="interrupted at step 8"):
        ann.train("cnn-digits", BASE, out=out, quiet=True)
    assert _pointer(out) == {"last": "step-00000008", "best": "step-00000008", "step": 8}
    monkeypatch.undo()
    # a kill while appending left a cut line and garbage: resume drops them, as reading does
    with open(out / "metrics.jsonl", "ab") as f:
        f.write(b'{"step": 9, "split": "tr\n\xff\xfe not json\n[1, 2]\n{"step": 9, "spl')
    ann.train(resume=out, quiet=True)
    _same_weights(reference, out)
    _best_agrees(out)
    steps = [r["step"] for r in runs.read_metrics(out) if r["split"] == "train"]
    assert steps == list(range(1, 13))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _killed_before_first_checkpoint(out, monkeypatch):
    """A run whose process died before its first checkpoint: config.json and data.json written,
    no checkpoint, a lock file left by a pid that no longer runs."""
    def killed(self):
        raise RuntimeError("killed")

    monkeypatch.setattr(Trainer, "fit", killed)
    monkeypatch.setattr(runner, "_discard", lambda *a: None)      # a SIGKILL cleans up nothing
    with pytest.raises(RuntimeError):
        ann.train("cnn-digits", BASE, out=out, quiet=True)
    monkeypatch.undo()
    (out / runs.LOCK).write_text(f"{_dead_pid()} {os.uname().nodename}\n")
    (out / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 2.3}\n')
    assert (out / "config.json").exists() and not (out / "checkpoints" / "latest.json").exists()


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_0(reference, tmp_path,
                                                                       monkeypatch):
    out = tmp_path / "run"
    _killed_before_first_checkpoint(out, monkeypatch)
    ann.train(resume=out, quiet=True)                 # the stale lock is taken over
    _same_weights(reference, out)
    assert [r["step"] for r in runs.read_metrics(out) if r["split"] == "train"] == list(range(1, 13))


def test_out_may_start_again_the_same_recipes_run_killed_before_its_first_checkpoint(
        reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    _killed_before_first_checkpoint(out, monkeypatch)
    with pytest.raises(AnnError, match="already holds a run"):      # another recipe: no
        ann.train("mlp-digits", BASE, out=out, quiet=True)
    ann.train("cnn-digits", BASE, out=out, quiet=True)
    _same_weights(reference, out)
    with pytest.raises(AnnError, match="already holds a run .*--resume"):   # it has weights now
        ann.train("cnn-digits", BASE, out=out, quiet=True)


def test_a_run_held_by_a_live_process_is_refused_in_one_line(reference, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    before = (out / "metrics.jsonl").read_bytes()
    with runs.lock_run(out):
        assert f"{os.getpid()} " in (out / runs.LOCK).read_text()
        message = f"{out} is being written by process {os.getpid()}; wait for it or stop it"
        with pytest.raises(AnnError, match=message):
            ann.train(resume=out, overrides={"train.max_steps": 16}, quiet=True)
        with pytest.raises(AnnError, match="being written by process"):
            ann.train("cnn-digits", BASE, out=out, quiet=True)
    assert (out / "metrics.jsonl").read_bytes() == before
    assert not (out / runs.LOCK).exists()
    ann.train(resume=out, overrides={"train.max_steps": 16}, quiet=True)   # free again
    assert _summary(out)["steps"] == 16


# -- section 4: refused before anything is written ---------------------------------------------
@pytest.mark.parametrize("recipe,overrides,words", [
    ("cnn-digits", {"train.lr": "inf"}, "train.lr"),
    ("cnn-digits", {"train.weight_decay": "inf"}, "train.weight_decay"),
    ("cnn-digits", {"train.grad_accum": 3}, "train.grad_accum"),
    ("cnn-digits", {"train.length_buckets": 4}, "train.length_buckets"),
    ("cnn-digits", {"train.schedule": "noam"}, "train.noam_d_model"),
    ("gcn-karate", {"data.augment_shift": 1}, "augment_shift"),
    ("dcgan-digits", {"train.grad_accum": 2}, "train.grad_accum=1"),
    ("pnn-iris", {"data.augment_shift": 1}, "augment"),
    ("pnn-iris", {"train.select": "loss"}, "train.select"),
])
def test_settings_the_model_task_or_data_refuse_leave_no_run_directory(tmp_path, recipe,
                                                                       overrides, words):
    out = tmp_path / "run"
    with pytest.raises(AnnError, match=words):
        ann.train(recipe, {"train.max_steps": 2, "train.threads": 1, **overrides}, out=out,
                  quiet=True)
    assert not out.exists()


def test_a_new_run_failing_before_its_first_checkpoint_leaves_nothing(reference, tmp_path):
    out, given = tmp_path / "run", tmp_path / "given"
    given.mkdir()
    for folder in (out, given):      # found only when the weights are copied into the model
        with pytest.raises(AnnError, match="none of the .* tensors"):
            ann.train("mlp-digits", {**BASE, "train.init_from": str(reference)}, out=folder,
                      quiet=True)
    assert not out.exists()
    assert given.is_dir() and not any(given.iterdir())     # the user's folder, left as it was


# -- real processes: a real Ctrl-C, and two writers at once -------------------------------------
def _start(tmp_path, name, *args):
    """``ann train ARGS`` in the background, output to files; Ctrl-C's default disposition back
    (a test run started in the background ignores SIGINT, and children inherit that)."""
    so, se = open(tmp_path / f"{name}.out", "w"), open(tmp_path / f"{name}.err", "w")
    proc = subprocess.Popen([sys.executable, "-m", "ann", "train", *map(str, args), "--quiet"],
                            env=env(), stdout=so, stderr=se,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    so.close(), se.close()
    return proc


@pytest.mark.slow
def test_a_real_ctrl_c_right_as_a_best_checkpoint_is_written(tmp_path):
    longer = {**BASE, "train.max_steps": 60}
    ref = tmp_path / "ref"
    ann.train("cnn-digits", longer, out=ref, quiet=True)
    out = tmp_path / "run"
    proc = _start(tmp_path, "run", "cnn-digits", *CLI, "train.max_steps=60", "--out", out)
    pointer = out / "checkpoints" / "latest.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not pointer.exists():
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be interrupted; give it more steps"
    proc.send_signal(signal.SIGINT)          # the pointer of a checkpoint has just moved
    time.sleep(0.01)
    proc.send_signal(signal.SIGINT)          # a second Ctrl-C, while the first one is handled
    proc.wait(timeout=240)
    stderr = (tmp_path / "run.err").read_text()
    assert proc.returncode == 130, stderr
    line = fails_cleanly(subprocess.CompletedProcess([], 130, "", stderr), "interrupted at step")
    assert f"--resume {out}" in line
    assert not (out / "summary.json").exists()
    ann.train(resume=out, quiet=True)
    _same_weights(ref, out)
    _best_agrees(out)


def _two_at_once(tmp_path, name, *args):
    procs = [_start(tmp_path, f"{name}{i}", *args) for i in range(2)]
    for proc in procs:
        proc.wait(timeout=400)
    errs = [(tmp_path / f"{name}{i}.err").read_text() for i in range(2)]
    codes = [p.returncode for p in procs]
    assert sorted(c == 0 for c in codes) == [False, True], errs       # one ran, one was refused
    refused = next(p for p in procs if p.returncode != 0)
    fails_cleanly(subprocess.CompletedProcess([], refused.returncode, "", errs[procs.index(refused)]),
                  "is being written by process", "wait for it or stop it")


@pytest.mark.slow
def test_two_writers_at_once_one_is_refused(tmp_path):
    out = tmp_path / "run"
    # long enough that the first is still training when the second reaches the directory
    _two_at_once(tmp_path, "out", "cnn-digits", *CLI, "train.max_steps=150",
                 "train.eval_every=50", "--out", out)
    _two_at_once(tmp_path, "resume", "--resume", out, "train.max_steps=300")
    steps = [r["step"] for r in runs.read_metrics(out) if r["split"] == "train"]
    assert steps == list(range(1, 301))           # never backwards, never twice
    assert _summary(out)["steps"] == 300


def test_a_forked_child_of_a_killed_holder_does_not_keep_the_run_locked(tmp_path):
    """A data-loader worker is forked while the run is held; when the holder is SIGKILLed the
    worker may live on for seconds, and the run must be free to resume at once."""
    out = tmp_path / "run"
    out.mkdir()
    script = (
        "import os, sys, time\n"
        "from ann import runs\n"
        f"runs.lock_run({str(out)!r})\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "print(child, flush=True)\n"
        "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=env())
    child = int(proc.stdout.readline())
    try:
        with pytest.raises(AnnError, match="being written by process"):
            runs.lock_run(out)
        proc.kill()
        proc.wait()
        os.kill(child, 0)                     # the forked child still runs ...
        with runs.lock_run(out):              # ... and the run is free
            pass
    finally:
        proc.kill()
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
