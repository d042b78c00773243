"""Sentence datasets for BERT-style encoders: SST-2 sentiment, and masked-LM corpora.

Every example is one row of WordPiece ids ``[CLS] pieces [SEP]`` padded with ``[PAD]`` to the
model's ``max_len`` (content longer than ``max_len - 2`` pieces keeps its first ones). The
special tokens take ids 0-4: ``[PAD] [UNK] [CLS] [SEP] [MASK]``. A batch is cut to its longest row
(dynamic padding): padding is hidden from attention anyway, so only the time is saved.

* ``sst2``: the Stanford Sentiment Treebank's binary task as released in GLUE (Socher et al.
  2013, https://nlp.stanford.edu/sentiment/; Wang et al. 2019, https://gluebenchmark.com),
  ``$ANN_DATA_DIR/sst2/{train,dev}.tsv`` from https://dl.fbaipublicfiles.com/glue/data/SST-2.zip.
  GLUE's test labels are private, so as in papers the ``test`` split is GLUE's *dev* set (872
  sentences); ``val`` is a fixed random 2% of GLUE train (seed 0) and ``train`` the other 98%.
  GLUE train holds every phrase of the treebank's parse trees, so a val phrase often has a longer
  or shorter relative in train: val accuracy runs higher than test accuracy. Labels: 0
  negative, 1 positive. The text is lowercase and tokenized already; the WordPiece vocabulary
  (8,192 pieces) is trained on the train split's sentences only.
* ``sst2-mlm``: the same sentences without labels, for masked-LM pretraining (same splits and
  tokenizer; ``test`` holds GLUE dev's sentences). Most are short phrases, so they are packed:
  in an order shuffled once (seed 0), each row takes sentences while they fit,
  ``[CLS] s1 [SEP] s2 [SEP] ...`` (as BERT's pretraining packs spans of text into one input),
  so that almost no computation goes to padding.
  ``data.extra_text`` mixes more unlabelled English into the training split only (val and
  test stay SST-2's, and the tokenizer stays the one trained on SST-2): ``ptb`` (the Penn
  Treebank's training file, ~0.9M words of 1989 news, ``<unk>`` read as ``[UNK]``) and
  ``multi30k`` (the English side of Multi30k's training pairs, ~0.35M words of image captions);
  SST-2's own train split is ~7k distinct sentences, too little text for a masked LM to learn
  much English from.
* ``pydoc-mlm`` (embedded): Python's documentation topics (:func:`ann.data.text.pydoc_text`),
  90/5/5% train/val/test by characters as in ``pydoc``, WordPiece (8,192 pieces, trained on
  train) over the whole text, cut into consecutive rows of ``max_len - 2`` pieces.

Loaders: ``loader(split, max_len=...)``; ``ann.api`` passes the model's ``max_len``. For the
masked-LM corpora ``y`` is ``x`` itself (the task hides tokens of ``x`` and predicts them).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import field
from ..errors import AnnError, CorruptFile, DatasetMissing
from ..registry import register_dataset
from .base import ArrayDataset
from .sources import RemoteFile, cache_dir, data_dirs, fetch
from .text import pydoc_text
from .tokenizers import BERT_SPECIALS, WordPieceTokenizer

PAD, UNK, CLS, SEP, MASK = range(5)  # the ids of BERT_SPECIALS
VOCAB_SIZE = 8192
SST2_MAX_LEN = 66       # [CLS] + 64 pieces + [SEP]: every GLUE dev sentence; cuts 2 train phrases
PYDOC_MAX_LEN = 128
VAL_FRACTION = 0.02

SST2_ZIP = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
SST2_FILES = {  # no address: the official files come inside SST2_ZIP
    "train": RemoteFile("train.tsv", "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1", ()),
    "dev": RemoteFile("dev.tsv", "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0", ()),
}

_SPECIAL_IDS = {"pad_id": PAD, "unk_id": UNK, "cls_id": CLS, "sep_id": SEP, "mask_id": MASK,
                "n_special": len(BERT_SPECIALS)}
SST2_INFO = {
    "task": "classify", "num_classes": 2, "classes": ["negative", "positive"],
    "vocab_size": VOCAB_SIZE, "max_len": SST2_MAX_LEN, **_SPECIAL_IDS,
    "description": "SST-2 (GLUE) sentiment, lowercase WordPiece: train 98% / val 2% of GLUE "
                   "train, test = GLUE dev (872)",
    "source": SST2_ZIP,
}
SST2_MLM_INFO = {
    "task": "mlm", "vocab_size": VOCAB_SIZE, "max_len": SST2_MAX_LEN, **_SPECIAL_IDS,
    "description": "SST-2 (GLUE) sentences without labels, for masked-LM pretraining",
    "source": SST2_ZIP,
    # sentences whose [MASK] a trained model fills in for its report (samples.txt)
    "fill_examples": ("a [MASK] film .", "the acting is [MASK] .", "one of the [MASK] movies of the year ."),
}
PYDOC_MLM_INFO = {
    "task": "mlm", "vocab_size": VOCAB_SIZE, "max_len": PYDOC_MAX_LEN, **_SPECIAL_IDS,
    "reads_tokenizer": True,          # data.tokenizer=FILE.json: an imported BERT's tokens
    "description": "Python's documentation topics as rows of WordPiece tokens, for masked-LM "
                   "(embedded): 90/5/5% train/val/test",
    "source": "https://docs.python.org/3/ (the pydoc_data.topics module of the standard library)",
    "fill_examples": ("the [MASK] statement", "a function [MASK] a value", "raise a [MASK] error",
                      "for each [MASK] in the list"),
}


class Sentences(ArrayDataset):
    """Token rows ``[CLS] ... [SEP] [PAD]...``, left-aligned, with labels (or ``y = x``).

    ``batch(index)`` drops the trailing columns that are padding in every row of the batch.

    Shapes:
        x (N, max_len) int64, y (N,) int64 labels or (N, max_len) the tokens again.
    """

    def batch(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.x[index], self.y[index]
        width = int((x != self.info["pad_id"]).sum(1).max()) if len(x) else x.size(1)
        return x[:, :max(width, 1)], (y[:, :max(width, 1)] if y.dim() == 2 else y)

    @functools.cached_property
    def tokenizer(self) -> WordPieceTokenizer:
        return WordPieceTokenizer._from_dict(self.info["tokenizer"])


def given_tokenizer(tokenizer: str, dataset: str):
    """The saved tokenizer ``data.tokenizer`` names (a ``tokenizer.json``: an imported
    checkpoint's own), or ``None`` for the dataset's own WordPiece."""
    if not tokenizer:
        return None
    if not tokenizer.endswith(".json"):
        raise AnnError(f"data.tokenizer={tokenizer!r}: {dataset} reads sentences with its own "
                       "WordPiece or a saved tokenizer.json (an imported BERT's); leave it empty "
                       "or name a tokenizer.json")
    from .tokenizers import load_tokenizer

    tok = load_tokenizer(Path(tokenizer).expanduser())
    if not hasattr(tok, "token_to_id"):
        raise AnnError(f"data.tokenizer={tokenizer}: a {tok.kind} tokenizer has no [CLS], [SEP] "
                       "and [PAD] tokens, which BERT's sentences need")
    return tok


def special_facts(tok) -> dict:
    """The ids of the special tokens a BERT row uses, in ``tok`` (the dataset info's keys)."""
    return {f"{name.strip('[]').lower()}_id": tok.token_to_id(name)
            for name in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}


def encode_rows(tok: WordPieceTokenizer, texts: Sequence[str], max_len: int) -> torch.Tensor:
    """``[CLS] pieces [SEP]`` for each text, its first ``max_len - 2`` pieces kept, padded.

    Shapes:
        texts: N strings -> (N, max_len) int64.
    """
    if max_len < 3:
        raise AnnError(f"max_len={max_len} leaves no room for a token between [CLS] and [SEP]")
    CLS, SEP, PAD = (tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))  # noqa: N806
    rows = torch.full((len(texts), max_len), PAD, dtype=torch.int64)
    for i, text in enumerate(texts):
        ids = [CLS, *tok.encode(text)[:max_len - 2], SEP]
        rows[i, :len(ids)] = torch.tensor(ids)
    return rows


def check_max_len(max_len) -> int:
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 3:
        raise AnnError(f"max_len must be an integer of at least 3 ([CLS], a token, [SEP]), "
                       f"got {max_len!r}")
    return max_len


# ------------------------------------------------------------------------------------- SST-2

def _read_tsv(path: Path) -> tuple[list[str], list[int]]:
    """GLUE's ``sentence<TAB>label`` file (with its header line) as sentences and labels."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise CorruptFile(f"{path}: not UTF-8 text; delete it and fetch it again") from None
    if not lines or lines[0].split("\t") != ["sentence", "label"]:
        raise CorruptFile(f"{path}: not a GLUE SST-2 file (its first line should be "
                          "'sentence<TAB>label'); place the train.tsv and dev.tsv of SST-2.zip there")
    sentences, labels = [], []
    for n, line in enumerate(lines[1:], start=2):
        text, _, label = line.rpartition("\t")
        if label not in ("0", "1") or not text.strip():
            raise CorruptFile(f"{path}, line {n}: expected 'sentence<TAB>0 or 1', got {line[:60]!r}")
        sentences.append(text.strip())
        labels.append(int(label))
    return sentences, labels


def _sst2_paths() -> dict[str, Path]:
    try:
        return fetch("sst2", "sst2", list(SST2_FILES.values()))
    except DatasetMissing:
        home = os.environ.get("ANN_DATA_DIR")
        folder = f"{Path(home).expanduser() / 'sst2'}/" if home else "$ANN_DATA_DIR/sst2/"
        raise DatasetMissing(f"dataset 'sst2' needs train.tsv and dev.tsv: download {SST2_ZIP}, "
                             f"unzip it and place SST-2/train.tsv and SST-2/dev.tsv in {folder} or "
                             f"{cache_dir() / 'sst2'}/") from None


@functools.lru_cache(maxsize=4)
def _sst2_splits(dirs: tuple[Path, ...]) -> dict[str, tuple[list[str], list[int]]]:
    """Sentences and labels of each split (``dirs`` only keys the cache, so that a changed
    ``$ANN_DATA_DIR`` is honoured)."""
    paths = _sst2_paths()
    sentences, labels = _read_tsv(paths["train.tsv"])
    n_val = max(1, round(VAL_FRACTION * len(sentences)))
    order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(0)).tolist()
    val, train = sorted(order[:n_val]), sorted(order[n_val:])
    pick = lambda idx: ([sentences[i] for i in idx], [labels[i] for i in idx])  # noqa: E731
    return {"train": pick(train), "val": pick(val), "test": _read_tsv(paths["dev.tsv"])}


@functools.lru_cache(maxsize=4)
def _sst2_tokenizer(dirs: tuple[Path, ...]) -> WordPieceTokenizer:
    return WordPieceTokenizer.train(_sst2_splits(dirs)["train"][0], VOCAB_SIZE)


@functools.lru_cache(maxsize=8)
def _sst2_rows(split: str, max_len: int, dirs: tuple[Path, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    sentences, labels = _sst2_splits(dirs)[split]
    x = encode_rows(_sst2_tokenizer(dirs), sentences, max_len)
    return x, torch.tensor(labels, dtype=torch.int64)


EXTRA_TEXTS = ("ptb", "multi30k")


def parse_extra_text(extra: str) -> tuple[str, ...]:
    """``data.extra_text`` ("ptb,multi30k") as a tuple of known corpus names."""
    names = tuple(n.strip() for n in extra.split(",") if n.strip()) if extra else ()
    for name in names:
        if name not in EXTRA_TEXTS:
            raise AnnError(f"data.extra_text: unknown corpus {name!r}; choose from "
                           f"{', '.join(EXTRA_TEXTS)} (comma-separated), or leave it empty")
    return tuple(dict.fromkeys(names))


def _extra_lines(name: str) -> list[str]:
    """The training text of corpus ``name``, one sentence a line, as SST-2's tokenizer reads it."""
    if name == "ptb":
        from .text import _texts

        lines = _texts("ptb", tuple(data_dirs()))["train"].splitlines()
        return [line.strip().replace("<unk>", "[UNK]") for line in lines if line.strip()]
    from .translation import _multi30k_texts

    return [line for line in _multi30k_texts("train", tuple(data_dirs()))[1] if line.strip()]


@functools.lru_cache(maxsize=8)
def _sst2_packed(split: str, max_len: int, dirs: tuple[Path, ...],
                 extra: tuple[str, ...] = ()) -> torch.Tensor:
    sentences = list(_sst2_splits(dirs)[split][0])
    if split == "train":
        for name in extra:
            sentences += _extra_lines(name)
    order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(0)).tolist()
    return pack_rows(_sst2_tokenizer(dirs), [sentences[i] for i in order], max_len)


def pack_rows(tok: WordPieceTokenizer, texts: Sequence[str], max_len: int) -> torch.Tensor:
    """Texts in order, as many to a row as fit: ``[CLS] t1 [SEP] t2 [SEP] ... [PAD]``; a text
    longer than ``max_len - 2`` pieces keeps its first ones, alone in its row.

    Shapes:
        texts: N strings -> (rows, max_len) int64.
    """
    rows, row = [], [CLS]
    for text in texts:
        ids = [*tok.encode(text)[:max_len - 2], SEP]
        if len(row) + len(ids) > max_len:
            rows.append(row)
            row = [CLS]
        row += ids
    rows.append(row)
    out = torch.full((len(rows), max_len), PAD, dtype=torch.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


def _sst2(split: str, max_len: int, static: dict, labelled: bool,
          extra: tuple[str, ...] = ()) -> Sentences:
    dirs = tuple(data_dirs())
    max_len = check_max_len(max_len)
    tok = _sst2_tokenizer(dirs)
    info = {**static, "vocab_size": tok.vocab_size, "max_len": max_len, "tokenizer": tok.to_dict()}
    if not labelled:
        x = _sst2_packed(split, max_len, dirs, extra)
        return Sentences(x, x, info)
    x, y = _sst2_rows(split, max_len, dirs)
    return Sentences(x, y, info)


@register_dataset("sst2", info=SST2_INFO, embedded=False)
def load_sst2(split: str, max_len: int = SST2_MAX_LEN) -> Sentences:
    """SST-2 sentences and labels (0 negative, 1 positive); ``test`` is GLUE's dev set."""
    return _sst2(split, max_len, SST2_INFO, labelled=True)


@dataclass
class ExtraTextOptions:
    """More unlabelled English for masked-LM pretraining."""

    extra_text: str = field("", "masked-LM corpora (sst2-mlm): more unlabelled English mixed into "
                            "the training split, comma-separated from ptb, multi30k")


@register_dataset("sst2-mlm", info=SST2_MLM_INFO, embedded=False, options=ExtraTextOptions)
def load_sst2_mlm(split: str, max_len: int = SST2_MAX_LEN, extra_text: str = "") -> Sentences:
    """The SST-2 sentences without labels, packed into rows, ``y = x``, for masked-LM
    pretraining; ``extra_text`` ("ptb,multi30k") adds those corpora to the training split."""
    return _sst2(split, max_len, SST2_MLM_INFO, labelled=False, extra=parse_extra_text(extra_text))


# --------------------------------------------------------------------------------- pydoc MLM

@functools.lru_cache(maxsize=1)
def _pydoc_texts() -> dict[str, str]:
    text = pydoc_text()
    a, b = int(len(text) * 0.9), int(len(text) * 0.95)  # the split of the `pydoc` dataset
    return {"train": text[:a], "val": text[a:b], "test": text[b:]}


@functools.lru_cache(maxsize=1)
def _pydoc_tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer.train(_pydoc_texts()["train"].splitlines(), VOCAB_SIZE)


@functools.lru_cache(maxsize=8)
def _pydoc_rows(split: str, max_len: int, tokenizer: str = "") -> torch.Tensor:
    tok = given_tokenizer(tokenizer, "pydoc-mlm") or _pydoc_tokenizer()
    CLS, SEP, PAD = (tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))  # noqa: N806
    ids = torch.tensor(tok.encode(_pydoc_texts()[split]), dtype=torch.int64)
    width = max_len - 2
    chunks = ids.split(width)  # consecutive pieces; the last chunk may be shorter
    rows = torch.full((len(chunks), max_len), PAD, dtype=torch.int64)
    rows[:, 0] = CLS
    for i, chunk in enumerate(chunks):
        rows[i, 1:len(chunk) + 1] = chunk
        rows[i, len(chunk) + 1] = SEP
    return rows


@register_dataset("pydoc-mlm", info=PYDOC_MLM_INFO, embedded=True)
def load_pydoc_mlm(split: str, max_len: int = PYDOC_MAX_LEN, tokenizer: str = "") -> Sentences:
    """Python's documentation as rows of ``max_len - 2`` consecutive WordPiece tokens (or tokens
    of the saved ``tokenizer``: an imported BERT's)."""
    x = _pydoc_rows(split, check_max_len(max_len), tokenizer)
    tok = given_tokenizer(tokenizer, "pydoc-mlm") or _pydoc_tokenizer()
    info = {**PYDOC_MLM_INFO, "vocab_size": tok.vocab_size, "max_len": max_len,
            "tokenizer": tok.to_dict(), **(special_facts(tok) if tokenizer else {})}
    return Sentences(x, x, info)
