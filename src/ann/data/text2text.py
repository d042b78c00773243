"""Text-to-text datasets for T5: tasks told apart by a text prefix, and span-corruption text.

Every dataset uses one WordPiece vocabulary (:class:`~ann.data.tokenizers.WordPieceTokenizer`,
lowercased) for inputs and outputs, whose special tokens sit where T5's do: ``<pad>`` 0,
``</s>`` 1 (end), ``[UNK]`` 2, then the sentinels ``<extra_id_N-1>`` ... ``<extra_id_0>``, so
that ``<extra_id_i>`` is ``sentinel_id - i`` as in T5's vocabulary. The decoder starts from
``<pad>`` (``bos_id`` 0), as T5's does.

Each split of a text-to-text dataset is an :class:`~ann.data.base.ArrayDataset` with ``x`` the
input ids (N, S): prefix and text, then ``</s>``; and ``y`` the output ids (N, T): ``<pad>`` (the
decoder's start), the output, ``</s>``; both padded with ``<pad>``. ``info["tasks"]`` names each
task and the id of its prefix's first token (the model's ``tasks``, which the ``text2text``
evaluation uses to report every task apart); ``info["prefixes"]`` lists the prefixes.

* ``t5-tasks`` (embedded, generated): four tasks in one set, each with its own held-out examples
  (an input never appears in two splits): ``reverse: q h z`` -> ``z h q`` (3-8 letters),
  ``sort: 7 2 9`` -> ``2 7 9`` (3-8 digits), ``add: 47 + 38`` -> ``85`` (two numbers below 100),
  ``date: 2024-03-07`` -> ``7 march 2024`` (1900-2099). 8,000 / 250 / 500 examples per task
  train / val / test. The vocabulary has no merges: it is the characters (T5 itself reads digits
  one at a time in arithmetic, and character-level tasks learn in seconds on a CPU).
* ``multi30k-sst2``: two real tasks at once, ``translate German to English: <de>`` -> ``<en>``
  (Multi30k task 1, as :mod:`ann.data.translation`) and ``sst2 sentence: <s>`` -> ``positive`` /
  ``negative`` (SST-2, as :mod:`ann.data.sentences`: test = GLUE dev). The training mix is
  T5's examples-proportional mixing capped at 30,000 examples per task (section 3.5.2): all
  29,000 Multi30k pairs and the first 30,000 SST-2 training phrases in a fixed shuffle; val and
  test hold both tasks' whole splits. WordPiece of 8,192 pieces trained on the train texts.
* ``pydoc-spans`` (embedded): Python's documentation (:func:`ann.data.text.pydoc_text`, 90/5/5%
  train/val/test by characters as ``pydoc``) as rows of 63 consecutive WordPiece pieces (8,192,
  32 sentinels) and ``</s>``, for span-corruption pretraining (``x`` = ``y`` = the rows; the
  ``span_corrupt`` task makes inputs and targets).
"""

from __future__ import annotations

import calendar
import functools
import random
from pathlib import Path

import torch

from ..errors import AnnError
from ..registry import register_dataset
from .base import ArrayDataset
from .sources import data_dirs
from .tokenizers import WordPieceTokenizer
from .translation import pad_rows

PAD, EOS, UNK = 0, 1, 2


def t5_specials(n_sentinels: int) -> tuple[str, ...]:
    """``<pad> </s> [UNK]`` then the sentinels from ``<extra_id_N-1>`` down to ``<extra_id_0>``."""
    return ("<pad>", "</s>", "[UNK]", *(f"<extra_id_{i}>" for i in reversed(range(n_sentinels))))


def _ids(n_sentinels: int) -> dict:
    return {"pad_id": PAD, "eos_id": EOS, "bos_id": PAD, "unk_id": UNK,
            "sentinel_id": 2 + n_sentinels if n_sentinels else -1, "n_sentinels": n_sentinels}


def _train_tokenizer(texts, vocab_size: int, n_sentinels: int) -> WordPieceTokenizer:
    return WordPieceTokenizer.train(texts, vocab_size, specials=t5_specials(n_sentinels))


# ------------------------------------------------------------------------- generated tasks

TASK_PREFIXES = {"reverse": "reverse:", "sort": "sort:", "add": "add:", "date": "date:"}
PER_TASK = {"train": 8000, "val": 250, "test": 500}
_MONTHS = [m.lower() for m in calendar.month_name]  # "", "january", ...


def _reverse(rng: random.Random) -> tuple[str, str]:
    letters = [rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 8))]
    return " ".join(letters), " ".join(reversed(letters))


def _sort(rng: random.Random) -> tuple[str, str]:
    digits = [rng.choice("0123456789") for _ in range(rng.randint(3, 8))]
    return " ".join(digits), " ".join(sorted(digits))


def _add(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randrange(100), rng.randrange(100)
    return f"{a} + {b}", str(a + b)


def _date(rng: random.Random) -> tuple[str, str]:
    year, month = rng.randint(1900, 2099), rng.randint(1, 12)
    day = rng.randint(1, calendar.monthrange(year, month)[1])
    return f"{year:04d}-{month:02d}-{day:02d}", f"{day} {_MONTHS[month]} {year}"


GENERATORS = {"reverse": _reverse, "sort": _sort, "add": _add, "date": _date}


@functools.lru_cache(maxsize=1)
def task_examples(seed: int = 1910) -> dict[str, list[tuple[str, str, str]]]:
    """(task, input, output) of each split: per task, distinct inputs drawn with ``seed``, the
    first ``PER_TASK["val"]`` for val, the next ``PER_TASK["test"]`` for test, the rest for train;
    the train examples of all tasks are shuffled together."""
    rng = random.Random(seed)
    splits = {s: [] for s in PER_TASK}
    for task, make in GENERATORS.items():
        seen, examples = set(), []
        while len(examples) < sum(PER_TASK.values()):
            source, target = make(rng)
            if source not in seen:
                seen.add(source)
                examples.append((task, f"{TASK_PREFIXES[task]} {source}", target))
        a, b = PER_TASK["val"], PER_TASK["val"] + PER_TASK["test"]
        splits["val"] += examples[:a]
        splits["test"] += examples[a:b]
        splits["train"] += examples[b:]
    rng.shuffle(splits["train"])
    return splits


@functools.lru_cache(maxsize=1)
def _tasks_tokenizer() -> WordPieceTokenizer:
    texts = [t for _, s, o in task_examples()["train"] for t in (s, o)]
    # One more than the specials: no merge is learned, so the vocabulary is the characters.
    return _train_tokenizer(texts, len(t5_specials(0)) + 1, 0)


T5_TASKS_INFO = {
    "task": "text2text", **_ids(0), "vocab_size": 64, "max_src_len": 24, "max_tgt_len": 20,
    "prefixes": list(TASK_PREFIXES.values()),
    "description": "four generated text-to-text tasks told apart by a prefix (reverse:, sort:, "
                   "add:, date:), characters; 8,000 / 250 / 500 distinct examples per task",
    "source": "generated by ann (seeded); no download",
}


# ------------------------------------------------------------------------------ real tasks

M30K_SST2_PREFIXES = {"translate": "translate German to English:", "sst2": "sst2 sentence:"}
MIX_CAP = 30_000
M30K_SST2_INFO = {
    "task": "text2text", **_ids(0), "vocab_size": 8192, "max_src_len": 96, "max_tgt_len": 64,
    "prefixes": list(M30K_SST2_PREFIXES.values()),
    "description": "Multi30k German -> English and SST-2 sentiment as text to text in one set "
                   "(WordPiece 8,192, lowercased); test: Multi30k test_2016_flickr + GLUE dev",
    "source": "https://github.com/multi30k/dataset and https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
}


@functools.lru_cache(maxsize=2)
def _m30k_sst2_examples(dirs: tuple[Path, ...]) -> dict[str, list[tuple[str, str, str]]]:
    from .sentences import _sst2_splits
    from .translation import _multi30k_texts

    sst2 = _sst2_splits(dirs)
    labels = ("negative", "positive")
    out = {}
    for split in ("train", "val", "test"):
        de, en = _multi30k_texts(split, dirs)
        translate = [("translate", f"{M30K_SST2_PREFIXES['translate']} {d}", e)
                     for d, e in zip(de, en)]
        sentences, ys = sst2[split]
        sentiment = [("sst2", f"{M30K_SST2_PREFIXES['sst2']} {s.strip()}", labels[y])
                     for s, y in zip(sentences, ys)]
        if split == "train":
            rng = random.Random(0)
            rng.shuffle(sentiment)
            mixed = translate[:MIX_CAP] + sentiment[:MIX_CAP]
            rng.shuffle(mixed)
            out[split] = mixed
        else:
            out[split] = translate + sentiment
    return out


@functools.lru_cache(maxsize=2)
def _m30k_sst2_tokenizer(dirs: tuple[Path, ...]) -> WordPieceTokenizer:
    texts = [t for _, s, o in _m30k_sst2_examples(dirs)["train"] for t in (s, o)]
    return _train_tokenizer(texts, M30K_SST2_INFO["vocab_size"], 0)


# ------------------------------------------------------------------------------ the arrays

def task_first_ids(tok: WordPieceTokenizer, prefixes: dict[str, str]) -> str:
    """The model's ``tasks``: ``name=id`` of each prefix's first token, comma separated."""
    firsts = {name: tok.encode(prefix)[0] for name, prefix in prefixes.items()}
    if len(set(firsts.values())) != len(firsts):
        raise AnnError(f"task prefixes {list(prefixes.values())} share their first token; give "
                       "each task a prefix that starts differently")
    return ",".join(f"{name}={i}" for name, i in firsts.items())


def encode_pairs(tok, examples, max_src_len: int, max_tgt_len: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``ids </s>`` and outputs ``<pad> ids </s>``, cut to the limits and padded."""
    src = [tok.encode(s)[:max_src_len - 1] + [EOS] for _, s, _ in examples]
    tgt = [[PAD, *tok.encode(o)[:max_tgt_len - 2], EOS] for _, _, o in examples]
    return pad_rows(src, PAD), pad_rows(tgt, PAD)


def _dataset(examples, tok, static: dict, prefixes: dict[str, str]) -> ArrayDataset:
    x, y = encode_pairs(tok, examples, static["max_src_len"], static["max_tgt_len"])
    info = {**static, "vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(),
            "tasks": task_first_ids(tok, prefixes), "fills": ["tasks"]}
    return ArrayDataset(x, y, info)


@functools.lru_cache(maxsize=3)
def _t5_tasks(split: str) -> ArrayDataset:
    return _dataset(task_examples()[split], _tasks_tokenizer(), T5_TASKS_INFO, TASK_PREFIXES)


@register_dataset("t5-tasks", info=T5_TASKS_INFO, embedded=True)
def load_t5_tasks(split: str) -> ArrayDataset:
    """reverse:, sort:, add:, date: (generated); 8,000 / 250 / 500 examples per task."""
    return _t5_tasks(split)


@functools.lru_cache(maxsize=3)
def _m30k_sst2(split: str, dirs: tuple[Path, ...]) -> ArrayDataset:
    return _dataset(_m30k_sst2_examples(dirs)[split], _m30k_sst2_tokenizer(dirs), M30K_SST2_INFO,
                    M30K_SST2_PREFIXES)


@register_dataset("multi30k-sst2", info=M30K_SST2_INFO, embedded=False)
def load_multi30k_sst2(split: str) -> ArrayDataset:
    """Multi30k German -> English and SST-2 sentiment, both as text to text, in one set."""
    return _m30k_sst2(split, tuple(data_dirs()))


# --------------------------------------------------------------------------- span corruption

PYDOC_SPANS_ROW = 64  # 63 pieces and </s>
PYDOC_SENTINELS = 32
PYDOC_SPANS_INFO = {
    "task": "span_corrupt", **_ids(PYDOC_SENTINELS), "vocab_size": 8192,
    "max_src_len": PYDOC_SPANS_ROW, "max_tgt_len": 24,
    "description": "Python's documentation as rows of 63 WordPiece pieces (32 sentinels), for "
                   "T5 span corruption (embedded): 90/5/5% train/val/test",
    "source": "https://docs.python.org/3/ (the pydoc_data.topics module of the standard library)",
}


@functools.lru_cache(maxsize=1)
def _pydoc_tokenizer() -> WordPieceTokenizer:
    from .sentences import _pydoc_texts

    return _train_tokenizer(_pydoc_texts()["train"].splitlines(), PYDOC_SPANS_INFO["vocab_size"],
                            PYDOC_SENTINELS)


@functools.lru_cache(maxsize=3)
def _pydoc_spans(split: str) -> ArrayDataset:
    from .sentences import _pydoc_texts

    tok = _pydoc_tokenizer()
    ids = torch.tensor(tok.encode(_pydoc_texts()[split]), dtype=torch.int64)
    width = PYDOC_SPANS_ROW - 1
    n = len(ids) // width  # whole rows only: every row gets as many noise spans
    rows = torch.cat([ids[:n * width].view(n, width), torch.full((n, 1), EOS)], dim=1)
    info = {**PYDOC_SPANS_INFO, "vocab_size": tok.vocab_size, "tokenizer": tok.to_dict()}
    return ArrayDataset(rows, rows, info)


@register_dataset("pydoc-spans", info=PYDOC_SPANS_INFO, embedded=True)
def load_pydoc_spans(split: str) -> ArrayDataset:
    """Python's documentation as rows of 63 WordPiece pieces and </s> (span corruption)."""
    return _pydoc_spans(split)
