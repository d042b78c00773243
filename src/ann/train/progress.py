"""What a run shows and records while it trains: a live bar and ``metrics.jsonl``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from .. import fileio


class MetricsLog:
    """Append-only JSON lines, one per log step or evaluation; flushed after every line."""

    def __init__(self, path: Path | None):
        self.path = path
        self.rows: list[dict] = []

    def truncate_after(self, step: int):
        """On resume: drop lines written after the checkpoint we resume from (atomic rewrite)."""
        if self.path is None or not self.path.exists():
            return
        rows = []
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:      # a line cut short or damaged: the rest is still good
                continue
            if isinstance(row, dict) and isinstance(row.get("step", 0), int):
                rows.append(row)
        self.rows = [r for r in rows if r.get("step", 0) <= step]
        fileio.write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))

    def write(self, row: dict):
        self.rows.append(row)
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")
                f.flush()


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
