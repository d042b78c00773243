"""Extractive question answering data: a question, a passage, and answers that are spans of it.

``ann train bert-qa-pydoc`` trains on the embedded set; ``ann train bert-qa-pydoc data.name=squad
data.path=train-v1.1.json`` on SQuAD (or your own file in SQuAD's format), and ``ann ask RUN
--context FILE "question"`` answers from a passage of your own.

Each example becomes one row ``[CLS] question [SEP] passage [SEP]`` of WordPiece ids padded to the
model's ``max_len``; the targets are the answer's first and last token (both 0, the ``[CLS]``
position, when the passage holds no answer, as BERT does for SQuAD 2.0). A question keeps its first
``max_len // 2`` pieces; a passage that does not fit in what is left is cut, and the example keeps
the cut text as its passage (what the model and the baseline both read); a training example whose
answer was cut away is dropped (``info["cut"]`` counts the cut passages, ``info["dropped"]`` the
dropped examples). Evaluation scores answers as text against the gold answers, so each batch also
carries, as integer tensors, every passage token's character span, the passage's characters and
the gold answers' characters (:class:`QASplit`).

* ``squad``: SQuAD v1.1 or v2.0 (Rajpurkar et al. 2016, 2018, https://rajpurkar.github.io/SQuAD-explorer/),
  read from ``data.path=FILE.json`` in the official format (``data`` -> ``paragraphs`` ->
  ``qas``; v2.0's ``is_impossible`` questions have no answer). No checksum of the official files
  is recorded here, so nothing is downloaded: place the files yourself. ``data.eval_path`` (the
  official dev file) becomes the test split and 5% of the training file's articles the val split;
  without it the articles are split 80/10/10 (seeded by ``data.split_seed``), so no article is in
  two splits. WordPiece (8,192 pieces) is trained on the training split's questions and passages,
  or ``data.tokenizer=FILE.json`` (an imported BERT's) is used.
* ``pydoc-qa`` (embedded): questions generated from the docstrings of the standard library of the
  Python running ann, read from its source files with :mod:`ast` (nothing is imported or run).
  Every public function and method (``module.Class.method``; packages ``test``, ``idlelib``,
  ``tkinter``, ``lib2to3``, ``turtledemo``, ``ensurepip``, ``site-packages`` and private names
  ``_x`` skipped) whose docstring, with its whitespace collapsed into single spaces, is the passage:

  - a sentence ``Return X.`` (or ``Returns X``; the period is optional at the end), X of 1
    to 25 words, gives "What does `module.func` return?" with the answer X (the first such
    sentence);
  - a phrase ``raise NameError`` / ``raises NameError`` (a name ending in Error, Exception,
    Warning, Exit or Interrupt) gives "What does `module.func` raise?" with the answer the name
    (its first mention);
  - a docstring with no word "return" at all gives, for one in five such functions (chosen by a
    checksum of the name), "What does `module.func` return?" with no answer.

  Questions are deduplicated by (kind, passage), keeping the first in sorted order of qualified
  names, since copies of one docstring (``posixpath``/``ntpath``) would otherwise reach two
  splits. Splits are by top-level module (``os.path`` goes with ``os``): a module's CRC-32 modulo
  20 puts it in train (0-15), val (16-17) or test (18-19), so no module is in two splits. The
  tokenizer is ``pydoc-mlm``'s WordPiece, so a ``bert-pydoc`` run starts a ``bert-qa`` run.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import os
import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import field
from ..errors import AnnError
from ..registry import register_dataset
from ..split import Split
from .sentences import _pydoc_tokenizer, check_max_len, given_tokenizer, special_facts
from .tokenizers import WordPieceTokenizer

VOCAB_SIZE = 8192
QA_MAX_LEN = 128
MAX_ANSWER_WORDS = 25
SQUAD_SPLITS = (0.8, 0.1, 0.1)
SQUAD_VAL_FRACTION = 0.05

_SPECIALS = {"pad_id": 0, "unk_id": 1, "cls_id": 2, "sep_id": 3, "mask_id": 4, "n_special": 5}
PYDOC_QA_INFO = {
    "task": "qa", "vocab_size": VOCAB_SIZE, "max_len": QA_MAX_LEN, **_SPECIALS,
    "reads_tokenizer": True,
    "description": "questions on the standard library's docstrings (What does `f` return / "
                   "raise?), answers spans of the docstring; split by module (embedded)",
    "source": "the docstrings in the source files of the Python standard library",
}
SQUAD_INFO = {
    "task": "qa", "vocab_size": VOCAB_SIZE, "max_len": QA_MAX_LEN, **_SPECIALS,
    "reads_tokenizer": True,
    "description": "SQuAD v1.1/v2.0 from data.path=FILE.json (official format); data.eval_path: "
                   "the dev file, as test",
    "source": "https://rajpurkar.github.io/SQuAD-explorer/",
}


@dataclass(frozen=True)
class QAExample:
    """One question: ``answers`` are the gold texts (none: the passage does not answer it) and
    ``starts`` their character offsets in ``context``; ``group`` is what splits keep apart (an
    article's title, a top-level module)."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...] = ()
    starts: tuple[int, ...] = ()
    group: str = ""


# ------------------------------------------------------------------------------- tensors

def _chars(text: str, width: int) -> list[int]:
    return [ord(c) for c in text] + [-1] * (width - len(text))


def chars_text(row: torch.Tensor) -> str:
    """The text of a row of character codes (``-1`` padding), as :class:`QASplit` stores it."""
    return "".join(chr(c) for c in row.tolist() if c >= 0)


class QASplit(Split):
    """Encoded questions: ``batch(index)`` gives ``(x, y, offsets, context, answers)``.

    Shapes:
        x (B, T) int64 rows ``[CLS] question [SEP] passage [SEP] [PAD]...``; y (B, 2) int64 the
        answer's first and last token (0, 0: no answer); offsets (B, T, 2) int64 each passage
        token's character span in the passage (-1 elsewhere); context (B, C) int64 the passage's
        character codes; answers (B, K, A) int64 the gold answers' character codes (-1 padding;
        a question without answers has none). T, C and A are cut to the batch's longest.
    """

    def __init__(self, examples, tensors, info):
        self.examples, self.info = examples, info
        self.x, self.y, self.offsets, self.context, self.answers = tensors

    def __len__(self) -> int:
        return len(self.examples)

    def batch(self, index) -> tuple[torch.Tensor, ...]:
        x = self.x[index]
        width = max(int((x != self.info["pad_id"]).sum(1).max()) if len(x) else 1, 1)
        context, answers = self.context[index], self.answers[index]
        c = max(int((context >= 0).sum(1).max()) if len(x) else 1, 1)
        a = max(int((answers >= 0).sum(2).max()) if len(x) else 1, 1)
        return (x[:, :width], self.y[index], self.offsets[index][:, :width], context[:, :c],
                answers[:, :, :a])


def encode(examples: list[QAExample], tok, max_len: int, train: bool):
    """The rows, targets and character tensors of ``examples`` (see :class:`QASplit`), the
    examples kept (with their passages as cut), and how many passages were cut and examples
    dropped."""
    cls, sep, pad = (tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    rows, kept, cut, dropped = [], [], 0, 0
    for ex in examples:
        q = tok.encode(ex.question)[:max_len // 2]
        ids, offs = tok.encode_with_offsets(ex.context)
        room = max_len - len(q) - 3
        context = ex.context
        if len(ids) > room:
            cut += 1
            ids, offs = ids[:room], offs[:room]
            context = ex.context[:offs[-1][1]] if offs else ""
        span = _token_span(ex, offs, len(context))
        if span is None and ex.answers and train:
            dropped += 1
            continue
        base = len(q) + 2                                   # the passage's first position
        y = (0, 0) if span is None else (base + span[0], base + span[1])
        ex = dataclasses.replace(ex, context=context)     # every gold answer still counts
        rows.append(([cls, *q, sep, *ids, sep], y, [(-1, -1)] * base + offs, ex))
        kept.append(ex)
    n = len(rows)
    k = max((len(ex.answers) for ex in kept), default=0) or 1
    a = max((len(t) for ex in kept for t in ex.answers), default=0) or 1
    c = max((len(ex.context) for ex in kept), default=0) or 1
    x = torch.full((n, max_len), pad, dtype=torch.int64)
    offsets = torch.full((n, max_len, 2), -1, dtype=torch.int64)
    for i, (ids, _, offs, _) in enumerate(rows):
        x[i, :len(ids)] = torch.tensor(ids)
        if offs:
            offsets[i, :len(offs)] = torch.tensor(offs)
    y = torch.tensor([r[1] for r in rows], dtype=torch.int64).reshape(n, 2)
    context = torch.tensor([_chars(ex.context, c) for ex in kept], dtype=torch.int64).reshape(n, c)
    answers = torch.tensor([[_chars(t, a) for t in ex.answers] + [[-1] * a] * (k - len(ex.answers))
                            for ex in kept], dtype=torch.int64).reshape(n, k, a)
    return (x, y, offsets, context, answers), kept, cut, dropped


def _token_span(ex: QAExample, offs, length: int) -> tuple[int, int] | None:
    """The passage tokens (first, last) of the first gold answer that lies in the kept text."""
    for text, start in zip(ex.answers, ex.starts):
        end = start + len(text)
        if not text.strip() or end > length:
            continue
        first = next((i for i, (_, e) in enumerate(offs) if e > start), None)
        last = next((i for i in range(len(offs) - 1, -1, -1) if offs[i][0] < end), None)
        if first is not None and last is not None and first <= last:
            return first, last
    return None


def make_split(examples, tok, max_len: int, split: str, info: dict) -> QASplit:
    tensors, kept, cut, dropped = encode(examples, tok, check_max_len(max_len), split == "train")
    if not kept:
        raise AnnError(f"the {split} split holds no questions; give a file with more of them")
    info = {**info, "vocab_size": tok.vocab_size, "max_len": max_len, "tokenizer": tok.to_dict(),
            **special_facts(tok), "cut": cut, "dropped": dropped,
            "fills": ("pad_id", "sep_id")}       # a saved tokenizer's ids reach the model
    return QASplit(kept, tensors, info)


# ------------------------------------------------------------------------------- SQuAD

@dataclass
class SquadOptions:
    """Your SQuAD-format files."""

    path: str = field("", "a SQuAD-format JSON file of your own (squad: the training file, e.g. "
                      "train-v2.0.json)", path=True)
    eval_path: str = field("", "a second SQuAD-format file of your own, the test split (squad: "
                           "the official "
                           "dev file); empty: the articles of data.path are split 80/10/10",
                           path=True)
    split_seed: int = field(0, "seed of the shuffle that splits the articles (squad)", nonneg=True)


def read_squad(path) -> list[QAExample]:
    """Every question of a SQuAD v1.1/v2.0 file, its article's title as the group."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise AnnError(f"data.path={path} is not a file; give a SQuAD-format JSON file "
                       "(e.g. train-v1.1.json from https://rajpurkar.github.io/SQuAD-explorer/)")
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        out = []
        for n, article in enumerate(articles):
            title = str(article.get("title", n))
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    answers = [] if qa.get("is_impossible") else qa["answers"]
                    out.append(QAExample(str(qa["id"]), qa["question"], context,
                                         tuple(a["text"] for a in answers),
                                         tuple(int(a["answer_start"]) for a in answers), title))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AnnError(f"{path} is not JSON text ({type(e).__name__}); give a SQuAD-format "
                       "file") from None
    except (KeyError, TypeError, ValueError) as e:
        raise AnnError(f"{path} is not in SQuAD's format (data -> paragraphs -> qas with "
                       f"question, id and answers; missing or bad: {e}); check the file") from None
    if not out:
        raise AnnError(f"{path} holds no questions; give a SQuAD-format file")
    return out


def _by_groups(examples, seed: int, fractions) -> dict[str, list[QAExample]]:
    groups = sorted({ex.group for ex in examples})
    random.Random(seed).shuffle(groups)
    a = round(len(groups) * fractions[0])
    b = a + round(len(groups) * fractions[1]) if len(fractions) > 2 else len(groups)
    where = {g: ("train" if i < a else "val" if i < b else "test") for i, g in enumerate(groups)}
    out = {"train": [], "val": [], "test": []}
    for ex in examples:
        out[where[ex.group]].append(ex)
    return out


@functools.lru_cache(maxsize=2)
def _squad_splits(path: str, eval_path: str, seed: int, stamp) -> dict[str, list[QAExample]]:
    examples = read_squad(path)
    if not eval_path:
        return _by_groups(examples, seed, SQUAD_SPLITS)
    out = _by_groups(examples, seed, (1 - SQUAD_VAL_FRACTION, SQUAD_VAL_FRACTION))
    out["test"] = read_squad(eval_path)
    return out


def _stamp(*paths) -> tuple:
    return tuple((os.stat(p).st_size, os.stat(p).st_mtime_ns) if p and os.path.isfile(p) else None
                 for p in paths)


@functools.lru_cache(maxsize=2)
def _squad_tokenizer(path: str, eval_path: str, seed: int, stamp) -> WordPieceTokenizer:
    train = _squad_splits(path, eval_path, seed, stamp)["train"]
    texts = sorted({ex.context for ex in train}) + [ex.question for ex in train]
    return WordPieceTokenizer.train(texts, VOCAB_SIZE)


@register_dataset("squad", info=SQUAD_INFO, embedded=False, options=SquadOptions)
def load_squad(split: str, max_len: int = QA_MAX_LEN, path: str = "", eval_path: str = "",
               split_seed: int = 0, tokenizer: str = "") -> QASplit:
    """SQuAD-format questions from ``path`` (and ``eval_path`` as the test split)."""
    if not path:
        raise AnnError("dataset squad reads your SQuAD-format file: set data.path=FILE.json "
                       "(train-v1.1.json or train-v2.0.json from "
                       "https://rajpurkar.github.io/SQuAD-explorer/)")
    path, eval_path = str(Path(path).expanduser()), eval_path and str(Path(eval_path).expanduser())
    stamp = _stamp(path, eval_path)
    examples = _squad_splits(path, eval_path, split_seed, stamp)[split]
    tok = given_tokenizer(tokenizer, "squad") or _squad_tokenizer(path, eval_path, split_seed, stamp)
    return make_split(examples, tok, max_len, split, SQUAD_INFO)


# ------------------------------------------------------------------------------- pydoc-qa

SKIP_PACKAGES = ("test", "idlelib", "tkinter", "lib2to3", "turtledemo", "ensurepip",
                 "site-packages", "dist-packages", "__pycache__", "pydoc_data")
_RETURN = re.compile(r"(?:^|(?<=[.!?:]\s))Returns?\s+(.+?)(?:\.(?=\s|$)|$)")
_RAISE = re.compile(r"\b[Rr]aises?\s+([A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt))\b")


def _stdlib_files(root: Path):
    """(dotted module name, path) of every public module file of the standard library."""
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root).parts
        if rel and (rel[0] in SKIP_PACKAGES or any(p.startswith(("_", ".")) or p == "tests"
                                                   for p in rel)):
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".py") or (name.startswith("_") and name != "__init__.py"):
                continue
            parts = rel + (() if name == "__init__.py" else (name[:-3],))
            if parts and "-" not in "".join(parts):
                yield ".".join(parts), Path(folder) / name


def _docstrings(module: str, tree: ast.AST):
    """(qualified name, docstring) of the public functions and methods in ``tree``."""
    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                yield from visit(child, f"{prefix}.{child.name}")
            elif (isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and not child.name.startswith("_")):
                doc = ast.get_docstring(child)
                if doc:
                    yield f"{prefix}.{child.name}", doc
    yield from visit(tree, module)


def questions_from(name: str, doc: str) -> list[tuple[str, QAExample]]:
    """The (kind, question) pairs the construction above makes from one docstring."""
    context = " ".join(doc.split())
    group = name.split(".")[0]
    out = []
    m = _RETURN.search(context)
    if m and 1 <= len(m.group(1).split()) <= MAX_ANSWER_WORDS:
        out.append(("return", QAExample(f"{name}:return", f"What does `{name}` return?", context,
                                        (m.group(1),), (m.start(1),), group)))
    elif "return" not in context.lower() and zlib.crc32(name.encode()) % 5 == 0:
        out.append(("return", QAExample(f"{name}:return", f"What does `{name}` return?", context,
                                        (), (), group)))
    m = _RAISE.search(context)
    if m:
        out.append(("raise", QAExample(f"{name}:raise", f"What does `{name}` raise?", context,
                                       (m.group(1),), (m.start(1),), group)))
    return out


def module_split(group: str) -> str:
    """The split a top-level module's questions are in."""
    r = zlib.crc32(group.encode()) % 20
    return "train" if r < 16 else "val" if r < 18 else "test"


@functools.lru_cache(maxsize=2)
def pydoc_questions(only: tuple[str, ...] | None = None) -> dict[str, list[QAExample]]:
    """Every question of ``pydoc-qa``, by split (see the module docstring); ``only``: just
    those of these top-level modules."""
    root = Path(os.__file__).parent
    seen, out = set(), {"train": [], "val": [], "test": []}
    found = []
    for module, path in _stdlib_files(root):
        if only is not None and module.split(".")[0] not in only:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        found.extend(_docstrings(module, tree))
    for name, doc in sorted(found):
        for kind, ex in questions_from(name, doc):
            if (kind, ex.context) not in seen:
                seen.add((kind, ex.context))
                out[module_split(ex.group)].append(ex)
    return out


@register_dataset("pydoc-qa", info=PYDOC_QA_INFO, embedded=True)
def load_pydoc_qa(split: str, max_len: int = QA_MAX_LEN, tokenizer: str = "") -> QASplit:
    """Questions on the standard library's docstrings (see the module docstring)."""
    tok = given_tokenizer(tokenizer, "pydoc-qa") or _pydoc_tokenizer()
    return make_split(pydoc_questions()[split], tok, max_len, split, PYDOC_QA_INFO)
