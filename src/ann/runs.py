"""Run directories: where a run's config, metrics, checkpoints, summary and plots live."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .errors import AnnError, CorruptFile


def new_run_dir(name: str, out: str | Path | None) -> Path:
    """``out`` if given (empty or new), else ``runs/NAME-YYYYmmdd-HHMMSS`` (made unique)."""
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise AnnError(f"--out {path} is a file, not a folder; choose another --out")
        if (path / "config.json").exists():
            other = read_config(path).get("recipe", "?")
            raise AnnError(f"--out {path} already holds a run ({other}); continue it with "
                           f"--resume {path} or choose another --out")
        path.mkdir(parents=True, exist_ok=True)
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / f"{name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = Path("runs") / f"{name}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


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


def read_metrics(path) -> list[dict]:
    file = Path(path) / "metrics.jsonl"
    if not file.exists():
        return []
    rows = []
    for line in file.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:  # a line cut short by a kill: the rest is still good
                continue
    return rows
