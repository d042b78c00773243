"""Recommendation data: users, items and the interactions between them, split per user into
training interactions and held-out ones (the truth a recommender must rank high).

* ``recsys-synthetic`` (generated, embedded): users in planted taste groups, each group liking
  its own set of items; popular items are liked across groups. The held-out truth is known, so a
  recommender can be scored offline.
* ``movielens-100k`` (GroupLens; may not be redistributed, so not in the offline set): ratings
  of 4 or 5 count as interactions. Read from ``$ANN_DATA_DIR/movielens-100k/`` (``u.data`` or
  ``ml-100k.zip``), else downloaded from GroupLens where a network exists.

Each user's interactions are split at random (seed 0): 70% train, 10% validation, 20% test.
Training batches are BPR triples ``(edge_index, users, positives, negatives)`` with the negative
drawn uniformly among the user's non-interacted items (from torch's global RNG, which the engine
seeds and checkpoints); evaluation batches are users with their held-out items,
``(edge_index, users, truth, seen)``, truth and seen (B, num_items) bool.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import CorruptFile
from ..registry import register_dataset
from ..split import Split
from .sources import RemoteFile, data_dirs, fetch


class Interactions:
    """All interactions with the per-user split. ``pairs`` (E, 2) int64 [user, item]."""

    def __init__(self, pairs: torch.Tensor, num_users: int, num_items: int, seed: int = 0):
        self.num_users, self.num_items = num_users, num_items
        g = torch.Generator().manual_seed(seed)
        pairs = torch.unique(pairs, dim=0)                       # one interaction per pair
        keys = torch.rand(len(pairs), generator=g)
        order = torch.argsort(pairs[:, 0] * 2 + keys)            # by user, random within a user
        pairs = pairs[order]
        counts = torch.bincount(pairs[:, 0], minlength=num_users)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.arange(len(pairs)) - starts[pairs[:, 0]]    # position within its user
        frac = rank.float() / counts[pairs[:, 0]].float()
        self.split = {"train": pairs[frac < 0.7], "val": pairs[(frac >= 0.7) & (frac < 0.8)],
                      "test": pairs[frac >= 0.8]}
        self.edge_index = self.split["train"].T.contiguous()     # (2, E_train) [user; item]
        self.seen = torch.zeros(num_users, num_items, dtype=torch.bool)
        self.seen[self.split["train"][:, 0], self.split["train"][:, 1]] = True

    def info(self, base: dict[str, Any]) -> dict[str, Any]:
        return {**base, "num_users": self.num_users, "num_items": self.num_items}


class BPRTriples(Split):
    """Training split: one example per training interaction; batches are BPR triples."""

    collated = True
    random_batches = True          # fresh negatives from the global generator each step

    def __init__(self, data: Interactions, info: dict[str, Any]):
        self.data, self.info = data, info
        self.pairs = data.split["train"]

    def __len__(self) -> int:
        return len(self.pairs)

    def batch(self, index) -> tuple[torch.Tensor, ...]:
        pairs = self.pairs[index]
        users, pos = pairs[:, 0], pairs[:, 1]
        neg = torch.randint(0, self.data.num_items, (len(users),))
        for _ in range(5):                                       # resample the few collisions
            clash = self.data.seen[users, neg]
            if not clash.any():
                break
            neg[clash] = torch.randint(0, self.data.num_items, (int(clash.sum()),))
        return self.data.edge_index, users, pos, neg


class RankingSplit(Split):
    """Validation or test split: one example per user with held-out items."""

    collated = True

    def __init__(self, data: Interactions, split: str, info: dict[str, Any]):
        self.data, self.info = data, info
        held = data.split[split]
        self.truth = torch.zeros(data.num_users, data.num_items, dtype=torch.bool)
        self.truth[held[:, 0], held[:, 1]] = True
        self.users = torch.unique(held[:, 0])

    def __len__(self) -> int:
        return len(self.users)

    def batch(self, index) -> tuple[torch.Tensor, ...]:
        users = self.users[index]
        return self.data.edge_index, users, self.truth[users], self.data.seen[users]


def _splits(data: Interactions, split: str, info: dict):
    info = data.info(info)
    return BPRTriples(data, info) if split == "train" else RankingSplit(data, split, info)


# --- generated: planted taste groups ------------------------------------------------------------------

SYNTHETIC_INFO = {"task": "recommend", "num_users": 600, "num_items": 400}


def synthetic_interactions(num_users: int = 600, num_items: int = 400, groups: int = 8,
                           per_user: int = 30, seed: int = 0) -> Interactions:
    """Each user belongs to one of ``groups`` taste groups; each group owns ``num_items /
    groups`` items. A user's interactions: 80% from the group's items, 20% from all items with
    Zipf-like popularity (so a popularity ranking is a real but weak baseline)."""
    g = torch.Generator().manual_seed(seed)
    group_of = torch.randint(0, groups, (num_users,), generator=g)
    own = num_items // groups
    popularity = 1.0 / torch.arange(1, num_items + 1).float() ** 0.8
    popularity = popularity[torch.randperm(num_items, generator=g)]
    pairs = []
    for u in range(num_users):
        k_own = int(0.8 * per_user)
        weights = popularity[group_of[u] * own:(group_of[u] + 1) * own] + 0.02
        mine = torch.multinomial(weights, k_own, replacement=False, generator=g) + group_of[u] * own
        other = torch.multinomial(popularity, per_user - k_own, replacement=False, generator=g)
        items = torch.cat([mine, other])
        pairs.append(torch.stack([torch.full_like(items, u), items], dim=1))
    return Interactions(torch.cat(pairs), num_users, num_items, seed)


_SYNTH: list[Interactions] = []


@register_dataset("recsys-synthetic", info=SYNTHETIC_INFO, embedded=True)
def load_recsys_synthetic(split: str):
    if not _SYNTH:
        _SYNTH.append(synthetic_interactions())
    return _splits(_SYNTH[0], split, SYNTHETIC_INFO)


# --- MovieLens 100k -----------------------------------------------------------------------------------

MOVIELENS_INFO = {"task": "recommend", "num_users": 943, "num_items": 1682}
# The official zip and the MD5 GroupLens publishes beside it (ml-100k.zip.md5).
MOVIELENS_ZIP = RemoteFile("ml-100k.zip", "", ("https://files.grouplens.org/datasets/movielens/"
                                              "ml-100k.zip",), md5="0e33842e24a9c977be4e0107933c0723")


def read_movielens(text: str, min_rating: int = 4) -> Interactions:
    """Interactions from ``u.data`` text: ``user<TAB>item<TAB>rating<TAB>timestamp`` per line,
    1-based ids; ratings of at least ``min_rating`` count."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            user, item, rating = int(parts[0]), int(parts[1]), float(parts[2])
        except (ValueError, IndexError):
            raise CorruptFile(f"MovieLens u.data, line {number}: {line[:60]!r} is not 'user item "
                              "rating timestamp'; place the original file there") from None
        if user < 1 or item < 1:
            raise CorruptFile(f"MovieLens u.data, line {number}: ids start at 1, got {line[:40]!r}")
        if rating >= min_rating:
            rows.append((user - 1, item - 1))
    if not rows:
        raise CorruptFile("MovieLens u.data holds no ratings of 4 or more; place the original file")
    pairs = torch.tensor(rows, dtype=torch.long)
    return Interactions(pairs, int(pairs[:, 0].max()) + 1, int(pairs[:, 1].max()) + 1)


_MOVIELENS: dict[str, Interactions] = {}


def movielens() -> Interactions:
    plain = next((d / "movielens-100k" / "u.data" for d in data_dirs()
                  if (d / "movielens-100k" / "u.data").is_file()), None)
    if plain is not None:
        key, text = str(plain), None
    else:
        path = fetch("movielens-100k", "movielens-100k", [MOVIELENS_ZIP])["ml-100k.zip"]
        key, text = str(path), None
    if key not in _MOVIELENS:
        if plain is not None:
            text = plain.read_text(encoding="latin-1")
        else:
            with zipfile.ZipFile(Path(key)) as z:
                text = io.TextIOWrapper(z.open("ml-100k/u.data"), encoding="latin-1").read()
        _MOVIELENS[key] = read_movielens(text)
    return _MOVIELENS[key]


@register_dataset("movielens-100k", info=MOVIELENS_INFO, embedded=False)
def load_movielens(split: str):
    data = movielens()
    return _splits(data, split, {**MOVIELENS_INFO, "fills": ("num_users", "num_items")})
