"""T5's objectives (Raffel et al. 2020, https://arxiv.org/abs/1910.10683).

* ``text2text``: supervised text to text, many tasks in one model told apart by a prefix of the
  input. Trained as ``seq2seq`` (teacher forcing, cross-entropy per output token); evaluated by
  greedy decoding with exact match and BLEU overall *and per task*. The model's config names the
  tasks (``tasks``: ``name=first token id`` of each prefix, filled from the dataset), so the
  evaluation can tell an example's task from its first input token.
* ``span_corrupt``: T5's unsupervised pretraining (section 3.1.4). About 15% of each row's
  tokens are dropped in spans of mean length 3 (:func:`random_spans_mask`); each span is
  replaced in the input by one sentinel ``<extra_id_i>`` and the target lists the sentinels,
  each followed by its dropped span: "Thank you <X> me to your party <Y> week" -> "<X> for
  inviting <Y> last <Z>" (the paper's figure 2). :func:`span_corrupt` and :func:`restore_spans`
  go there and back exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import BEAM, MAX_LEN, Answer, Option, Task, Verb
from .seq2seq import Seq2Seq, source_row, until_eos

# --- span corruption -----------------------------------------------------------------------------


def _partition(n: int, parts: int, generator: torch.Generator | None) -> list[int]:
    """``n`` split into ``parts`` positive lengths, uniformly among all such splits (the
    ``parts - 1`` cut points are a random subset of the ``n - 1`` gaps)."""
    cuts = (torch.randperm(n - 1, generator=generator)[:parts - 1] + 1).sort().values.tolist()
    edges = [0, *cuts, n]
    return [b - a for a, b in zip(edges, edges[1:])]


def span_counts(length: int, noise_density: float = 0.15, mean_span_length: float = 3.0
                ) -> tuple[int, int]:
    """(noise tokens, noise spans) for a row of ``length`` tokens: round(length * density)
    tokens (at least 1, at most length - 1) in round(tokens / mean span length) spans (at least
    1), as T5's ``random_spans_noise_mask``; fixed by the length alone."""
    if length < 2:
        raise AnnError(f"span corruption needs rows of at least 2 tokens, got {length}")
    n_noise = min(max(round(length * noise_density), 1), length - 1)
    n_spans = max(round(n_noise / mean_span_length), 1)
    return n_noise, min(n_spans, n_noise, length - n_noise)


def random_spans_mask(length: int, noise_density: float = 0.15, mean_span_length: float = 3.0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Which of ``length`` tokens are noise: :func:`span_counts` spans whose lengths, and the
    lengths of the kept stretches between them, are random partitions. A row starts with kept
    tokens and ends with a noise span, as in T5. The same ``generator`` state gives the same mask.

    Shapes:
        -> (length,) bool, True = noise.
    """
    n_noise, n_spans = span_counts(length, noise_density, mean_span_length)
    noise = _partition(n_noise, n_spans, generator)
    keep = _partition(length - n_noise, n_spans, generator)
    mask = []
    for k, n in zip(keep, noise):
        mask += [False] * k + [True] * n
    return torch.tensor(mask)


def span_corrupt(tokens: list[int], sentinel_id: int, noise_density: float = 0.15,
                 mean_span_length: float = 3.0, generator: torch.Generator | None = None
                 ) -> tuple[list[int], list[int]]:
    """T5's (inputs, targets) for one row of ``tokens`` (no end token): each noise span of
    :func:`random_spans_mask` becomes the sentinel ``sentinel_id - i`` (``<extra_id_i>``) in the
    inputs, and the targets are each sentinel followed by its span."""
    mask = random_spans_mask(len(tokens), noise_density, mean_span_length, generator).tolist()
    inputs, targets, span = [], [], -1
    for i, (token, noise) in enumerate(zip(tokens, mask)):
        if noise and (i == 0 or not mask[i - 1]):  # a span starts
            span += 1
            inputs.append(sentinel_id - span)
            targets.append(sentinel_id - span)
        (targets if noise else inputs).append(token)
    return inputs, targets


def restore_spans(inputs: list[int], targets: list[int], sentinel_id: int, n_sentinels: int
                  ) -> list[int]:
    """The row :func:`span_corrupt` started from: each sentinel in ``inputs`` replaced by the
    tokens after the same sentinel in ``targets``."""
    sentinels = set(range(sentinel_id - n_sentinels + 1, sentinel_id + 1))
    spans, current = {}, None
    for token in targets:
        if token in sentinels:
            current = spans.setdefault(token, [])
        elif current is not None:
            current.append(token)
    out = []
    for token in inputs:
        out += spans.get(token, []) if token in sentinels else [token]
    return out


def _pad(rows: list[list[int]], pad_id: int, device) -> torch.Tensor:
    out = torch.full((len(rows), max(map(len, rows))), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return out.to(device)


class _TextOut:
    """What a T5 run does for its user, whatever it was trained on: text in, text out."""

    verbs = {"generate": Verb("generate", "answer", (
                 Option("prompt", help='text-to-text runs: the input text, e.g. "sort: 5 2 9 1"'),
                 BEAM, MAX_LEN),
                              "the output text for a prompt: greedy, or beam search with --beam")}

    def answer(self, run, prompt: str | None = None, beam: int = 1,
               max_len: int | None = None) -> list[Answer]:
        """``ann generate RUN --prompt "PREFIX: text"``: the model's output text."""
        if prompt is None:
            raise AnnError(f'{run.path} is a text-to-text run; give --prompt "PREFIX: text"')
        if beam < 1:
            raise AnnError(f"--beam must be at least 1, got {beam}")
        out = text_to_text(run, prompt, beam, max_len)
        return [Answer(out, {"prompt": prompt, "output": out})]


@register_task
class SpanCorruption(_TextOut, Task):
    """T5's span-corruption objective. A batch is ``(x, x)``: rows of text tokens, each ended by
    ``eos_id`` (or the row's end) and padded with ``pad_id``. Each row becomes (inputs + [EOS],
    [BOS] + targets + [EOS]) by :func:`span_corrupt` with the model's ``sentinel_id``; the model
    is trained as a seq2seq model on those. ``loss``/``perplexity``/``accuracy`` are over the
    target tokens (lower loss is better).

    Training draws spans from the global RNG (checkpointed, so a resumed run is exact);
    evaluation and :meth:`logits` from a generator seeded with 0, so every evaluation of a split
    corrupts the same spans.
    """

    name = "span_corrupt"

    metric = "loss"
    higher_is_better = False
    noise_density = 0.15
    mean_span_length = 3.0

    def pairs(self, model, x: torch.Tensor, generator: torch.Generator | None = None):
        """(src, tgt) for token rows ``x``, both padded.

        Shapes:
            x (B, L) int64 -> src (B, S), tgt (B, T) int64.
        """
        c = unwrap(model).config
        if c.sentinel_id < 0 or c.n_sentinels < 1:
            raise AnnError("span corruption needs sentinel tokens: the model's sentinel_id and "
                           "n_sentinels are unset; train on a span-corruption dataset such as "
                           "pydoc-spans")
        srcs, tgts = [], []
        for row in x.tolist():
            row = until_eos(row, c.eos_id)
            row = row[:row.index(c.pad_id)] if c.pad_id in row else row
            n_spans = span_counts(len(row), self.noise_density, self.mean_span_length)[1]
            if n_spans > c.n_sentinels:
                raise AnnError(f"a row of {len(row)} tokens needs {n_spans} sentinels but the model "
                               f"has {c.n_sentinels}; use shorter rows or more sentinels")
            inputs, targets = span_corrupt(row, c.sentinel_id, self.noise_density,
                                           self.mean_span_length, generator)
            srcs.append(inputs + [c.eos_id])
            tgts.append([c.bos_id, *targets, c.eos_id])
        return _pad(srcs, c.pad_id, x.device), _pad(tgts, c.pad_id, x.device)

    def logits(self, model, batch) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) of a fixed corruption (generator seeded with 0)."""
        src, tgt = self.pairs(model, batch[0], torch.Generator().manual_seed(0))
        return model(src, tgt[:, :-1])

    def _loss_sum(self, model, src, tgt):
        pad = unwrap(model).config.pad_id
        logits = model(src, tgt[:, :-1]).float()  # (B, T, V)
        target = tgt[:, 1:]  # (B, T)
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=pad,
                               reduction="sum")
        real = target != pad
        return loss, int(((logits.argmax(-1) == target) & real).sum()), int(real.sum())

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        src, tgt = self.pairs(model, batch[0])
        total, _, count = self._loss_sum(model, src, tgt)
        return total / max(count, 1), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        generator = torch.Generator().manual_seed(0)
        total, correct, count = 0.0, 0, 0
        for batch in batches:
            src, tgt = self.pairs(model, batch[0], generator)
            loss, right, n = self._loss_sum(model, src, tgt)
            total, correct, count = total + loss.item(), correct + right, count + n
        loss = total / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)),
                "accuracy": correct / max(count, 1)}

    @torch.no_grad()
    def predict(self, model, src) -> torch.Tensor:
        """The spans the model writes for corrupted inputs ``src`` (B, S): greedy ids (B, L)."""
        return model.translate(src)

    def report(self, run, test_data, path) -> None:
        """``samples.txt``: a few corrupted test rows, the spans written and the true ones."""
        from .. import fileio

        tok, model = run.tokenizer, run.model.eval()
        c = model.config
        device = next(model.parameters()).device
        x = test_data.batch(slice(0, 8))[0].to(device)
        src, tgt = self.pairs(model, x, torch.Generator().manual_seed(0))
        out = model.translate(src)
        lines = []
        for s, o, t in zip(src.tolist(), out.tolist(), tgt.tolist()):
            show = lambda ids: tok.decode([i for i in until_eos(ids, c.eos_id) if i != c.pad_id])  # noqa: E731
            lines += [f"input:  {show(s)}", f"model:  {show(o)}", f"truth:  {show(t[1:])}", ""]
        fileio.write_text(path / "samples.txt", "\n".join(lines))


# --- text to text --------------------------------------------------------------------------------


@register_task
class TextToText(_TextOut, Seq2Seq):
    """T5's supervised text-to-text task: ``seq2seq`` training, and ``evaluate`` reporting
    ``loss``, ``perplexity``, token ``accuracy``, ``bleu`` and ``exact_match`` (0-1, the
    selection metric) over the split and ``<task>_exact_match``, ``<task>_bleu`` for each task
    of the model's ``tasks``. Decoding is greedy unless ``beam_size`` > 1."""

    name = "text2text"

    metric = "exact_match"
    higher_is_better = True

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        c = unwrap(model).config
        total, correct, count, hyps, refs, sources = self.decode_split(model, batches)
        loss = total / max(count, 1)
        bleu, em = self.scores(model, hyps, refs)
        out = {"loss": loss, "perplexity": math.exp(min(loss, 50.0)),
               "accuracy": correct / max(count, 1), "bleu": bleu, "exact_match": em,
               **self.text_scores(model, hyps, refs, sources)}
        firsts = [row[0] for row in sources]        # the task prefix's first token tells the task
        for first, name in c.task_ids().items():
            keep = [f == first for f in firsts]
            if any(keep):
                out[f"{name}_bleu"], out[f"{name}_exact_match"] = self.scores(
                    model, [h for h, k in zip(hyps, keep) if k], [r for r, k in zip(refs, keep) if k])
        return out

    def report(self, run, test_data, path) -> None:
        """``samples.txt`` (a few test examples per task: input, model output, reference) and
        ``tasks.png`` (test exact match per task)."""
        from .. import fileio

        tok, model = run.tokenizer, run.model.eval()
        c = model.config
        device = next(model.parameters()).device
        show = lambda ids: tok.decode([i for i in until_eos(ids, c.eos_id) if i != c.pad_id])  # noqa: E731
        firsts = test_data.x[:, 0].tolist()
        lines = []
        for first, name in c.task_ids().items() or {None: "all"}.items():
            index = [i for i, f in enumerate(firsts) if first is None or f == first][:4]
            if not index:
                continue
            src, tgt = test_data.batch(torch.tensor(index))
            out = model.translate(self.trim(src, c.pad_id).to(device)).tolist()
            lines.append(f"== {name}")
            for s, o, t in zip(src.tolist(), out, tgt.tolist()):
                mark = "ok " if until_eos(o, c.eos_id) == until_eos(t[1:], c.eos_id) else "   "
                lines.append(f"{mark} {show(s)}  ->  {show(o)}   (reference: {show(t[1:])})")
            lines.append("")
        fileio.write_text(path / "samples.txt", "\n".join(lines))
        test = run.summary.get("test", {})
        per_task = {n: test[f"{n}_exact_match"] for n in c.task_ids().values()
                    if f"{n}_exact_match" in test}
        if per_task:
            _plot_tasks(per_task, path / "tasks.png")


def _plot_tasks(per_task: dict[str, float], file) -> None:
    from matplotlib.figure import Figure

    from .. import fileio

    fig = Figure(figsize=(1.2 + 1.1 * len(per_task), 3.2))
    ax = fig.subplots()
    bars = ax.bar(list(per_task), [100 * v for v in per_task.values()], color="#4c72b0")
    ax.bar_label(bars, fmt="%.1f")
    ax.set_ylim(0, 105)
    ax.set_ylabel("test exact match (%)")
    ax.set_title("T5: one model, tasks told apart by their prefix")
    fig.tight_layout()
    with fileio.atomic_path(file) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def text_to_text(run, prompt: str, beam_size: int = 1, max_len: int | None = None) -> str:
    """The output text of a T5 run (t5-tasks, t5-multi30k-sst2, t5-pretrain-pydoc) for
    ``prompt``, which must start with one of the run's task prefixes when its dataset has them
    ("sst2 sentence: a gorgeous film"): greedy, or beam search when ``beam_size`` > 1."""
    if not prompt or not prompt.strip():
        raise AnnError('--prompt is empty; give a task prefix and text, e.g. "sort: 3 1 2"')
    prefixes = run.info.get("prefixes") or []
    if prefixes and not any(prompt.strip().lower().startswith(p.lower()) for p in prefixes):
        raise AnnError(f"the prompt starts with no task prefix this model knows "
                       f"({prompt.strip().split(' ')[0]!r}); start it with one of: "
                       f"{', '.join(prefixes)}")
    tok, c = run.tokenizer, run.model.config
    src = source_row(run, tok.encode(prompt.strip()), "prompt")
    out = run.model.eval().translate(src, beam_size, 0.0, max_len)[0].tolist()
    out = out[:out.index(c.eos_id)] if c.eos_id in out else out
    return tok.decode([i for i in out if i != c.pad_id])
