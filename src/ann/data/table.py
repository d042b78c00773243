"""A table of your own: ``data.name=table data.path=FILE.csv data.target=COLUMN``.

The tabular models (PNN, GRNN, GMDH, DSN, the MLP) train on it as on the built-in tables
(``tabular.py``): one row per example, features standardised with the training part's mean and
std. The file is CSV or TSV with a header row (the delimiter is sniffed; ``.tsv`` means tabs).

* Feature columns (``data.columns``, default all but the target): a column of numbers stays a
  number; a column of words (or one named in ``data.categorical``) is one-hot encoded with the
  categories of the training part, named ``COLUMN=VALUE`` (a category met only outside training
  encodes as all zeros).
* The target: ``data.target_kind=class`` gives class indices (int64; names sorted, in
  ``info["classes"]``), ``number`` gives floats (regression). ``auto`` takes words, or at most
  ``MAX_AUTO_CLASSES`` distinct integers, as classes and any other numbers as a number: set the
  kind when that guess does not fit the model (an integer score for GRNN or GMDH is a number).
* Missing cells (empty, ``NA``, ``N/A``, ``NaN``, ``?``) are refused, naming the line and
  column, unless ``data.missing=impute`` fills them with the training part's mean (numbers) or
  most frequent value (categories). A missing target is always refused.
* Splits: ``data.test_fraction`` and ``data.val_fraction`` of the rows, stratified by class (or
  by quantile bins of a numeric target), shuffled with ``data.split_seed``; the rest is train.

What only the file knows (feature width, classes) goes into the info and ``fills`` copies it into
the model's config; ``in_channels=D, image_size=1`` lets the image MLP read a row as a 1x1 image.
The info also holds how a row was encoded (``columns``, ``categories``, ``modes``, ``missing``,
``feature_names``, ``mean``, ``std``), which the run records in ``data.json`` so that ``ann
predict RUN rows.csv`` encodes new rows the same way (:mod:`ann.data.rows`).
"""

from __future__ import annotations

import copy
import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import config
from ..errors import AnnError
from ..registry import register_dataset
from .base import ArrayDataset

MISSING = {"", "na", "n/a", "nan", "?"}
MAX_AUTO_CLASSES = 20
REGRESSION_STRATA = 5
TABLE_INFO = {"task": "classify or regression",
              "description": "a CSV/TSV table of your own: data.path=FILE data.target=COLUMN"}


@dataclass
class TableOptions:
    """The file of your own and how to read it."""

    path: str = config.field("", "a file of your own to train on, for datasets that accept one",
                      path=True)
    target: str = config.field("", "the column to predict (tables of your own), by header name")
    columns: tuple[str, ...] = config.field((), "the feature columns, comma-separated (empty: all "
                                            "but the target)")
    categorical: tuple[str, ...] = config.field((), "feature columns to one-hot encode although "
                                                "they hold numbers (codes, ids)")
    target_kind: str = config.field("auto", "the target as classes or a number (auto: words or "
                                    "a few distinct integers are classes)",
                                    choices=("auto", "class", "number"))
    missing: str = config.field("refuse", "empty or NA cells: refuse them, or impute the "
                                "training mean (numbers) or most frequent value (categories)",
                                choices=("refuse", "impute"))
    val_fraction: float = config.field(0.1, "fraction of the rows held out for validation "
                                       "(stratified; at least one row)", range=(0.0, 0.9))
    test_fraction: float = config.field(0.2, "fraction of the rows held out for the test "
                                        "(stratified; at least one row)", range=(0.0, 0.9))
    split_seed: int = config.field(0, "seed of the shuffle that splits the rows", nonneg=True)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_rows(path: str) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, rows of stripped cells, the file line of each row) of a CSV/TSV file; one-line
    errors for a missing or empty file, no header and a ragged row."""
    if not path:
        raise AnnError("dataset 'table' needs your file: data.path=FILE.csv (a header row, one "
                       "example per row) and data.target=COLUMN")
    file = Path(path).expanduser()
    if not file.is_file():
        raise AnnError(f"data.path={path!r} is not a file; give the path of a CSV or TSV file")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise AnnError(f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8 CSV") from None
    if not text.strip():
        raise AnnError(f"{path} is empty; give a header row and one example per row")
    if file.suffix.lower() in (".tsv", ".tab"):
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","                       # one column, or nothing the sniffer can tell
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header, rows, lines = None, [], []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue                              # blank lines
        cells = [c.strip() for c in cells]
        if header is None:
            header = cells
            continue
        if len(cells) != len(header):
            raise AnnError(f"{path}, line {reader.line_num}: {len(cells)} cells but the header "
                           f"has {len(header)} columns; give every row one cell per column")
        rows.append(cells)
        lines.append(reader.line_num)
    if all(_number(h) is not None for h in header):
        raise AnnError(f"{path} has no header row (its first line is {','.join(header)[:60]!r}); "
                       "put the column names on the first line")
    if not all(header):
        raise AnnError(f"{path}: column {header.index('') + 1} of the header has no name; name "
                       "every column")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise AnnError(f"{path}: the header names column {twice[0]!r} twice; give every column "
                       "its own name")
    if not rows:
        raise AnnError(f"{path} has a header but no rows; give one example per row")
    return header, rows, lines


def _numeric(values: list[str], lines: list[int], name: str, path: str) -> np.ndarray | None:
    """The column as float64 with NaN where missing, or None when it holds words (categorical).
    A column mostly of numbers with a word in it is a mistake, named by its line."""
    present = [(v, n) for v, n in zip(values, lines) if v.lower() not in MISSING]
    parsed = [_number(v) for v, _ in present]
    words = [(v, n) for (v, n), p in zip(present, parsed) if p is None]
    if words and len(words) * 2 < len(present):
        v, n = words[0]
        raise AnnError(f"{path}, line {n}, column {name!r}: {v[:30]!r} is not a number, but the "
                       "column holds numbers; fix the cell or leave it empty (missing)")
    if words or not present:
        return None
    for p, (v, n) in zip(parsed, present):
        if not math.isfinite(p):
            raise AnnError(f"{path}, line {n}, column {name!r}: {v} is not a finite number; give "
                           "finite numbers (leave a cell empty if it is missing)")
    out = np.full(len(values), np.nan)
    out[[v.lower() not in MISSING for v in values]] = parsed
    return out


def _missing(values, lines, name: str, path: str):
    for v, n in zip(values, lines):
        if v is None or (isinstance(v, float) and math.isnan(v)) or (
                isinstance(v, str) and v.lower() in MISSING):
            raise AnnError(f"{path}, line {n}, column {name!r}: the value is missing; fill it in, "
                           "drop the row, or set data.missing=impute")


def _class_names(values: list[str], numbers: np.ndarray | None) -> list[str]:
    """Sorted class names: numerically when the labels are numbers (2 before 10)."""
    if numbers is None:
        return sorted(set(values))
    return [_label(v) for v in sorted(set(numbers.tolist()))]


def _label(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def split_rows(strata: np.ndarray, val_fraction: float, test_fraction: float, seed: int
               ) -> dict[str, np.ndarray]:
    """Sorted row indices per split. Each stratum is shuffled and its rows spread evenly over
    (0, 1); all rows sorted by that spread are dealt to test, then val, then train, so every
    split holds each stratum in proportion (a stratum of one row lands mid-way, in train while
    the held-out fractions sum below a half)."""
    n = len(strata)
    rng = np.random.RandomState(seed)
    key = np.empty(n)
    for s in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == s))
        key[members] = (np.arange(len(members)) + 0.5) / len(members)
    order = np.lexsort((rng.permutation(n), key))          # ties broken at random
    n_test = max(1, round(test_fraction * n))
    n_val = max(1, round(val_fraction * n))
    if n - n_test - n_val < 1:
        raise AnnError(f"the table has {n} rows: too few for a test, a validation and a training "
                       "part; give more rows or lower data.test_fraction / data.val_fraction")
    return {"test": np.sort(order[:n_test]), "val": np.sort(order[n_test:n_test + n_val]),
            "train": np.sort(order[n_test + n_val:])}


@functools.lru_cache(maxsize=8)
def _read_table(path: str, stamp: tuple, target: str, columns: tuple[str, ...],
                categorical: tuple[str, ...], target_kind: str, missing: str,
                val_fraction: float, test_fraction: float, split_seed: int) -> dict:
    """Every split of the table at once (cached: a run loads three splits, then evaluates)."""
    header, rows, lines = read_rows(path)
    listed = ", ".join(header)
    if not target:
        raise AnnError(f"{path} has columns {listed}; name the one to predict with "
                       "data.target=COLUMN")
    for name, key in [(target, "data.target")] + [(c, "data.columns") for c in columns] + [
            (c, "data.categorical") for c in categorical]:
        if name not in header:
            raise AnnError(f"{path} has no column {name!r} ({key}); its columns are {listed}")
    if target in columns or target in categorical:
        raise AnnError(f"data.target={target!r} is the column to predict; leave it out of "
                       "data.columns and data.categorical")
    features = list(columns) or [h for h in header if h != target]
    if not features:
        raise AnnError(f"{path} has no column besides the target {target!r}; give feature columns")
    if set(categorical) - set(features):
        raise AnnError(f"data.categorical names {sorted(set(categorical) - set(features))[0]!r}, "
                       "which is not a feature column (see data.columns)")
    cells = {h: [r[j] for r in rows] for j, h in enumerate(header)}

    # the target: classes or a number
    raw_y = cells[target]
    _missing(raw_y, lines, target, path)
    if target_kind == "class":             # numbers as labels sort as numbers (2 before 10)
        as_numbers = [_number(v) for v in raw_y]
        y_num = None if None in as_numbers else np.array(as_numbers)
    else:
        y_num = _numeric(raw_y, lines, target, path)
    if target_kind == "number" and y_num is None:
        v, n = next((v, n) for v, n in zip(raw_y, lines) if _number(v) is None)
        raise AnnError(f"{path}, line {n}, column {target!r}: {v[:30]!r} is not a number, but "
                       "data.target_kind=number; use data.target_kind=class or auto")
    if target_kind == "auto":
        few = y_num is not None and len(np.unique(y_num)) <= min(MAX_AUTO_CLASSES, len(y_num) // 2)
        is_class = y_num is None or (few and bool(np.all(y_num == np.round(y_num))))
    else:
        is_class = target_kind == "class"
    if is_class:
        names = _class_names(raw_y, y_num)
        labels = [_label(v) for v in y_num] if y_num is not None else raw_y
        index = {c: i for i, c in enumerate(names)}
        y = np.array([index[v] for v in labels], dtype=np.int64)
        strata = y
    else:
        y = y_num
        edges = np.quantile(y, np.linspace(0, 1, REGRESSION_STRATA + 1)[1:-1])
        strata = np.searchsorted(edges, y, side="right")
    parts = split_rows(strata, val_fraction, test_fraction, split_seed)
    if is_class:
        seen = set(y[parts["train"]].tolist())
        for split in ("test", "val"):
            unseen = [i for i in y[parts[split]].tolist() if i not in seen]
            if unseen:
                count = int((y == unseen[0]).sum())
                raise AnnError(f"{path}: class {names[unseen[0]]!r} of column {target!r} is in "
                               f"the {split} split but never in training (it has {count} "
                               f"row{'s' * (count != 1)}); give it more rows, drop them, or "
                               "change data.split_seed")
    train = parts["train"]

    # the features: numbers, or one-hot categories of the training part
    blocks, feature_names, categories, modes = [], [], {}, {}
    for name in features:
        raw = cells[name]
        numbers = None if name in categorical else _numeric(raw, lines, name, path)
        if missing == "refuse":
            _missing(raw, lines, name, path)
        if numbers is not None:
            known = numbers[train][~np.isnan(numbers[train])]
            if not len(known):
                raise AnnError(f"{path}, column {name!r}: no training row has a value; drop "
                               "the column (data.columns)")
            blocks.append(np.where(np.isnan(numbers), known.mean(), numbers)[:, None])
            feature_names.append(name)
            continue
        present = [raw[i] for i in train if raw[i].lower() not in MISSING]
        if not present:
            raise AnnError(f"{path}, column {name!r}: no training row has a value; drop the "
                           "column (data.columns)")
        values, counts = np.unique(present, return_counts=True)
        mode = str(values[np.argmax(counts)])
        column = [mode if v.lower() in MISSING else v for v in raw]
        levels = [str(v) for v in values]
        categories[name], modes[name] = levels, mode
        blocks.append(np.array([[v == c for c in levels] for v in column], dtype=np.float64))
        feature_names += [f"{name}={c}" for c in levels]
    x = np.concatenate(blocks, axis=1)                           # (N, D)
    mean, std = x[train].mean(0), x[train].std(0)
    std = np.where(std > 0, std, 1.0)                            # constant columns stay 0
    x = (x - mean) / std
    d = x.shape[1]
    info = {**TABLE_INFO, "path": str(Path(path).expanduser().resolve()), "target": target,
            "columns": features, "feature_names": feature_names, "missing": missing,
            "modes": modes, "in_features": d, "in_channels": d, "image_size": 1, "mean": mean.tolist(),
            "std": std.tolist(), "categories": categories,
            "target_kind": "class" if is_class else "number",
            "rows": {k: len(v) for k, v in parts.items()}}
    if is_class:
        info.update(task="classify", num_classes=len(names), classes=names,
                    fills=("in_features", "in_channels", "image_size", "num_classes"))
    else:
        info.update(task="regression", out_features=1,
                    fills=("in_features", "in_channels", "image_size", "out_features"))
    dtype = torch.int64 if is_class else torch.float32
    return {split: (torch.tensor(x[idx], dtype=torch.float32), torch.tensor(y[idx], dtype=dtype))
            for split, idx in parts.items()} | {"info": info}


@register_dataset("table", info=TABLE_INFO, embedded=True, options=TableOptions)
def load_table(split: str, path: str = "", target: str = "", columns: tuple[str, ...] = (),
               categorical: tuple[str, ...] = (), target_kind: str = "auto",
               missing: str = "refuse", val_fraction: float = 0.1, test_fraction: float = 0.2,
               split_seed: int = 0) -> ArrayDataset:
    """Split ``split`` of your CSV/TSV table ``path``, predicting column ``target``."""
    file = Path(path).expanduser() if path else None
    stat = file.stat() if file is not None and file.is_file() else None
    stamp = (stat.st_mtime_ns, stat.st_size) if stat else ()
    table = _read_table(path, stamp, target, tuple(columns), tuple(categorical), target_kind,
                        missing, val_fraction, test_fraction, split_seed)
    x, y = table[split]
    return ArrayDataset(x, y, copy.deepcopy(table["info"]))
