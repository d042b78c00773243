"""What a run shows and records while it trains: a live bar, ``metrics.jsonl`` and the sinks of
``train.log_to`` (:mod:`ann.train.tracking`)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from .. import fileio
from . import tracking


def read_rows(path: Path) -> list[dict]:
    """The rows of a ``metrics.jsonl``; a line cut short (a kill, a full disk) or garbled is
    dropped, as is anything that is not a row: the lines around it are still good."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _step(row: dict) -> float:
    step = row.get("step", 0)
    return step if isinstance(step, (int, float)) and not isinstance(step, bool) else float("inf")


class MetricsLog:
    """Append-only JSON lines, one per log step or evaluation; flushed after every line. Each row
    also goes to the sinks ``log_to`` names (``train.log_to``: metrics.csv, TensorBoard), opened
    at the first row (after a resume's truncation, so TensorBoard drops the events it replays)."""

    def __init__(self, path: Path | None, log_to: str = ""):
        self.path, self.log_to = path, log_to
        self.rows: list[dict] = []
        self.sinks: list | None = None

    def _open(self, resume_step: int | None = None) -> list:
        if self.sinks is None:
            folder = self.path.parent if self.path is not None else None
            self.sinks = tracking.open_sinks(self.log_to, folder, resume_step)
        return self.sinks

    def truncate_after(self, step: int):
        """On resume: drop lines written after the checkpoint we resume from (atomic rewrite)."""
        if self.path is None or not self.path.exists():
            return
        self.rows = [r for r in read_rows(self.path) if _step(r) <= step]
        fileio.write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))
        for sink in self._open(resume_step=step + 1):
            sink.rewrite(self.rows)

    def write(self, row: dict):
        self.rows.append(row)
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")
                f.flush()
        for sink in self._open():
            sink.write(row)

    def finish(self, folder: Path | None, step: int = 0):
        """The run is done: its pictures (PNG files in ``folder``) to the sinks that take them,
        and the sinks closed."""
        for sink in self._open():
            if folder is not None:
                sink.pictures(folder, step)
            sink.close()
        self.sinks = []


class Progress:
    """A tqdm bar over optimizer steps (hidden when output is not a terminal) plus one printed
    line per evaluation, so logs of non-interactive runs still show progress."""

    def __init__(self, total: int, initial: int, name: str, quiet: bool):
        self.quiet = quiet
        self.start, self.start_step, self.total = time.time(), initial, total
        self.extra: dict[str, float] = {}     # the last validation metric, shown beside the loss
        self.bar = tqdm(total=total, initial=initial, desc=name, unit="step", dynamic_ncols=True,
                        disable=True if quiet else None, leave=False, file=sys.stderr)

    def update(self, **postfix):
        self.bar.update(1)
        if not self.bar.disable:
            shown = {**postfix, **self.extra}
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)

    def line(self, step: int, text: str):
        if self.quiet:
            return
        done = step - self.start_step
        elapsed = time.time() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else 0.0
        msg = f"step {step}/{self.total} | {text} | {rate:.1f} steps/s | ETA {eta:.0f}s"
        self.bar.write(msg, file=sys.stdout)

    def close(self):
        self.bar.close()
