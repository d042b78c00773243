"""User-facing errors.

Every mistake a user can make (a bad name, key, value, file or input) raises :class:`AnnError` with
one line that says what is wrong and how to fix it. The command line prints that line and exits
non-zero; the traceback is shown only with ``--debug``.
"""

import difflib
import re


class AnnError(Exception):
    """A user mistake: the message is one line saying what is wrong and how to fix it."""

    exit_code = 2


class DatasetMissing(AnnError):
    """A dataset's files are neither in ``$ANN_DATA_DIR``, nor cached, nor downloadable."""


class CorruptFile(AnnError):
    """A file exists but cannot be read: truncated, wrong format, wrong checksum."""


def suggest(name: str, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=3, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def unknown(kind: str, name: str, choices) -> AnnError:
    """The error for a name that is not among ``choices``, listing them."""
    choices = sorted(choices)
    return AnnError(f"unknown {kind} {name!r}{suggest(name, choices)}; choose from: {', '.join(choices)}")


def excerpt(text, limit: int = 40) -> str:
    """A short quotation of a file's text for an error about a file the user named: at most
    ``limit`` characters, unprintable ones (a binary file's bytes) shown as ``?``."""
    clean = "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in str(text))
    return repr(clean[:limit] + ("..." if len(clean) > limit else ""))


def names(cells, limit: int = 8) -> str:
    """A file's header cells as :func:`excerpt` quotations, the first ``limit`` of them."""
    cells = list(cells)
    shown = ", ".join(excerpt(c, 30) for c in cells[:limit])
    return shown + (f", ... ({len(cells)} in all)" if len(cells) > limit else "")


_QUOTED = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")


def withhold_contents(message: str) -> str:
    """``message`` with every quoted piece replaced by ``'...'``: an error raised while reading
    a path recorded in a run's files (not one the user typed) names positions, never what the
    file holds (a config.json naming ``data.path=/etc/passwd`` must not print its lines)."""
    return _QUOTED.sub("'...'", message)
