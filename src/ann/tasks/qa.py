"""Extractive question answering: find the answer to a question as a span of a passage.

``ann train bert-qa-pydoc`` trains BERT's span head (``bert-qa``) on questions about the standard
library's docstrings, ``ann eval RUN`` gives exact match and F1 as SQuAD scores them, and ``ann
ask RUN --context FILE "What does `str.split` return?"`` prints the answer (``--json``: its score
and character offsets in the file).

The model scores every token as the answer's start and as its end (Devlin et al. 2019, section
4.2, https://arxiv.org/abs/1810.04805); training minimises the mean of the two cross-entropies
over the row's tokens. The answer is the passage span ``i <= j`` of at most ``max_answer_len``
tokens with the highest ``start[i] + end[j]``, unless the ``[CLS]`` position's ``start[0] +
end[0]`` ("no answer", SQuAD 2.0; section 4.3) is higher.

Scores follow the official SQuAD v2.0 evaluation script: both texts are normalised (lowercase,
punctuation removed, the articles a/an/the removed, whitespace collapsed); exact match is 1 when
they are equal; F1 is the harmonic mean of precision and recall of the shared words (counted with
multiplicity), 1 when both are empty and 0 when only one is; each question takes its best over its
gold answers (gold answers that normalise to nothing are dropped; none left: the gold answer is
the empty "no answer"). Both are reported in percent, averaged over the questions.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.qa import QASplit
from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import Answer, Option, Task, Verb

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop punctuation, drop a/an/the, collapse whitespace."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Word-overlap F1 of two answers after :func:`normalize_answer`."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: list[str], golds: list[list[str]]) -> dict[str, float]:
    """``exact_match`` and ``f1`` in percent over questions, each the best over its golds."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} questions")
    em = f1 = 0.0
    for pred, answers in zip(predictions, golds):
        answers = [a for a in answers if normalize_answer(a)] or [""]
        em += max(exact_match(pred, a) for a in answers)
        f1 += max(f1_score(pred, a) for a in answers)
    n = max(len(predictions), 1)
    return {"exact_match": 100 * em / n, "f1": 100 * f1 / n}


def best_spans(logits: torch.Tensor, allowed: torch.Tensor, max_answer_len: int):
    """The best answer of each row: the span ``i <= j < i + max_answer_len`` of ``allowed``
    tokens maximising ``start[i] + end[j]``, or ``(0, 0)`` (no answer) when ``start[0] +
    end[0]`` is at least as high.

    Shapes:
        logits (B, T, 2), allowed (B, T) bool -> start (B,), end (B,), score (B,) of the best
        span, null (B,) the no-answer score.
    """
    s, e = logits[..., 0].float(), logits[..., 1].float()                # (B, T)
    T = s.size(1)                                                       # noqa: N806
    pairs = s[:, :, None] + e[:, None, :]                               # (B, T, T): [b, i, j]
    i = torch.arange(T, device=s.device)
    width = i[None, :] - i[:, None]                                     # (T, T): j - i
    ok = (width >= 0) & (width < max_answer_len)
    ok = ok[None] & allowed[:, :, None] & allowed[:, None, :]           # (B, T, T)
    pairs = pairs.masked_fill(~ok, float("-inf"))
    score, flat = pairs.flatten(1).max(1)                               # (B,)
    start, end = flat // T, flat % T
    null = s[:, 0] + e[:, 0]
    none = ~(score > null)
    return start.masked_fill(none, 0), end.masked_fill(none, 0), score, null


def _text(codes: torch.Tensor) -> str:
    return "".join(chr(c) for c in codes.tolist() if c >= 0)


def span_text(context: str, offsets: torch.Tensor, start: int, end: int) -> tuple[str, int, int]:
    """The answer's text and character offsets in ``context`` (``("", -1, -1)``: no answer)."""
    if start == 0 and end == 0:
        return "", -1, -1
    a, b = int(offsets[start, 0]), int(offsets[end, 1])
    return context[a:b], a, b


def baseline_answer(question: str, context: str) -> str:
    """The sentence of ``context`` that holds the most distinct (normalised) words of
    ``question``; the first of those tied; empty when the context is."""
    words = set(normalize_answer(question).split())
    sentences = [s for s in _SENTENCE_END.split(context.strip()) if s]
    if not sentences:
        return ""
    return max(sentences, key=lambda s: len(words & set(normalize_answer(s).split())))


@register_task
class ExtractiveQA(Task):
    """Answer spans (see the module docstring). A batch is ``(x, y, offsets, context,
    answers)`` (:class:`ann.data.qa.QASplit`); the model is called as ``model(x)`` and returns
    start and end scores, (B, T, 2). ``f1`` selects and judges a run; higher is better."""

    name = "qa"
    metric = "f1"
    higher_is_better = True
    verbs = {"ask": Verb("ask", "ask", (
                 Option("question", positional=True, required=True,
                        help='a question about the passage, e.g. "What does `str.split` return?"'),
                 Option("context", help="a UTF-8 text file holding the passage to answer from",
                        required=True, metavar="FILE")),
                         "the answer to a question as a span of a passage")}

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch[0], batch[1]
        logits = model(x).float()                                   # (B, T, 2)
        pad = (x == unwrap(model).config.pad_id)[..., None]        # (B, T, 1)
        logits = logits.masked_fill(pad, float("-inf"))
        start = F.cross_entropy(logits[..., 0], y[:, 0])
        end = F.cross_entropy(logits[..., 1], y[:, 1])
        return (start + end) / 2, {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        predictions, golds, total, count = [], [], 0.0, 0
        limit = unwrap(model).config.max_answer_len
        for batch in batches:
            x, y, offsets, context, answers = batch
            logits = model(x).float()                              # (B, T, 2)
            if y.numel():
                pad = (x == unwrap(model).config.pad_id)[..., None]
                masked = logits.masked_fill(pad, float("-inf"))
                total += ((F.cross_entropy(masked[..., 0], y[:, 0], reduction="sum")
                           + F.cross_entropy(masked[..., 1], y[:, 1], reduction="sum")) / 2).item()
                count += len(y)
            start, end, _, _ = best_spans(logits, offsets[..., 0] >= 0, limit)
            for b in range(len(x)):
                text = _text(context[b])
                predictions.append(span_text(text, offsets[b].cpu(), int(start[b]), int(end[b]))[0])
                golds.append([t for t in (_text(a) for a in answers[b]) if t])
        return {**squad_scores(predictions, golds), "loss": total / max(count, 1)}

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """The context sentence with the most question words (:func:`baseline_answer`)."""
        if not isinstance(test, QASplit):
            return {}
        examples = test.examples
        scores = squad_scores([baseline_answer(ex.question, ex.context) for ex in examples],
                              [list(ex.answers) for ex in examples])
        return {"question-word sentence": scores[metric or self.metric]}

    def report(self, run, test_data, folder) -> None:
        """``baseline.json``: the sentence baseline's exact match and F1 on the test split (a
        run on its recipe's own data has no baselines in its summary); ``samples.txt``: the
        first test questions with the gold and the predicted answers."""
        from .. import fileio

        if not isinstance(test_data, QASplit) or run.path is None:
            return
        examples = test_data.examples
        fileio.write_json(Path(folder) / "baseline.json", {
            "baseline": "the context sentence with the most question words",
            **squad_scores([baseline_answer(e.question, e.context) for e in examples],
                           [list(e.answers) for e in examples])})
        lines = []
        for ex in examples[:20]:
            got = answer(run, ex.question, ex.context)["answer"]
            lines.append(f"Q: {ex.question}\n  gold: {' | '.join(ex.answers) or '(none)'}\n"
                         f"  predicted: {got or '(none)'}")
        fileio.write_text(Path(folder) / "samples.txt", "\n".join(lines) + "\n")

    # --- use ------------------------------------------------------------------------------
    def ask(self, run, question: str, context: str) -> list[Answer]:
        """``ann ask RUN --context FILE "question"``: the answer span of the passage in FILE."""
        passage = read_passage(context)
        found = answer(run, question, passage)
        text = found["answer"] if found["answer"] else "(no answer in the passage)"
        return [Answer(text, {"question": question, **found})]


def read_passage(path: str) -> str:
    file = Path(path).expanduser()
    if not file.is_file():
        raise AnnError(f"--context {path}: no such file; give a text file holding the passage")
    try:
        passage = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AnnError(f"--context {path} is not UTF-8 text; save it as UTF-8") from None
    if not passage.strip():
        raise AnnError(f"--context {path} is empty; give a file holding the passage to answer "
                       "from")
    return passage


def answer(run, question: str, passage: str) -> dict:
    """The best span of ``passage`` for ``question``: ``{"answer", "start", "end", "score",
    "null_score"}`` (start/end: character offsets; -1 and an empty answer: none). A passage
    longer than the model reads is read in overlapping windows, the best span over all kept."""
    tok, config = run.tokenizer, unwrap(run.model).config
    if not question.strip():
        raise AnnError("the question is empty; give a question about the passage")
    if not passage.strip():
        raise AnnError("the passage is empty; give a passage to answer from")
    cls, sep, pad = (tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    q = tok.encode(question)
    room = config.max_len - len(q) - 3
    if room < 1:
        raise AnnError(f"the question is {len(q)} tokens, but the model reads at most "
                       f"{config.max_len} tokens with the passage and [CLS]/[SEP]; shorten the "
                       f"question to under {config.max_len - 3} tokens")
    ids, offs = tok.encode_with_offsets(passage)
    stride = max(room // 2, 1)
    starts = list(range(0, max(len(ids) - room, 0) + 1, stride))
    if starts[-1] + room < len(ids):
        starts.append(len(ids) - room)
    rows, offsets = [], []
    for w in starts:
        part = ids[w:w + room]
        rows.append([cls, *q, sep, *part, sep])
        offsets.append([(-1, -1)] * (len(q) + 2) + offs[w:w + room])
    width = max(len(r) for r in rows)
    x = torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)
    off = torch.tensor([o + [(-1, -1)] * (width - len(o)) for o in offsets], dtype=torch.long)
    model = run.model
    device, was_training = next(model.parameters()).device, model.training
    model.eval()                                          # no dropout in an answer
    with torch.no_grad():
        logits = model(x.to(device)).float().cpu()                     # (W, T, 2)
    model.train(was_training)
    start, end, score, null = best_spans(logits, off[..., 0] >= 0, config.max_answer_len)
    spans = [b for b in range(len(rows)) if not (start[b] == 0 and end[b] == 0)]
    if not spans:
        return {"answer": "", "start": -1, "end": -1, "score": round(float(null.max()), 4),
                "null_score": round(float(null.max()), 4)}
    b = max(spans, key=lambda k: float(score[k]))
    text, a, z = span_text(passage, off[b], int(start[b]), int(end[b]))
    return {"answer": text, "start": a, "end": z, "score": round(float(score[b]), 4),
            "null_score": round(float(null[b]), 4)}
