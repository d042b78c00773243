"""The Python API; the command line is a thin layer over these functions.

    run = ann.train("cnn-digits", epochs=5)       # returns a Run: model, summary, path
    run = ann.load("runs/cnn-digits-...")         # rebuilds the model from config.json + weights
    run.evaluate("test"); run.predict(images)
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import __version__, fileio, registry, runs
from . import config as cfg
from .data.base import ArrayDataset
from .errors import AnnError
from .recipes import get_recipe
from .train import RunConfig, Trainer, checkpoint, distributed, get_task
from .train.batches import eval_batches
from .train.device import select_device
from .train.engine import seed_everything

# Keys that may change when a run is resumed: extending training is fine, changing the model is not.
RESUME_KEYS = ("train.epochs", "train.max_steps")


def _normalise(overrides) -> dict:
    """Accept ``["train.lr=0.1"]``, ``{"train.lr": 0.1}`` or ``{"train__lr": 0.1}``."""
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return {k.replace("__", "."): v for k, v in overrides.items()}
    out = {}
    for text in overrides:
        if "=" not in text:
            raise AnnError(f"override {text!r} is not key=value (for example train.lr=0.01)")
        k, v = text.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _resolve_key(rc: RunConfig, key: str) -> str:
    """Short keys (``epochs``) name the one leaf with that name; full keys pass through."""
    all_keys = [k for k in cfg.keys(rc) if k.split(".")[0] in ("model", "data", "train")]
    if "." in key or key in all_keys:
        return key
    matches = [k for k in all_keys if k.rsplit(".", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise AnnError(f"key {key!r} is ambiguous; write one of: {', '.join(matches)}")
    return key  # unknown: set_key reports it with the valid keys


def build_config(recipe: str, overrides=None) -> RunConfig:
    """The full configuration of a recipe with overrides applied and checked."""
    r = get_recipe(recipe)
    rc = RunConfig(recipe=r.name, model_name=r.model,
                   model=registry.model_config(r.model, r.preset, r.model_overrides))
    rc.data.name = r.dataset
    cfg.apply_overrides(rc.data, r.data)
    for k, v in r.train.items():
        cfg.set_key(rc.train, k, v, "train.")
    explicit = set(r.model_overrides)
    for key, value in _normalise(overrides).items():
        key = _resolve_key(rc, key)
        if key.split(".")[0] not in ("model", "data", "train"):
            raise AnnError(f"unknown key {key!r}; keys start with model., data. or train. "
                           "(see `ann train RECIPE -h`)")
        cfg.set_key(rc, key, value)
        if key.startswith("model."):
            explicit.add(key.split(".", 1)[1])
    registry.fill_from_data(rc.model, registry.dataset_entry(rc.data.name).info, explicit)
    cfg.validate(rc)
    return rc


@dataclass
class Run:
    """A trained (or loaded) model with its configuration, summary and folder."""

    config: RunConfig
    model: torch.nn.Module
    path: Path | None = None
    summary: dict = field(default_factory=dict)

    @property
    def task(self):
        return get_task(self.model.task)

    @property
    def info(self) -> dict:
        return registry.dataset_entry(self.config.data.name).info

    @property
    def tokenizer(self):
        """The run's tokenizer (text models), read from ``tokenizer.json``."""
        from .data.tokenizers import load_tokenizer

        if self.path is None:
            raise AnnError("this run has no folder, so no saved tokenizer")
        return load_tokenizer(self.path / "tokenizer.json")

    @property
    def history(self) -> list[dict]:
        return runs.read_metrics(self.path) if self.path else []

    def evaluate(self, split: str = "test", batch_size: int = 1000) -> dict:
        data = load_split(self.config, split)
        self.model.eval()
        device = next(self.model.parameters()).device
        return self.task.evaluate(self.model, eval_batches(data, batch_size, device))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities for preprocessed inputs ``x`` (B, ...)."""
        self.model.eval()
        return self.task.predict(self.model, x)


def _versions() -> dict:
    return {"ann": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def load_split(rc: RunConfig, split: str):
    """One split of the run's dataset; text datasets are cut into windows of the model's context
    and tokenized as the run asks."""
    entry = registry.dataset_entry(rc.data.name)
    if entry.info.get("task") != "lm":
        return registry.load_dataset(rc.data.name, split)
    block = getattr(rc.model, "block_size", None)
    if block is None:
        raise AnnError(f"model {rc.model_name!r} does not read text; dataset {rc.data.name!r} needs "
                       "a language model such as gpt")
    return registry.load_dataset(rc.data.name, split, block_size=block,
                                 tokenizer=rc.data.tokenizer or None)


def _load_splits(rc: RunConfig):
    train = load_split(rc, "train")
    if rc.data.train_subset:
        if not isinstance(train, ArrayDataset):
            raise AnnError(f"data.train_subset works on image datasets, not {rc.data.name!r}")
        n = min(rc.data.train_subset, len(train))
        train = dataclasses.replace(train, x=train.x[:n], y=train.y[:n])
    if "vocab_size" in train.info and hasattr(rc.model, "vocab_size"):
        rc.model.vocab_size = train.info["vocab_size"]       # the tokenizer decides the vocabulary
    return train, load_split(rc, "val"), load_split(rc, "test")


def _augmenter(rc: RunConfig, info: dict):
    if not (rc.data.augment_shift or rc.data.augment_flip):
        return None
    from .data import augment_images

    fill = -info["mean"] / info["std"]          # the standardised value of a raw-0 background pixel
    return lambda x, g: augment_images(x, g, shift=rc.data.augment_shift,
                                       flip=rc.data.augment_flip, fill=fill)


def _prepare(recipe, overrides, out, resume):
    """(config, run folder, resuming?) for a new or resumed run; no file written yet."""
    if resume is None:
        if recipe is None:
            raise AnnError("name a recipe to train (see `ann list`) or give --resume RUN_DIR")
        return build_config(recipe, overrides), out, False
    path = runs.check_run_dir(resume)
    rc = RunConfig.from_dict(runs.read_config(path))
    if recipe is not None and recipe != rc.recipe:
        raise AnnError(f"{path} is a run of {rc.recipe!r}, not {recipe!r}; drop the recipe name "
                       "to resume it")
    for key, value in _normalise(overrides).items():
        key = _resolve_key(rc, key)
        if key not in RESUME_KEYS:
            raise AnnError(f"{key} cannot change when resuming; only {', '.join(RESUME_KEYS)} can")
        cfg.set_key(rc, key, value)
    cfg.validate(rc)
    return rc, path, True


def train(recipe: str | None = None, overrides=None, *, out=None, resume=None, device=None,
          quiet: bool = False, **kwargs) -> Run:
    """Train a recipe (or resume a run) and return the :class:`Run`.

    ``overrides``: ``["train.lr=0.01"]`` or a dict; keyword arguments work too, with ``__`` or
    a unique short name for the dot: ``ann.train("cnn-digits", epochs=5, model__dropout=0.2)``.
    """
    merged = {**_normalise(overrides), **_normalise(kwargs)}
    if device is not None:
        merged["train.device"] = device
    rc, out, resuming = _prepare(recipe, merged, out, resume)
    tc = rc.train
    dist = distributed.setup(tc.device)
    try:
        return _train(rc, out, resuming, dist, quiet)
    finally:
        distributed.teardown()


def _train(rc: RunConfig, out, resuming: bool, dist, quiet: bool) -> Run:
    tc = rc.train
    dev = select_device(tc.device, dist.local_rank)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    elif dist.active and dev.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.world))
    train_data, val_data, test_data = _load_splits(rc)
    seed_everything(tc.seed, tc.deterministic)
    model = registry.build_model(rc.model_name, rc.model).to(dev)
    task = get_task(model.task, **({"label_smoothing": tc.label_smoothing}
                                   if model.task == "classify" else {}))
    run_dir = None
    if resuming:
        run_dir = Path(out)
    elif dist.main:
        run_dir = runs.new_run_dir(rc.recipe or rc.model_name, out)
        fileio.write_json(run_dir / "config.json", rc.to_dict())
        if "tokenizer" in train_data.info:
            fileio.write_json(run_dir / "tokenizer.json", train_data.info["tokenizer"])
    if dist.main and not quiet:
        print(f"ann: {'resuming' if resuming else 'training'} {rc.recipe} in {run_dir} "
              f"({sum(p.numel() for p in model.parameters()):,} parameters, {dev}"
              f"{f', {dist.world} processes' if dist.active else ''})", flush=True)
    trainer = Trainer(rc, model, task, train_data, val_data, dev, run_dir, dist,
                      _augmenter(rc, train_data.info), quiet)
    if resuming:
        trainer.restore()
        if dist.main:
            fileio.write_json(run_dir / "config.json", rc.to_dict())
    result = trainer.fit()
    if trainer.ckpt_dir is not None and checkpoint.read_pointer(trainer.ckpt_dir):
        checkpoint.load(trainer.ckpt_dir, "best", model, dev)   # model selection on val
    run = Run(rc, model, run_dir if dist.main else None)
    test = trainer.evaluate(test_data)
    if dist.main:
        run.summary = _summary(rc, model, result, test, dev, dist)
        if run_dir is not None:
            trainer.log.write({"step": result.step, "epoch": trainer.epoch, "split": "test", **test})
            checkpoint.save_weights(model, run_dir / "model.safetensors")
            fileio.write_json(run_dir / "summary.json", run.summary)
            _report(run, test_data)
        if not quiet:
            print(result_line(run), flush=True)
    distributed.barrier(dist)
    model.eval()
    return run


def _summary(rc, model, result, test, dev, dist) -> dict:
    from .recipes import RECIPES
    from .report.summary import count_parameters

    recipe = RECIPES.get(rc.recipe)
    task = get_task(model.task)
    metric = recipe.metric if recipe is not None and recipe.metric in test else task.metric
    out = {"recipe": rc.recipe, "model": rc.model_name, "dataset": rc.data.name,
           "metric": metric, "test": test, "best_val": result.best_val,
           "best_step": result.best_step, "steps": result.step,
           "stopped_early": result.stopped_early, "wall_time_s": round(result.wall_time, 2),
           "parameters": count_parameters(model), "device": str(dev), "world_size": dist.world,
           "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": _versions()}
    if recipe is not None:
        out["target"] = recipe.target
        value = test.get(metric, float("nan"))
        higher = task.higher_is_better if metric == task.metric else metric != "perplexity"
        out["reached"] = bool(value >= recipe.target if higher else value <= recipe.target)
    return out


def _report(run: Run, test_data):
    from .report.plots import plot_classification, plot_curves

    plot_curves(run.history, run.task.metric, run.path / "curves.png")
    if run.model.task == "classify":
        plot_classification(run, test_data, run.path)
    if hasattr(run.model, "generate") and (run.path / "tokenizer.json").exists():
        text = sample_text(run, prompt="", max_new_tokens=300, seed=0, slide=True)
        fileio.write_text(run.path / "samples.txt", text + "\n")
        run.summary["sample"] = text[:300]
        fileio.write_json(run.path / "summary.json", run.summary)


def sample_text(run: Run, prompt: str, max_new_tokens: int | None, temperature: float = 0.8,
                top_k: int | None = None, top_p: float | None = None, seed: int = 0,
                slide: bool = False) -> str:
    """Text generated by a language-model run after ``prompt`` (empty: from the vocabulary's
    newline or end-of-sentence token, else token 0). See :func:`stream_text`."""
    return "".join(stream_text(run, prompt, max_new_tokens, temperature, top_k, top_p, seed, slide))


def stream_text(run: Run, prompt: str, max_new_tokens: int | None, temperature: float = 0.8,
                top_k: int | None = None, top_p: float | None = None, seed: int = 0,
                slide: bool = False):
    """Yield decoded pieces of generated text one token at a time (the prompt first).

    The model attends to at most its context (``block_size``) tokens. ``max_new_tokens=None``
    fills the context after the prompt; more than fits is an error unless ``slide`` is set, in
    which case the window slides and the oldest tokens drop out of view.
    """
    tok = run.tokenizer
    ids = tok.encode(prompt) if prompt else _start_ids(tok)
    context = getattr(run.model.config, "block_size", None)
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


def result_line(run: Run) -> str:
    """One line: the test metric against the recipe's target, steps, time, folder."""
    s = run.summary
    metric = s["metric"]
    line = f"ann: test {metric} {s['test'][metric]:.4f}"
    if "target" in s:
        line += f" (target {s['target']}: {'reached' if s['reached'] else 'NOT reached'})"
    return line + f"; {s['steps']} steps in {s['wall_time_s']:.1f}s; results in {run.path}"


def load(run_dir, device: str = "cpu") -> Run:
    """Rebuild a trained model from a run directory (config.json + the final or best weights)."""
    path = runs.check_run_dir(run_dir)
    rc = RunConfig.from_dict(runs.read_config(path))
    model = registry.build_model(rc.model_name, rc.model)
    weights = path / "model.safetensors"
    if weights.exists():
        checkpoint.load_weights(model, weights, device)
    elif checkpoint.read_pointer(path / "checkpoints"):
        checkpoint.load(path / "checkpoints", "best", model, device)
    else:
        raise AnnError(f"{path} holds no weights yet (the run stopped before its first checkpoint); "
                       f"train it again")
    model.to(device).eval()
    summary = {}
    if (path / "summary.json").exists():
        import json

        summary = json.loads((path / "summary.json").read_text())
    return Run(rc, model, path, summary)
