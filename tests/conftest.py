"""Shared fixtures. Real datasets are found through $ANN_DATA_DIR; tests that need them skip."""

import os
from pathlib import Path

import pytest
import torch

# Tests use tiny models, for which one thread is fastest, and subprocess tests run beside them.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own cache and never downloads."""
    monkeypatch.setenv("ANN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ANN_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")


def real_data(name: str) -> Path:
    """The folder of a real dataset under $ANN_DATA_DIR, or skip the test saying why."""
    root = os.environ.get("ANN_DATA_DIR")
    if not root or not (Path(root) / name).is_dir():
        pytest.skip(f"real dataset {name!r} not found: set ANN_DATA_DIR to a folder holding {name}/")
    return Path(root) / name
