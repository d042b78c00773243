"""Shared fixtures. Real datasets are found through $ANN_DATA_DIR; tests that need them skip.

Convergence tests (a metric must cross a threshold after training) take the ``conv`` fixture: a
seed and a torch thread count. ``make test`` runs each once (seed 0, one thread);
``make test-portable`` (``pytest -m convergence --portable``) runs each under seeds 0-4 at one and
two threads, so that a threshold tuned to one seed or one CPU's rounding shows up as a failure.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

# Tests use tiny models, for which one thread is fastest, and subprocess tests run beside them.
torch.set_num_threads(1)

PORTABLE_SEEDS = (0, 1, 2, 3, 4)
PORTABLE_THREADS = (1, 2)


@dataclass(frozen=True)
class Convergence:
    """The seed and thread count a convergence test trains under."""

    seed: int = 0
    threads: int = 1

    @property
    def overrides(self) -> dict:
        """For ``ann.train``: the run's seed and threads."""
        return {"train.seed": self.seed, "train.threads": self.threads}

    @property
    def args(self) -> list[str]:
        """For the ``ann train`` command line."""
        return [f"train.seed={self.seed}", f"train.threads={self.threads}"]

    def apply(self):
        """For a test's own loop: seed torch's global generator and set the thread count
        (the ``_threads`` fixture puts it back to one after the test)."""
        torch.manual_seed(self.seed)
        torch.set_num_threads(self.threads)


def pytest_addoption(parser):
    parser.addoption("--portable", action="store_true",
                     help="run each convergence test under seeds 0-4 at 1 and 2 torch threads")
    parser.addoption("--seeds", default=None,
                     help="with --portable: the seeds, comma-separated (default 0,1,2,3,4)")
    parser.addoption("--threads", default=None,
                     help="with --portable: the torch thread counts, comma-separated (default 1,2)")


def _ints(text, default):
    return tuple(int(v) for v in text.split(",")) if text else default


def pytest_configure(config):
    config.addinivalue_line("markers", "convergence: trains, then asserts a metric crosses a threshold "
                            "(takes the `conv` fixture; --portable runs it under 5 seeds x 2 threads)")


def pytest_generate_tests(metafunc):
    if "conv" in metafunc.fixturenames:
        if metafunc.config.getoption("portable"):
            seeds = _ints(metafunc.config.getoption("seeds"), PORTABLE_SEEDS)
            threads = _ints(metafunc.config.getoption("threads"), PORTABLE_THREADS)
            combos = [Convergence(s, t) for s in seeds for t in threads]
        else:
            combos = [Convergence()]
        metafunc.parametrize("conv", combos, ids=[f"seed{c.seed}-t{c.threads}" for c in combos],
                             scope="module")


def pytest_collection_modifyitems(config, items):
    """A test that asks for ``conv`` itself is a convergence test; one whose fixture trains
    under ``conv`` says so with ``@pytest.mark.convergence`` (the other tests sharing that
    fixture are not selected by ``-m convergence``)."""
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and "conv" in function.__code__.co_varnames[:function.__code__.co_argcount]:
            item.add_marker(pytest.mark.convergence)


@pytest.fixture(autouse=True)
def _threads():
    """A test that changes torch's thread count does not change it for the tests after it."""
    yield
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
