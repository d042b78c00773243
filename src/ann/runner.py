"""Training a run, from a recipe's configuration to a finished run directory: the config
(``build_config``: the recipe, then overrides, checked), the data, the start (pretraining,
``train.init_from``, resuming), the engine, and the summary and report at the end. The public
face of this is :func:`ann.api.train`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from . import config as cfg
from . import fileio, logs, registry, runs
from ._version import __version__
from .data import arrays
from .data.base import ArrayDataset
from .data.splits import load_split
from .errors import AnnError, CorruptFile
from .recipes import get_recipe
from .registry import get_task
from .runs import Run, load, result_line
from .split import Split
from .train import RunConfig, Trainer, checkpoint, distributed, finetune
from .train.config import REGISTERED_BY, data_config, moved_key
from .train.device import select_device
from .train.engine import check_setup, seed_everything
from .train.fitted import FittedTrainer, check_fitted

# Keys that may change when a run is resumed: extending training or moving it to other hardware
# is fine, changing the model or the optimisation is not.
RESUME_KEYS = ("train.epochs", "train.max_steps", "train.threads", "train.workers",
               "train.device", "train.log_to")


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
    """Short keys (``epochs``) name the one leaf with that name; full keys pass through.
    A key an earlier version had (``model.selection``) is taken as its new key by
    :func:`_resolve`."""
    all_keys = [k for k in cfg.keys(rc) if k.split(".")[0] in ("model", "data", "train")]
    if "." in key or key in all_keys:
        return key
    matches = [k for k in all_keys if k.rsplit(".", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise AnnError(f"key {key!r} is ambiguous; write one of: {', '.join(matches)}")
    if key in registry.option_datasets():
        return "data." + key    # another dataset's option: _set_key says which datasets take it
    return key  # unknown: set_key reports it with the valid keys


def _resolve(rc: RunConfig, key: str, value) -> tuple[str, object]:
    """A user's ``key=value`` in today's full keys: short keys resolved, and a key that moved
    since an earlier version (``model.selection=loss`` -> ``train.select=loss``, see
    :data:`ann.train.config.MOVED_KEYS`) taken as its new key, so old commands still run."""
    return moved_key(rc.model, _resolve_key(rc, key), value)


def build_config(recipe: str, overrides=None) -> RunConfig:
    """The full configuration of a recipe with overrides applied and checked."""
    r = get_recipe(recipe)
    rc = RunConfig(recipe=r.name, model_name=r.model,
                   model=registry.model_config(r.model, r.preset, r.model_overrides))
    overrides = _normalise(overrides)
    # the dataset decides which data.* keys there are: find it first (data.name may change it)
    dataset = r.dataset
    for key, value in overrides.items():
        if _resolve_key(rc, key) == "data.name":
            dataset = cfg.parse_value(str, value, "data.name")
    if dataset != r.dataset:
        _check_dataset_kind(r, dataset)
    rc.data = data_config(dataset)
    for k, v in r.data.items():
        _set_key(rc, "data." + k, v)
    for k, v in r.train.items():
        cfg.set_key(rc.train, k, v, "train.")
    explicit = set(r.model_overrides)
    for key, value in overrides.items():
        key, value = _resolve(rc, key, value)
        if key.split(".")[0] not in ("model", "data", "train"):
            raise AnnError(f"unknown key {key!r}; keys start with model., data. or train. "
                           "(see `ann train RECIPE -h`)")
        _set_key(rc, key, value)
        if key.startswith("model."):
            explicit.add(key.split(".", 1)[1])
    info = registry.dataset_entry(rc.data.name).info
    registry.check_against_data(rc.model, info, explicit - set(r.model_overrides), rc.data.name)
    registry.fill_from_data(rc.model, info, explicit)
    cfg.validate(rc)
    return rc


def _check_dataset_kind(r, dataset: str) -> None:
    """A dataset of another kind than the recipe's (``cnn-digits data.name=karate``: a graph for
    an image classifier) is refused naming both, with the recipes made for that dataset."""
    from .recipes import list_recipes

    ours, theirs = registry.dataset_entry(r.dataset).info, registry.dataset_entry(dataset).info
    if registry.same_kind(ours, theirs, getattr(registry.model_entry(r.model).cls, "reads", ())):
        return
    fit = [x.name for x in list_recipes()
           if registry.same_kind(registry.dataset_entry(x.dataset).info, theirs)]
    hint = (f"; recipes for such data: {', '.join(fit[:6])}{', ...' if len(fit) > 6 else ''}"
            if fit else "")
    raise AnnError(f"recipe {r.name!r} trains on {registry.describe_kind(ours)} (dataset "
                   f"{r.dataset!r}), but dataset {dataset!r} holds "
                   f"{registry.describe_kind(theirs)}; choose a dataset of the recipe's kind{hint}")


def _set_key(rc: RunConfig, key: str, value):
    """``cfg.set_key``, but a ``data.*`` option of other datasets than the run's fails saying which
    datasets take it, instead of being silently ignored or merely unknown."""
    head, _, option = key.partition(".")
    if head == "data" and option not in {f.name for f in dataclasses.fields(rc.data)}:
        takers = registry.option_datasets().get(option)
        if takers:
            entry = registry.dataset_entry(rc.data.name)
            takes = ", ".join(f"data.{k}" for k in entry.option_names) or "no options of its own"
            raise AnnError(f"unknown key {key!r}: dataset {entry.name!r} does not take {key} (it "
                           f"takes {takes}; {key} is an option of {', '.join(takers)}); drop the "
                           "setting or choose a dataset that reads it; valid keys: "
                           f"{', '.join(cfg.keys(rc.data, 'data.'))}")
    cfg.set_key(rc, key, value)


def _versions() -> dict:
    return {"ann": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _load_splits(rc: RunConfig):
    train = _split(rc, "train")
    if rc.data.train_subset:
        if not isinstance(train, ArrayDataset):
            raise AnnError(f"data.train_subset works on image datasets, not {rc.data.name!r}")
        n = min(rc.data.train_subset, len(train))
        train = train.head(n)
    # Facts only the loaded data knows: the vocabulary the tokenizer built (one per side for
    # seq2seq), and others the dataset names under "fills" (a series' scale).
    facts = ("vocab_size", "src_vocab_size", "tgt_vocab_size", *train.info.get("fills", ()))
    if imported_source(rc) is not None:     # the checkpoint's embedding may hold spare rows
        facts = tuple(k for k in facts if k not in ("vocab_size", "src_vocab_size", "tgt_vocab_size"))
    cfg.fill(rc.model, {k: train.info[k] for k in facts if k in train.info})
    if "input_shape" in train.info:   # a source that says what its inputs are: do they fit?
        arrays.check_model(rc.recipe or rc.model_name, rc.model_name, rc.model, train.info)
    return train, _split(rc, "val"), _split(rc, "test")


def _split(rc: RunConfig, name: str) -> Split:
    data = load_split(rc, name)
    if not isinstance(data, Split):
        raise AnnError(f"the loader of dataset {rc.data.name!r} returned a {type(data).__name__} "
                       f"for its {name} split; a loader returns an ann.split.Split (e.g. "
                       "ann.data.base.ArrayDataset(x, y, info))")
    return data


def _augmenter(rc: RunConfig, task, info: dict):
    """Shifts and flips of the training images (``data.augment_*``), where the task's targets
    stay right when the pixels move (``Task.augmentable``)."""
    if not (rc.data.augment_shift or rc.data.augment_flip):
        return None
    from .data import augment_images

    if not task.augmentable:
        raise AnnError(f"data.augment_shift and data.augment_flip move the pixels of an image but "
                       f"not its {task.name} target; they apply to image "
                       f"classification only: drop them")
    # the standardised value of a raw-0 background pixel (one per channel where the stats are)
    fill = -torch.as_tensor(info["mean"], dtype=torch.float64) / torch.as_tensor(info["std"],
                                                                                 dtype=torch.float64)
    # a partial, not a closure: a train.workers process started by spawn (no fork) unpickles it
    return functools.partial(augment_images, shift=rc.data.augment_shift,
                             flip=rc.data.augment_flip, fill=fill)


# --- starting weights: train.init_from and pretraining ---------------------------------------
# What a pretraining run takes from the run it starts: the model keys the two configs share
# (the architecture) except these, and these training keys (where and how it runs).
PRETRAIN_OWN_MODEL_KEYS = ("dropout",)
PRETRAIN_SHARED_KEYS = ("seed", "deterministic", "device", "amp", "compile", "threads",
                        "workers")


def _init_file(source) -> Path:
    """The weights file ``train.init_from`` names: a finished run directory's
    ``model.safetensors``, or a ``.safetensors`` file."""
    path = Path(source).expanduser()
    file = path / "model.safetensors" if path.is_dir() else path
    if not file.is_file():
        why = ("holds no model.safetensors (that run has not finished)" if path.is_dir()
               else "is neither a run directory nor a weights file")
        raise AnnError(f"train.init_from={str(source)!r} {why}; give a finished run directory, "
                       "'scratch', or leave it empty")
    return file


def _check_same_tokenizer(source_dir: Path, run_dir) -> None:

    theirs = source_dir / "tokenizer.json"
    ours = Path(run_dir) / "tokenizer.json" if run_dir is not None else None
    if ours is None or not theirs.exists() or not ours.exists():
        return
    if json.loads(theirs.read_text()) != json.loads(ours.read_text()):
        raise AnnError(f"{source_dir} was trained with another tokenizer than this run, so its "
                       "token embeddings stand for other tokens; start from a run on the same "
                       "data, or set train.init_from=scratch")


def imported_source(rc: RunConfig) -> Path | None:
    """The run ``train.init_from`` names when ``ann import`` made it from a checkpoint."""
    if rc.train.init_from in ("", "scratch"):
        return None
    path = Path(rc.train.init_from).expanduser()
    return path if (path / "imported.json").is_file() else None


# What a run started from an imported checkpoint keeps of its own: its dropout, and the classes
# of its data (a classifier with other classes gets a new head).
ADOPT_OWN_KEYS = frozenset({"dropout", "num_classes"})


def _adopt_imported(rc: RunConfig, explicit: set) -> None:
    """A run started from an imported checkpoint takes its architecture (every model key the
    two configs share, but ADOPT_OWN_KEYS and the keys set on the command line, ``explicit``)
    and its tokenizer (``data.tokenizer``, unless set), so that every tensor of the checkpoint
    is used: the recipe says only the data and how to train."""
    source = imported_source(rc)
    if source is None:
        return
    theirs = RunConfig.from_dict(runs.read_config(source))
    kin = {c for c in set(type(theirs.model).__mro__) & set(type(rc.model).__mro__)
           if c is not object and c.__module__ != "ann.models.inputs"}
    if not kin:
        raise AnnError(f"train.init_from={rc.train.init_from} holds a {theirs.model_name} model "
                       f"(imported), which cannot start recipe {rc.recipe}'s {rc.model_name}; "
                       f"choose a recipe of {theirs.model_name} (see `ann list`)")
    explicit_model = {k.split(".", 1)[1] for k in explicit if k.startswith("model.")}
    shared = ({f.name for f in dataclasses.fields(theirs.model)}
              & {f.name for f in dataclasses.fields(rc.model)}) - explicit_model - ADOPT_OWN_KEYS
    for key in sorted(shared):
        setattr(rc.model, key, getattr(theirs.model, key))
    # a data option named like a size the checkpoint fixes (an image folder's image_size) and
    # left to its default (0: from the data) takes the checkpoint's
    for f in dataclasses.fields(rc.data):
        if (f.name in {g.name for g in dataclasses.fields(theirs.model)}
                and f"data.{f.name}" not in explicit and getattr(rc.data, f.name) in (0, "")):
            setattr(rc.data, f.name, getattr(theirs.model, f.name))
    if not rc.data.tokenizer and (source / "tokenizer.json").is_file():
        rc.data.tokenizer = str(source / "tokenizer.json")
    cfg.validate(rc)


def copy_matching_weights(model: torch.nn.Module, source, run_dir=None) -> str:
    """Copy into ``model`` every tensor of ``source`` (a run directory or weights file) whose
    name and shape match, e.g. a pretrained encoder into a classifier; the rest keep their
    initialisation. Returns a line saying what was copied."""
    from safetensors.torch import load_file

    file = _init_file(source)
    _check_same_tokenizer(file.parent, run_dir)
    try:
        tensors = load_file(str(file))
    except Exception as e:  # safetensors raises several types for a damaged file
        raise CorruptFile(f"weights file {file} cannot be read ({type(e).__name__}); it is "
                          "damaged or not a safetensors file") from None
    own = model.state_dict()
    fit = {k: v for k, v in tensors.items() if k in own and own[k].shape == v.shape}
    if not fit:
        raise AnnError(f"none of the {len(tensors)} tensors in {file} fits this "
                       f"{type(model).__name__} (names or shapes differ); start from a run of the "
                       "same architecture, or set train.init_from=scratch")
    model.load_state_dict(fit, strict=False)
    fresh = [k for k in own if k not in fit]
    line = f"started from {file}: copied {len(fit)} of the model's {len(own)} tensors"
    if fresh:
        line += f"; new: {', '.join(fresh[:4])}{' ...' if len(fresh) > 4 else ''}"
    return line


def _provided(rc: RunConfig, model, run_dir) -> set[str] | None:
    """The parameter names the starting weights give ``model`` (those ``train.init_from`` or the
    pretraining run copied), read again from that file so a resumed run trains the same ones;
    None when it starts from scratch."""
    from safetensors import safe_open

    source = rc.train.init_from
    if source == "scratch":
        return None
    if source == "":
        file = Path(run_dir) / "pretrain" / "model.safetensors" if run_dir is not None else None
        if file is None or not file.is_file():
            return None
    else:
        file = _init_file(source)
    own = dict(model.named_parameters())
    with safe_open(str(file), "pt") as f:
        return {k for k in f.keys() if k in own and tuple(f.get_slice(k).get_shape())
                == tuple(own[k].shape)}


def _pretrain_config(rc: RunConfig, name: str) -> RunConfig:
    """Recipe ``name`` with the architecture of ``rc`` (the model keys the two configs share,
    but dropout), its device, threads and seed, and ``train.pretrain_steps`` steps if set."""
    pre = build_config(name)
    shared = ({f.name for f in dataclasses.fields(pre.model)}
              & {f.name for f in dataclasses.fields(rc.model)}) - set(PRETRAIN_OWN_MODEL_KEYS)
    for key in sorted(shared):
        setattr(pre.model, key, getattr(rc.model, key))
    for key in PRETRAIN_SHARED_KEYS:
        setattr(pre.train, key, getattr(rc.train, key))
    if rc.train.pretrain_steps:
        pre.train.max_steps = rc.train.pretrain_steps
    pre.train.init_from = "scratch"
    cfg.validate(pre)
    return pre


def _pretrain(rc: RunConfig, name: str, run_dir, dist, quiet: bool) -> Path | None:
    """Train recipe ``name`` into ``RUN_DIR/pretrain``, resume it there, or reuse it when it has
    finished; returns its weights file (``None`` on processes other than the first, which take
    the first one's weights when data-parallel training starts)."""
    import shutil

    folder = Path(run_dir) / "pretrain" if run_dir is not None else None
    if folder is not None and (folder / "model.safetensors").exists():
        return folder / "model.safetensors"
    partial = folder is not None and checkpoint.read_pointer(folder / "checkpoints") is not None
    if partial:
        pre = RunConfig.from_dict(runs.read_config(folder))
    else:
        if folder is not None:  # stopped before its first checkpoint: nothing worth keeping
            shutil.rmtree(folder, ignore_errors=True)
        pre = _pretrain_config(rc, name)
    if dist.main and not quiet:
        logs.info(f"ann: {rc.recipe} starts from {name}, trained first in {folder} "
                  "(train.init_from=scratch skips it)", __name__)
    _train(pre, folder, partial, dist, quiet)
    return folder / "model.safetensors" if folder is not None else None


def _start_from(rc: RunConfig, model, run_dir, resuming: bool, dist, quiet: bool) -> bool:
    """Set ``model``'s starting weights as ``train.init_from`` says, pretraining first when the
    recipe has a pretraining recipe; returns whether to restore the run's own last checkpoint
    instead (a resumed run that has one: then nothing is pretrained or copied again)."""
    from .recipes import RECIPES

    source, recipe = rc.train.init_from, RECIPES.get(rc.recipe)
    if source == "scratch" or (source == "" and (recipe is None or recipe.pretrain is None)):
        return resuming
    if resuming and checkpoint.read_pointer(Path(run_dir) / "checkpoints") is not None:
        return True
    if source == "" and rc.data.name != recipe.dataset:
        # the pretraining recipe reads the recipe's own data, whose tokenizer is not this run's
        if dist.main and not quiet:
            logs.info(f"ann: {rc.recipe}'s pretraining ({recipe.pretrain}) reads "
                      f"{recipe.dataset}'s data, not {rc.data.name}: starting from scratch "
                      "(train.init_from=RUN_DIR starts from a run on the same data)", __name__)
        return resuming
    file = _pretrain(rc, recipe.pretrain, run_dir, dist, quiet) if source == "" else source
    if file is not None:
        line = copy_matching_weights(model, file, run_dir)
        if dist.main and not quiet:
            logs.info(f"ann: {line}", __name__)
    seed_everything(rc.train.seed, rc.train.deterministic)  # the same whichever way it started
    return False


def _prepare(recipe, overrides, out, resume):
    """(config, run folder, resuming?) for a new or resumed run; no file written yet."""
    if resume is None:
        if recipe is None:
            raise AnnError("name a recipe to train (see `ann list`) or give --resume RUN_DIR")
        rc = build_config(recipe, overrides)
        if rc.train.init_from not in ("", "scratch"):
            _init_file(rc.train.init_from)                    # fail before writing anything
            _adopt_imported(rc, {_resolve_key(rc, k) for k in _normalise(overrides)})
        return rc, out, False
    path = runs.check_run_dir(resume)
    rc = runs.relocate(RunConfig.from_dict(runs.read_config(path)), path)
    if recipe is not None and recipe != rc.recipe:
        raise AnnError(f"{path} is a run of {rc.recipe!r}, not {recipe!r}; drop the recipe name "
                       "to resume it")
    for key, value in _normalise(overrides).items():
        key, value = _resolve(rc, key, value)
        if key not in RESUME_KEYS:
            raise AnnError(f"{key} cannot change when resuming; only {', '.join(RESUME_KEYS)} can")
        cfg.set_key(rc, key, value)
    cfg.validate(rc)
    return rc, path, True


CONFIG_SECTIONS = ("model", "data", "train")


def read_config_file(path) -> tuple[str | None, dict]:
    """The recipe and the dotted ``key: value`` settings of a configuration file (``ann train
    --config FILE``): JSON, or YAML where PyYAML is installed; sections ``model``, ``data``,
    ``train`` as mappings or dotted keys (``"train.lr": 0.01``), and ``recipe``. A run's own
    ``config.json`` is one (its ``model_name`` must be its recipe's model)."""
    file = Path(path)
    if not file.is_file():
        raise AnnError(f"--config {file}: no such file")
    text = file.read_text(encoding="utf-8", errors="replace")
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise AnnError(f"--config {file} is YAML, which needs PyYAML: pip install pyyaml "
                           "(or write the file as JSON)") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise AnnError(f"--config {file} is not valid YAML: {str(e).splitlines()[0]}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as e:
            raise AnnError(f"--config {file} is not valid JSON ({e}); write it as an object of "
                           'sections, e.g. {"recipe": "cnn-digits", "train": {"lr": 0.01}}') from None
    if not isinstance(data, dict):
        raise AnnError(f"--config {file} must hold an object of settings (recipe, model, data, "
                       f"train), not a {type(data).__name__}")
    recipe, settings = data.get("recipe") or None, {}
    for key, value in data.items():
        head = key.split(".")[0]
        if key in ("recipe", "model_name"):
            continue
        if head not in CONFIG_SECTIONS:
            raise AnnError(f"--config {file}: unknown entry {key!r}; a configuration holds "
                           f"recipe and the sections {', '.join(CONFIG_SECTIONS)}")
        if "." in key:
            settings[key] = value
        elif isinstance(value, dict):
            settings.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            raise AnnError(f"--config {file}: {key!r} must be a section of settings, e.g. "
                           f'"{key}": {{...}}')
    by = settings.pop("data." + REGISTERED_BY, "")    # a run's record, not a setting
    if by and "data.name" in settings:
        registry.dataset_entry(str(settings["data.name"]), str(by))   # says what to import
    if recipe is not None and not isinstance(recipe, str):
        raise AnnError(f"--config {file}: recipe must be a recipe name, not {recipe!r}")
    model_name = data.get("model_name")
    if model_name and recipe and get_recipe(recipe).model != model_name:
        raise AnnError(f"--config {file}: model_name {model_name!r} is not the model of recipe "
                       f"{recipe!r} ({get_recipe(recipe).model}); a configuration cannot change "
                       "the model class: choose a recipe of that model")
    return recipe, settings


def train(recipe: str | None = None, overrides=None, *, out=None, resume=None, device=None,
          quiet: bool = False, config=None, data=None, val=None, test=None, **kwargs) -> Run:
    """Train a recipe (or resume a run) and return the :class:`Run`.

    ``overrides``: ``["train.lr=0.01"]`` or a dict; keyword arguments work too, with ``__`` or
    a unique short name for the dot: ``ann.train("cnn-digits", epochs=5, model__dropout=0.2)``.
    ``config``: a configuration file (:func:`read_config_file`) applied before the overrides;
    its recipe is used when ``recipe`` is not given.
    ``data``: your own data instead of the recipe's, as ``(x, y)`` (NumPy arrays or torch
    tensors) or a ``torch.utils.data.Dataset`` of ``(input, target)`` pairs; ``val`` and
    ``test`` the same for those parts (else held out of ``data``). The run keeps them in its
    folder (``data.name=arrays``, see :mod:`ann.data.arrays`), so every command works on it later.
    """
    recipe, merged = with_config_file(recipe, config)
    merged.update({**_normalise(overrides), **_normalise(kwargs)})
    if device is not None:
        merged["train.device"] = device
    staged = _stage_arrays(merged, data, val, test, resume)
    rc, out, resuming = _prepare(recipe, merged, out, resume)
    tc = rc.train
    dist = distributed.setup(tc.device)
    try:
        if staged is None:
            return _train(rc, out, resuming, dist, quiet)
        return _train_on_arrays(rc, out, staged, dist, quiet)
    finally:
        distributed.teardown()


def _stage_arrays(merged: dict, data, val, test, resume):
    """The checked arrays of ``ann.train(data=..., val=..., test=...)`` (``None`` without
    ``data``), with ``data.name=arrays`` put into ``merged``."""
    if data is None:
        if val is not None or test is not None:
            raise AnnError("val= and test= go with data=: give your training data as "
                           "data=(x, y) too")
        return None
    if resume is not None:
        raise AnnError("data= starts a new run; a resumed run continues on the arrays it kept: "
                       "drop data=")
    named = merged.get("data.name", arrays.NAME)
    if named != arrays.NAME:
        raise AnnError(f"data= trains on your arrays, but data.name={named!r} names another "
                       "dataset; drop one of them")
    staged = arrays.stage(data, val, test)
    merged["data.name"] = arrays.NAME
    return staged


def _train_on_arrays(rc: RunConfig, out, staged: dict, dist, quiet: bool) -> Run:
    """Train on arrays handed from Python: read through a temporary ``.npz`` while the whole
    configuration is checked, then kept in the run directory, whose ``config.json`` names that
    file (``data.path``)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ann-arrays-"))
    try:
        rc.data.path = str(arrays.save(staged, folder / arrays.FILE.name))

        def keep(run_dir: Path) -> str:
            return str(arrays.save(staged, run_dir / arrays.FILE).resolve())

        return _train(rc, out, False, dist, quiet, keep_data=keep)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def with_config_file(recipe: str | None, config) -> tuple[str | None, dict]:
    """The recipe and the settings of a configuration file (none without one): the recipe
    named on the command line wins over the file's."""
    if config is None:
        return recipe, {}
    file_recipe, settings = read_config_file(config)
    return recipe or file_recipe, settings


def _train(rc: RunConfig, out, resuming: bool, dist, quiet: bool, keep_data=None) -> Run:
    """Train (or resume) ``rc`` into ``out``. ``keep_data(run_dir)``, where given, stores the
    run's data inside its new folder and returns the ``data.path`` config.json then records."""
    tc = rc.train
    dev = select_device(tc.device, dist.local_rank)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    elif dist.active and dev.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.world))
    train_data, val_data, test_data = _load_splits(rc)
    seed_everything(tc.seed, tc.deterministic)
    model = registry.build_model(rc.model_name, rc.model).to(dev)
    task = registry.task_class(model.task).for_training(tc)
    # A model fitted in closed form (GMDH, PNN, DSN: a `fit` method) is fitted by that method;
    # FittedTrainer records the run as the gradient loop does (see ann.train.fitted).
    training = registry.model_entry(rc.model_name).training
    fitted = training.kind == "fit"
    # everything the trainer would refuse is refused before the run directory exists
    augment = _augmenter(rc, task, train_data.info)
    width = cfg.value(rc.model, "d_model")
    if fitted:
        check_fitted(rc, task, dist, augment, training)
    else:
        check_setup(tc, model, task, train_data, dist, training, width=width)
    finetune.check(model, tc)              # train.freeze / train.lora_targets name real tensors
    run_dir, made = None, False
    if resuming:
        run_dir = Path(out)
        if dist.main:
            runs.lock_run(run_dir)
    elif dist.main:
        made = out is None or not Path(out).exists()
        run_dir = runs.new_run_dir(rc.recipe or rc.model_name, out)
    try:
        return _train_in(rc, run_dir, resuming, dist, quiet, keep_data, dev, model, task,
                         training, augment, width, (train_data, val_data, test_data))
    except BaseException:
        if run_dir is not None and dist.main and not resuming and runs.reusable(run_dir):
            _discard(run_dir, made)
        raise
    finally:
        if run_dir is not None and dist.main:
            runs.release_run(run_dir)


def _discard(run_dir: Path, made: bool):
    """A new run that failed before its first checkpoint leaves nothing: the folder it made is
    removed, a folder given with --out that was there before is left as it was."""
    import shutil

    if made:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        runs.clear_run(run_dir)


def _train_in(rc: RunConfig, run_dir, resuming: bool, dist, quiet: bool, keep_data, dev, model,
              task, training, augment, width, splits) -> Run:
    """The part of :func:`_train` that writes ``run_dir`` (held by this process)."""
    train_data, val_data, test_data = splits
    fitted = training.kind == "fit"
    if not resuming and dist.main:
        if keep_data is not None:
            rc.data.path = keep_data(run_dir)
        fileio.write_json(run_dir / "config.json", runs.config_record(rc))
        if "tokenizer" in train_data.info:
            fileio.write_json(run_dir / "tokenizer.json", train_data.info["tokenizer"])
        fileio.write_json(run_dir / "data.json", runs.data_record(rc, train_data.info))
    restore = _start_from(rc, model, run_dir, resuming, dist, quiet)
    if restore and checkpoint.read_pointer(Path(run_dir) / "checkpoints") is None:
        restore = False         # killed before its first checkpoint: it starts from step 0
    if rc.train.lora_rank or rc.train.freeze:
        finetune.prepare(model, rc.train, _provided(rc, model, run_dir))
    if dist.main and not quiet:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        size = ("parameters sized by the fit" if fitted else f"{total:,} parameters"
                + (f", {trainable:,} of them trained" if trainable != total else ""))
        logs.info(f"ann: {'resuming' if resuming else 'training'} {rc.recipe} in {run_dir} "
                  f"({size}, {dev}{f', {dist.world} processes' if dist.active else ''})",
                  __name__)
    trainer_cls = FittedTrainer if fitted else Trainer
    watch = (CurvesWatch(Path(run_dir), task.metric)
             if run_dir is not None and dist.main else None)
    trainer = trainer_cls(rc, model, task, train_data, val_data, dev, run_dir, dist,
                          augment, quiet, training=training, width=width, watch=watch)
    if resuming:
        if restore:
            trainer.restore()
        else:                   # stopped during its pretraining or before its first checkpoint
            trainer.log.truncate_after(0)
        if dist.main:
            fileio.write_json(run_dir / "config.json", runs.config_record(rc))
    result = trainer.fit()
    if trainer.ckpt_dir is not None and checkpoint.read_pointer(trainer.ckpt_dir):
        checkpoint.load(trainer.ckpt_dir, "best", model, dev)   # model selection on val
    if rc.train.lora_rank:
        finetune.merge(model)       # the adapters folded into the weights: an ordinary model
    run = Run(rc, model, run_dir if dist.main else None)
    if "tokenizer" in train_data.info:      # scores of the decoded text (sacreBLEU) too
        from .data.tokenizers import tokenizer_from_dict

        task.use_tokenizer(tokenizer_from_dict(train_data.info["tokenizer"]))
    test = trainer.evaluate(test_data)
    if dist.main:
        run.summary = _summary(rc, model, result, test, dev, dist)
        if task.notes():
            run.summary["signatures"] = task.notes()
        if on_users_data(rc):
            _judge_by_baselines(run.summary, task, train_data, test_data)
        if run_dir is not None:
            trainer.log.write({"step": result.step, "epoch": trainer.epoch, "split": "test", **test})
            checkpoint.save_weights(model, run_dir / "model.safetensors")
            fileio.write_json(run_dir / "summary.json", run.summary)
            _report(run, test_data)
            trainer.log.finish(run_dir, result.step)     # pictures to TensorBoard
        if not quiet:
            logs.info(result_line(run), __name__)
    distributed.barrier(dist)
    model.eval()
    return run


# data.* options that name files of the user's own (see registry.option_datasets(); a test
# checks that every option whose help says "of your own" is here).
def user_file_options() -> tuple[str, ...]:
    """The ``data.*`` options that name a file or folder of the user's: those some dataset
    declares with ``path=True`` (``path``, ``edges``, ``features``, ...)."""
    names = set()
    for key, takers in registry.option_datasets().items():
        for name in takers:
            fields = {f.name: f for f in dataclasses.fields(registry.dataset_entry(name).options)}
            if fields[key].metadata.get("path"):
                names.add(key)
    return tuple(sorted(names))


def on_users_data(rc: RunConfig) -> bool:
    """Whether a run trains on other data than its recipe's, so that the recipe's target
    (measured on the recipe's data, or a placeholder where the recipe reads the user's files,
    as gcn-custom does) says nothing about it: ``data.name`` is not the recipe's dataset, or
    an option of :func:`user_file_options` is set otherwise than the recipe sets it. A run
    without a recipe has no target either way: ``False``."""
    from .recipes import RECIPES

    recipe = RECIPES.get(rc.recipe)
    if recipe is None:
        return False
    if rc.data.name != recipe.dataset:
        return True
    defaults = data_config(recipe.dataset)
    return any(getattr(rc.data, k, None) != recipe.data.get(k, getattr(defaults, k, None))
               for k in user_file_options())


def _judge_by_baselines(summary: dict, task, train, test) -> None:
    """Replace the recipe's target in ``summary`` by the task's baselines on the run's own
    data (same test split, same metric) and whether the model beats the best of them."""
    summary.pop("target", None)
    summary.pop("reached", None)
    metric = summary["metric"]
    summary["baselines"] = {k: float(v) for k, v in
                            task.baselines(train, test, metric).items()}
    if summary["baselines"]:
        value, higher = summary["test"][metric], task.is_higher_better(metric)
        best = max(summary["baselines"].values()) if higher else min(summary["baselines"].values())
        summary["beats_baselines"] = bool(value > best if higher else value < best)


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
        higher = task.is_higher_better(metric)
        out["reached"] = bool(value >= recipe.target if higher else value <= recipe.target)
    return out


class CurvesWatch:
    """Redraws ``curves.png`` after an evaluation (atomically: a viewer never sees half a
    picture), so that a long run can be watched. A drawing takes about a second on a small CPU,
    so it is skipped where the last one ended less than ``share`` ^-1 - 1 times its own cost
    ago: drawing takes at most ~``share`` of the run's time (the picture is drawn once more at
    the end, whatever was skipped)."""

    def __init__(self, run_dir: Path, metric: str, share: float = 0.1):
        self.path, self.metric, self.share = run_dir / "curves.png", metric, share
        self.cost, self.done = 0.0, float("-inf")

    def __call__(self, rows: list[dict]) -> None:
        from .report.plots import plot_curves

        start = time.perf_counter()
        if start - self.done < self.cost * (1 / self.share - 1):
            return
        plot_curves(rows, self.metric, self.path)
        self.done = time.perf_counter()
        self.cost = self.done - start


def _report(run: Run, test_data):
    from .report.plots import plot_curves

    plot_curves(run.history, run.task.metric, run.path / "curves.png")
    run.helpers = {name: helper_run(recipe, overrides)
                   for name, (recipe, overrides) in run.task.helpers(run).items()}
    run.task.report(run, test_data, run.path)   # the task's own pictures and samples


def helper_run(recipe: str, overrides: dict | None = None, quiet: bool = True) -> Run:
    """A run that another run's report needs (a GAN's judging classifier): trained once into
    the cache (``~/.cache/ann/helpers/RECIPE-KEY``, or ``$ANN_CACHE_DIR``), loaded from there
    afterwards. KEY is a digest of the recipe and its overrides."""
    import hashlib
    import shutil

    from .data.sources import cache_dir

    overrides = dict(overrides or {})
    key = hashlib.sha1(json.dumps([recipe, overrides], sort_keys=True).encode()).hexdigest()[:10]
    folder = cache_dir() / "helpers" / f"{recipe}-{key}"
    if (folder / "model.safetensors").exists() and (folder / "summary.json").exists():
        return load(folder)
    if folder.is_dir():                  # another process training this helper: say so
        runs.lock_run(folder).release()
    shutil.rmtree(folder, ignore_errors=True)          # a helper stopped half-way: train it again
    train(recipe, {**overrides, "train.threads": torch.get_num_threads()}, out=folder, quiet=quiet)
    return load(folder)
