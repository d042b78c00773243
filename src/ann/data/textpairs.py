"""``text-pairs``: translation, or any text-to-text task, on sentence pairs of your own.

``ann train transformer-multi30k data.name=text-pairs data.path=pairs.tsv`` trains on a file of
one pair per line: ``source<TAB>target`` (a ``.csv`` file: ``source,target``, quoted where a
sentence holds a comma; another suffix: tab separated when its first line holds a tab). The same
works for the recurrent ``seq2seq-attn-*`` recipes and for T5 (``t5-*``, with ``data.prefix`` such
as ``"translate English to German:"`` put before every source); ``ann translate RUN "sentence"``
(T5: ``ann generate RUN --prompt "PREFIX sentence"``) and ``ann eval RUN`` find the file again
from the run's ``config.json``.

* Columns: when the first line names ``data.source`` and ``data.target`` (default ``source`` and
  ``target``, in any case) it is a header, and the columns are found by name; other columns are
  ignored, except one named ``split`` (``train``, ``val``/``valid``/``validation``/``dev``,
  ``test``) that places each pair. Without a header, each line holds exactly two columns: source,
  then target.
* Splits: a split column places the pairs (one that names no val or no test pairs has 10% of its
  train pairs each carved out, shuffled with ``data.split_seed``); without one the pairs are
  shuffled (``data.split_seed``, default 0) and cut 80/10/10 train/val/test.
* Tokens, as Multi30k's (:mod:`ann.data.translation`), for the models with a vocabulary per side
  (Transformer, seq2seq-attn): lowercased (``data.lowercase``) words and punctuation marks, or
  characters with ``data.tokenizer=char``; each side's vocabulary is the tokens seen at least
  ``data.min_freq`` times (default 2) in the training pairs, ids 0-3 ``<pad> <bos> <eos> <unk>``.
  For models with one vocabulary for input and output (T5): one WordPiece vocabulary of up to
  ``data.wordpiece_size`` pieces trained on the training pairs (``data.tokenizer=char``: the
  characters) with T5's ids (``<pad>`` 0, ``</s>`` 1, ``[UNK]`` 2), as :mod:`ann.data.text2text`.
  Either way the vocabulary comes from the training part only and is saved in the run
  (``tokenizer.json``).
* Lengths: pairs longer than the model's ``max_src_len`` / ``max_tgt_len`` (default 64 each, end
  tokens included) are cut; each split's ``info["cut"]`` counts them.

Bad input stops in one line naming the file and the line: a line without a tab (or with one
column), an empty source or target, bytes that are not UTF-8 (the byte is named), an empty file.
The file is read once per process while it stays unchanged (keyed by size and mtime).
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import field
from ..errors import AnnError
from ..registry import register_dataset
from .base import ArrayDataset
from .text2text import _ids as t5_ids
from .text2text import encode_pairs, t5_specials, task_first_ids
from .textfiles import PATH_HELP, SPLIT_NAMES
from .tokenizers import RegexTokenizer, TokenizerPair, WordPieceTokenizer
from .translation import SPECIAL_IDS, pad_rows

PAIR_SPLITS = (0.8, 0.1, 0.1)   # train, val, test without a split column
MAX_LEN = 64                    # the model's limits unless it sets its own
KINDS = ("word", "char")

INFO = {
    "task": "seq2seq", **SPECIAL_IDS, "max_src_len": MAX_LEN, "max_tgt_len": MAX_LEN,
    "tokenizer_kind": "word",
    # the model's settings the loader reads (None where the model has no such key): its limits,
    # and whether it has one vocabulary for both sides (T5's vocab_size)
    "model_keys": ("vocab_size", "max_src_len", "max_tgt_len"),
    "description": "your own sentence pairs: data.path=FILE.tsv of source<TAB>target lines "
                   "(a header names columns: data.source, data.target; a split column), "
                   "80/10/10 otherwise",
}


@dataclass
class TextPairsOptions:
    """The file of your own sentence pairs and how its sentences become tokens."""

    path: str = field("", PATH_HELP, path=True)
    source: str = field("source", "the column of the source sentences when the file's first line "
                        "is a header (text-pairs; no header: column 1)")
    target: str = field("target", "the column of the target sentences when the file's first line "
                        "is a header (text-pairs; no header: column 2)")
    split_seed: int = field(0, "seed of the shuffle that splits the pairs 80/10/10 without a "
                            "split column, or carves the val/test pairs it lacks (text-pairs)",
                            nonneg=True)
    lowercase: bool = field(True, "lowercase the sentences before they become tokens (text-pairs)")
    min_freq: int = field(2, "a token joins the vocabulary when the training pairs hold it at "
                          "least this often (text-pairs; 1: every token)", positive=True)
    wordpiece_size: int = field(8192, "most WordPiece pieces of the one vocabulary of a model "
                                "that has one for both sides, T5 (text-pairs)", positive=True)
    prefix: str = field("", "text put before every source for T5, e.g. 'translate English to "
                        "German:' (text-pairs)")


# ------------------------------------------------------------------------------ reading the file

def _text(path: Path) -> str:
    """The file's text; bytes that are not UTF-8 are named with their line and offset."""
    data = path.read_bytes()
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = e.start + bom
        line = data[:at].count(b"\n") + 1
        raise AnnError(f"{path}, line {line}: not UTF-8 text: byte {at} (0x{data[at]:02x}) is not "
                       "valid UTF-8; save the file as UTF-8") from None


def _delimiter(path: Path, first: str) -> str:
    if path.suffix.lower() == ".csv":
        return ","
    if path.suffix.lower() in (".tsv", ".tab", ".txt"):
        return "\t"
    return "\t" if "\t" in first else ","


def _rows(path: Path, text: str, sep: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every line that is not blank. A TSV is split at its tabs alone (a
    quote is part of a sentence); a CSV is read as CSV (quoted cells may hold commas)."""
    if sep == "\t":
        rows = [(n, [c.strip() for c in line.rstrip("\r").split("\t")])
                for n, line in enumerate(text.split("\n"), start=1)]
    else:
        reader = csv.reader(io.StringIO(text))
        try:
            rows, start = [], 1
            for cells in reader:
                rows.append((start, [c.strip() for c in cells]))
                start = reader.line_num + 1
        except csv.Error as e:
            raise AnnError(f"{path}, line {reader.line_num}: not readable CSV ({e}); quote "
                           "sentences that hold commas or quotes") from None
    return [(n, cells) for n, cells in rows if any(cells)]


def _columns(path: Path, rows, source: str, target: str, sep: str
             ) -> tuple[int, int, int | None, int]:
    """(source column, target column, split column or None, how many header lines)."""
    named = source != TextPairsOptions.source or target != TextPairsOptions.target
    first = rows[0][1]
    low = [c.lower() for c in first]                  # names match in any case
    if source.lower() in low and target.lower() in low:
        si = low.index("split") if "split" in low else None
        if len(rows) == 1:
            raise AnnError(f"{path} holds a header line but no pairs; write one "
                           f"{source}{_show(sep)}{target} pair per line under it")
        return low.index(source.lower()), low.index(target.lower()), si, 1
    if named:
        missing = [(c, k) for c, k in ((source, "data.source"), (target, "data.target"))
                   if c.lower() not in low]
        col, key = missing[0]
        raise AnnError(f"{path} has no column {col!r} ({key}) in its header line (line "
                       f"{rows[0][0]}: {', '.join(repr(c) for c in first)}); name the columns "
                       "there, or drop data.source and data.target for a file without a header")
    return 0, 1, None, 0


def _show(sep: str) -> str:
    return "<TAB>" if sep == "\t" else ","


@functools.lru_cache(maxsize=4)
def read_pairs(stamp: tuple, source: str, target: str
               ) -> tuple[list[tuple[str, str]], list[str | None]]:
    """The (source, target) pairs of the file and each pair's split from its split column (all
    None without one); a bad line stops with one line naming it."""
    path = Path(stamp[0])
    if not path.exists():
        raise AnnError(f"{path}: no such file; check data.path")
    if path.is_dir():
        raise AnnError(f"{path} is a folder; give a file of source{_show(chr(9))}target lines")
    text = _text(path)
    sep = _delimiter(path, text.split("\n", 1)[0])
    rows = _rows(path, text, sep)
    if not rows:
        raise AnnError(f"{path} is empty; write one source{_show(sep)}target pair per line")
    si, ti, pi, skip = _columns(path, rows, source, target, sep)
    width = len(rows[0][1]) if skip else 2
    pairs, places = [], []
    for n, cells in rows[skip:]:
        where = f"{path}, line {n}"
        if len(cells) == 1:
            what = "no tab" if sep == "\t" else "one column"
            raise AnnError(f"{where}: {what} ({cells[0][:40]!r}); write source{_show(sep)}target "
                           "on each line")
        if len(cells) != width and skip:
            raise AnnError(f"{where}: {len(cells)} columns, but the header names {width}; write "
                           "the header's columns on every line")
        if len(cells) != width:
            raise AnnError(f"{where}: {len(cells)} columns, but a file without a header holds two "
                           "(source, target); add a header line naming the columns (source, "
                           "target, split), or remove the extra separators")
        for i, side, name in ((si, "source", source), (ti, "target", target)):
            if not cells[i]:
                col = f" (column {name!r})" if skip else f" (column {i + 1})"
                raise AnnError(f"{where}: empty {side}{col}; give every pair both sentences "
                               "(or delete the line)")
        if pi is not None:
            place = SPLIT_NAMES.get(cells[pi].lower())
            if place is None:
                raise AnnError(f"{where}: split {cells[pi]!r} is not train, val or test")
            places.append(place)
        else:
            places.append(None)
        pairs.append((cells[si], cells[ti]))
    return pairs, places


def _cut(rows: list[int], shares: tuple[float, ...], g: torch.Generator) -> list[list[int]]:
    """``rows`` shuffled by ``g`` and cut into parts of the given shares (each at least one,
    the first part keeping at least one)."""
    rows = [rows[j] for j in torch.randperm(len(rows), generator=g).tolist()]
    sizes = [max(1, int(len(rows) * s + 0.5)) for s in shares]
    out, start = [], 0
    for n in sizes:
        out.append(rows[start:start + n])
        start += n
    return [rows[start:], *out]


@functools.lru_cache(maxsize=4)
def pair_splits(stamp: tuple, source: str, target: str, split_seed: int
                ) -> dict[str, list[tuple[str, str]]]:
    """split -> its (source, target) pairs, in the file's order."""
    path = Path(stamp[0])
    pairs, places = read_pairs(stamp, source, target)
    g = torch.Generator().manual_seed(split_seed)
    if all(p is None for p in places):
        if len(pairs) < 3:
            raise AnnError(f"{path}: {len(pairs)} pairs are too few to hold out validation and "
                           "test pairs; give at least 3 (hundreds to learn anything), or a split "
                           "column (train/val/test)")
        train, val, test = _cut(list(range(len(pairs))), PAIR_SPLITS[1:], g)
        places = ["train"] * len(pairs)
        for i in val:
            places[i] = "val"
        for i in test:
            places[i] = "test"
    else:
        places = list(places)
        missing = [s for s in ("val", "test") if s not in places]
        train = [i for i, p in enumerate(places) if p == "train"]
        if missing and len(train) < 1 + len(missing):
            raise AnnError(f"{path}: its split column names no {' and no '.join(missing)} pairs and "
                           f"{len(train)} train pairs, too few to carve them from; mark some pairs "
                           f"{' and '.join(missing)}")
        if missing:
            shares = tuple(PAIR_SPLITS[("train", "val", "test").index(s)] for s in missing)
            for s, part in zip(missing, _cut(train, shares, g)[1:]):
                for i in part:
                    places[i] = s
        if "train" not in places:
            raise AnnError(f"{path}: its split column names no train pairs; mark some pairs train")
    return {s: [pr for pr, p in zip(pairs, places) if p == s] for s in ("train", "val", "test")}


# -------------------------------------------------------------------------------- the tokens

def _prefixed(prefix: str, text: str) -> str:
    return f"{prefix.strip()} {text}" if prefix.strip() else text


@functools.lru_cache(maxsize=4)
def pair_tokenizer(stamp: tuple, source: str, target: str, split_seed: int, kind: str,
                   lowercase: bool, min_freq: int, shared: bool, wordpiece_size: int,
                   prefix: str):
    """The run's tokenizer, trained on the training pairs only: a :class:`TokenizerPair` of
    word (or character) vocabularies, or one T5 WordPiece vocabulary when ``shared``."""
    train = pair_splits(stamp, source, target, split_seed)["train"]
    if shared:
        texts = [t for s, o in train for t in (_prefixed(prefix, s), o)]
        size = len(t5_specials(0)) + 1 if kind == "char" else wordpiece_size  # char: no merges
        return WordPieceTokenizer.train(texts, size, specials=t5_specials(0), lowercase=lowercase,
                                        min_frequency=min_freq)
    pattern = RegexTokenizer.CHARS if kind == "char" else RegexTokenizer.WORDS
    return TokenizerPair(
        RegexTokenizer.train([s for s, _ in train], min_freq, pattern, lowercase),
        RegexTokenizer.train([t for _, t in train], min_freq, pattern, lowercase))


def _task_name(prefix: str) -> str:
    """A name for the one task of a prefix: its first word ("translate English to German:" ->
    "translate")."""
    words = re.findall(r"\w+", prefix.lower())
    return words[0] if words else "task"


def _check(path: str, tokenizer: str | None, shared: bool, prefix: str) -> str:
    if not path:
        raise AnnError("text-pairs needs your pairs: data.path=FILE.tsv of source<TAB>target "
                       "lines (or a .csv of source,target)")
    kind = tokenizer or INFO["tokenizer_kind"]
    if kind not in KINDS:
        raise AnnError(f"data.tokenizer={kind!r}: text-pairs takes word (the default) or char")
    if prefix.strip() and not shared:
        raise AnnError("data.prefix is for models with one vocabulary for input and output "
                       "(T5), where it names the task; this model reads a vocabulary per side, "
                       "so drop data.prefix")
    return kind


@register_dataset("text-pairs", info=INFO, embedded=True, options=TextPairsOptions)
def load_text_pairs(split: str, path: str = "", source: str = "source", target: str = "target",
                    split_seed: int = 0, lowercase: bool = True, min_freq: int = 2,
                    wordpiece_size: int = 8192, prefix: str = "", tokenizer: str | None = None,
                    vocab_size: int | None = None, max_src_len: int | None = None,
                    max_tgt_len: int | None = None) -> ArrayDataset:
    """Your own sentence pairs (``data.path``): a split column, or 80/10/10. ``vocab_size`` is
    the model's (given only when it has one vocabulary for both sides: T5); ``max_src_len`` and
    ``max_tgt_len`` its limits."""
    shared = vocab_size is not None
    kind = _check(path, tokenizer, shared, prefix)
    file = Path(path).expanduser()
    stamp = (str(file.resolve()), *((file.stat().st_size, file.stat().st_mtime_ns)
                                    if file.is_file() else ()))
    pairs = pair_splits(stamp, source, target, split_seed)[split]
    tok = pair_tokenizer(stamp, source, target, split_seed, kind, lowercase, min_freq, shared,
                         wordpiece_size if shared else 0, prefix.strip() if shared else "")
    ls, lt = max_src_len or MAX_LEN, max_tgt_len or MAX_LEN
    info = {**INFO, "source": str(file), "tokenizer_kind": kind, "tokenizer": tok.to_dict()}
    if shared:
        examples = [("", _prefixed(prefix, s), t) for s, t in pairs]
        x, y = encode_pairs(tok, examples, ls, lt)
        lengths = [(len(tok.encode(s)) + 1, len(tok.encode(t)) + 2) for _, s, t in examples]
        ids = t5_ids(0)
        info.update({"task": "text2text", **ids, "vocab_size": tok.vocab_size,
                     "tokenizer_kind": "char" if kind == "char" else "wordpiece",
                     "prefixes": [prefix.strip()] if prefix.strip() else [],
                     "tasks": (task_first_ids(tok, {_task_name(prefix): prefix.strip()})
                               if prefix.strip() else ""),
                     "fills": (*ids, "tasks")})
    else:
        bos, eos = RegexTokenizer.bos_id, RegexTokenizer.eos_id
        src = [tok.source.encode(s) + [eos] for s, _ in pairs]
        tgt = [[bos, *tok.target.encode(t), eos] for _, t in pairs]
        lengths = [(len(a), len(b)) for a, b in zip(src, tgt)]
        src = [row if len(row) <= ls else row[:ls - 1] + [eos] for row in src]
        tgt = [row if len(row) <= lt else row[:lt - 1] + [eos] for row in tgt]
        x, y = pad_rows(src, RegexTokenizer.pad_id), pad_rows(tgt, RegexTokenizer.pad_id)
        info.update({"src_vocab_size": tok.source.vocab_size,
                     "tgt_vocab_size": tok.target.vocab_size,
                     "fills": tuple(SPECIAL_IDS)})
    info["cut"] = sum(a > ls or b > lt for a, b in lengths)
    return ArrayDataset(x, y, info)
