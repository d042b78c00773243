"""Where a run's numbers go besides ``metrics.jsonl``: ``train.log_to``.

* ``csv``: ``metrics.csv`` beside ``metrics.jsonl``, one line per number in the long form
  ``step,epoch,split,name,value`` (the columns never change, whatever the task measures), appended
  and flushed per log step and evaluation; a line cut short by a kill is one number lost, and a
  resumed run rewrites the file from the rows it keeps.
* ``tensorboard``: event files in ``tensorboard/`` through :mod:`torch.utils.tensorboard` (the
  ``tensorboard`` package, ``pip install 'ann[tensorboard]'``), imported only when asked: every
  number of every row as ``split/name`` (the learning rate is the train rows' ``lr``), and the
  run's pictures (its PNG files) at the end.

``none`` (or an empty value) writes neither. ``metrics.jsonl`` is always written: every command
reads it.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import os
from pathlib import Path

from .. import fileio
from ..errors import AnnError

CHOICES = ("csv", "tensorboard")
CSV_FILE, TB_DIR = "metrics.csv", "tensorboard"
COLUMNS = ("step", "epoch", "split", "name", "value")


def parse(value: str) -> tuple[str, ...]:
    """The sinks ``train.log_to`` names (``csv,tensorboard``; ``none`` or '' for neither), or a
    one-line error naming the valid ones."""
    names = [n.strip() for n in str(value).split(",") if n.strip()]
    if names == ["none"]:
        return ()
    bad = [n for n in names if n not in CHOICES]
    if bad:
        raise AnnError(f"train.log_to={value!r}: {', '.join(bad)} is not a place to log to; give "
                       f"a comma-separated list of {', '.join(CHOICES)}, or none")
    return tuple(dict.fromkeys(names))


def check(value: str) -> None:
    """Refuse, before the run directory exists, sinks whose package is missing."""
    if "tensorboard" in parse(value) and importlib.util.find_spec("tensorboard") is None:
        raise AnnError("train.log_to=tensorboard needs the tensorboard package: pip install "
                       "'ann[tensorboard]' (or pip install tensorboard), or drop tensorboard")


def _numbers(row: dict):
    """``(name, value)`` of every finite number of a metrics row but its step, epoch, split."""
    for k, v in row.items():
        if k in ("step", "epoch", "split") or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if math.isfinite(v):
            yield k, float(v)


class CsvLog:
    """``metrics.csv`` in the long form (see the module docstring)."""

    def __init__(self, path: Path):
        self.path = path

    def _lines(self, rows) -> str:
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        for row in rows:
            for name, value in _numbers(row):
                out.writerow((row.get("step", ""), row.get("epoch", ""), row.get("split", ""),
                              name, repr(value)))
        return buf.getvalue()

    def write(self, row: dict):
        new = not self.path.exists() or self.path.stat().st_size == 0
        # one write call per row, so a kill leaves whole lines but perhaps the last
        with open(self.path, "a", encoding="utf-8") as f:
            f.write((",".join(COLUMNS) + "\n" if new else "") + self._lines([row]))
            f.flush()

    def rewrite(self, rows: list[dict]):
        fileio.write_text(self.path, ",".join(COLUMNS) + "\n" + self._lines(rows))

    def close(self):
        pass

    def pictures(self, folder: Path, step: int = 0):
        pass


class TensorBoardLog:
    """Event files in ``RUN/tensorboard`` (``tensorboard --logdir RUN``)."""

    def __init__(self, folder: Path, purge_step: int | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            check("tensorboard")            # its one line when the package is missing
            raise
        self.writer = SummaryWriter(str(folder), purge_step=purge_step)

    def write(self, row: dict):
        step, split = int(row.get("step", 0)), row.get("split", "train")
        for name, value in _numbers(row):
            self.writer.add_scalar(f"{split}/{name}", value, step)
        if "epoch" in row and split == "train":
            self.writer.add_scalar("train/epoch", float(row["epoch"]), step)
        if split != "train":
            self.writer.flush()

    def rewrite(self, rows: list[dict]):
        pass                                # purge_step dropped the later events

    def pictures(self, folder: Path, step: int = 0):
        """Every PNG of the finished run (curves, confusion matrix, samples) as an image."""
        from matplotlib.image import imread

        for png in sorted(Path(folder).glob("*.png")):
            try:
                image = imread(png)         # (H, W, C) floats in [0, 1]
            except (OSError, ValueError, SyntaxError):
                continue
            if image.ndim == 2:
                image = image[..., None]
            self.writer.add_image(png.stem, image[..., :3], step, dataformats="HWC")
        self.writer.flush()

    def close(self):
        self.writer.close()


def open_sinks(log_to: str, run_dir: Path | None, resume_step: int | None = None) -> list:
    """The sinks ``log_to`` names, writing into ``run_dir`` (none without one)."""
    if run_dir is None:
        return []
    sinks = []
    for name in parse(log_to):
        if name == "csv":
            sinks.append(CsvLog(Path(run_dir) / CSV_FILE))
        else:
            os.makedirs(Path(run_dir) / TB_DIR, exist_ok=True)
            sinks.append(TensorBoardLog(Path(run_dir) / TB_DIR, resume_step))
    return sinks
