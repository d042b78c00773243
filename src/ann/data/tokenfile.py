"""Text larger than memory: a ``text-file`` tokenized once into memory-mapped token files.

``text-file`` with ``data.stream=on`` (or ``auto`` past :data:`STREAM_BYTES` of text) reads the
files piece by piece, trains the tokenizer on the training part as it goes, and writes each
split's tokens to ``CACHE/tokens/KEY/{train,val,test}.bin`` (uint16 ids when the vocabulary
fits, else uint32) beside ``meta.json`` and ``tokenizer.json``; ``KEY`` is a digest of the files'
names, sizes and modification times and of the tokenizer asked for, so a changed file is read
again and an unchanged one never is. Every file is written to a temporary name and renamed,
``meta.json`` last: a folder without it is unfinished and rebuilt. Training then reads windows
out of the mapped file (:class:`MappedTokenWindows`): memory stays flat in the text's size.

The text is cut only after a newline that sits between two non-space characters (and at the
90/5/5% split points), where the char, word and byte-level BPE tokenizers read the pieces as they
read the whole: the tokens equal the in-memory ones. A saved tokenizer (``data.tokenizer=
tokenizer.json``, an imported model's) is used as it is, piece by piece; one that marks the start
of a text (SentencePiece's leading ``▁``) marks each piece's start too, every few megabytes.
"""

from __future__ import annotations

import codecs
import collections
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from .. import fileio
from ..errors import AnnError, CorruptFile
from .text import TokenWindows, is_tokenizer_file, train_tokenizer
from .tokenizers import BPETokenizer, CharTokenizer, Tokenizer, WordTokenizer, tokenizer_from_dict

STREAM_BYTES = 16 * 2**20      # text above which data.stream=auto maps its tokens from a file
READ_BYTES = 4 * 2**20         # bytes read at a time
FORMAT = 1                     # version of the token folder's layout
SPLITS = ("train", "val", "test")


def _file_text(path: Path) -> Iterator[str]:
    """The UTF-8 text of ``path`` in pieces (a BOM dropped); a bad byte or a file of no text
    fails as :func:`ann.data.textfiles.read_utf8` says."""
    from .textfiles import read_utf8

    decoder = codecs.getincrementaldecoder("utf-8")()
    seen_text, first = False, True
    try:
        with open(path, "rb") as f:
            while block := f.read(READ_BYTES):
                if first and block.startswith(b"\xef\xbb\xbf"):
                    block = block[3:]
                first = False
                text = decoder.decode(block)
                seen_text = seen_text or bool(text.strip())
                yield text
            yield decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        read_utf8(path)               # raises the message naming the first bad byte
        raise
    except OSError:
        read_utf8(path)
        raise
    if not seen_text:
        read_utf8(path)               # raises: empty


def _joined(files: tuple[Path, ...]) -> Iterator[str]:
    """The files' texts joined with one newline between two files where the first lacks one."""
    for i, path in enumerate(files):
        last = ""
        for text in _file_text(path):
            if text:
                last = text[-1]
                yield text
        if i < len(files) - 1 and last != "\n":
            yield "\n"


def _count(files: tuple[Path, ...]) -> int:
    return sum(len(text) for text in _joined(files))


def _safe_cut(text: str) -> int:
    """The end of the longest head of ``text`` that ends in a newline between two non-space
    characters (0: none)."""
    end = len(text) - 1
    while (at := text.rfind("\n", 0, end)) > 0:
        if not text[at - 1].isspace() and not text[at + 1].isspace():
            return at + 1
        end = at
    return 0


def _pieces(files: tuple[Path, ...], ends: tuple[int, int]) -> Iterator[tuple[str, str]]:
    """``(split, piece)`` over the joined text: the pieces of each split in order, cut at the
    split points ``ends`` (characters) and otherwise only at :func:`_safe_cut` places."""
    bounds = (*ends, float("inf"))
    split, pos, held = 0, 0, ""
    for text in _joined(files):
        while text:
            room = bounds[split] - pos
            take = len(text) if room >= len(text) else int(room)
            held, text, pos = held + text[:take], text[take:], pos + take
            if pos == bounds[split]:
                if held:
                    yield SPLITS[split], held
                split, held = split + 1, ""
        cut = _safe_cut(held) if len(held) >= READ_BYTES else 0
        if cut:
            yield SPLITS[split], held[:cut]
            held = held[cut:]
    if held:
        yield SPLITS[split], held


def _train_tokenizer(files, ends, kind: str, bpe_vocab_size: int) -> Tokenizer:
    """The tokenizer :func:`ann.data.text.train_tokenizer` trains on the training part, from
    its pieces."""
    if is_tokenizer_file(kind):              # a saved tokenizer (an imported model's), untrained
        return train_tokenizer(kind, "", bpe_vocab_size)
    train = (piece for split, piece in _pieces(files, ends) if split == "train")
    if kind == "char":
        chars: set[str] = set()
        for piece in train:
            chars.update(piece)
        return CharTokenizer(sorted(chars))
    if kind == "word":
        counts: collections.Counter = collections.Counter()
        for piece in train:
            counts.update(WordTokenizer.split(piece))
        return WordTokenizer.from_counts(counts)
    return BPETokenizer.train((line for piece in train for line in piece.splitlines(True)),
                              bpe_vocab_size)


def folder_key(stamp: tuple, kind: str, bpe_vocab_size: int) -> str:
    """The token folder's name: a digest of the files (names, sizes, mtimes) and tokenizer."""
    saved = Path(kind).expanduser()
    tokenizer = [kind, *((saved.stat().st_size, saved.stat().st_mtime_ns)
                         if is_tokenizer_file(kind) and saved.is_file() else ())]
    blob = json.dumps([FORMAT, [list(entry) for entry in stamp], tokenizer, bpe_vocab_size])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 2**16 else np.uint32)


def _build(folder: Path, files, kind: str, bpe_vocab_size: int):
    total = _count(files)
    ends = (int(total * 0.90), int(total * 0.95))
    tok = _train_tokenizer(files, ends, kind, bpe_vocab_size)
    dtype = _dtype(tok.vocab_size)
    index = tok._index if kind == "char" else None
    counts = dict.fromkeys(SPLITS, 0)
    chars = dict.fromkeys(SPLITS, 0)
    folder.mkdir(parents=True, exist_ok=True)
    with (fileio.atomic_path(folder / "train.bin") as t, fileio.atomic_path(folder / "val.bin") as v,
          fileio.atomic_path(folder / "test.bin") as s):
        out = {name: open(path, "wb") for name, path in zip(SPLITS, (t, v, s))}
        try:
            for split, piece in _pieces(files, ends):
                chars[split] += len(piece)
                if index is not None:      # no id for a character the training part never had
                    piece = "".join(c for c in piece if c in index)
                ids = np.asarray(tok.encode(piece), dtype=dtype)
                ids.tofile(out[split])
                counts[split] += len(ids)
        finally:
            for f in out.values():
                f.close()
    fileio.write_json(folder / "tokenizer.json", tok.to_dict())
    fileio.write_json(folder / "meta.json", {"format": FORMAT, "dtype": dtype.name,
                                             "tokens": counts, "characters": chars,
                                             "files": [str(f) for f in files]})


def token_folder(files: tuple[Path, ...], stamp: tuple, kind: str, bpe_vocab_size: int) -> Path:
    """The folder of the files' memory-mapped tokens, built on first use."""
    from .sources import cache_dir

    folder = cache_dir() / "tokens" / folder_key(stamp, kind, bpe_vocab_size)
    if not (folder / "meta.json").is_file():
        _build(folder, files, kind, bpe_vocab_size)
    return folder


def read_token_folder(folder: Path) -> tuple[dict, Tokenizer]:
    """``(meta, tokenizer)`` of a token folder; one whose files do not match is refused."""
    meta = json.loads((folder / "meta.json").read_text())
    tok = tokenizer_from_dict(json.loads((folder / "tokenizer.json").read_text()),
                              str(folder / "tokenizer.json"))
    width = np.dtype(meta["dtype"]).itemsize
    for split in SPLITS:
        size = os.path.getsize(folder / f"{split}.bin")
        if size != meta["tokens"][split] * width:
            raise CorruptFile(f"{folder / split}.bin holds {size} bytes, not the "
                              f"{meta['tokens'][split] * width} its meta.json says; delete "
                              f"{folder} and run again")
    return meta, tok


def mapped_tokens(folder: Path, split: str, meta: dict) -> np.ndarray:
    """The split's tokens, mapped read-only (an empty split: an empty array)."""
    if meta["tokens"][split] == 0:
        return np.zeros(0, dtype=meta["dtype"])
    return np.memmap(folder / f"{split}.bin", dtype=meta["dtype"], mode="r")


class MappedTokenWindows(TokenWindows):
    """:class:`TokenWindows` over a memory-mapped 1-D token array: a batch copies only its
    windows out of the file (as int64)."""

    def __init__(self, tokens: np.ndarray, block_size: int, info: dict):
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise AnnError(f"block_size must be a positive integer, got {block_size!r}")
        if len(tokens) < block_size + 1:
            raise AnnError(f"this split has only {len(tokens)} tokens, too few for one window of "
                           f"block_size={block_size} plus its target; choose a smaller block_size")
        self.tokens, self.block_size = tokens, block_size
        self.info = {"task": "lm", **info, "block_size": block_size}
        self._offsets = np.arange(block_size + 1)

    def batch(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        else:
            index = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
            index = torch.where(index < 0, index + len(self), index)
            if len(index) and (index.min() < 0 or index.max() >= len(self)):
                raise IndexError(f"window index out of range for {len(self)} windows")
        rows = index.numpy()[:, None] * self.block_size + self._offsets       # (B, T+1)
        chunks = torch.from_numpy(self.tokens[rows].astype(np.int64))        # (B, T+1)
        return chunks[:, :-1], chunks[:, 1:]

    def __repr__(self) -> str:
        return (f"MappedTokenWindows({len(self.tokens)} tokens, block_size={self.block_size}, "
                f"{len(self)} windows)")
