"""What the command line keeps between calls, so that ``ann -h``, ``ann list`` and a mistyped
argument answer without importing torch.

The command table (each verb command's options, ``ann eval``'s options) comes from the
registered tasks, and the catalogues of ``ann list`` from the registered models and datasets:
reading them imports torch, which takes seconds. Once computed they are written, as JSON, to
``CACHE/cli/FINGERPRINT.json`` (``CACHE``: ``$ANN_CACHE_DIR`` or ``~/.cache/ann``, the datasets'
cache), where the fingerprint covers ann's version, every file of the installed package (path,
size, modification time) and the Python running it: a changed or reinstalled ann, or another
environment, computes its own. A value is recomputed when its file is missing, unreadable or
unwritable (then nothing is kept and every call computes it); a command given ``--import`` (a
module that may register more) never uses the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import fileio
from ._version import __version__

PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """The datasets' cache folder (ann.data.sources.cache_dir), without importing ann.data."""
    return Path(os.environ.get("ANN_CACHE_DIR") or Path.home() / ".cache" / "ann").expanduser()


def fingerprint() -> str:
    """A digest of ann's version, its package files and the interpreter."""
    h = hashlib.sha256(f"{__version__}\0{sys.version}\0{sys.prefix}\0{PACKAGE}".encode())
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            st = os.stat(os.path.join(folder, name))
            h.update(f"{os.path.relpath(os.path.join(folder, name), PACKAGE)}\0{st.st_size}\0"
                     f"{st.st_mtime_ns}\0".encode())
    return h.hexdigest()[:24]


def _path() -> Path:
    return cache_dir() / "cli" / f"{fingerprint()}.json"


def _read(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def cached(key: str, compute: Callable[[], Any], use: bool = True) -> Any:
    """``compute()`` (a JSON value) as kept under ``key`` for this fingerprint; computed and kept
    when it is not there yet. ``use=False``: computed, neither read nor kept."""
    if not use:
        return compute()
    path = _path()
    kept = _read(path)
    if key in kept:
        return kept[key]
    value = compute()
    kept = {**_read(path), key: value}       # another process may have added keys meanwhile
    try:
        fileio.write_json(path, kept)
        for old in path.parent.glob("*.json"):    # earlier versions' tables, unused for a week
            if old != path and time.time() - old.stat().st_mtime > 7 * 86400:
                old.unlink(missing_ok=True)
    except OSError:
        pass                                  # a read-only home: compute every time
    return value
