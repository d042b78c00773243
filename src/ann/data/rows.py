"""New rows for a run trained on rows: what ``ann predict RUN rows.csv`` reads.

A run whose data are rows of features (a table of your own, ``data.name=table``; the built-in
tables of ``tabular.py``; ``breast-cancer-anomaly``) records in ``data.json`` how a row became the
model's input: ``feature_names`` (the D inputs, in order), ``mean`` and ``std`` (D each, of the
training part) and, for a table of your own, ``columns`` (the feature columns), ``categories``
(each word column's training categories, one-hot encoded as ``COLUMN=VALUE``), ``missing``
(``refuse`` or ``impute``) and ``modes`` (each word column's commonest training value). New rows
are encoded the same way from either file:

* a CSV/TSV file with a header row, read as the table source reads one (delimiter sniffed,
  ``.tsv`` tabs): every feature column must be there, in any order; other columns (the target
  among them) are ignored here and handed back as ``target`` when the run's target column is one
  of them. A word must be one of the training categories of its column; a missing cell (empty,
  ``NA``, ``?``, ...) is refused unless the run was trained with ``data.missing=impute`` (then
  the training mean or commonest value, as in training);
* a ``.npy`` array (N, D) (or one row, (D,)) of the D encoded features on the file's own scale
  (one-hot columns 0 or 1), in the order of ``feature_names``.

Every mistake stops with one line naming the file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import AnnError, CorruptFile
from .table import MISSING, _label, _number, read_rows


@dataclass
class NewRows:
    """Encoded rows and what came with them.

    Shapes:
        x (N, D) float32, standardised as the training rows were.
    """

    x: torch.Tensor
    lines: list[int] | None = None      # the file line of each row (CSV), for messages
    target: list[str] | None = None     # the cells of the run's target column, when present
    target_name: str = ""


def describes_rows(info: dict) -> bool:
    """Whether a run's data facts say how a row of features becomes its input."""
    names, mean = info.get("feature_names"), info.get("mean")
    return isinstance(names, list) and isinstance(mean, list) and len(names) == len(mean)


def feature_columns(info: dict) -> list[str]:
    """The file columns a row is read from, in order: ``columns`` where the run recorded them,
    else the feature names with each one-hot group ``COLUMN=VALUE`` read as its column."""
    if "columns" in info:
        return list(info["columns"])
    categories, out = info.get("categories", {}), []
    for name in info["feature_names"]:
        column = name.split("=", 1)[0] if "=" in name else name
        column = column if column in categories else name
        if column not in out:
            out.append(column)
    return out


def read_new_rows(path, info: dict) -> NewRows:
    """The rows of ``path`` (CSV/TSV or ``.npy``, see the module docstring) encoded for a run
    whose data facts are ``info``."""
    file = Path(path)
    if not file.is_file():
        raise AnnError(f"{path}: no such file; give a CSV or TSV file with a header row (or a "
                       ".npy array of rows)")
    if file.suffix.lower() == ".npy":
        return NewRows(_standardise(_npy_rows(file, info), info))
    header, rows, lines = read_rows(str(file))
    columns = feature_columns(info)
    absent = [c for c in columns if c not in header]
    if absent:
        raise AnnError(f"{path} has no column {absent[0]!r}, which the run reads; it reads "
                       f"{', '.join(columns)} (the file has {', '.join(header)})")
    categories = info.get("categories", {})
    names = info["feature_names"]
    blocks = []
    for column in columns:
        cells = [r[header.index(column)] for r in rows]
        where = (str(path), lines, column)
        if column in categories:
            blocks.append(_one_hot(cells, categories[column], info.get("modes", {}).get(column),
                                   info.get("missing") == "impute", where))
        else:
            mean = info["mean"][names.index(column)]
            blocks.append(_numbers(cells, mean if info.get("missing") == "impute" else None,
                                   where)[:, None])
    x = np.concatenate(blocks, axis=1)                            # (N, D)
    if x.shape[1] != len(info["mean"]):
        raise CorruptFile(f"the run's data.json lists {len(info['mean'])} features but its "
                          f"columns encode {x.shape[1]}; it is damaged")
    target = info.get("target", "")
    cells = [r[header.index(target)] for r in rows] if target in header else None
    return NewRows(_standardise(x, info), lines, cells, target)


def _missing_cell(text: str) -> bool:
    return text.lower() in MISSING


def _refuse_missing(where, i: int):
    path, lines, column = where
    raise AnnError(f"{path}, line {lines[i]}, column {column!r}: the value is missing; fill it in "
                   "or drop the row (the run was trained with data.missing=refuse)")


def _numbers(cells: list[str], fill: float | None, where) -> np.ndarray:
    """A numeric column as float64 (N,); missing cells take ``fill`` (``None``: refused)."""
    path, lines, column = where
    out = np.empty(len(cells))
    for i, text in enumerate(cells):
        if _missing_cell(text):
            if fill is None:
                _refuse_missing(where, i)
            out[i] = fill
            continue
        value = _number(text)
        if value is None or not np.isfinite(value):
            raise AnnError(f"{path}, line {lines[i]}, column {column!r}: {text[:30]!r} is not a "
                           "finite number, but the run read the column as numbers; fix the cell")
        out[i] = value
    return out


def _one_hot(cells: list[str], levels: list[str], mode: str | None, impute: bool,
             where) -> np.ndarray:
    """A word column as its one-hot block (N, len(levels)) over the training categories."""
    path, lines, column = where
    index = {v: j for j, v in enumerate(levels)}
    codes = np.empty(len(cells), dtype=np.int64)
    for i, text in enumerate(cells):
        if _missing_cell(text):
            if not impute or mode is None:
                _refuse_missing(where, i)
            text = mode
        if text not in index:
            known = ", ".join(levels[:12]) + (", ..." if len(levels) > 12 else "")
            raise AnnError(f"{path}, line {lines[i]}, column {column!r}: {text[:30]!r} is not a "
                           f"category the run was trained on ({known}); use one of those")
        codes[i] = index[text]
    return np.eye(len(levels))[codes]


def _npy_rows(file: Path, info: dict) -> np.ndarray:
    names = info["feature_names"]
    try:
        a = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise AnnError(f"{file} is not a readable .npy array ({e}); save rows with numpy.save"
                       ) from None
    a = a[None] if a.ndim == 1 else a
    if a.ndim != 2 or a.shape[1] != len(names) or not np.issubdtype(a.dtype, np.number):
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise AnnError(f"{file} holds a {a.dtype} array of shape {tuple(a.shape)}; give rows of "
                       f"the {len(names)} features ({shown}), shape (N, {len(names)})")
    if len(a) == 0:
        raise AnnError(f"{file} holds no rows; give at least one")
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        raise AnnError(f"{file}: row {bad[0][0]}, feature {names[bad[0][1]]!r} is not a finite "
                       "number; give finite numbers")
    return a.astype(np.float64)


def _standardise(x: np.ndarray, info: dict) -> torch.Tensor:
    """(x - mean) / std with the training statistics, as float32 (N, D)."""
    mean, std = np.asarray(info["mean"], np.float64), np.asarray(info["std"], np.float64)
    return torch.tensor((x - mean) / std, dtype=torch.float32)


def class_index(cells: list[str], lines: list[int], classes: list[str], column: str, path
                ) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose target cell is filled and their class indices, for a file that holds the
    target column: (M,) row positions and (M,) indices. A label that is not one of ``classes``
    is refused, naming its line (numbers are matched as the table source labels them: 2.0 is
    class 2)."""
    index = {c: j for j, c in enumerate(classes)}
    rows, labels = [], []
    for i, text in enumerate(cells):
        if _missing_cell(text):
            continue
        label = text if text in index or _number(text) is None else _label(_number(text))
        if label not in index:
            known = ", ".join(classes[:12]) + (", ..." if len(classes) > 12 else "")
            raise AnnError(f"{path}, line {lines[i]}, column {column!r}: {text[:30]!r} is not one "
                           f"of the run's classes ({known}); fix it or leave the cell empty")
        rows.append(i)
        labels.append(index[label])
    return np.asarray(rows, dtype=np.int64), np.asarray(labels, dtype=np.int64)


def target_numbers(cells: list[str], lines: list[int], column: str, path
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose target cell is filled and its values, for a regression run: (M,) row
    positions and (M,) float64 values; a cell that is not a number is refused."""
    rows, values = [], []
    for i, text in enumerate(cells):
        if _missing_cell(text):
            continue
        value = _number(text)
        if value is None or not np.isfinite(value):
            raise AnnError(f"{path}, line {lines[i]}, column {column!r}: {text[:30]!r} is not a "
                           "finite number; fix it or leave the cell empty")
        rows.append(i)
        values.append(value)
    return np.asarray(rows, dtype=np.int64), np.asarray(values, dtype=np.float64)
