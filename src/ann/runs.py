"""Run directories (where a run's config, metrics, checkpoints, summary and plots live) and
the :class:`Run` rebuilt from one (:func:`load`)."""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import registry
from .data.splits import load_split
from .errors import AnnError, CorruptFile, withhold_contents
from .registry import get_task
from .train import RunConfig, checkpoint
from .train.batches import eval_batches
from .train.config import REGISTERED_BY
from .train.device import model_device
from .train.progress import read_rows

LOCK = ".lock"


class RunLock:
    """An exclusive hold on a run directory: one writer at a time (``ann train``, ``--resume``,
    ``ann import``). The file ``RUN/.lock`` names the holder (pid and host) and is locked with
    ``fcntl.flock``, which the system lets go of when the holder dies, so a lock left by a
    killed process is stale and taken over; where ``fcntl`` is missing (Windows) the file is
    created exclusively and a holder that no longer runs is detected by its pid."""

    def __init__(self, path):
        self.path = Path(path)
        self.file = self.path / LOCK
        self._fd = None
        try:
            import fcntl
        except ImportError:             # pragma: no cover - Windows
            fcntl = None
        self._take_flock(fcntl) if fcntl is not None else self._take_exclusive()
        _HELD[self.file.resolve()] = self

    def _refuse(self):
        try:
            pid, _, host = self.file.read_text(encoding="utf-8", errors="replace").strip().partition(" ")
        except OSError:
            pid, host = "", ""
        who = f"process {pid[:20] or '?'}" + (f" on {host[:60]}" if host and host != _HOST else "")
        raise AnnError(f"{self.path} is being written by {who}; wait for it or stop it")

    def _take_flock(self, fcntl):
        while True:
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                self._refuse()
            try:        # the last holder may have removed the file between our open and our lock
                same = os.fstat(fd).st_ino == os.stat(self.file).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {_HOST}\n".encode())
        self._fd = fd

    def _take_exclusive(self):          # pragma: no cover - Windows
        for _ in range(3):
            try:
                fd = os.open(self.file, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = self.file.read_text(errors="replace").split(" ")[0]
                if pid.isdigit() and _alive(int(pid)):
                    self._refuse()
                self.file.unlink(missing_ok=True)      # stale: its holder no longer runs
                continue
            os.write(fd, f"{os.getpid()} {_HOST}\n".encode())
            self._fd = fd
            return
        self._refuse()

    def release(self):
        if self._fd is None:
            return
        _HELD.pop(self.file.resolve(), None)
        try:
            self.file.unlink(missing_ok=True)         # while still held: see _take_flock
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


_HOST = socket.gethostname()
_HELD: dict[Path, RunLock] = {}


def _alive(pid: int) -> bool:          # pragma: no cover - Windows
    """Whether process ``pid`` runs (where unsure: yes). On Windows ``os.kill`` would end the
    process, so psutil is asked, where it is installed."""
    if os.name == "nt":
        try:
            import psutil
        except ImportError:
            return True
        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def lock_run(path) -> RunLock:
    """Hold ``path`` (a run directory) for writing until :func:`release_run` (or the process
    ends); a directory another live process holds is refused with one line."""
    return RunLock(path)


def release_run(path):
    """Let go of the hold :func:`lock_run` or :func:`new_run_dir` took on ``path``."""
    held = _HELD.get((Path(path) / LOCK).resolve())
    if held is not None:
        held.release()


@atexit.register
def _release_all():
    for held in list(_HELD.values()):
        held.release()


def _forget_in_child():
    """A forked child (a data-loader worker) closes its copy of each held lock's descriptor and
    holds nothing: a ``flock`` lasts while any process keeps the descriptor open, so a worker
    outliving its killed parent by a few seconds would otherwise keep the run refused to
    ``--resume``. The file stays: it is the parent's."""
    for held in list(_HELD.values()):
        if held._fd is not None:
            try:
                os.close(held._fd)
            except OSError:
                pass
            held._fd = None
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def reusable(path: Path) -> bool:
    """Whether run directory ``path`` stopped before its first checkpoint: it holds a
    ``config.json`` but no checkpoint, no weights and no pretraining checkpoint, so there is
    nothing in it worth keeping and ``--out`` may start it again."""
    return not any((path / name).exists() for name in
                   ("model.safetensors", "summary.json", f"checkpoints/{checkpoint.POINTER}",
                    f"pretrain/checkpoints/{checkpoint.POINTER}", "pretrain/model.safetensors"))


def new_run_dir(name: str, out: str | Path | None) -> Path:
    """``out`` if given (empty, new, or the same recipe's run that stopped before its first
    checkpoint), else ``runs/NAME-YYYYmmdd-HHMMSS`` (made unique); held with :func:`lock_run`
    until :func:`release_run`."""
    if out is not None:
        if not str(out).strip():
            raise AnnError("--out is empty; give the run directory to create (or leave --out "
                           "out for runs/NAME-DATE-TIME)")
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise AnnError(f"--out {path} is a file, not a folder; choose another --out")
        path.mkdir(parents=True, exist_ok=True)
        held = lock_run(path)                    # before looking: another start may be writing
        try:
            if (path / "config.json").exists():
                record = read_config(path)
                other = record.get("recipe") or record.get("model_name") or "?"
                if other != name or not reusable(path):
                    raise AnnError(f"--out {path} already holds a run ({other}); continue it with "
                                   f"--resume {path} or choose another --out")
                clear_run(path)                     # its unfinished start: begin it again
        except BaseException:
            held.release()
            raise
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / f"{name}-{stamp}"
    n = 1
    while True:
        try:
            path.mkdir(parents=True)
            break
        except FileExistsError:
            n += 1
            path = Path("runs") / f"{name}-{stamp}-{n}"
    lock_run(path)
    return path


def clear_run(path: Path):
    """Remove what a run that stopped before its first checkpoint wrote (not the lock)."""
    import shutil

    for name in ("config.json", "metrics.jsonl", "metrics.csv", "tensorboard", "data.json",
                 "tokenizer.json", "checkpoints", "pretrain", "curves.png"):
        target = path / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists() or target.is_symlink():
            target.unlink()


def check_run_dir(path) -> Path:
    """A folder that holds a run, or a one-line error saying why it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise AnnError(f"{path} is not a folder; give a run directory such as runs/cnn-digits-...")
    if not (path / "config.json").exists():
        raise AnnError(f"{path} is not an ann run directory (it has no config.json); give the "
                       "folder `ann train` printed at its start")
    return path


def read_config(path) -> dict:
    file = Path(path) / "config.json"
    try:
        data = json.loads(file.read_text())
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptFile(f"{file} is damaged ({e}); it cannot be used to rebuild the run") from None


def read_json(file: Path, what: str) -> dict:
    """A JSON object from a run's folder, or a one-line error naming the damaged file."""
    try:
        data = json.loads(Path(file).read_text())
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptFile(f"{file} is damaged ({e}); it holds {what}") from None


def data_facts(info: dict) -> dict:
    """The facts of ``info`` that JSON holds (numbers, strings, lists and dicts of them), minus
    the tokenizer (its own file, ``tokenizer.json``): what ``data.json`` records."""
    def plain(v):
        if isinstance(v, (bool, int, float, str)) or v is None:
            return True
        if isinstance(v, (list, tuple)):
            return all(plain(x) for x in v)
        return isinstance(v, dict) and all(isinstance(k, str) and plain(x) for k, x in v.items())

    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in info.items()
            if k != "tokenizer" and plain(v)}


def config_record(rc: RunConfig) -> dict:
    """What ``config.json`` holds: the configuration, and in its data section the module that
    registered the run's dataset when that is the user's (``registered_by``), so that a later
    command that lacks it can say what to import."""
    out = rc.to_dict()
    by = registry.dataset_entry(rc.data.name).registered_by
    if by:
        out["data"] = {**out["data"], REGISTERED_BY: by}
    return out


def data_record(rc: RunConfig, info: dict) -> dict:
    """What ``data.json`` holds: :func:`data_facts` of the loaded data, with ``registered_by``
    as in :func:`config_record`."""
    out = data_facts(info)
    by = registry.dataset_entry(rc.data.name).registered_by
    if by:
        out[REGISTERED_BY] = by
    return out


def relocate(rc: RunConfig, path: Path) -> RunConfig:
    """``rc`` with each data option that names a file the run keeps in its own folder (declared
    ``in_run=...``, as the arrays handed to ``ann.train(data=...)``) pointed at that file under
    ``path`` when the recorded path is gone: the run folder was moved or copied elsewhere."""
    for f in dataclasses.fields(rc.data):
        inside, value = f.metadata.get("in_run"), getattr(rc.data, f.name)
        if inside and value and not Path(value).exists() and (Path(path) / inside).is_file():
            setattr(rc.data, f.name, str((Path(path) / inside).resolve()))
    return rc


def read_metrics(path) -> list[dict]:
    file = Path(path) / "metrics.jsonl"
    if not file.exists():
        return []
    return read_rows(file)      # a line cut short by a kill is dropped: the rest is still good


@dataclass
class Run:
    """A trained (or loaded) model with its configuration, summary and folder."""

    config: RunConfig
    model: torch.nn.Module
    path: Path | None = None
    summary: dict = field(default_factory=dict)
    helpers: dict = field(default_factory=dict)   # other runs its report uses (Task.helpers)

    @property
    def task(self):
        return get_task(self.model.task)

    @property
    def info(self) -> dict:
        """What the run's data says about itself: the dataset's registered facts, updated with
        those only the loaded data knew (class names read from folders, a feature width, a
        scale), which training recorded in ``data.json``."""
        info = dict(registry.dataset_entry(self.config.data.name).info)
        if self.path is not None and (self.path / "data.json").exists():
            info.update(read_json(self.path / "data.json", "the facts of the run's data"))
        return info

    @property
    def tokenizer(self):
        """The run's tokenizer (text models), read from ``tokenizer.json``."""
        from .data.tokenizers import load_tokenizer

        if self.path is None:
            raise AnnError("this run has no folder, so no saved tokenizer")
        return load_tokenizer(self.path / "tokenizer.json")

    @property
    def history(self) -> list[dict]:
        return read_metrics(self.path) if self.path else []

    def evaluate(self, split: str = "test", batch_size: int | None = None, **task_options) -> dict:
        """Metrics on a split, ``batch_size`` examples at a time (default: the run's
        ``train.eval_batch_size``); ``task_options`` configure the task (its
        ``evaluate_options``: tasks that decode sequences, seq2seq, text2text and caption, take
        ``beam_size`` and ``length_penalty``; ``write_outputs``: a file for every hypothesis and
        reference). A metric's signature (sacreBLEU's) joins the figures as
        ``<metric>_signature``, a string."""
        takes = {o.name: o for o in self.task.evaluate_options}
        extra = [k for k in task_options if k not in takes]
        if extra:
            have = (f"it takes {', '.join(o.cli for o in takes.values())}" if takes
                    else "it takes no options")
            said = [_evaluation_option(k) for k in extra]
            raise AnnError(f"{', '.join(said)} {'does' if len(extra) == 1 else 'do'} not apply to "
                           f"evaluating a {self.task.name} run of {self.config.model_name}; {have}")
        task = get_task(self.model.task, **task_options) if task_options else self.task  # checks
        data = recorded_data(self.config, split, self.path)
        self.model.eval()
        device = model_device(self.model)
        batch_size = batch_size or self.config.train.eval_batch_size
        if self.path is not None and (self.path / "tokenizer.json").is_file():  # text scores too
            task.use_tokenizer(self.tokenizer)
        metrics = task.evaluate(self.model, eval_batches(data, batch_size, device))
        return {**metrics, **{f"{k}_signature": v for k, v in task.notes().items()}}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities for preprocessed inputs ``x`` (B, ...)."""
        self.model.eval()
        return self.task.predict(self.model, x)


def recorded_data(rc: RunConfig, split: str, path) -> object:
    """Split ``split`` of the data a run's config.json names. Its paths were recorded, not typed
    by the user now: an error while reading them names the path and the position but never
    quotes what the file holds."""
    try:
        return load_split(rc, split)
    except AnnError as e:
        where = [f"data.{f.name}={v}" for f in dataclasses.fields(rc.data)
                 if isinstance(v := getattr(rc.data, f.name), str) and ("/" in v or "." in v)]
        said = f" (config.json of {path} records {', '.join(where)})" if where else ""
        raise type(e)(withhold_contents(str(e)) + said) from None


def _evaluation_option(name: str) -> str:
    """An evaluation option as an error names it: its flag and the tasks whose runs take it."""
    takers = [(t, o) for t in registry.list_tasks() for o in registry.task_class(t).evaluate_options
              if o.name == name]
    if not takers:
        return name
    return f"{takers[0][1].cli} (for {', '.join(t for t, _ in takers)} runs)"


def verdict(run: Run) -> str:
    """How the test metric compares: to the recipe's target, or on the user's own data to the
    baselines (saying so when the model does not beat the best); empty when neither applies."""
    s = run.summary
    metric = s["metric"]
    if "target" in s:
        return f"target {s['target']}: {'reached' if s.get('reached') else 'NOT reached'}"
    if isinstance(s.get("baselines"), dict) and s["baselines"]:
        base = s["baselines"]
        text = f"baselines: {', '.join(f'{k} {v:.4f}' for k, v in base.items())}"
        if not s.get("beats_baselines", True):
            pick = max if run.task.is_higher_better(metric) else min
            text += f"; it does NOT beat the {pick(base, key=base.get)} baseline"
        return text
    if "baselines" in s:
        return "no baseline for this task on your data, and the recipe's target is not about it"
    return ""


def result_line(run: Run) -> str:
    """One line: the test metric and its :func:`verdict`, steps, time, folder."""
    s = run.summary
    metric = s["metric"]
    line = f"ann: test {metric} {s['test'][metric]:.4f}"
    if judged := verdict(run):
        line += f" ({judged})"
    return line + f"; {s['steps']} steps in {s['wall_time_s']:.1f}s; results in {run.path}"


def load(run_dir, device: str = "cpu") -> Run:
    """Rebuild a trained model from a run directory (config.json + the final or best weights)."""
    path = check_run_dir(run_dir)
    rc = relocate(RunConfig.from_dict(read_config(path)), path)
    model = registry.build_model(rc.model_name, rc.model)
    weights = path / "model.safetensors"
    if weights.exists():
        checkpoint.load_weights(model, weights, device)
    elif checkpoint.read_pointer(path / "checkpoints"):
        checkpoint.load(path / "checkpoints", "best", model, device)
    else:
        raise AnnError(f"{path} holds no weights yet (the run stopped before its first checkpoint); "
                       f"train it again")
    model.to(device).eval()
    return Run(rc, model, path, read_summary(path))


def read_summary(path: Path) -> dict:
    """A run's ``summary.json`` ({} when it has none yet), or one line naming the damaged file:
    it must hold the run's metric and a ``test`` section holding that metric's number."""
    file = Path(path) / "summary.json"
    if not file.exists():
        return {}
    s = read_json(file, "the run's final results")
    metric, test = s.get("metric"), s.get("test")
    if not (isinstance(metric, str) and isinstance(test, dict)
            and isinstance(test.get(metric), (int, float)) and not isinstance(test[metric], bool)):
        raise CorruptFile(f"{file} is damaged (it lacks the run's metric and its test result); "
                          "delete it and run `ann eval` for the numbers, or resume the run")
    return s
