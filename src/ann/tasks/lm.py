"""Language modelling: next-token prediction over windows of text, and over a stream read in order
(truncated backpropagation through time, the recurrent family)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import AnnError
from ..layers.recurrent import detach_state
from ..registry import register_task
from ..train.distributed import unwrap
from .base import SEED, Answer, Option, Task, Verb


def _to(state, device):
    return tuple(s.to(device) for s in state) if isinstance(state, tuple) else state.to(device)


@register_task
class LanguageModeling(Task):
    """Next-token prediction: tokens (B, T) to logits (B, T, V); mean cross-entropy per token
    (nats); perplexity = exp(loss). Lower is better."""

    name = "lm"
    verbs = {"generate": Verb("generate", "generate_text", (
        Option("prompt", help="language models: text to continue (default: start afresh)"),
        Option("max_new_tokens", int, "tokens to add (default: fill the model's context after "
               "the prompt)"),
        Option("temperature", float, "0 = greedy (default 0.8)"),
        Option("top_k", int, "sample from the k likeliest tokens"),
        Option("top_p", float, "nucleus sampling, in (0, 1]"), SEED,
        Option("slide", bool, "allow more tokens than the context holds: the window slides and "
               "the model forgets the oldest tokens")),
                              "text after a prompt, sampled token by token")}
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

    def generate_text(self, run, prompt: str | None = None, max_new_tokens: int | None = None,
                      temperature: float = 0.8, top_k: int | None = None, top_p: float | None = None,
                      seed: int = 0, slide: bool = False):
        """``ann generate RUN --prompt ...``: the prompt, then each new piece of text as it is
        sampled (streamed: ``end=""``), then the end of the line."""
        if prompt is not None and prompt == "":
            raise AnnError("--prompt is empty; give some text, or leave --prompt out to start afresh")
        if max_new_tokens is not None and max_new_tokens < 0:
            raise AnnError(f"--max-new-tokens must be 0 or more, got {max_new_tokens}")
        if top_p is not None and not 0 < top_p <= 1:
            raise AnnError(f"--top-p must be in (0, 1], got {top_p}")
        for piece in stream_text(run, prompt or "", max_new_tokens, temperature, top_k, top_p, seed,
                                 slide=slide):
            yield Answer(piece, None, end="")
        yield Answer("")

    def report(self, run, test_data, folder) -> None:
        """``samples.txt`` (and the summary's ``sample``): 300 tokens generated from nothing."""
        from .. import fileio

        if run.path is None or not (run.path / "tokenizer.json").exists():
            return
        text = sample_text(run, prompt="", max_new_tokens=300, seed=0, slide=True)
        fileio.write_text(Path(folder) / "samples.txt", text + "\n")
        run.summary["sample"] = text[:300]
        fileio.write_json(run.path / "summary.json", run.summary)


@register_task
class StreamLanguageModeling(LanguageModeling):
    """Next-token prediction over the token stream read in order, the recurrent state carried
    from one batch to the next and cut from the graph there (truncated BPTT; Zaremba et al.
    2014, https://arxiv.org/abs/1409.2329, section 4.1).

    ``sequential = True`` makes the engine hand out batches as ``batch_size`` parallel streams
    (:class:`~ann.train.batches.EpochBatches`); :meth:`start_step` resets the carried state at
    each epoch's start, and :meth:`state_dict` puts it into every checkpoint, so a resumed run
    continues with the state an uninterrupted one had. The model is called as
    ``model(x, state) -> (logits, state)`` and gives its zero state by ``initial_state(B, device)``.

    Evaluation reads a whole split as one stream (batch 1, ``eval_chunk`` tokens at a time with
    the state carried), so every token after the first is predicted from all that precede it,
    and the figure does not depend on the window length.
    """

    name = "lm_stream"
    sequential = True
    eval_chunk = 256

    def __init__(self):
        self.carry: dict[int, object] = {}      # micro-batch slot -> state
        self._slot = 0

    def start_step(self, step: int, steps_per_epoch: int):
        self._slot = 0
        if step % steps_per_epoch == 0:
            self.carry = {}

    def state_dict(self) -> dict:
        out = {}
        for slot, state in self.carry.items():
            for i, t in enumerate(state if isinstance(state, tuple) else (state,)):
                out[f"{slot}.{i}.{int(isinstance(state, tuple))}"] = t.detach().cpu()
        return out

    def load_state_dict(self, state: dict):
        parts: dict[int, dict] = {}
        for key, t in state.items():
            slot, i, is_tuple = (int(k) for k in key.split("."))
            parts.setdefault(slot, {"tuple": is_tuple})[i] = t
        self.carry = {}
        for slot, p in parts.items():
            tensors = [p[i] for i in sorted(k for k in p if k != "tuple")]
            self.carry[slot] = tuple(tensors) if p["tuple"] else tensors[0]

    def loss(self, model, batch):
        x, y = batch                                        # (B, T), (B, T)
        slot, self._slot = self._slot, self._slot + 1
        state = self.carry.get(slot)
        if state is None:
            state = unwrap(model).initial_state(x.size(0), x.device)
        else:
            state = _to(state, x.device)
        logits, state = model(x, state)                     # (B, T, V)
        self.carry[slot] = detach_state(state)
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten()), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        xs, ys = zip(*((x, y) for x, y in batches))
        x = torch.cat(xs).flatten()[None]                   # (1, N): the split as one stream
        y = torch.cat(ys).flatten()[None]
        state = unwrap(model).initial_state(1, x.device)
        total = 0.0
        for i in range(0, x.size(1), self.eval_chunk):
            logits, state = model(x[:, i:i + self.eval_chunk], state)   # (1, t, V)
            total += F.cross_entropy(logits[0].float(), y[0, i:i + self.eval_chunk],
                                     reduction="sum").item()
        loss = total / max(y.numel(), 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def sample_text(run, prompt: str, max_new_tokens: int | None, temperature: float = 0.8,
                top_k: int | None = None, top_p: float | None = None, seed: int = 0,
                slide: bool = False) -> str:
    """Text generated by a language-model run after ``prompt`` (empty: from the vocabulary's
    newline or end-of-sentence token, else token 0). See :func:`stream_text`."""
    return "".join(stream_text(run, prompt, max_new_tokens, temperature, top_k, top_p, seed, slide))


def stream_text(run, prompt: str, max_new_tokens: int | None, temperature: float = 0.8,
                top_k: int | None = None, top_p: float | None = None, seed: int = 0,
                slide: bool = False):
    """Yield decoded pieces of generated text one token at a time (the prompt first).

    The model attends to at most its context (``block_size``) tokens. ``max_new_tokens=None``
    fills the context after the prompt; more than fits is an error unless ``slide`` is set, in
    which case the window slides and the oldest tokens drop out of view.
    """
    tok = run.tokenizer
    ids = tok.encode(prompt) if prompt else _start_ids(tok)
    # A model without a context limit (a recurrent LM, whose block_size is only its training
    # window) says so with ``context_length = None``.
    context = getattr(run.model, "context_length", getattr(run.model.config, "block_size", None))
    if context is not None and len(ids) > context:
        raise AnnError(f"the prompt is {len(ids)} tokens but the model's context is {context}; "
                       "shorten the prompt")
    if max_new_tokens is None:
        max_new_tokens = context - len(ids) if context is not None else 200
    elif context is not None and len(ids) + max_new_tokens > context and not slide:
        raise AnnError(f"the prompt's {len(ids)} tokens plus {max_new_tokens} new ones exceed the "
                       f"model's context of {context} tokens; ask for at most "
                       f"{context - len(ids)}, or add --slide to let the window slide (the model "
                       f"then forgets tokens more than {context} back)")
    device = next(run.model.parameters()).device
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    run.model.eval()
    yield prompt
    previous = tok.decode(ids)
    out = list(ids)
    for token in run.model.generate_stream(idx, max_new_tokens, temperature=temperature,
                                           top_k=top_k, top_p=top_p, generator=gen):
        out.append(int(token))
        text = tok.decode(out)            # decode the whole tail: BPE pieces may join up
        yield text[len(previous):]
        previous = text


def _start_ids(tok) -> list[int]:
    for start in ("\n", "<eos>"):
        try:
            ids = tok.encode(start)
            if ids:
                return ids
        except AnnError:
            continue
    return [0]
