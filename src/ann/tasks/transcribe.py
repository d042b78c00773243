"""Speech recognition: recordings to transcripts with CTC (``ann train ctc-fsdd``, then
``ann transcribe RUN file.wav``).

A model of this task scores, for each of its steps, a blank and every label
(:mod:`ann.models.recurrent.ctc`). Training maximises the probability of the transcript summed
over every alignment that reads as it (``torch.nn.functional.ctc_loss``; Graves et al. 2006).
Decoding reads a transcript off the scores: greedy (the best label of each step, repeats
merged, blanks dropped) or CTC prefix beam search (Hannun et al. 2014,
https://arxiv.org/abs/1408.2873), which sums the probability of every path that collapses to
the same prefix and keeps the ``beam`` best, so it finds transcripts whose probability is
spread over many paths. Scored by word error rate (the selection metric) and character error
rate (:func:`ann.metrics.wer`, :func:`ann.metrics.cer`), and the share of utterances
transcribed exactly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..metrics import cer, wer
from ..registry import register_task
from .base import BEAM, DECODING, FILES, Answer, Task, Verb

BLANK = 0


def targets(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded labels (B, L) with -1 padding -> the concatenated CTC targets (label + 1, so the
    blank is 0) and each row's length (B,)."""
    keep = y >= 0
    return y[keep] + 1, keep.sum(1)


def greedy_decode(log_probs: torch.Tensor, length: int | None = None) -> list[int]:
    """Best path decoding of one utterance: the best class of each step, runs of the same
    class merged, blanks dropped; labels returned as class - 1.

    Shapes: log_probs (T, 1 + C)."""
    best = log_probs[:length].argmax(-1).tolist()
    out, prev = [], BLANK
    for k in best:
        if k != prev and k != BLANK:
            out.append(k - 1)
        prev = k
    return out


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def beam_decode(log_probs: torch.Tensor, beam: int, length: int | None = None) -> list[int]:
    """CTC prefix beam search over one utterance: each kept prefix carries the log-probability
    of the paths that read as it and end in a blank, and of those that end in its last label;
    each step extends the ``beam`` best prefixes by the step's ``beam`` likeliest classes
    (Hannun et al. 2014, without a language model). Labels returned as class - 1.

    Shapes: log_probs (T, 1 + C)."""
    lp = log_probs[:length].double()
    beams = {(): (0.0, -math.inf)}                 # prefix -> (log p ending blank, ending label)
    for t in range(lp.size(0)):
        row = lp[t].tolist()
        top = sorted(range(len(row)), key=row.__getitem__, reverse=True)[:max(beam, 2)]
        nxt = defaultdict(lambda: (-math.inf, -math.inf))
        for prefix, (pb, pl) in beams.items():
            total = _logsumexp(pb, pl)
            for k in top:
                p = row[k]
                if k == BLANK:                     # the prefix stays, now ending in a blank
                    b, n = nxt[prefix]
                    nxt[prefix] = (_logsumexp(b, total + p), n)
                    continue
                ext = prefix + (k,)
                b, n = nxt[ext]
                if prefix and prefix[-1] == k:     # a repeat needs a blank in between ...
                    nxt[ext] = (b, _logsumexp(n, pb + p))
                    b0, n0 = nxt[prefix]           # ... else it merges into the same label
                    nxt[prefix] = (b0, _logsumexp(n0, pl + p))
                else:
                    nxt[ext] = (b, _logsumexp(n, total + p))
        beams = dict(sorted(nxt.items(), key=lambda kv: _logsumexp(*kv[1]),
                            reverse=True)[:beam])
    best = max(beams.items(), key=lambda kv: _logsumexp(*kv[1]))[0]
    return [k - 1 for k in best]


def decode(log_probs: torch.Tensor, lengths: torch.Tensor, beam: int = 1) -> list[list[int]]:
    """Labels of each utterance of a batch: greedy when ``beam`` is 1, else prefix beam search.

    Shapes: log_probs (B, T, 1 + C), lengths (B,)."""
    lp = log_probs.detach().float().cpu()
    if beam <= 1:
        return [greedy_decode(lp[i], int(n)) for i, n in enumerate(lengths)]
    return [beam_decode(lp[i], beam, int(n)) for i, n in enumerate(lengths)]


def as_text(labels, classes=None) -> str:
    """Labels as a transcript: their class names (default: the label numbers) joined by
    spaces ("4 7 1")."""
    return " ".join(str(classes[k] if classes else k) for k in labels)


@register_task
class Transcription(Task):
    """Recordings to label strings with CTC; word error rate (lower is better)."""

    name = "transcribe"
    metric = "wer"
    higher_is_better = False
    evaluate_options = DECODING[:1]      # ann eval --beam N
    verbs = {"transcribe": Verb("transcribe", "transcribe_files", (FILES, BEAM),
                                "transcribe WAV recordings (any sample rate: resampled to the "
                                "run's); greedy, or CTC prefix beam search with --beam")}

    def __init__(self, beam_size: int = 1):
        if beam_size < 1:
            raise AnnError(f"beam size must be at least 1, got {beam_size}")
        self.beam_size = beam_size

    def inputs(self, model, batch) -> tuple:
        return batch[0], batch[1]

    def logits(self, model, batch) -> torch.Tensor:
        """Per-step log-probabilities (B, T', 1 + C) of the blank and each label."""
        return model(*self.inputs(model, batch))[0]

    def lengths(self, model, data) -> torch.Tensor:
        """(N,) frames of each utterance, for ``train.length_buckets``."""
        return data.lengths

    def _ctc(self, model, batch, reduction="mean"):
        if len(batch) != 3 or batch[2].dim() != 2:
            raise AnnError("a transcribe model trains on speech with transcripts, batches of "
                           "(features, lengths, labels): give data.name=fsdd-strings or "
                           "tone-strings")
        x, lengths, y = batch
        log_probs, steps = model(x, lengths)                         # (B, T', 1 + C), (B,)
        tgt, tgt_lengths = targets(y)
        if bool((steps < tgt_lengths).any()):
            raise AnnError("an utterance has fewer model steps than labels; lower "
                           "model.subsample")
        loss = F.ctc_loss(log_probs.transpose(0, 1), tgt, steps, tgt_lengths, blank=BLANK,
                          reduction=reduction, zero_infinity=True)
        return loss, log_probs, steps

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """CTC loss per label, averaged over the batch (``torch.nn.functional.ctc_loss``'s
        ``mean``: each utterance's loss divided by its transcript's length)."""
        return self._ctc(model, batch)[0], {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        """Loss (per label), word and character error rates and exact matches over batches
        ``(x, lengths, y)``, decoding greedily or with the task's beam."""
        total, labels, hyps, refs = 0.0, 0, [], []
        for batch in batches:
            loss, log_probs, steps = self._ctc(model, batch, reduction="sum")
            y = batch[2].cpu()
            total += loss.item()
            labels += int((y >= 0).sum())
            hyps += [as_text(h) for h in decode(log_probs, steps, self.beam_size)]
            refs += [as_text(row[row >= 0].tolist()) for row in y]
        return {"loss": total / max(labels, 1), "wer": wer(hyps, refs), "cer": cer(hyps, refs),
                "exact": sum(h == r for h, r in zip(hyps, refs)) / max(len(refs), 1)}

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``empty``: no transcript at all (WER 1); ``majority``: the commonest training label
        repeated as many times as the commonest transcript length."""
        y, ty = train.y, test.y
        counts = torch.bincount(y[y >= 0])
        length = int(torch.bincount((y >= 0).sum(1)).argmax())
        guess = " ".join([str(int(counts.argmax()))] * length)
        refs = [as_text(row[row >= 0].tolist()) for row in ty]
        m = metric or self.metric
        score = {"wer": wer, "cer": cer}.get(m)
        if score is None:
            return {}
        return {"empty": score([""] * len(refs), refs), "majority": score([guess] * len(refs), refs)}

    def report(self, run, test_data, folder) -> None:
        """``samples.txt``: transcripts of the first test utterances beside the truth; and,
        where the dataset holds out a speaker (``fsdd-strings``), ``speaker.json``: the
        metrics on that speaker's strings."""
        from .. import fileio, registry
        from ..data.splits import load_split
        from ..train.batches import eval_batches
        from ..train.device import model_device

        model, classes = run.model.eval(), run.info.get("classes", [])
        device = model_device(model)
        x, lengths, y = (t.to(device) for t in test_data.batch(slice(0, 20)))
        with torch.no_grad():
            log_probs, steps = model(x, lengths)
        lines = [f"truth {as_text(row[row >= 0].tolist(), classes):<14}  heard "
                 f"{as_text(h, classes)}" for row, h in zip(y.cpu(), decode(log_probs, steps))]
        fileio.write_text(Path(folder) / "samples.txt", "\n".join(lines) + "\n")
        if "speaker" in registry.dataset_entry(run.config.data.name).splits:
            data = load_split(run.config, "speaker")
            metrics = self.evaluate(model, eval_batches(data, 100, device))
            fileio.write_json(Path(folder) / "speaker.json",
                              {"speaker": data.info.get("held_out_speaker", ""), **metrics})

    def transcribe_files(self, run, files=(), beam: int | None = None) -> list[Answer]:
        """``ann transcribe RUN FILE.wav ...``: each recording's transcript. A recording at
        another sample rate is resampled to the run's; every file is read and checked before
        any transcript is printed."""
        from ..train.device import model_device

        beam = 1 if beam is None else beam
        if beam < 1:
            raise AnnError(f"--beam must be at least 1, got {beam}")
        info, model = run.info, run.model.eval()
        inputs = [(f, read_recording(f, info)) for f in files]
        device = model_device(model)
        out = []
        for f, x in inputs:
            with torch.no_grad():
                log_probs, steps = model(x.to(device), torch.tensor([x.shape[-1]]))
            text = as_text(decode(log_probs, steps, beam)[0], info.get("classes", []))
            out.append(Answer(f"{f}: {text}", {"file": str(f), "transcript": text}))
        return out


def read_recording(path, info: dict) -> torch.Tensor:
    """A WAV file as the (1, F, T) standardised features the run was trained on; another
    sample rate is resampled (band-limited, :func:`ann.data.audio.resample`)."""
    from ..data.audio import features, read_wav, resample, standardise

    samples, rate = read_wav(path)          # refuses empty, non-PCM and cut-short files
    if rate != info["sample_rate"]:
        samples = resample(samples, rate, info["sample_rate"])
    hop = info["sample_rate"] * info["features"]["hop_ms"] // 1000
    if len(samples) < 2 * hop:
        raise AnnError(f"{path} holds {len(samples)} samples at {info['sample_rate']} Hz, too "
                       "short to transcribe; give a recording of speech")
    return standardise(features(torch.from_numpy(samples)[None], info["sample_rate"],
                                **info["features"]))

