"""Many predictions at once, and how ``ann predict`` gives them back.

The tasks whose runs predict one thing per input (a class, a number, an anomaly score, a node's
class, a forecast step) share this:

* :func:`batched` runs a function of a batch over all the inputs, :data:`BATCH` rows at a time
  (never one row at a time through the model), with a progress bar on standard error when it is
  a terminal and there is more than one batch;
* :class:`Table` holds the predictions, one row per input in input order, and gives them back
  as :class:`~ann.tasks.base.Answer` s: with ``--out FILE`` written as CSV (atomically: the file
  is whole or not there; one answer says where), else one printed line per input (``--json``: one
  JSON object per input), then a line of figures over all inputs where there are some (the
  accuracy on a file's target column).
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import fileio
from ..errors import AnnError
from .base import Answer, Option

BATCH = 1024          # inputs per forward pass
OUT_CSV = Option("out", metavar="FILE", help="regression, forecasters, graph nodes: the CSV file "
                 "to write the predictions to, one row per input (default: print them)")


def number(v) -> str:
    """A CSV cell for a number: 7 significant digits, float32's precision."""
    return f"{float(v):.7g}"


@torch.no_grad()
def batched(fn, x: torch.Tensor, device, desc: str = "predicting") -> torch.Tensor:
    """``fn`` over ``x`` (N, ...) in batches of :data:`BATCH` on ``device``, the outputs
    concatenated on the CPU: (N, ...)."""
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(x), desc=desc, unit="row", leave=False, file=sys.stderr,
              disable=None if len(x) > BATCH else True, dynamic_ncols=True) as bar:
        for start in range(0, len(x), BATCH):
            chunk = x[start:start + BATCH]
            out.append(fn(chunk.to(device)).float().cpu())
            bar.update(len(chunk))
    return torch.cat(out)


@dataclass
class Table:
    """Predictions, one per input: ``rows`` the CSV cells under ``header``, ``texts`` the
    printed lines, ``data`` the JSON objects; ``summary`` figures over all the inputs with
    their line ``summary_text`` (empty: none)."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    data: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    summary_text: str = ""

    def add(self, cells: list[str], text: str, data: dict):
        self.rows.append(cells)
        self.texts.append(text)
        self.data.append(data)

    def answers(self, out=None, inputs=()) -> list[Answer]:
        """The table as answers: written to ``out`` (CSV) with one answer saying so, or one
        answer per input and the summary. ``inputs``: the files read, which ``out`` must not
        overwrite."""
        if out is None:
            tail = [Answer(self.summary_text, self.summary)] if self.summary_text else []
            return [Answer(t, d) for t, d in zip(self.texts, self.data)] + tail
        path = Path(out)
        if any(Path(f).resolve() == path.resolve() for f in inputs):
            raise AnnError(f"--out {out} is an input file; choose another file for the predictions")
        if path.is_dir():
            raise AnnError(f"--out {out} is a folder; give the CSV file to write")
        with fileio.atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(self.header)
            writer.writerows(self.rows)
        text = f"wrote {len(self.rows)} predictions to {path}"
        return [Answer(text + (f"; {self.summary_text}" if self.summary_text else ""),
                       {"file": str(path), "rows": len(self.rows), **self.summary})]


def read_rows_of(run, files):
    """The one rows file of ``files`` (CSV/TSV or ``.npy``) encoded as the run's training rows
    were (:func:`ann.data.rows.read_new_rows`): ``(file, NewRows)``."""
    from ..data.rows import describes_rows, read_new_rows

    if not describes_rows(run.info):
        raise AnnError(f"{run.path} holds a {run.config.model_name} model whose data.json does "
                       "not say how a row was encoded (a run older than row predictions, or "
                       "data that are not rows); train it again to predict rows")
    files = list(files)
    if len(files) != 1:
        raise AnnError(f"give one file of rows (CSV, TSV or .npy), not {len(files)}; run "
                       "`ann predict` once per file")
    return files[0], read_new_rows(files[0], run.info)
