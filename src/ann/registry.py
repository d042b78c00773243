"""Named models and datasets.

``@register_model`` puts a model class (built from a dataclass config) under a name;
``@register_dataset`` puts a loader function under a name with static facts about its data
(shapes, classes), so that ``ann list`` and model construction need not load the data.
Lookups are strict: an unknown name fails with the close names and the full list.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import config as cfg
from .errors import AnnError, unknown


@dataclass(frozen=True)
class Training:
    """How a model is trained, read once from its class when it is registered (the contract a
    model keeps: a special step says so in one method), so that nothing later probes the model.

    ``kind``: ``"loop"`` (the engine's gradient loop), ``"steps"`` (the loop asks the model for
    each step: ``configure_optimizers`` and ``training_step``, a GAN's two players) or ``"fit"``
    (fitted in closed form by its ``fit(train, val, evaluate)``: GMDH, PNN, DSN, Hopfield).
    ``augments``: its ``fit`` takes ``augment=`` (a data augmentation applied while fitting).
    ``describes``: it writes itself out as text (``describe(feature_names)``, GMDH's formula),
    saved as the run's ``model.txt``."""

    kind: str = "loop"
    augments: bool = False
    describes: bool = False


def _training(cls: type, name: str) -> Training:
    fit = callable(getattr(cls, "fit", None))
    steps = callable(getattr(cls, "training_step", None))
    if fit and steps:
        raise TypeError(f"model {name!r}: a model is fitted (fit) or takes its own steps "
                        "(training_step), not both")
    if steps and not callable(getattr(cls, "configure_optimizers", None)):
        raise TypeError(f"model {name!r}: training_step needs configure_optimizers(train_config)")
    augments = fit and "augment" in inspect.signature(cls.fit).parameters
    return Training("fit" if fit else "steps" if steps else "loop", augments,
                    callable(getattr(cls, "describe", None)))


@dataclass
class ModelEntry:
    name: str
    cls: type
    config: type
    family: str
    presets: dict[str, dict[str, Any]]
    training: Training = Training()


@dataclass
class DatasetEntry:
    name: str
    loader: Callable[..., Any]
    info: dict[str, Any]       # static facts: task, shapes, classes, normalisation
    embedded: bool             # True: needs no download and nothing in $ANN_DATA_DIR
    splits: tuple[str, ...]
    options: type | None = None   # dataclass of the data.* settings the loader takes as keywords
    module: str = ""              # the module that registered it (the loader's __module__)

    @property
    def registered_by(self) -> str:
        """The module that registered this dataset when it is not one of ann's own (a source
        registered from Python): what a run records, so a later command can say what to
        import; empty for ann's own datasets."""
        return "" if self.module == "ann" or self.module.startswith("ann.") else self.module

    @property
    def option_names(self) -> tuple[str, ...]:
        """The loader's own ``data.*`` settings, in their dataclass's order."""
        return tuple(f.name for f in dataclasses.fields(self.options)) if self.options else ()


MODELS: dict[str, ModelEntry] = {}
DATASETS: dict[str, DatasetEntry] = {}
TASKS: dict[str, type] = {}

# Modules whose import registers the built-in models, datasets and tasks (imported on first
# lookup, so that `import ann` stays light and the registry has no import-time side effects
# elsewhere).
_BUILTIN = ("ann.models", "ann.data", "ann.tasks")


def _load_builtins():
    for mod in _BUILTIN:
        importlib.import_module(mod)


def register_model(name: str, config: type, family: str, presets: dict | None = None):
    """Class decorator: register ``cls(config_instance)`` under ``name``."""
    def wrap(cls):
        if name in MODELS and MODELS[name].cls is not cls:
            raise ValueError(f"model {name!r} registered twice")
        MODELS[name] = ModelEntry(name, cls, config, family, dict(presets or {}),
                                  _training(cls, name))
        cls.registry_name = name
        return cls
    return wrap


def register_dataset(name: str, info: dict, embedded: bool, splits=("train", "val", "test"),
                     options: type | None = None):
    """Function decorator: register ``loader(split, **kw)`` under ``name``. ``options`` is the
    dataclass of the dataset's own ``data.*`` settings (``path``, ``column``, ``fold``, ...; made
    with :func:`ann.config.field`, so they are parsed and checked like ``model.*`` keys); the
    loader takes each of its fields as a keyword argument, and a run passes their values. Several
    datasets may share one options class.

    ``info`` holds the facts a model is sized by before any data is read (``num_classes``,
    ``in_features``, ``in_channels``, ``image_size``, ...: copied into the model's same-named
    config fields) and ``task``; a split's own ``info`` may add those only the data knows, listed
    under ``"fills"``. A dataset registered outside ann (from your own module) is recorded with
    that module (``registered_by`` in a run's ``config.json`` and ``data.json``), so later
    commands say what to import: ``ann --import MODULE eval RUN``."""
    if options is not None and not (isinstance(options, type) and dataclasses.is_dataclass(options)):
        raise TypeError(f"dataset {name!r}: options must be a dataclass, not {options!r}")

    def wrap(fn):
        entry = DatasetEntry(name, fn, dict(info), embedded, tuple(splits), options,
                             getattr(fn, "__module__", "") or "")
        params = inspect.signature(fn).parameters
        missing = [k for k in entry.option_names if k not in params]
        if missing:
            raise TypeError(f"dataset {name!r}: the loader takes no keyword {', '.join(missing)} "
                            f"of its options {options.__name__}")
        DATASETS[name] = entry
        return fn
    return wrap


def register_task(cls):
    """Class decorator: register a task class (a subclass of ``ann.tasks.base.Task``) under its
    ``name``; a model's ``task`` attribute names it."""
    if cls.name in TASKS and TASKS[cls.name] is not cls:
        raise ValueError(f"task {cls.name!r} registered twice")
    TASKS[cls.name] = cls
    return cls


def task_class(name: str) -> type:
    """The task class registered as ``name`` (an unknown name fails with the choices)."""
    _load_builtins()
    if name not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[name]


def get_task(name: str, **options):
    """A new instance of the task registered as ``name``, built with ``options``."""
    return task_class(name)(**options)


def list_tasks() -> list[str]:
    _load_builtins()
    return sorted(TASKS)


def model_entry(name: str) -> ModelEntry:
    _load_builtins()
    if name not in MODELS:
        raise unknown("model", name, MODELS)
    return MODELS[name]


def dataset_entry(name: str, registered_by: str = "") -> DatasetEntry:
    """The dataset registered as ``name``. Unknown: when ``registered_by`` (what a run
    recorded) names the module that registered it, the error says to import it
    (``ann --import MODULE ...``), else it lists the datasets there are."""
    _load_builtins()
    if name not in DATASETS:
        if registered_by:
            raise AnnError(f"dataset {name!r} was registered by module {registered_by!r}: pass "
                           f"--import {registered_by} (ann --import {registered_by} COMMAND ...; "
                           f"from Python, import {registered_by} first)")
        raise unknown("dataset", name, DATASETS)
    return DATASETS[name]


def option_datasets() -> dict[str, list[str]]:
    """Each ``data.*`` option some dataset takes, with the datasets that take it (sorted)."""
    _load_builtins()
    out: dict[str, list[str]] = {}
    for name in sorted(DATASETS):
        for key in DATASETS[name].option_names:
            out.setdefault(key, []).append(name)
    return out


def model_config(name: str, preset: str | None = None, overrides=None):
    """The config of model ``name``: defaults, then the preset, then overrides (all checked)."""
    entry = model_entry(name)
    conf = entry.config()
    if preset is not None:
        if preset not in entry.presets:
            raise unknown(f"preset of model {name!r}:", preset, entry.presets)
        cfg.apply_overrides(conf, entry.presets[preset])
    cfg.apply_overrides(conf, overrides or {})
    return conf


def create_model(name: str, preset: str | None = None, **overrides):
    """Build a registered model: ``create_model("cnn", width=32, num_classes=10)``."""
    conf = model_config(name, preset, overrides)
    return model_entry(name).cls(conf)


def build_model(name: str, conf):
    """Build a registered model from an existing config instance; sizes whose weights would not
    fit in this machine's memory are refused in one line naming the size they would need."""
    entry = model_entry(name)
    if not isinstance(conf, entry.config):
        raise TypeError(f"model {name!r} takes a {entry.config.__name__}")
    check_model_size(name, conf)
    return entry.cls(conf)


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _gigabytes(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n < 2**50 else f"{n:.2e} bytes"


def check_model_size(name: str, conf) -> None:
    """Count the weights of model ``name`` built on PyTorch's meta device (no memory used) and
    refuse sizes (``model.widths=100000000``) whose float32 weights exceed the machine's memory.
    A model that cannot be built on the meta device is not judged here."""
    import torch

    memory = machine_memory()
    if memory is None:
        return
    try:
        with torch.device("meta"):
            model = model_entry(name).cls(conf)
        count = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    except AnnError:
        raise
    except Exception:       # a model that computes values while it is built: judged when built
        return
    need = count * 4
    if need > memory:
        sizes = ", ".join(f"model.{k}={v}" for k, v in _largest_sizes(conf, 1))
        raise AnnError(f"model {name!r} with {sizes} would hold {count:,} weights "
                       f"({_gigabytes(need)} as float32), more than this machine's "
                       f"{_gigabytes(memory)} of memory; choose smaller sizes")


def _largest_sizes(conf, n: int = 2) -> list[tuple[str, object]]:
    """The ``n`` config fields holding the largest integers (or lists of them): the likely
    culprits of a model too large to build."""
    def size(v):
        if isinstance(v, bool):
            return 0
        if isinstance(v, int):
            return v
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, int) for x in v):
            return max(v)
        return 0
    fields = [(f.name, getattr(conf, f.name)) for f in dataclasses.fields(conf)]
    fields = sorted((kv for kv in fields if size(kv[1]) > 0), key=lambda kv: -size(kv[1]))
    return [(k, list(v) if isinstance(v, tuple) else v) for k, v in fields[:n]]


# Tasks of datasets one model reads alike: a text-to-text model trains on pairs of texts,
# whichever objective made them; an autoencoder reconstructs the inputs of labelled data (an
# anomaly detector trains on a user's table or image folder).
_SAME_TASKS = ({"seq2seq", "text2text", "span_corrupt"}, {"reconstruct", "classify", "regression"})


def data_kind(info: dict) -> tuple[set, str | None]:
    """What a dataset holds, from its info: the tasks it serves (``{"classify"}``; a user's
    table serves ``classify or regression``) and the form of its inputs (images, rows of a
    table, text, audio) where its info says (None: any form, as a user's own table)."""
    tasks = {t.strip() for t in str(info.get("task", "")).split(" or ") if t.strip()}
    for group in _SAME_TASKS:
        if tasks & group:
            tasks |= group
    if info.get("modality"):
        form = str(info["modality"])
    elif "image_size" in info or info.get("fit_images"):
        form = "images"
    elif "vocab_size" in info or "max_len" in info or "tokenizer_kind" in info:
        form = "text"
    elif "in_features" in info:
        form = "rows of a table"
    else:
        form = None
    return tasks, form


def same_kind(a: dict, b: dict, also=()) -> bool:
    """Whether datasets of infos ``a`` and ``b`` serve a task in common with inputs of one form;
    ``also``: the further input forms the model reads (a model class's ``reads``: the recurrent
    classifier reads audio frames as well as rows of pixels)."""
    (ta, fa), (tb, fb) = data_kind(a), data_kind(b)
    if ta and tb and not ta & tb:
        return False
    if fb in also:
        return True
    # an MLP reads 8x8 digits as their 64 numbers, a row of a table (mlp-digits on digits-table)
    flat = {"images", "rows of a table"}
    return fa is None or fb is None or fa == fb or {fa, fb} <= flat


def describe_kind(info: dict) -> str:
    form = data_kind(info)[1]
    return f"{info.get('task', '?')} data" + (f" of {form}" if form else "")


# Facts of the data a model must agree with: set against the data, each is refused (fewer
# classes than the data's put its labels out of range; more leave the report's tables unmatched).
DATA_FIXES = {"in_channels": "channels", "image_size": "pixels on a side", "num_classes": "classes"}


def check_against_data(conf, info: dict, keys, dataset: str) -> None:
    """One line when a ``model.*`` key the user set (``keys``) disagrees with a fact the data
    fixes: ``model.num_classes=3`` on 10-class data, ``model.in_channels=3`` on gray images,
    ``model.image_size=1000`` on 8x8 images."""
    names = {f.name for f in dataclasses.fields(conf)}
    for key, what in DATA_FIXES.items():
        if key not in keys or key not in names or not isinstance(info.get(key), int):
            continue
        have, want = info[key], getattr(conf, key)
        if want == have:
            continue
        raise AnnError(f"model.{key}={want} is set against the data: dataset {dataset!r} fixes "
                       f"{key}={have} ({what}); drop model.{key} (the data fills it in)")


def fill_from_data(conf, info: dict, explicit=()):
    """Copy dataset facts (``in_channels``, ``num_classes``, ...) into same-named config fields,
    except those the user set explicitly."""
    names = {f.name for f in dataclasses.fields(conf)}
    for k, v in info.items():
        if k in names and k not in explicit:
            setattr(conf, k, v)
    cfg.validate(conf)
    return conf


def list_models() -> list[str]:
    _load_builtins()
    return sorted(MODELS)


def list_datasets() -> list[str]:
    _load_builtins()
    return sorted(DATASETS)


def load_dataset(name: str, split: str = "train", **kwargs):
    """Load split ``split`` of dataset ``name`` (see ``ann.data``)."""
    entry = dataset_entry(name)
    if split not in entry.splits:
        raise unknown(f"split of dataset {name!r}:", split, entry.splits)
    return entry.loader(split, **kwargs)


