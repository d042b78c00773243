"""The library's messages (what a run starts from, where it trains, its result line) go through
``logging.getLogger("ann")`` and its children (``ann.runner``, ...), at INFO level, so that an
application decides what it sees: ``logging.getLogger("ann").setLevel(logging.WARNING)``
silences them, a handler added to that logger receives them.

As in most libraries that talk while they work, the ``ann`` logger has one handler of its own,
writing the bare message to the current ``sys.stdout`` (so ``ann train`` prints what it always
did), and does not pass records on to the root logger, which would show each line twice where
the application configured logging. :func:`propagate` hands them to the application's handlers
instead. The live progress bar and its per-evaluation lines stay tqdm's
(:mod:`ann.train.progress`), which keeps them from tearing the bar; ``quiet=True`` still
silences everything.
"""

from __future__ import annotations

import logging
import sys

ROOT = "ann"


class _Stdout(logging.StreamHandler):
    """A stream handler on whatever ``sys.stdout`` is when a message is written (a notebook's
    or a test's captured stream), not the one there was when it was made."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


DEFAULT_HANDLER = _Stdout()
DEFAULT_HANDLER.setFormatter(logging.Formatter("%(message)s"))


def _setup() -> None:
    top = logging.getLogger(ROOT)
    if DEFAULT_HANDLER not in top.handlers:
        top.addHandler(DEFAULT_HANDLER)
    if top.level == logging.NOTSET:
        top.setLevel(logging.INFO)
    top.propagate = False


_setup()


def propagate(on: bool = True) -> None:
    """Send ann's messages to the root logger's handlers (the application's) instead of ann's
    own stdout handler; ``propagate(False)`` restores the default."""
    top = logging.getLogger(ROOT)
    if on:
        top.removeHandler(DEFAULT_HANDLER)
        top.propagate = True
    else:
        _setup()


def info(message: str, name: str = ROOT) -> None:
    """``message`` at INFO level on the logger of ``name`` (a module's ``__name__``)."""
    logging.getLogger(name).info(message)
