"""BERT's masked-language-model objective (Devlin et al. 2019, https://arxiv.org/abs/1810.04805)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import Answer, Option, Task, Verb


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


@register_task
class MaskedLanguageModeling(Task):
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
    verbs = {"fill": Verb("fill", "fill", (
                 Option("text", positional=True, required=True,
                        help='a sentence with one or more [MASK], e.g. "the [MASK] sat"'),
                 Option("top", int, "candidates per [MASK] (default 5)")),
                          "the likeliest tokens at each [MASK] of a sentence")}
    metric = "loss"
    higher_is_better = False
    prob = 0.15

    def _corrupt(self, model, x, generator=None):
        c = unwrap(model).config
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

    def fill(self, run, text: str, top: int = 5) -> list[Answer]:
        """``ann fill RUN "a [MASK] film"``: candidates and probabilities for each [MASK]."""
        masks = fill_masks(run, text, top)
        text_lines = "\n".join(f"[MASK] {n}: " + ", ".join(f"{t} {p:.3f}" for t, p in candidates)
                               for n, candidates in enumerate(masks, start=1))
        data = {"text": text, "masks": [[[t, round(p, 4)] for t, p in m] for m in masks]}
        return [Answer(text_lines, data)]

    def report(self, run, test_data, folder) -> None:
        """``samples.txt``: the dataset's example sentences with their [MASK]s filled in."""
        from .. import fileio

        if run.path is None or not (run.path / "tokenizer.json").exists():
            return
        lines = [f"{text}\n  " + ", ".join(f"{t} {p:.2f}" for t, p in fills[0])
                 for text in run.info.get("fill_examples", ())
                 for fills in [fill_masks(run, text)]]
        if lines:
            fileio.write_text(Path(folder) / "samples.txt", "\n".join(lines) + "\n")


def sentence_rows(run, texts: list[str]) -> torch.Tensor:
    """``[CLS] pieces [SEP]`` for each text, padded with ``[PAD]``: the input of a BERT run.

    Shapes:
        texts: B strings -> (B, T) int64, T the longest row.
    """
    max_len = getattr(run.model.config, "max_len", None)
    tok = run.tokenizer
    if max_len is None or not hasattr(tok, "token_to_id"):
        raise AnnError(f"{run.path} holds a {run.config.model_name} model, which does not read "
                       "sentences; use a BERT run such as bert-sst2 or bert-pydoc")
    cls, sep, pad = (tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    rows = []
    for text in texts:
        if not text.strip():
            raise AnnError("the text is empty; give a sentence")
        ids = [cls, *tok.encode(text), sep]
        if len(ids) > max_len:
            raise AnnError(f"the text {text[:40] + '...' if len(text) > 40 else text!r} is "
                           f"{len(ids)} tokens with [CLS] and [SEP], but the model reads at most "
                           f"{max_len}; shorten it")
        rows.append(ids)
    width = max(len(r) for r in rows)
    x = torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)
    return x.to(next(run.model.parameters()).device)


def fill_masks(run, text: str, top: int = 5) -> list[list[tuple[str, float]]]:
    """The ``top`` likeliest tokens and their probabilities at each ``[MASK]`` of ``text``, for
    a masked-LM run (bert-pydoc, bert-sst2-mlm)."""
    if top < 1:
        raise AnnError(f"--top must be at least 1, got {top}")
    x = sentence_rows(run, [text])
    tok = run.tokenizer
    where = (x[0] == tok.token_to_id("[MASK]")).nonzero().flatten()  # (M,)
    if len(where) == 0:
        raise AnnError("the text holds no [MASK]; write [MASK] where a word is to be filled "
                       "in, e.g. \"the [MASK] sat on the mat\"")
    probs = run.predict(x)[0, where].cpu()  # (M, V)
    p, i = probs.topk(min(top, probs.size(-1)), dim=-1)
    return [[(tok.id_to_token(int(j)), float(q)) for q, j in zip(ps, js)] for ps, js in zip(p, i)]
