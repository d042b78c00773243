"""Text of your own: plain-text files for language models, a table of texts and labels for
text classifiers.

* ``text-file``: ``data.path=notes.txt`` (several files: ``a.txt,b.txt``; a folder: its ``*.txt``
  files in name order), UTF-8 text joined with one newline between files. By characters, in
  order: the first 90% train, the next 5% val, the last 5% test (the split of ``pydoc``; a
  position split keeps the held-out text unseen, where a shuffle would leak neighbouring lines).
  The tokenizer the run asks for (``data.tokenizer``: ``char``, the default, ``word`` or ``bpe``)
  is trained on the training part only; with ``char``, characters that never occur in it are left
  out of val and test (the model has no id for them). Each split is read as
  :class:`ann.data.text.TokenWindows` of the model's ``block_size``.
* ``text-classes``: ``data.path=reviews.csv`` (``.tsv``, or a header line holding a tab: tab
  separated), one row per text with a header line; ``data.text`` and ``data.label`` name the
  columns (default ``text`` and ``label``). The class names are the distinct labels, sorted (as
  strings; ``predict`` prints them). A ``split`` column (``train``, ``val``/``validation``/``dev``,
  ``test``) places each row (a column naming no val or no test rows has them carved from its train
  rows, per class, 10% each); without one, the rows of each class are shuffled (seed 0) and cut
  80/10/10 train/val/test, so every split holds the classes in the file's proportions. Texts are
  WordPiece rows as in ``sst2`` (:mod:`ann.data.sentences`), the vocabulary (up to 8,192 pieces)
  trained on the training texts only; the model reads ``max_len`` pieces (default 128).

Both are read once per process while the files stay unchanged (keyed by size and mtime). A
large ``text-file`` (``data.stream``: ``auto`` past 16 MB, ``on``, ``off``) is tokenized once
into a memory-mapped token file in the cache and read window by window
(:mod:`ann.data.tokenfile`): the same tokens, memory flat in the text's size.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import field
from ..errors import AnnError, CorruptFile
from ..registry import register_dataset
from .sentences import (
    _SPECIAL_IDS,
    VOCAB_SIZE,
    Sentences,
    check_max_len,
    encode_rows,
    given_tokenizer,
    special_facts,
)
from .text import DEFAULT_BPE_VOCAB, TOKENIZER_KINDS, TokenWindows, is_tokenizer_file, train_tokenizer
from .tokenfile import STREAM_BYTES, MappedTokenWindows, mapped_tokens, read_token_folder, token_folder
from .tokenizers import Tokenizer, WordPieceTokenizer

LM_SPLITS = (0.90, 0.95)          # train ends, val ends (by characters); the rest is test
CLASS_SPLITS = (0.8, 0.1, 0.1)    # train, val, test per class, without a split column
CLASSES_MAX_LEN = 128
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val",
               "test": "test"}
PATH_HELP = "a file of your own to train on, for datasets that accept one"

TEXT_FILE_INFO = {
    "task": "lm", "tokenizer_kind": "char",
    "description": "your own plain text: data.path=FILE (UTF-8; several: a.txt,b.txt or a "
                   "folder), 90/5/5% train/val/test by characters",
}
TEXT_CLASSES_INFO = {
    "task": "classify", "max_len": CLASSES_MAX_LEN, **_SPECIAL_IDS,
    "reads_tokenizer": True,          # data.tokenizer=FILE.json: an imported BERT's tokens
    "description": "your own labelled texts: data.path=FILE.csv or .tsv with text and label "
                   "columns (data.text, data.label), WordPiece",
    "fills": ("num_classes", "classes"),
}


# ------------------------------------------------------------------------------- reading files

def read_utf8(path: Path) -> str:
    """The text of ``path``; a missing, empty or non-UTF-8 file fails in one line (the byte
    offset of the first bad byte, so that it can be found in an editor or ``xxd``)."""
    _check_path(path)
    data = path.read_bytes()
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = e.start + bom
        raise CorruptFile(f"{path}: not UTF-8 text: byte {at} (0x{data[at]:02x}) is not valid "
                          "UTF-8; save the file as UTF-8") from None
    if not text.strip():
        raise AnnError(f"{path} is empty ({len(data)} bytes, no text); give a file with text in it")
    return text


def _files(path: str) -> tuple[Path, ...]:
    """The files ``data.path`` names: comma-separated files, a folder meaning its ``*.txt``."""
    parts = [Path(p.strip()).expanduser() for p in path.split(",") if p.strip()]
    out: list[Path] = []
    for p in parts:
        if p.is_dir():
            found = sorted(p.glob("*.txt"))
            if not found:
                raise AnnError(f"{p} is a folder without .txt files; give text files")
            out += found
        else:
            out.append(p)
    return tuple(out)


def _stamp(files: tuple[Path, ...]) -> tuple:
    """What keys the caches: each file with its size and mtime (missing files: none)."""
    return tuple((str(f.resolve()), *((f.stat().st_size, f.stat().st_mtime_ns) if f.is_file()
                                      else ())) for f in files)


# ------------------------------------------------------------------------------ text-file (LM)

@functools.lru_cache(maxsize=4)
def _lm_texts(stamp: tuple) -> dict[str, str]:
    texts = [read_utf8(Path(entry[0])) for entry in stamp]
    text = "".join(t if t.endswith("\n") or i == len(texts) - 1 else t + "\n"
                   for i, t in enumerate(texts))
    a, b = int(len(text) * LM_SPLITS[0]), int(len(text) * LM_SPLITS[1])
    return {"train": text[:a], "val": text[a:b], "test": text[b:]}


@functools.lru_cache(maxsize=4)
def _lm_tokenizer(stamp: tuple, kind: str, bpe_vocab_size: int) -> Tokenizer:
    return train_tokenizer(kind, _lm_texts(stamp)["train"], bpe_vocab_size)


@functools.lru_cache(maxsize=8)
def _lm_tokens(stamp: tuple, split: str, kind: str, bpe_vocab_size: int) -> torch.Tensor:
    tok = _lm_tokenizer(stamp, kind, bpe_vocab_size)
    text = _lm_texts(stamp)[split]
    if kind == "char":       # no id for a character the training part never had
        text = "".join(c for c in text if c in tok._index)
    return torch.tensor(tok.encode(text), dtype=torch.int64)


@dataclass
class TextFileOptions:
    """The plain-text files of your own."""

    path: str = field("", PATH_HELP, path="list")     # one file, FILE,FILE,..., or a folder
    stream: str = field("auto", "tokenize the text once into a memory-mapped token file in the "
                        "cache and read windows from it, instead of holding the tokens in "
                        "memory: on, off, or auto (on past 16 MB of text)",
                        choices=("auto", "on", "off"))


@register_dataset("text-file", info=TEXT_FILE_INFO, embedded=True, options=TextFileOptions)
def load_text_file(split: str, path: str = "", block_size: int = 256,
                   tokenizer: str | None = None,
                   bpe_vocab_size: int = DEFAULT_BPE_VOCAB, stream: str = "auto") -> TokenWindows:
    """Your own text (``data.path``), 90/5/5% by characters, as windows of ``block_size``."""
    if not path:
        raise AnnError("text-file needs your text: data.path=FILE.txt (UTF-8; several files "
                       "separated by commas, or a folder of .txt files)")
    kind = tokenizer or TEXT_FILE_INFO["tokenizer_kind"]
    if kind not in TOKENIZER_KINDS and not is_tokenizer_file(kind):
        raise AnnError(f"data.tokenizer={kind!r}: text-file takes {', '.join(TOKENIZER_KINDS)} "
                       "or a tokenizer.json file")
    vocab = bpe_vocab_size if kind == "bpe" else 0
    files = _files(path)
    stamp = _stamp(files)
    if _streams(stream, files):
        folder = token_folder(files, stamp, kind, vocab)
        meta, tok = read_token_folder(folder)
        tokens, chars = mapped_tokens(folder, split, meta), meta["characters"][split]
    else:
        tokens, tok = _lm_tokens(stamp, split, kind, vocab), _lm_tokenizer(stamp, kind, vocab)
        chars = len(_lm_texts(stamp)[split])
    if len(tokens) < block_size + 1:
        share = {"train": "first 90%", "val": "next 5%", "test": "last 5%"}[split]
        raise AnnError(f"{path}: its {split} part (the {share}: {chars} characters) is {len(tokens)} "
                       f"{kind} tokens, too few for one window of the model's context "
                       f"(block_size={block_size}) plus its target; give more text (about "
                       f"{20 * (block_size + 1)} {kind} tokens in all) or a smaller model.block_size")
    info = {**TEXT_FILE_INFO, "vocab_size": tok.vocab_size, "tokenizer_kind": kind,
            "source": ",".join(str(f) for f in files), "tokenizer": tok.to_dict()}
    if isinstance(tokens, np.ndarray):
        return MappedTokenWindows(tokens, block_size, info)
    return TokenWindows(tokens, block_size, info)


def _streams(stream: str, files: tuple[Path, ...]) -> bool:
    """Whether the text's tokens are mapped from a file: ``data.stream=on``, or ``auto`` and the
    files hold more than :data:`~ann.data.tokenfile.STREAM_BYTES`."""
    if stream != "auto":
        return stream == "on"
    for f in files:
        _check_path(f)
    return sum(f.stat().st_size for f in files) > STREAM_BYTES


def _check_path(path: Path):
    """A missing path or a folder fails as :func:`read_utf8` says."""
    if not path.exists():
        raise AnnError(f"{path}: no such file; check data.path")
    if path.is_dir():
        raise AnnError(f"{path} is a folder; give a file")


# ----------------------------------------------------------------------- text-classes (classify)

def _delimiter(path: Path, header: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    if path.suffix.lower() == ".csv":
        return ","
    return "\t" if "\t" in header else ","


@functools.lru_cache(maxsize=4)
def _class_rows(stamp: tuple, text_col: str, label_col: str
                ) -> tuple[dict[str, tuple[list[str], list[str]]], tuple[str, ...]]:
    """(split -> (texts, labels), class names) of the table."""
    path = Path(stamp[0][0])
    text = read_utf8(path)
    header = text.splitlines()[0]
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(path, header)))
    except csv.Error as e:
        raise CorruptFile(f"{path}: not a readable CSV/TSV table ({e})") from None
    names = [c.strip() for c in rows[0]]
    for want, key in ((text_col, "data.text"), (label_col, "data.label")):
        if want not in names:
            raise AnnError(f"{path} has no column {want!r} ({key}); its columns: "
                           f"{', '.join(repr(n) for n in names)}")
    ti, li = names.index(text_col), names.index(label_col)
    si = names.index("split") if "split" in names else None
    texts, labels, places = [], [], []
    for n, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row] + [""] * (len(names) - len(row))
        if not any(cells):
            continue                                    # a blank line
        cell = cells.__getitem__
        if not cell(ti):
            raise AnnError(f"{path}, row {n}: no text in column {text_col!r}; give every row a text "
                           "(or delete the row)")
        if not cell(li):
            raise AnnError(f"{path}, row {n}: no label in column {label_col!r}; give every row a "
                           "label (or delete the row)")
        if si is not None:
            place = SPLIT_NAMES.get(cell(si).lower())
            if place is None:
                raise AnnError(f"{path}, row {n}: split {cell(si)!r} is not train, val or test")
            places.append(place)
        texts.append(cell(ti))
        labels.append(cell(li))
    if si is None:
        places = _stratified(labels, path)
    else:
        places = _carve_missing(labels, places, path)
    split = {s: ([t for t, p in zip(texts, places) if p == s],
                 [lab for lab, p in zip(labels, places) if p == s]) for s in ("train", "val", "test")}
    seen = set(split["train"][1])
    for s in ("val", "test"):
        if not split[s][0]:
            raise AnnError(f"{path}: no {s} rows in its split column; mark some rows {s}")
        new = sorted(set(split[s][1]) - seen)
        if new:
            raise AnnError(f"{path}: label {new[0]!r} is in {s} but never in train, so no model "
                           "can learn it; give train rows of every label")
    classes = tuple(sorted(seen))
    if len(classes) < 2:
        raise AnnError(f"{path}: the training rows hold one label ({classes[0]!r}); a classifier "
                       "needs at least two")
    return split, classes


def _carve_missing(labels: list[str], places: list[str], path: Path) -> list[str]:
    """A split column that names no val (or no test) rows: they are carved from its train rows,
    every class's shuffled (seed 0), the share ``CLASS_SPLITS`` gives them without a column (as
    an image folder without ``val/`` is)."""
    missing = [s for s in ("val", "test") if s not in places]
    train = [i for i, p in enumerate(places) if p == "train"]
    if not missing or not train:
        return places
    g = torch.Generator().manual_seed(0)
    places = list(places)
    for label in sorted({labels[i] for i in train}):
        rows = [i for i in train if labels[i] == label]
        rows = [rows[j] for j in torch.randperm(len(rows), generator=g).tolist()]
        start = 0
        for s in missing:
            n = min(int(len(rows) * CLASS_SPLITS[("val", "test").index(s) + 1] + 0.5),
                    len(rows) - 1 - start)
            for i in rows[start:start + max(n, 0)]:
                places[i] = s
            start += max(n, 0)
    return places


def _stratified(labels: list[str], path: Path) -> list[str]:
    """Each row's split: every class's rows shuffled (seed 0) and cut 80/10/10."""
    g = torch.Generator().manual_seed(0)
    places = ["train"] * len(labels)
    for label in sorted(set(labels)):
        rows = [i for i, lab in enumerate(labels) if lab == label]
        rows = [rows[j] for j in torch.randperm(len(rows), generator=g).tolist()]
        n_val = int(len(rows) * CLASS_SPLITS[1] + 0.5)
        n_test = int(len(rows) * CLASS_SPLITS[2] + 0.5)
        if n_val + n_test >= len(rows):               # keep one for training
            n_val, n_test = (len(rows) - 1) // 2, (len(rows) - 1) - (len(rows) - 1) // 2
        for i in rows[:n_val]:
            places[i] = "val"
        for i in rows[n_val:n_val + n_test]:
            places[i] = "test"
    if "val" not in places or "test" not in places:
        raise AnnError(f"{path}: {len(labels)} rows are too few to hold out validation and test "
                       "rows; give at least 10, or a split column (train/val/test)")
    return places


@functools.lru_cache(maxsize=4)
def _class_tokenizer(stamp: tuple, text_col: str, label_col: str) -> WordPieceTokenizer:
    return WordPieceTokenizer.train(_class_rows(stamp, text_col, label_col)[0]["train"][0],
                                    VOCAB_SIZE)


@dataclass
class TextClassesOptions:
    """The table of your own texts and their labels."""

    path: str = field("", PATH_HELP, path=True)
    text: str = field("text", "the column of data.path holding the texts (text-classes)")
    label: str = field("label", "the column of data.path holding the labels (text-classes)")


@register_dataset("text-classes", info=TEXT_CLASSES_INFO, embedded=True,
                  options=TextClassesOptions)
def load_text_classes(split: str, path: str = "", max_len: int = CLASSES_MAX_LEN,
                      text: str = "text", label: str = "label", tokenizer: str = "") -> Sentences:
    """Your own labelled texts (``data.path``): a split column, or 80/10/10 per class; read with
    a WordPiece trained on the training texts, or the saved ``tokenizer`` (an imported BERT's)."""
    if not path:
        raise AnnError("text-classes needs your table: data.path=FILE.csv (or .tsv) with a header "
                       "naming a text and a label column")
    max_len = check_max_len(max_len)
    stamp = _stamp((Path(path).expanduser(),))
    splits, classes = _class_rows(stamp, text, label)
    tok = given_tokenizer(tokenizer, "text-classes") or _class_tokenizer(stamp, text, label)
    texts, labels = splits[split]
    x = encode_rows(tok, texts, max_len)
    y = torch.tensor([classes.index(lab) for lab in labels], dtype=torch.int64)
    info = {**TEXT_CLASSES_INFO, "num_classes": len(classes), "classes": classes,
            "vocab_size": tok.vocab_size, "max_len": max_len, "source": str(Path(path).expanduser()),
            "tokenizer": tok.to_dict(), **(special_facts(tok) if tokenizer else {})}
    return Sentences(x, y, info)
