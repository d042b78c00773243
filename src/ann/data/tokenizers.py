"""Tokenizers for language models: characters, whitespace words, and byte-level BPE.

All three share one interface::

    tok = CharTokenizer.train(text)        # or WordTokenizer.train(text), BPETokenizer.train(text, 2048)
    ids = tok.encode("some text")          # list[int], every id in range(tok.vocab_size)
    tok.decode(ids)                        # str
    tok.save("tokenizer.json")             # atomic JSON with a "kind" field
    load_tokenizer("tokenizer.json")       # the same tokenizer back, whatever its kind

``to_dict()`` / :func:`tokenizer_from_dict` give the same JSON-able form without a file, which is
what a dataset's ``info["tokenizer"]`` holds so that a run can save it beside its checkpoints.

* :class:`CharTokenizer`: one id per character, the sorted set of the training text's characters.
  Exact round trip for text made of those characters; any other character is an error.
* :class:`WordTokenizer`: whitespace-separated words, a newline becomes ``<eos>`` (the Penn
  Treebank language-model convention); words outside the vocabulary become ``<unk>``. Decoding
  joins words with single spaces and turns ``<eos>`` back into a newline, so the round trip is
  exact up to whitespace.
* :class:`BPETokenizer`: byte-level byte-pair encoding trained with the Hugging Face
  ``tokenizers`` library (``pip install tokenizers``). Every string, any unicode, round-trips
  exactly, because the 256 byte symbols are always in the vocabulary.
* :class:`WordPieceTokenizer`: BERT's WordPiece (Wu et al. 2016, https://arxiv.org/abs/1609.08144)
  trained with the same library, with special tokens first (``[PAD] [UNK] [CLS] [SEP] [MASK]``
  by default, ids 0-4) and lowercasing; special tokens written in the text keep their ids.
* :class:`RegexTokenizer`: lowercased words and punctuation marks (or characters) found by a
  regular expression, with ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``: one sentence of a
  translation pair at a time. :class:`TokenizerPair` keeps a source and a target tokenizer as one.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any

from .. import fileio
from ..errors import AnnError, CorruptFile

FORMAT = 1  # version of ann's tokenizer JSON


class Tokenizer:
    """What every tokenizer offers; subclasses set ``kind`` and implement the rest."""

    kind = ""
    # A closed vocabulary saw every token its kind of text can hold (each character of the
    # training text): an input with an unknown token has no answer, rather than a rare word.
    closed = False

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_dict(cls, obj: dict[str, Any]) -> Tokenizer:
        raise NotImplementedError

    def save(self, path) -> None:
        """Write the tokenizer as JSON (atomically: the old file survives a failed write)."""
        fileio.write_json(path, self.to_dict())

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash((self.kind, self.vocab_size))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"

    def _ids(self, ids) -> list[int]:
        """``ids`` (any iterable of ints, a tensor or an array) as a list, each checked."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        ids = [int(i) for i in ids]
        bad = sorted({i for i in ids if not 0 <= i < self.vocab_size})
        if bad:
            raise AnnError(f"token ids {_few(bad)} are outside this {self.kind} tokenizer's "
                           f"vocabulary of {self.vocab_size}; decode ids made by the same tokenizer")
        return ids


def _few(items, limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in list(items)[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# ------------------------------------------------------------------------------------ characters

class CharTokenizer(Tokenizer):
    """One id per character: id ``i`` is ``chars[i]``, the characters sorted by code point."""

    kind = "char"
    closed = True

    def __init__(self, chars):
        chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars) or len(set(chars)) != len(chars):
            raise ValueError("chars must be distinct single characters")
        self.chars = chars
        self._index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        """The vocabulary is the sorted set of characters in ``text``."""
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        index = self._index
        try:
            return [index[c] for c in text]
        except KeyError:
            unknown = sorted(set(text) - index.keys())
            raise AnnError(f"characters {_few(unknown)} are not in the character tokenizer's "
                           f"vocabulary, which holds only the {self.vocab_size} characters of its "
                           f"training text; train it on text that contains them") from None

    def decode(self, ids) -> str:
        chars = self.chars
        return "".join(chars[i] for i in self._ids(ids))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": FORMAT, "chars": "".join(self.chars)}

    @classmethod
    def _from_dict(cls, obj):
        return cls(list(obj["chars"]))


# ----------------------------------------------------------------------------------------- words

class WordTokenizer(Tokenizer):
    """Whitespace words; a newline is the ``eos`` token and unknown words map to ``unk``.

    ``words[i]`` is the word of id ``i``: the special tokens first, then the training words by
    descending count (ties alphabetically).
    """

    kind = "word"

    def __init__(self, words, unk: str | None = "<unk>", eos: str | None = "<eos>"):
        words = list(words)
        if len(set(words)) != len(words):
            raise ValueError("words must be distinct")
        for special in (unk, eos):
            if special is not None and special not in words:
                raise ValueError(f"special token {special!r} is not among the words")
        self.words, self.unk, self.eos = words, unk, eos
        self._index = {w: i for i, w in enumerate(words)}

    @staticmethod
    def split(text: str, eos: str | None = "<eos>") -> list[str]:
        """The words of ``text``, with ``eos`` in place of every newline (when ``eos`` is set)."""
        if eos is None:
            return text.split()
        lines = text.split("\n")
        out: list[str] = []
        for line in lines[:-1]:
            out.extend(line.split())
            out.append(eos)
        out.extend(lines[-1].split())
        return out

    @classmethod
    def train(cls, text: str, min_freq: int = 1, specials=("<unk>", "<eos>")) -> WordTokenizer:
        """Vocabulary: ``specials``, then every word seen at least ``min_freq`` times.

        ``"<unk>"`` and ``"<eos>"`` keep their roles when listed in ``specials``; without
        ``"<eos>"`` newlines are plain whitespace, without ``"<unk>"`` unknown words are an error.
        """
        return cls.from_counts(collections.Counter(cls.split(text, "<eos>" if "<eos>" in specials
                                                             else None)), min_freq, specials)

    @classmethod
    def from_counts(cls, counts: collections.Counter, min_freq: int = 1,
                    specials=("<unk>", "<eos>")) -> WordTokenizer:
        """:meth:`train` from the word counts of a text (``split(text, eos)`` counted; a text
        read piece by piece, cut after newlines, counts the same)."""
        if min_freq < 1:
            raise AnnError(f"min_freq must be at least 1, got {min_freq}")
        specials = list(dict.fromkeys(specials))
        unk = "<unk>" if "<unk>" in specials else None
        eos = "<eos>" if "<eos>" in specials else None
        kept = sorted((w for w, n in counts.items() if n >= min_freq and w not in specials),
                      key=lambda w: (-counts[w], w))
        return cls(specials + kept, unk, eos)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        index, words = self._index, self.split(text, self.eos)
        if self.unk is not None:
            unk = index[self.unk]
            return [index.get(w, unk) for w in words]
        try:
            return [index[w] for w in words]
        except KeyError:
            unknown = sorted(set(words) - index.keys())
            raise AnnError(f"words {_few(unknown)} are not in the word tokenizer's vocabulary and "
                           f"it has no '<unk>' token; train it with '<unk>' among its specials"
                           ) from None

    def decode(self, ids) -> str:
        words, eos = self.words, self.eos
        out: list[str] = []
        for i in self._ids(ids):
            word = words[i]
            if word == eos:
                out.append("\n")
            else:
                if out and out[-1] != "\n":
                    out.append(" ")
                out.append(word)
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": FORMAT, "unk": self.unk, "eos": self.eos,
                "words": self.words}

    @classmethod
    def _from_dict(cls, obj):
        return cls(obj["words"], obj["unk"], obj["eos"])


# ----------------------------------------------------------------------------- byte-level BPE

def _hf():
    try:
        import tokenizers
    except ImportError:
        raise AnnError("the BPE tokenizer needs the Hugging Face tokenizers package; "
                       "install it with: pip install tokenizers") from None
    return tokenizers


class _HFTokenizer(Tokenizer):
    """A tokenizer held as a Hugging Face ``tokenizers.Tokenizer``; ann's JSON embeds the
    library's own JSON."""

    def __init__(self, hf_json: str):
        self._json = hf_json
        self._tok = _hf().Tokenizer.from_str(hf_json)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The ids of ``text`` and each one's ``(start, end)`` character span in it (an
        extractive answer maps back to the text through these)."""
        enc = self._tok.encode(text, add_special_tokens=False)
        return enc.ids, [tuple(o) for o in enc.offsets]

    def decode(self, ids) -> str:
        return self._tok.decode(self._ids(ids), skip_special_tokens=False)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": FORMAT, "tokenizer": self._json}

    @classmethod
    def _from_dict(cls, obj):
        return cls(obj["tokenizer"])


class BPETokenizer(_HFTokenizer):
    """Byte-level BPE (the GPT-2 scheme) held as a Hugging Face ``tokenizers.Tokenizer``.

    Ids 0-255 are the byte symbols, so any text encodes; ann's JSON embeds the library's own JSON.
    """

    kind = "bpe"

    @classmethod
    def train(cls, text, vocab_size: int = 2048, min_frequency: int = 2) -> BPETokenizer:
        """Learn merges on ``text`` until the vocabulary has ``vocab_size`` tokens (at least 256,
        the bytes; fewer when the text runs out of pairs seen ``min_frequency`` times).
        ``text``: a string, or its lines (``keepends=True``) as an iterable, read once."""
        if vocab_size < 256:
            raise AnnError(f"a byte-level BPE vocabulary needs at least 256 tokens (one per byte), "
                           f"got vocab_size={vocab_size}")
        hf = _hf()
        tok = hf.Tokenizer(hf.models.BPE())
        tok.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = hf.decoders.ByteLevel()
        trainer = hf.trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
            initial_alphabet=hf.pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
        lines = text.splitlines(keepends=True) if isinstance(text, str) else text
        tok.train_from_iterator(lines, trainer=trainer)
        return cls(tok.to_str())



# ------------------------------------------------------------------------- words by a pattern

class RegexTokenizer(Tokenizer):
    """Tokens found by a regular expression (lowercased first by default), for sentence pairs.

    Ids 0-3 are ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>`` (:attr:`pad_id` ... :attr:`unk_id`), then
    the training tokens by descending count (ties alphabetically). ``WORDS`` (the default) takes
    runs of letters and digits as words and every other visible character as a token of its own,
    "Ein Mann, 2 Hunde." -> ein / mann / , / 2 / hunde / . ; ``CHARS`` takes each visible
    character. Unknown tokens become ``<unk>``. ``decode`` joins tokens with single spaces (with
    none under ``CHARS``), leaves out ``<pad>`` and ``<bos>`` and stops at the first ``<eos>``.
    """

    kind = "regex"
    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3
    WORDS = r"\w+|[^\w\s]"
    CHARS = r"\S"

    def __init__(self, words, pattern: str = WORDS, lower: bool = True):
        words = list(words)
        if tuple(words[:4]) != self.SPECIALS or len(set(words)) != len(words):
            raise ValueError(f"words must be distinct and start with {', '.join(self.SPECIALS)}")
        self.words, self.pattern, self.lower = words, pattern, lower
        self.closed = pattern == self.CHARS         # one token per character
        self._re = re.compile(pattern)
        self._index = {w: i for i, w in enumerate(words)}

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text`` as strings (lowercased when ``lower``)."""
        return self._re.findall(text.lower() if self.lower else text)

    @classmethod
    def train(cls, texts, min_freq: int = 1, pattern: str = WORDS, lower: bool = True
              ) -> RegexTokenizer:
        """Vocabulary: the specials, then every token seen at least ``min_freq`` times in the
        strings ``texts``."""
        if min_freq < 1:
            raise AnnError(f"min_freq must be at least 1, got {min_freq}")
        probe, counts = cls(cls.SPECIALS, pattern, lower), collections.Counter()
        for text in texts:
            counts.update(probe.tokens(text))
        kept = sorted((w for w, n in counts.items() if n >= min_freq and w not in cls.SPECIALS),
                      key=lambda w: (-counts[w], w))
        return cls([*cls.SPECIALS, *kept], pattern, lower)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        index, unk = self._index, self.unk_id
        return [index.get(w, unk) for w in self.tokens(text)]

    def decode(self, ids) -> str:
        out = []
        for i in self._ids(ids):
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                out.append(self.words[i])
        return ("" if self.pattern == self.CHARS else " ").join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": FORMAT, "pattern": self.pattern, "lower": self.lower,
                "words": self.words}

    @classmethod
    def _from_dict(cls, obj):
        return cls(obj["words"], obj["pattern"], obj["lower"])


class TokenizerPair(Tokenizer):
    """A source and a target tokenizer kept as one (translation runs save it as one
    ``tokenizer.json``): ``encode`` reads source text, ``decode`` writes target text, and
    ``vocab_size`` is the target's. The two are ``.source`` and ``.target``."""

    kind = "pair"

    def __init__(self, source: Tokenizer, target: Tokenizer):
        self.source, self.target = source, target

    @property
    def vocab_size(self) -> int:
        return self.target.vocab_size

    def encode(self, text: str) -> list[int]:
        return self.source.encode(text)

    def decode(self, ids) -> str:
        return self.target.decode(ids)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": FORMAT, "source": self.source.to_dict(),
                "target": self.target.to_dict()}

    @classmethod
    def _from_dict(cls, obj):
        return cls(tokenizer_from_dict(obj["source"], "source tokenizer"),
                   tokenizer_from_dict(obj["target"], "target tokenizer"))


# ------------------------------------------------------------------------------ WordPiece (BERT)

BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class WordPieceTokenizer(_HFTokenizer):
    """BERT's WordPiece held as a Hugging Face ``tokenizers.Tokenizer`` (Devlin et al. 2019).

    Text is cleaned, optionally lowercased (with accents stripped), split into words and
    punctuation marks, and each word into the longest vocabulary pieces from its start
    (continuations carry ``##``); a word that cannot be built from pieces becomes ``[UNK]``.
    The special tokens take the first ids, in the order given to :meth:`train`, and are
    recognised where they appear in the text (``"the [MASK] sat"``). ``decode`` joins the pieces
    back; the round trip is exact up to case, accents and the spaces around punctuation.
    """

    kind = "wordpiece"

    def __init__(self, hf_json: str):
        super().__init__(hf_json)
        self.specials = [t.content for _, t in sorted(self._tok.get_added_tokens_decoder().items())
                         if t.special]

    @classmethod
    def train(cls, texts, vocab_size: int = 8192, specials=BERT_SPECIALS, lowercase: bool = True,
              min_frequency: int = 2) -> WordPieceTokenizer:
        """Learn about ``vocab_size`` pieces (specials included; fewer when the strings ``texts``
        run out of pairs seen ``min_frequency`` times) from ``texts``.

        As Hugging Face's ``WordPieceTrainer`` does, the pieces are learned by byte-pair merges
        within words (Sennrich et al. 2016, https://arxiv.org/abs/1508.07909) and then applied by
        WordPiece's greedy longest match. The merges are learned with SentencePiece's word-start
        mark (``▁``) rather than the ``##`` continuation mark, then rewritten to ``##`` form:
        the library numbers ``##`` symbols in hash order, so its own trainer gives a different
        vocabulary in every process, and a run must rebuild the same one when it resumes.
        Every character seen also becomes a word-start piece, so rare words need no ``[UNK]``.
        """
        specials = list(dict.fromkeys(specials))
        if "[UNK]" not in specials:
            raise AnnError("WordPiece needs '[UNK]' among its special tokens, for words it "
                           "cannot build from pieces")
        if vocab_size <= len(specials):
            raise AnnError(f"vocab_size={vocab_size} leaves no room beside the {len(specials)} "
                           "special tokens")
        hf = _hf()
        bpe = hf.Tokenizer(hf.models.BPE(unk_token="[UNK]"))
        bpe.normalizer = hf.normalizers.BertNormalizer(lowercase=lowercase)
        bpe.pre_tokenizer = hf.pre_tokenizers.Sequence([hf.pre_tokenizers.BertPreTokenizer(),
                                                        hf.pre_tokenizers.Metaspace()])
        trainer = hf.trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                         special_tokens=specials, show_progress=False)
        bpe.train_from_iterator(list(texts), trainer=trainer)
        learned = sorted(bpe.get_vocab().items(), key=lambda kv: kv[1])  # in id order
        pieces = list(specials)
        for piece, _ in learned[len(specials):]:
            if piece.startswith("\u2581"):      # a word start: "▁gor" -> "gor"
                pieces.append(piece[1:])
            else:                           # inside a word: "geous" -> "##geous"
                pieces += [piece] * (len(piece) == 1) + ["##" + piece]
        vocab = {p: i for i, p in enumerate(dict.fromkeys(q for q in pieces if q))}
        tok = hf.Tokenizer(hf.models.WordPiece(vocab, unk_token="[UNK]"))
        tok.normalizer = hf.normalizers.BertNormalizer(lowercase=lowercase)
        tok.pre_tokenizer = hf.pre_tokenizers.BertPreTokenizer()
        tok.decoder = hf.decoders.WordPiece()
        tok.add_special_tokens(specials)
        return cls(tok.to_str())

    def token_to_id(self, token: str) -> int:
        """The id of one token (a piece or a special token such as ``"[MASK]"``)."""
        i = self._tok.token_to_id(token)
        if i is None:
            raise AnnError(f"token {token!r} is not in this WordPiece vocabulary")
        return i

    def id_to_token(self, i: int) -> str:
        """The piece or special token of id ``i`` (``"##s"`` for a continuation)."""
        return self._tok.id_to_token(self._ids([i])[0])



# ---------------------------------------------------------------- a checkpoint's own tokenizer

# The roles of special tokens, with the names ann's BERT code asks for them by.
SPECIAL_ROLES = ("bos", "eos", "unk", "pad", "cls", "sep", "mask")
_BERT_NAMES = {"[CLS]": "cls", "[SEP]": "sep", "[PAD]": "pad", "[MASK]": "mask", "[UNK]": "unk"}


class PretrainedTokenizer(_HFTokenizer):
    """The tokenizer a pretrained checkpoint came with (``ann import``), held as a Hugging Face
    ``tokenizers.Tokenizer``: byte-level BPE, WordPiece or Unigram, exactly as the checkpoint's
    ``tokenizer.json`` describes it, with what ``tokenizer_config.json`` adds: the special
    tokens by role (``specials``: bos, eos, unk, pad, cls, sep, mask -> token), the padding side,
    the chat template and the longest input. ``encode`` adds no special tokens (the task adds
    what its model expects). A role's token is found by BERT's name too: ``token_to_id("[CLS]")``
    is the checkpoint's classification token whatever it is called.
    """

    kind = "pretrained"

    def __init__(self, hf_json: str, specials: dict | None = None, padding_side: str = "right",
                 chat_template: str | None = None, model_max_length: int | None = None):
        super().__init__(hf_json)
        self.specials = {k: v for k, v in (specials or {}).items() if v is not None}
        self.padding_side, self.chat_template = padding_side, chat_template
        self.model_max_length = model_max_length

    def token_to_id(self, token: str) -> int:
        """The id of one token, or of the special token whose role BERT's name says."""
        i = self._tok.token_to_id(token)
        if i is None and _BERT_NAMES.get(token) in self.specials:
            i = self._tok.token_to_id(self.specials[_BERT_NAMES[token]])
        if i is None:
            raise AnnError(f"token {token!r} is not in this tokenizer's vocabulary")
        return i

    def id_to_token(self, i: int) -> str:
        return self._tok.id_to_token(self._ids([i])[0])

    def special_id(self, role: str) -> int | None:
        """The id of the special token of ``role`` (``"eos"``, ``"mask"``, ...), if it has one."""
        token = self.specials.get(role)
        return None if token is None else self._tok.token_to_id(token)

    @property
    def special_ids(self) -> list[int]:
        """Every special token's id (those of the roles and the added special tokens)."""
        ids = {t for t in (self.special_id(r) for r in self.specials) if t is not None}
        ids |= {i for i, t in self._tok.get_added_tokens_decoder().items() if t.special}
        return sorted(ids)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "specials": self.specials, "padding_side": self.padding_side,
                "chat_template": self.chat_template, "model_max_length": self.model_max_length}

    @classmethod
    def _from_dict(cls, obj):
        return cls(obj["tokenizer"], obj.get("specials"), obj.get("padding_side", "right"),
                   obj.get("chat_template"), obj.get("model_max_length"))


# ------------------------------------------------------------------------------------ loading

KINDS: dict[str, type[Tokenizer]] = {c.kind: c for c in (CharTokenizer, WordTokenizer, BPETokenizer)}
KINDS.update({c.kind: c for c in (RegexTokenizer, TokenizerPair)})
KINDS[WordPieceTokenizer.kind] = WordPieceTokenizer
KINDS[PretrainedTokenizer.kind] = PretrainedTokenizer


def tokenizer_from_dict(obj: dict[str, Any], origin: str = "tokenizer") -> Tokenizer:
    """The tokenizer described by ``obj`` (a ``to_dict()`` result); ``origin`` names it in errors."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind not in KINDS:
        raise CorruptFile(f"{origin}: not an ann tokenizer (its \"kind\" is {kind!r}, expected one "
                          f"of {', '.join(KINDS)}); save the tokenizer again with .save()")
    fmt = obj.get("format", FORMAT)
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise CorruptFile(f"{origin}: tokenizer format {fmt!r} is not one this ann understands "
                          f"(up to {FORMAT}); upgrade ann or save the tokenizer again")
    try:
        return KINDS[kind]._from_dict(obj)
    except AnnError:
        raise
    except Exception as e:  # missing keys, wrong types, a damaged embedded BPE model
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CorruptFile(f"{origin}: damaged {kind} tokenizer ({type(e).__name__}: {why}); "
                          f"save the tokenizer again with .save()") from None


def load_tokenizer(path) -> Tokenizer:
    """Read a tokenizer written by ``save``, whatever its kind."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnnError(f"{path}: no such tokenizer file; check the path, or train a tokenizer "
                       f"and .save() it there") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CorruptFile(f"{path}: cannot read the tokenizer file ({type(e).__name__}); "
                          f"save the tokenizer again") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise CorruptFile(f"{path}: damaged tokenizer file, not valid JSON (line {e.lineno}); "
                          f"save the tokenizer again with .save()") from None
    return tokenizer_from_dict(obj, str(path))
