"""User-facing errors.

Every mistake a user can make (a bad name, key, value, file or input) raises :class:`AnnError` with
one line that says what is wrong and how to fix it. The command line prints that line and exits
non-zero; the traceback is shown only with ``--debug``.
"""

import difflib


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
