"""Time series for forecasting: windows of past values and the values that follow.

* ``sunspots`` (embedded): yearly mean sunspot numbers 1700-2008 (SIDC/SILSO version-1 series,
  public domain), the series ``statsmodels.datasets.sunspots`` ships, stored in
  ``ann/data/files/sunspots_yearly.csv``. Or a series of your own: ``data.path=my.csv
  data.column=value`` reads one numeric column of a CSV file with a header row (lines starting
  with ``#`` are comments).
* ``mackey-glass`` (generated): the chaotic Mackey-Glass delay equation (Mackey & Glass 1977),
  ``dx/dt = 0.2 x(t-17) / (1 + x(t-17)^10) - 0.1 x(t)``, integrated with 10 Euler steps per unit
  of time from x = 1.2 and sampled once per unit; the first 500 samples (the transient) dropped.

Each series is split in time: the first 70% of values train, the next 15% val, the last 15%
test. An example is ``window`` consecutive values and the ``horizon`` values after them; the
targets of an example lie in its split, its window may reach back into the split before (as a
forecaster in use would see them). A batch is ``(x, y, ar)``: ``x`` (B, window, 1), ``y`` (B,
horizon) and ``ar`` (B, horizon), the forecast of a linear autoregressive model of order
``window`` fitted to the train split by least squares (one set of weights per horizon step) --
the baseline the task reports beside the naive last-value forecast. Values keep their units;
``info`` holds the train split's ``mean`` and ``std``, which the model uses to scale them.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import config
from ..errors import AnnError, names
from ..registry import register_dataset
from ..split import Split

SPLITS = {"train": (0.0, 0.7), "val": (0.7, 0.85), "test": (0.85, 1.0)}
SUNSPOTS_INFO = {"task": "forecast", "window": 11, "horizon": 1,
                 "description": "yearly sunspot numbers 1700-2008 (SIDC/SILSO, as statsmodels "
                                "ships them); or your own CSV column via data.path/data.column",
                 "source": "https://www.sidc.be/SILSO/ (statsmodels.datasets.sunspots)"}
MACKEY_GLASS_INFO = {"task": "forecast", "window": 50, "horizon": 10,
                     "description": "Mackey-Glass chaotic series (tau 17), 3,000 generated steps",
                     "source": "Mackey & Glass 1977, Science 197(4300):287-289"}


@dataclass
class SeriesWindows(Split):
    """Forecasting examples over one series (see the module docstring).

    Shapes:
        batch(index) -> x (B, window, 1), y (B, horizon), ar (B, horizon), float32.
    """

    values: torch.Tensor            # the series up to this split's end, 1-D float32
    first: int                      # index in ``values`` of the first target
    window: int
    horizon: int
    ar_weights: torch.Tensor        # (window + 1, horizon): lags then intercept
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.values) - self.first - self.horizon + 1

    def batch(self, index):
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        index = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
        start = index[:, None] + self.first - self.window                  # (B, 1)
        x = self.values[start + torch.arange(self.window)]                 # (B, window)
        y = self.values[start + self.window + torch.arange(self.horizon)]  # (B, horizon)
        ar = torch.cat([x, torch.ones(len(x), 1)], dim=1) @ self.ar_weights
        return x[..., None], y, ar


def read_series_csv(path: str, column: str, path_option: str = "data.path=",
                    column_option: str = "data.column=") -> np.ndarray:
    """One numeric column of a CSV file with a header row, as float64; clear errors for a
    missing file or column, a missing value or a value that is not a number (naming the
    options that choose them: ``ann predict`` has ``--column``)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise AnnError(f"{path_option}{path!r} is not a file; give the path of a CSV file")
    with file.open(newline="", encoding="utf-8", errors="replace") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].lstrip().startswith("#")]
    if not rows:
        raise AnnError(f"{path} holds no rows; give a CSV file with a header and one value per row")
    header = [h.strip() for h in rows[0]]
    if not column:
        if len(header) != 1:
            raise AnnError(f"{path} has columns {names(header)}; choose one with {column_option}NAME")
        column = header[0]
    if column not in header:
        raise AnnError(f"{path} has no column {column!r}; its columns are {names(header)}")
    j, values = header.index(column), []
    for line, row in enumerate(rows[1:], start=2):
        text = row[j].strip() if j < len(row) else ""
        if text == "" or text.lower() in ("nan", "na", "null", "none"):
            raise AnnError(f"{path}: row {line} has no value in column {column!r} (missing "
                           "values are not filled in); fill or drop that row")
        try:
            v = float(text)
        except ValueError:
            raise AnnError(f"{path}: column {column!r} is not numeric (row {line} holds "
                           f"{text[:30]!r}); choose a column of numbers with {column_option}NAME") from None
        if not math.isfinite(v):
            raise AnnError(f"{path}: row {line} of column {column!r} is {text}; give finite numbers")
        values.append(v)
    return np.asarray(values, dtype=np.float64)


def sunspots_yearly() -> np.ndarray:
    """The embedded yearly sunspot numbers, 1700-2008 (309 values)."""
    text = resources.files("ann.data").joinpath("files/sunspots_yearly.csv").read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")][1:]
    return np.asarray([float(ln.split(",")[1]) for ln in lines])


@functools.lru_cache(maxsize=4)
def mackey_glass(n: int = 3000, tau: int = 17, beta: float = 0.2, gamma: float = 0.1,
                 power: float = 10.0, substeps: int = 10, discard: int = 500) -> np.ndarray:
    """``n`` samples of the Mackey-Glass series (see the module docstring)."""
    dt = 1.0 / substeps
    lag = tau * substeps
    total = (n + discard) * substeps
    x = np.full(total + lag + 1, 1.2)
    for t in range(lag, total + lag):
        delayed = x[t - lag]
        x[t + 1] = x[t] + dt * (beta * delayed / (1 + delayed ** power) - gamma * x[t])
    return x[lag::substeps][discard:discard + n].copy()


def fit_ar(values: np.ndarray, window: int, horizon: int) -> np.ndarray:
    """Least-squares weights (window + 1, horizon) of a linear forecast from the last
    ``window`` values plus an intercept, one column per step ahead."""
    n = len(values) - window - horizon + 1
    idx = np.arange(n)[:, None]
    X = np.concatenate([values[idx + np.arange(window)], np.ones((n, 1))], axis=1)
    Y = values[idx + window + np.arange(horizon)]
    return np.linalg.lstsq(X, Y, rcond=None)[0]


def series_split(values: np.ndarray, split: str, window: int, horizon: int, info: dict,
                 name: str) -> SeriesWindows:
    """``split`` of ``values`` as :class:`SeriesWindows` (checks the series is long enough)."""
    if window < 1 or horizon < 1:
        raise AnnError(f"data.window and data.horizon must be at least 1, got {window} and "
                       f"{horizon}")
    n = len(values)
    bounds = {s: (int(round(a * n)), int(round(b * n))) for s, (a, b) in SPLITS.items()}
    need = window + horizon
    shortest = min(bounds["val"][1] - bounds["val"][0], bounds["test"][1] - bounds["test"][0])
    if bounds["train"][1] < 2 * need or shortest < horizon:
        raise AnnError(f"the {name} series has {n} values, too short for windows of {window} "
                       f"values and a horizon of {horizon} (train, 70% of it, needs at least "
                       f"{2 * need}); give a longer series or set a smaller data.window")
    train = values[:bounds["train"][1]]
    weights = torch.tensor(fit_ar(train, window, horizon), dtype=torch.float32)
    lo, hi = bounds[split]
    first = max(lo, window)
    full = {**info, "window": window, "horizon": horizon, "mean": float(train.mean()),
            "std": float(train.std()) or 1.0, "series_length": n,
            "fills": ("mean", "std", "window", "horizon")}   # model settings this data decides
    return SeriesWindows(torch.tensor(values[:hi], dtype=torch.float32), first, window, horizon,
                         weights, full)


_WINDOW_HELP = "past values a forecast reads (series; 0: the dataset's default)"
_HORIZON_HELP = "values ahead a forecast predicts (series; 0: the dataset's default)"


@dataclass
class SeriesOptions:
    """The window and horizon of a generated series' forecasts."""

    window: int = config.field(0, _WINDOW_HELP, nonneg=True)
    horizon: int = config.field(0, _HORIZON_HELP, nonneg=True)


@dataclass
class SeriesFileOptions:
    """A series that may be read from a CSV file of your own, with its window and horizon."""

    path: str = config.field("", "a file of your own to train on, for datasets that accept one",
                      path=True)
    column: str = config.field("", "the column of data.path to read (series and tables)")
    window: int = config.field(0, _WINDOW_HELP, nonneg=True)
    horizon: int = config.field(0, _HORIZON_HELP, nonneg=True)


@register_dataset("sunspots", info=SUNSPOTS_INFO, embedded=True, options=SeriesFileOptions)
def load_sunspots(split: str, path: str = "", column: str = "", window: int = 0,
                  horizon: int = 0) -> SeriesWindows:
    """Yearly sunspot numbers (embedded), or column ``column`` of the CSV file ``path``."""
    values = read_series_csv(path, column) if path else sunspots_yearly()
    name = path or "sunspots"
    info = {**SUNSPOTS_INFO, "column": column}     # how `ann predict RUN history.csv` reads
    return series_split(values, split, window or SUNSPOTS_INFO["window"],
                        horizon or SUNSPOTS_INFO["horizon"], info, name)


@register_dataset("mackey-glass", info=MACKEY_GLASS_INFO, embedded=True, options=SeriesOptions)
def load_mackey_glass(split: str, window: int = 0, horizon: int = 0) -> SeriesWindows:
    """The generated Mackey-Glass series, 3,000 steps."""
    return series_split(mackey_glass(), split, window or MACKEY_GLASS_INFO["window"],
                        horizon or MACKEY_GLASS_INFO["horizon"], MACKEY_GLASS_INFO, "mackey-glass")
