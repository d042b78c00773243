"""Sequence to sequence (translation): teacher-forced cross-entropy; decoding, BLEU, exact match."""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import BEAM, DECODING, LENGTH_PENALTY, MAX_LEN, Answer, LabelSmoothing, Option, Task, Verb

# ``ann eval RUN --write-outputs FILE``: every decoded hypothesis beside its reference.
WRITE_OUTPUTS = Option("write_outputs", str, "write every hypothesis with its reference (and "
                       "source) to FILE, one JSON object a line", metavar="FILE")


@register_task
class Seq2Seq(LabelSmoothing, Task):
    """Sequence to sequence (translation): a batch is ``(src, tgt)``, ``tgt`` = [BOS] tokens [EOS]
    [PAD]...; teacher forcing feeds ``tgt[:, :-1]`` and predicts ``tgt[:, 1:]``. The loss is the
    mean cross-entropy per real target token (padding ignored), with optional label smoothing
    (Szegedy et al. 2016; the Transformer uses 0.1).

    ``evaluate`` gives ``loss`` (no smoothing) and ``perplexity`` per target token, token
    ``accuracy`` under teacher forcing, and from decoding every source (``model.translate``:
    greedy unless ``beam_size`` > 1) corpus ``bleu`` (0-100, :func:`ann.metrics.corpus_bleu` on
    token ids up to the end token) and ``exact_match``. Where the run's tokenizer is known
    (:meth:`~ann.tasks.base.Task.use_tokenizer`: the test evaluation, ``ann eval``), the decoded
    texts are scored too (:meth:`text_scores`): ``word_bleu``, the same BLEU on the words of the
    detokenized text, and ``sacrebleu``, the standard corpus BLEU (13a tokenization, cased, on
    detokenized text; its signature in :meth:`notes`) where the sacrebleu package is
    installed. BLEU, the figure translation papers
    report, selects the best checkpoint (``metric``). The price is a greedy decoding of the whole
    split at every evaluation: one cached decoder step per output token, about twice the cost of
    the teacher-forced pass (Multi30k's 1,014 validation sentences: ~30 s at one thread, against
    ~14 min for an epoch of training). Reference tokens equal to the model's ``unk_id`` never
    count as matches, which makes BLEU on ids equal to BLEU on the original reference words.

    The ids come from the model's config (``pad_id``, ``eos_id``, ``unk_id``). Columns that are
    padding in every row of a batch are trimmed off first.
    """

    name = "seq2seq"
    verbs = {"translate": Verb("translate", "translate_text", (
                 Option("text", positional=True, required=True,
                        help="the sentence in the source language"), BEAM, LENGTH_PENALTY, MAX_LEN),
                 "translate a sentence: greedy, or beam search with --beam")}
    metric = "bleu"
    higher_is_better = True
    # evaluate decodes sequences: `ann eval --beam` applies, and --write-outputs
    evaluate_options = (*DECODING, WRITE_OUTPUTS)

    def __init__(self, label_smoothing: float = 0.0, beam_size: int = 1, length_penalty: float = 0.0,
                 write_outputs: str = ""):
        self.write_outputs, self.signature = write_outputs, ""
        if beam_size < 1:
            raise AnnError(f"beam size must be at least 1, got {beam_size}")
        if length_penalty < 0:
            raise AnnError(f"length penalty must be 0 or more, got {length_penalty}")
        self.label_smoothing, self.beam_size, self.length_penalty = label_smoothing, beam_size, length_penalty

    @staticmethod
    def trim(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
        """``ids`` (B, L) without the trailing columns that hold only padding (at least one kept)."""
        used = (ids != pad_id).any(0).nonzero()
        return ids[:, :int(used[-1]) + 1 if len(used) else 1]

    def lengths(self, model, data) -> torch.Tensor:
        """(N,) each example's padded cost for ``train.length_buckets``: its longest token row
        (source or target; an image input, as the captioner's, has no length)."""
        pad = unwrap(model).config.pad_id
        rows = [t for t in data.batch(slice(0, len(data)))[:2] if not t.is_floating_point()]
        return torch.stack([(t != pad).sum(1) for t in rows]).amax(0)

    def inputs(self, model, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's arguments for a batch: the trimmed source and the target minus its end."""
        pad = unwrap(model).config.pad_id
        src, tgt = self.trim(batch[0], pad), self.trim(batch[1], pad)
        return src, tgt[:, :-1]

    def logits(self, model, batch) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for ``tgt[:, 1:]``."""
        return model(*self.inputs(model, batch))

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        pad = unwrap(model).config.pad_id
        logits = self.logits(model, batch)                  # (B, T, V)
        target = batch[1][:, 1:logits.size(1) + 1]          # (B, T)
        return F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=pad,
                               label_smoothing=self.label_smoothing), {}

    @torch.no_grad()
    def decode_split(self, model, batches):
        """One pass over a split: teacher-forced loss summed over target tokens, correct next
        tokens and their count, then the decoded hypotheses, the references (token lists ended
        at the end token) and each example's source (B, S) rows."""
        c = unwrap(model).config
        total, correct, count, hyps, refs, sources = 0.0, 0, 0, [], [], []
        for batch in batches:
            src, tgt_in = self.inputs(model, batch)
            target = batch[1][:, 1:tgt_in.size(1) + 1]      # (B, T)
            logits = model(src, tgt_in).float()             # (B, T, V)
            real = target != c.pad_id
            total += F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=c.pad_id,
                                     reduction="sum").item()
            correct += ((logits.argmax(-1) == target) & real).sum().item()
            count += int(real.sum())
            out = model.translate(src, self.beam_size, self.length_penalty)  # (B, L)
            hyps += [until_eos(row, c.eos_id) for row in out.tolist()]
            refs += [until_eos(row, c.eos_id) for row in target.tolist()]
            sources += src.tolist()
        return total, correct, count, hyps, refs, sources

    @staticmethod
    def scores(model, hyps, refs) -> tuple[float, float]:
        """(BLEU, exact match); an unknown token in a reference never counts as matched."""
        from ..metrics import corpus_bleu, exact_match

        unk = getattr(unwrap(model).config, "unk_id", None)
        matchable = [[-1 - i if t == unk else t for i, t in enumerate(r)] for r in refs]
        return corpus_bleu(hyps, matchable), exact_match(hyps, refs)

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, correct, count, hyps, refs, sources = self.decode_split(model, batches)
        loss = total / max(count, 1)
        bleu, em = self.scores(model, hyps, refs)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)),
                "accuracy": correct / max(count, 1), "bleu": bleu, "exact_match": em,
                **self.text_scores(model, hyps, refs, sources)}

    def text_scores(self, model, hyps, refs, sources) -> dict[str, float]:
        """Scores of the decoded text (none without a tokenizer): ``word_bleu`` and, where
        sacrebleu is installed, ``sacrebleu`` (its signature kept for :meth:`notes`); and every
        hypothesis, reference and source written to ``write_outputs`` where set."""
        from .. import fileio
        from ..metrics import corpus_bleu

        if self.tokenizer is None:
            if self.write_outputs:
                raise AnnError("--write-outputs needs the run's tokenizer.json to turn the "
                               "outputs into text; this run has none")
            return {}
        c, tok = unwrap(model).config, self.tokenizer
        text = lambda ids, t=tok: t.decode([i for i in ids if i != c.pad_id]).strip()  # noqa: E731
        hyp_text, ref_text = [text(h) for h in hyps], [text(r) for r in refs]
        out = {"word_bleu": corpus_bleu([h.split() for h in hyp_text], [r.split() for r in ref_text])}
        sacre = sacrebleu_score(hyp_text, ref_text)
        if sacre is not None:
            out["sacrebleu"], self.signature = sacre
        if self.write_outputs:
            source = getattr(tok, "source", tok)
            rows = [{"hypothesis": h, "reference": r} for h, r in zip(hyp_text, ref_text)]
            if sources and all(isinstance(v, int) for v in sources[0]):  # an image has no text
                for row, s in zip(rows, sources):
                    row["source"] = text(s, source)
            fileio.write_text(Path(self.write_outputs).expanduser(),
                              "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return out

    def notes(self) -> dict[str, str]:
        """sacreBLEU's signature of the last evaluation that computed it."""
        return {"sacrebleu": self.signature} if self.signature else {}

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``commonest``: the commonest training target (the first among equals) written for
        every test source, as a model that ignores its input would, in ``bleu`` or
        ``exact_match`` (an unknown token in a reference never matches, as in :meth:`scores`)."""
        from ..metrics import corpus_bleu, exact_match

        metric, eos, unk = metric or self.metric, train.info.get("eos_id"), train.info.get("unk_id")
        if metric not in ("bleu", "exact_match") or eos is None or not len(train) or not len(test):
            return {}

        def targets(data) -> list[tuple[int, ...]]:   # without the start token, until the end
            return [tuple(until_eos(row[1:], eos)) for row in data.batch(slice(0, len(data)))[1].tolist()]

        counts = collections.Counter(targets(train))
        commonest = list(max(counts, key=counts.__getitem__))
        refs = targets(test)
        hyps = [commonest] * len(refs)
        if metric == "exact_match":
            return {"commonest": exact_match(hyps, [list(r) for r in refs])}
        return {"commonest": corpus_bleu(hyps, [[-1 - i if t == unk else t for i, t in enumerate(r)]
                                                for r in refs])}

    @torch.no_grad()
    def predict(self, model, src) -> torch.Tensor:
        """Decoded target ids (B, L), ended by the end token and padded."""
        return model.translate(src, self.beam_size, self.length_penalty)

    def translate_text(self, run, text: str, beam: int = 1, length_penalty: float = 0.0,
                       max_len: int | None = None) -> list[Answer]:
        """``ann translate RUN TEXT``: the translation of ``text``."""
        out = translate(run, text, beam, length_penalty, max_len)
        return [Answer(out, {"text": text, "translation": out})]

    def report(self, run, test_data, folder) -> None:
        """``samples.txt``: greedy translations of the first test examples with their references."""
        from .. import fileio

        if run.path is not None and (run.path / "tokenizer.json").exists():
            lines = translation_samples(run, test_data)
            fileio.write_text(Path(folder) / "samples.txt", "\n".join(lines) + "\n")



def sacrebleu_score(hypotheses: list[str], references: list[str]) -> tuple[float, str] | None:
    """(corpus BLEU, signature) of detokenized texts by sacreBLEU (Post 2018, "A call for clarity
    in reporting BLEU scores", https://aclanthology.org/W18-6319/) with its defaults: 13a
    tokenization, cased, one reference; ``None`` where sacrebleu is not installed."""
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:
        return None
    bleu = BLEU()
    return float(bleu.corpus_score(hypotheses, [references]).score), str(bleu.get_signature())


def until_eos(ids: list[int], eos_id: int) -> list[int]:
    """The ids before the first ``eos_id`` (all of them when there is none)."""
    return ids[:ids.index(eos_id)] if eos_id in ids else ids


def translate(run, text: str, beam_size: int = 1, length_penalty: float = 0.0,
              max_len: int | None = None) -> str:
    """``text`` translated by a seq2seq run: greedy, or beam search when ``beam_size`` > 1 with
    the GNMT length penalty ``length_penalty``; ``max_len`` caps the output tokens."""
    if not text.strip():
        raise AnnError("the text to translate is empty; give a sentence")
    tok = run.tokenizer
    ids = tok.encode(text)
    if not ids:
        raise AnnError(f"the text {text!r} holds no tokens the model reads; give a sentence")
    check_known(run, tok, ids, text)
    src = source_row(run, ids, "text")
    run.model.eval()
    return tok.decode(run.model.translate(src, beam_size, length_penalty, max_len)[0])


# A vocabulary of characters is closed (``Tokenizer.closed``): its training data held no
# unknown character, so an input that has one ("-12", "12a" or full-width digits for the numbers
# model) has no translation. A vocabulary of words meets unknown words as a matter of course
# ("el gato." with an unseen full stop); only text made of nothing but unknown tokens is refused.


def check_known(run, tok, ids: list[int], text: str) -> None:
    """One line when ``text`` holds tokens outside a closed vocabulary, or only unknown ones."""
    unk = getattr(run.model.config, "unk_id", None)
    unknown = sum(i == unk for i in ids)
    if unk is None or not unknown:
        return
    if unknown == len(ids) or getattr(getattr(tok, "source", tok), "closed", False):
        raise AnnError(f"the text {text!r} holds {unknown} of {len(ids)} tokens this model never "
                       f"saw in training; give text "
                       "of the kind it was trained on")


def source_row(run, ids: list[int], what: str) -> torch.Tensor:
    """``ids`` and the end token as one source row for an encoder-decoder run, refused in one
    line when longer than the model reads.

    Shapes:
        ids: S ints -> (1, S + 1) int64 on the model's device.
    """
    c = run.model.config
    if len(ids) + 1 > c.max_src_len:
        raise AnnError(f"the {what} is {len(ids)} tokens but this model reads at most "
                       f"{c.max_src_len - 1} (max_src_len {c.max_src_len} with the end token); "
                       "shorten it")
    device = next(run.model.parameters()).device
    return torch.tensor([ids + [c.eos_id]], dtype=torch.long, device=device)


def translation_samples(run, data, n: int = 10) -> list[str]:
    """Greedy translations of the first ``n`` examples of a seq2seq split, each as three lines:
    the source, the model's output and the reference (as tokenized, lowercased text)."""
    tok = run.tokenizer
    src, tgt = data.batch(slice(0, n))
    out = run.model.eval().translate(src.to(next(run.model.parameters()).device))
    return [f"source:    {tok.source.decode(s)}\nmodel:     {tok.decode(h)}\nreference: "
            f"{tok.decode(t)}\n" for s, h, t in zip(src, out, tgt)]
