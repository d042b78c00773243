"""Experiments: short studies that train several models and compare them in a table and plots.

``run_experiment("long-range", out=...)`` (``ann experiment long-range``) trains an Elman RNN, an
LSTM, a GRU and a small Transformer on a task whose answer is the first token of a long
sequence, at growing lengths, and plots the gradient reaching each step (see
:mod:`ann.apps.experiments.long_range`).
"""

from __future__ import annotations

from ...errors import unknown

EXPERIMENTS = {"long-range": "ann.apps.experiments.long_range"}


def experiment_module(name: str):
    """The module of experiment ``name`` (an unknown name fails with the choices)."""
    import importlib

    if name not in EXPERIMENTS:
        raise unknown("experiment", name, EXPERIMENTS)
    return importlib.import_module(EXPERIMENTS[name])


def check_experiment(name: str, **options) -> None:
    """Refuse in one line options experiment ``name`` cannot run with, before a folder is made
    (every experiment module offers ``check(**options)``)."""
    experiment_module(name).check(**options)


def run_experiment(name: str, out, **options) -> dict:
    """Run experiment ``name``, writing its table and plots to ``out``; returns its results."""
    return experiment_module(name).run(out, **options)


__all__ = ["EXPERIMENTS", "check_experiment", "experiment_module", "run_experiment"]
