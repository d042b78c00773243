"""Atomic writes: a file is either its old complete self or its new complete self, never half.

Each write goes to a temporary file in the same folder, is flushed and fsync'd, then renamed over
the target (``os.replace`` is atomic on POSIX and Windows), and the folder is fsync'd so the rename
itself survives a power cut.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(path: Path):
    if os.name == "nt":  # folders cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target):
    """Yield a temporary path beside ``target``; on success it replaces ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(target, data: bytes):
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target, text: str):
    write_bytes(target, text.encode("utf-8"))


def write_json(target, obj):
    write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")
