"""The Python API; the command line is a thin layer over these functions.

    run = ann.train("cnn-digits", epochs=5)       # returns a Run: model, summary, path
    run = ann.load("runs/cnn-digits-...")         # rebuilds the model from config.json + weights
    run.evaluate("test"); run.predict(images)
    ann.use(run, "generate", prompt="To be")      # a verb the run's task offers

Training lives in :mod:`ann.runner`, the Run and its folder in :mod:`ann.runs`; this module
gathers what a user calls.
"""

from __future__ import annotations

import math

import torch

from . import registry, runs
from .config import INT_LIMIT
from .data.splits import load_split  # noqa: F401  (re-exported: the Python API)
from .errors import AnnError
from .runner import _normalise as normalise  # noqa: F401
from .runner import (  # noqa: F401  (the Python API)
    build_config,
    copy_matching_weights,
    helper_run,
    read_config_file,
    train,
    with_config_file,
)
from .runs import Run, load, result_line, verdict  # noqa: F401
from .tasks.base import Answer, Verb
from .tasks.lm import sample_text, stream_text  # noqa: F401  (re-exported: the Python API)
from .tasks.seq2seq import translation_samples  # noqa: F401
from .train import RunConfig  # noqa: F401

# --- using a finished run: the verbs its task offers ----------------------------------------
# How an error names a verb a run lacks ("... which does not fill in masks").
VERB_PHRASES = {"predict": "classify or predict", "generate": "generate text or images",
                "translate": "translate", "fill": "fill in masks"}


def verbs(run: Run) -> dict[str, Verb]:
    """What this run offers its user, by verb name (``ann VERB RUN_DIR``)."""
    return dict(run.task.verbs)


def use(run: Run, verb: str, **options) -> list[Answer]:
    """Do ``verb`` with the run (``"generate"``, ``"translate"``, ``"fill"``, ``"predict"``, ...)
    with the verb's keyword ``options``; returns its :class:`~ann.tasks.base.Answer` pieces (a
    language model yields them as they are sampled). A verb the run's task does not offer, or an
    option the verb does not take, fails in one line naming what the run does take."""
    offered = run.task.verbs
    if verb not in offered:
        have = ", ".join(f"ann {v}" for v in offered) or "none of its own"
        raise AnnError(f"{run.path} holds a {run.config.model_name} model ({run.task.name} task), which "
                       f"does not {VERB_PHRASES.get(verb, verb)}; what its runs offer: {have} "
                       "(ann eval and ann info work on every run)")
    v = offered[verb]
    takes = {o.name: o for o in v.options}
    extra = [k for k in options if k not in takes]
    where = f"`ann {verb}` on {run.path} (a {run.task.name} run of {run.config.model_name})"
    if extra:
        flags = ", ".join("FILE arguments" if k == "files" else f"--{k.replace('_', '-')}"
                          for k in extra)
        have = ", ".join(o.cli for o in v.options) or "no options"
        raise AnnError(f"{flags} {'does' if len(extra) == 1 else 'do'} not apply to {where}; "
                       f"it takes {have}")
    missing = [o for o in v.options if o.required and o.name not in options]
    if missing:
        raise AnnError(f"{where} needs {' and '.join(o.cli for o in missing)}: "
                       f"{'; '.join(o.help for o in missing)}")
    for name, value in options.items():
        check_number(takes[name], value)
    return getattr(run.task, v.method)(run, **options)


def check_number(option, value):
    """A number given to a verb's ``float`` or ``int`` option is finite and fits in 64 bits:
    ``--temperature nan``, ``--length-penalty inf`` or ``--seed 2**70`` are refused in one line
    (a verb's own checks then judge its range)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if v is None or isinstance(v, bool) or option.type not in (int, float):
            continue
        if option.type is float and isinstance(v, (int, float)) and not math.isfinite(v):
            raise AnnError(f"{option.cli} {v} is not a finite number; give an ordinary number")
        if option.type is int and isinstance(v, int) and not -INT_LIMIT <= v < INT_LIMIT:
            raise AnnError(f"{option.cli} {v} does not fit in 64 bits; give a number between "
                           f"{-INT_LIMIT} and {INT_LIMIT - 1}")


def translate(run: Run, text: str, beam_size: int = 1, length_penalty: float = 0.0,
              max_len: int | None = None) -> str:
    """``text`` translated by a seq2seq run: greedy, or beam search when ``beam_size`` > 1 with
    the GNMT length penalty ``length_penalty``; ``max_len`` caps the output tokens."""
    return use(run, "translate", text=text, beam=beam_size, length_penalty=length_penalty,
               max_len=max_len)[0].text


def text_to_text(run: Run, prompt: str, beam_size: int = 1, max_len: int | None = None) -> str:
    """The output text of a T5 run for ``prompt`` (which starts with one of the run's task
    prefixes when its dataset has them): greedy, or beam search when ``beam_size`` > 1."""
    return use(run, "generate", prompt=prompt, beam=beam_size, max_len=max_len)[0].text


def caption_images(run: Run, files, beam_size: int = 1) -> list[str]:
    """A caption for each image file of a captioning run (the run's image size and channels)."""
    return [a.data["caption"] for a in use(run, "generate", image=list(files), beam=beam_size)]


def fill_masks(run: Run, text: str, top: int = 5) -> list[list[tuple[str, float]]]:
    """The ``top`` likeliest tokens and their probabilities at each ``[MASK]`` of ``text``, for
    a masked-LM run (bert-pydoc, bert-sst2-mlm)."""
    from .tasks.mlm import fill_masks as candidates

    if "fill" not in run.task.verbs:
        use(run, "fill")                # the one-line error: this run does not fill in masks
    return candidates(run, text, top)


def classify_text(run: Run, texts: list[str]) -> torch.Tensor:
    """Class probabilities (B, num_classes) of each text, for a text-classifier run (bert-sst2)."""
    from .tasks.classify import classify_text as probabilities

    if "predict" not in run.task.verbs:
        use(run, "predict")             # the one-line error: this run does not classify
    return probabilities(run, list(texts))


# --- what there is: the tables behind `ann list`, `ann info` and `--show-config` -------------

def catalogue(kind: str = "recipes") -> list[dict]:
    """One dict per recipe (``kind="recipes"``: name, family, dataset, parameters, metric,
    target, whether its data is embedded; grouped by family), registered model (``"models"``)
    or dataset (``"datasets"``)."""
    from .recipes import list_recipes
    from .report.summary import count_parameters

    if kind == "models":
        return [{"model": n, "family": e.family, "class": e.cls.__name__,
                 "trains": e.training.kind, "presets": ", ".join(e.presets) or "-"}
                for n in registry.list_models() for e in [registry.model_entry(n)]]
    if kind == "datasets":
        return [{"dataset": n, "task": e.info.get("task", "-"),
                 "data": "embedded" if e.embedded else "real",
                 "options": ", ".join(e.option_names) or "-",
                 "description": e.info.get("description", "")}
                for n in registry.list_datasets() for e in [registry.dataset_entry(n)]]
    if kind != "recipes":
        raise AnnError(f"nothing to list as {kind!r}: recipes, models or datasets")
    rows = []
    for r in sorted(list_recipes(), key=lambda r: r.family):   # grouped by family, by name within
        rc = build_config(r.name)
        params = count_parameters(registry.build_model(rc.model_name, rc.model))["total"]
        rows.append({"recipe": r.name, "family": r.family, "dataset": r.dataset,
                     "params": params, "metric": r.metric, "target": r.target,
                     "data": "embedded" if registry.dataset_entry(r.dataset).embedded else "real"})
    return rows


def config_rows(rc: RunConfig) -> list[tuple[str, object, str]]:
    """Every ``model.*``, ``data.*`` and ``train.*`` key of a configuration with its value and
    its one-line meaning (``ann train RECIPE --show-config``)."""
    from . import config

    return [(k, v, h) for k, v, h in config.describe(rc) if k.split(".")[0] != "recipe"]


def describe(run: Run) -> str:
    """What ``ann info`` prints: the run, its recipe, its result, and the model's layer table
    (the model run on one example batch, so every layer's output shape is shown)."""
    from .report.summary import summary

    rc, s = run.config, run.summary
    lines = [f"run       {run.path}",
             f"recipe    {rc.recipe}  (model {rc.model_name}, dataset {rc.data.name})"]
    if s:
        m = s["metric"]
        judged = verdict(run) or "no target"
        lines.append(f"result    test {m} {s['test'][m]:.4f} ({judged}), "
                     f"{s.get('steps', '?')} steps, {s.get('wall_time_s', '?')}s on "
                     f"{s.get('device', '?')}")
    elif run.path is not None and (run.path / "imported.json").exists():
        source = runs.read_json(run.path / "imported.json", "where the run was imported from")
        lines.append(f"result    imported from {source.get('from')} ({source.get('hf_class')}), "
                     "not trained by ann")
    else:
        lines.append("result    not finished (no summary.json); resume it with --resume")
    batch = run.model.example_batch(1, None)
    return "\n".join(lines) + "\n\n" + summary(run.model, run.task.inputs(run.model, batch))
