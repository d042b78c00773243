"""Tasks: how a batch becomes a loss, and how a split becomes metrics.

A model names its task in the class attribute ``task``; the one training loop asks the task for
the loss. A model that needs something special (a GAN's two optimisers, a VAE's KL term) defines
``training_step`` itself and the task steps aside.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import AnnError, unknown
from .regression import Regression


class Classification:
    """Inputs to class scores; cross-entropy loss; accuracy (higher is better)."""

    name = "classify"
    metric = "accuracy"
    higher_is_better = True

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean cross-entropy of one batch ``(x, y)``."""
        x, y = batch
        logits = model(x)                                   # (B, num_classes)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
        return loss, {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        """Loss and accuracy over an iterable of ``(x, y)`` batches (sums, then one division)."""
        total_loss, correct, count = 0.0, 0, 0
        for x, y in batches:
            logits = model(x).float()
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            count += len(y)
        return {"loss": total_loss / max(count, 1), "accuracy": correct / max(count, 1)}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Class probabilities, (B, num_classes)."""
        return torch.softmax(model(x).float(), dim=-1)


class LanguageModeling:
    """Next-token prediction: tokens (B, T) to logits (B, T, V); mean cross-entropy per token
    (nats); perplexity = exp(loss). Lower is better."""

    name = "lm"
    metric = "loss"
    higher_is_better = False

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch                                        # (B, T), (B, T)
        logits = model(x)                                   # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten()), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, count = 0.0, 0
        for x, y in batches:
            logits = model(x).float()                       # (B, T, V)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
        loss = total / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Next-token probabilities after each sequence, (B, V)."""
        return torch.softmax(model(x)[:, -1].float(), dim=-1)


def _config(model):
    """The config of a model that may be wrapped (DistributedDataParallel, torch.compile)."""
    inner = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner).config


def mask_tokens(x: torch.Tensor, mask_id: int, n_special: int, vocab_size: int, pad_id: int = 0,
                prob: float = 0.15, generator: torch.Generator | None = None):
    """BERT's input corruption (Devlin et al. 2019, section 3.1 and appendix A.1).

    Chooses ``max(1, round(prob * n))`` of the batch's ``n`` ordinary tokens (ids >= n_special,
    so never [PAD], [UNK], [CLS], [SEP] or [MASK]) uniformly at random; of the chosen ones 80%
    become [MASK], 10% a random ordinary token and 10% stay as they are. Random numbers come from
    ``generator`` (on ``x``'s device), or from the global RNG when it is ``None``.

    Shapes:
        x (B, T) int64 -> inputs (B, T) int64, chosen (B, T) bool.
    """
    ordinary = (x >= n_special) & (x != pad_id)                 # (B, T)
    n = int(ordinary.sum())
    if n == 0:
        raise AnnError("a masked-LM batch holds no ordinary tokens to mask (only special ones); "
                       "check that the dataset's sentences are not empty")
    keys = torch.rand(x.shape, generator=generator, device=x.device).masked_fill(~ordinary, 2.0)
    picked = keys.flatten().topk(max(1, round(prob * n)), largest=False).indices
    chosen = torch.zeros(x.numel(), dtype=torch.bool, device=x.device)
    chosen[picked] = True
    chosen = chosen.view_as(x)                                  # (B, T)
    how = torch.rand(x.shape, generator=generator, device=x.device)
    random_ids = torch.randint(n_special, vocab_size, x.shape, generator=generator, device=x.device)
    inputs = torch.where(chosen & (how < 0.8), mask_id, x)
    inputs = torch.where(chosen & (how >= 0.8) & (how < 0.9), random_ids, inputs)
    return inputs, chosen


class MaskedLanguageModeling:
    """BERT's masked-LM objective: corrupt ~15% of the tokens (:func:`mask_tokens`) and predict
    the originals there. A batch is ``(x, x)`` token rows; the model is called as
    ``model(inputs, chosen)`` and returns logits at the chosen positions only, (N, V). Loss,
    perplexity and accuracy are over the chosen positions; lower loss is better.

    The token ids come from the model's config (``mask_id``, ``n_special``, ``pad_id``,
    ``vocab_size``). Training draws masks from the global RNG (checkpointed, so a resumed run
    is exact); evaluation from a generator seeded with 0, so every evaluation of a split masks
    the same positions and the numbers are comparable.
    """

    name = "mlm"
    metric = "loss"
    higher_is_better = False
    prob = 0.15

    def _corrupt(self, model, x, generator=None):
        c = _config(model)
        return mask_tokens(x, c.mask_id, c.n_special, c.vocab_size, c.pad_id, self.prob, generator)

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x = batch[0]                                        # (B, T); the targets are x itself
        inputs, chosen = self._corrupt(model, x)
        logits = model(inputs, chosen)                      # (N, V)
        return F.cross_entropy(logits.float(), x[chosen]), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, correct, count, generator = 0.0, 0, 0, None
        for batch in batches:
            x = batch[0]
            if generator is None:
                generator = torch.Generator(device=x.device).manual_seed(0)
            inputs, chosen = self._corrupt(model, x, generator)
            logits, y = model(inputs, chosen).float(), x[chosen]      # (N, V), (N,)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            count += len(y)
        loss = total / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)),
                "accuracy": correct / max(count, 1)}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Token probabilities at every position, (B, T, V)."""
        return torch.softmax(model(x).float(), dim=-1)


class Seq2Seq:
    """Sequence to sequence (translation): a batch is ``(src, tgt)``, ``tgt`` = [BOS] tokens [EOS]
    [PAD]...; teacher forcing feeds ``tgt[:, :-1]`` and predicts ``tgt[:, 1:]``. The loss is the
    mean cross-entropy per real target token (padding ignored), with optional label smoothing
    (Szegedy et al. 2016; the Transformer uses 0.1).

    ``evaluate`` gives ``loss`` (no smoothing) and ``perplexity`` per target token, token
    ``accuracy`` under teacher forcing, and from decoding every source (``model.translate``:
    greedy unless ``beam_size`` > 1) corpus ``bleu`` (0-100, :func:`ann.metrics.corpus_bleu` on
    token ids up to the end token) and ``exact_match``. BLEU, the figure translation papers
    report, selects the best checkpoint (``metric``). The price is a greedy decoding of the whole
    split at every evaluation: one cached decoder step per output token, about twice the cost of
    the teacher-forced pass (Multi30k's 1,014 validation sentences: ~30 s at one thread, against
    ~14 min for an epoch of training). Reference tokens equal to the model's ``unk_id`` never
    count as matches, which makes BLEU on ids equal to BLEU on the original reference words.

    The ids come from the model's config (``pad_id``, ``eos_id``, ``unk_id``). Columns that are
    padding in every row of a batch are trimmed off first.
    """

    name = "seq2seq"
    metric = "bleu"
    higher_is_better = True
    decodes = True  # evaluate decodes sequences: ``ann eval --beam/--length-penalty`` apply

    def __init__(self, label_smoothing: float = 0.0, beam_size: int = 1, length_penalty: float = 0.0):
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
        pad = _config(model).pad_id
        rows = [t for t in data.batch(slice(0, len(data)))[:2] if not t.is_floating_point()]
        return torch.stack([(t != pad).sum(1) for t in rows]).amax(0)

    def inputs(self, model, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's arguments for a batch: the trimmed source and the target minus its end."""
        pad = _config(model).pad_id
        src, tgt = self.trim(batch[0], pad), self.trim(batch[1], pad)
        return src, tgt[:, :-1]

    def logits(self, model, batch) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for ``tgt[:, 1:]``."""
        return model(*self.inputs(model, batch))

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        pad = _config(model).pad_id
        logits = self.logits(model, batch)                  # (B, T, V)
        target = batch[1][:, 1:logits.size(1) + 1]          # (B, T)
        return F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=pad,
                               label_smoothing=self.label_smoothing), {}

    @torch.no_grad()
    def decode_split(self, model, batches):
        """One pass over a split: teacher-forced loss summed over target tokens, correct next
        tokens and their count, then the decoded hypotheses, the references (token lists ended
        at the end token) and each example's source (B, S) rows."""
        c = _config(model)
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

        unk = getattr(_config(model), "unk_id", None)
        matchable = [[-1 - i if t == unk else t for i, t in enumerate(r)] for r in refs]
        return corpus_bleu(hyps, matchable), exact_match(hyps, refs)

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, correct, count, hyps, refs, _ = self.decode_split(model, batches)
        loss = total / max(count, 1)
        bleu, em = self.scores(model, hyps, refs)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)),
                "accuracy": correct / max(count, 1), "bleu": bleu, "exact_match": em}

    @torch.no_grad()
    def predict(self, model, src) -> torch.Tensor:
        """Decoded target ids (B, L), ended by the end token and padded."""
        return model.translate(src, self.beam_size, self.length_penalty)


def until_eos(ids: list[int], eos_id: int) -> list[int]:
    """The ids before the first ``eos_id`` (all of them when there is none)."""
    return ids[:ids.index(eos_id)] if eos_id in ids else ids


TASKS = {"classify": Classification, "lm": LanguageModeling, "mlm": MaskedLanguageModeling,
         "seq2seq": Seq2Seq, "regression": Regression}

def get_task(name: str, **kwargs):
    if name not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[name](**kwargs)


# The other families' tasks live in their own modules, imported last because they build on the
# classes above: autoencoders and GANs, graphs, recurrent streams and forecasts, segmentation,
# detection, text-to-text (T5), and the multimodal ones (CLIP, captioning).
from .tasks_detection import DETECTION_TASKS  # noqa: E402
from .tasks_generative import GENERATIVE_TASKS  # noqa: E402
from .tasks_graph import GRAPH_TASKS  # noqa: E402
from .tasks_multimodal import MULTIMODAL_TASKS  # noqa: E402
from .tasks_recurrent import RECURRENT_TASKS  # noqa: E402
from .tasks_segmentation import SEGMENTATION_TASKS  # noqa: E402
from .tasks_text2text import TEXT2TEXT_TASKS  # noqa: E402

TASKS.update({**GENERATIVE_TASKS, **GRAPH_TASKS, **RECURRENT_TASKS, **SEGMENTATION_TASKS,
              **DETECTION_TASKS, **TEXT2TEXT_TASKS, **MULTIMODAL_TASKS})
