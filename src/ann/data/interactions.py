"""``interactions``: recommendation (LightGCN, matrix factorisation) on a file of your own.

``ann train lightgcn-synthetic data.name=interactions data.path=ratings.csv`` reads a CSV file
of one interaction per line, ``user,item`` or ``user,item,rating`` (further columns, such as a
timestamp, are ignored; quote an id holding a comma). User and item ids are any names, kept as
written: ``ann recommend RUN --user NAME`` takes and prints them. The first line is a header
when its first two cells start with ``user`` and ``item`` (``userId,movieId`` does not:
``user_id,item_id`` does), or when its rating cell is not a number (``userId,movieId,rating``);
blank lines are skipped. ``data.min_rating`` keeps the rows rated at least that (a file
without a rating column keeps every row); a pair written twice counts once.

Each user's interactions are split as the built-in sets are (``ann.data.recsys.Interactions``):
shuffled (``data.split_seed``) and cut 70% train, 10% validation, 20% test. A user with fewer
than 4 interactions keeps them all for training (4 hold one out for validation, 5 and 6 one for
testing, 7 or more one of each): such a user is still recommended to, but not scored
(``train_only_users`` in the run's ``data.json`` counts them). An item that only held-out
interactions name has no training interaction, and ranks where its untrained embedding puts it.
A file with no user left to validate or to test on stops with one line.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import field
from ..errors import AnnError
from ..registry import register_dataset
from .recsys import BPRTriples, Interactions, RankingSplit

INFO = {"task": "recommend",
        "description": "your own interactions: data.path=FILE.csv of 'user,item[,rating]' rows"}


@dataclass
class InteractionsOptions:
    """The file of your own interactions and which of them count."""

    path: str = field("", "a file of your own to train on, for datasets that accept one",
                      path=True)
    min_rating: float | None = field(None, "keep only the interactions rated at least this "
                                     "(interactions files with a rating column; none: keep all)")
    split_seed: int = field(0, "seed of the shuffle that splits each user's interactions",
                            nonneg=True)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_header(cells: list[str]) -> bool:
    low = [c.lower() for c in cells]
    if low[0].startswith("user") and low[1].startswith("item"):
        return True
    return len(cells) > 2 and _number(cells[2]) is None


def read_interactions(path: Path, min_rating: float | None = None
                      ) -> tuple[list[tuple[str, str]], bool]:
    """The ``(user, item)`` rows of an interactions file that count, and whether it has a rating
    column (see the module); a bad row stops with one line naming its line."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, [c.strip() for c in cells]) for cells in reader]
    except UnicodeDecodeError as e:
        raise AnnError(f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8 CSV") from None
    except csv.Error as e:
        raise AnnError(f"{path} is not a readable CSV file ({e}); write one row per line") from None
    rows = [(n, cells) for n, cells in rows if any(cells)]
    if not rows:
        raise AnnError(f"{path} is empty; write one 'user,item' or 'user,item,rating' row per "
                       "interaction")
    width = len(rows[0][1])
    if width < 2:
        raise AnnError(f"{path}, line {rows[0][0]}: one column; write 'user,item' or "
                       "'user,item,rating' per line")
    if _is_header(rows[0][1]):
        rows = rows[1:]
    rated = width > 2
    if min_rating is not None and not rated:
        raise AnnError(f"data.min_rating={min_rating:g} but {path} has no rating column; drop "
                       "data.min_rating or add ratings ('user,item,rating')")
    kept = []
    for line, cells in rows:
        if len(cells) != width or not all(cells[:3]):
            raise AnnError(f"{path}, line {line}: {','.join(cells)[:60]!r} has "
                           f"{sum(1 for c in cells if c)} of the file's {width} columns; write "
                           f"{'user,item,rating' if rated else 'user,item'} on every line")
        if rated:
            rating = _number(cells[2])
            if rating is None:
                raise AnnError(f"{path}, line {line}: rating {cells[2]!r} is not a number; "
                               "write 'user,item,rating' with a numeric rating")
            if min_rating is not None and rating < min_rating:
                continue
        kept.append((cells[0], cells[1]))
    if not kept:
        said = f" rated at least {min_rating:g} (data.min_rating)" if min_rating is not None else ""
        raise AnnError(f"{path} holds no interactions{said}; write one 'user,item' row per "
                       "interaction")
    return kept, rated


def _ids(names) -> tuple[list[str], dict[str, int]]:
    """Names in the order they first appear, and each name's index."""
    order = list(dict.fromkeys(names))
    return order, {n: i for i, n in enumerate(order)}


@functools.lru_cache(maxsize=2)
def _read(path: Path, min_rating: float | None, split_seed: int, stamp: tuple
          ) -> tuple[Interactions, dict]:
    rows, rated = read_interactions(path, min_rating)
    users, user_index = _ids(u for u, _ in rows)
    items, item_index = _ids(i for _, i in rows)
    pairs = torch.tensor([(user_index[u], item_index[i]) for u, i in rows], dtype=torch.long)
    data = Interactions(pairs, len(users), len(items), split_seed)
    for split in ("val", "test"):
        if len(data.split[split]) == 0:
            raise AnnError(f"{path}: no user has interactions left for the {split} split "
                           f"({len(pairs)} interactions of {len(users)} users); each user's are "
                           "cut 70/10/20% for train/val/test, so a user needs at least 4 to hold "
                           "one out and 7 to have one in each split")
    held = torch.unique(torch.cat([data.split["val"][:, 0], data.split["test"][:, 0]]))
    info = {**INFO, "num_users": len(users), "num_items": len(items), "users": users,
            "items": items, "rated": rated, "interactions": len(data.split["train"])
            + len(data.split["val"]) + len(data.split["test"]),
            "train_only_users": len(users) - len(held), "fills": ("num_users", "num_items")}
    return data, info


def _check_file(path: str) -> Path:
    if not path:
        raise AnnError("dataset 'interactions' needs your file: data.path=FILE.csv of "
                       "'user,item[,rating]' rows")
    file = Path(path).expanduser()
    if not file.is_file():
        raise AnnError(f"data.path={path!r} is not a file; give the path of a CSV file of "
                       "'user,item[,rating]' rows")
    return file


@register_dataset("interactions", info=INFO, embedded=True, options=InteractionsOptions)
def load_interactions(split: str, path: str = "", min_rating: float | None = None,
                      split_seed: int = 0):
    """Your own interactions (``data.path``); see the module."""
    file = _check_file(path)
    s = file.stat()
    data, info = _read(file.resolve(), min_rating, split_seed, (s.st_size, s.st_mtime_ns))
    info = dict(info)
    return BPRTriples(data, info) if split == "train" else RankingSplit(data, split, info)
