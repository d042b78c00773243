"""The configuration of a run: model, data and training sections."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config as cfg
from ..config import field
from ..errors import AnnError
from . import tracking
from .select import CHOICES as SELECT_CHOICES


@dataclass
class TrainConfig:
    epochs: int = field(0, "passes over the training split (0: use max_steps)", nonneg=True)
    max_steps: int = field(0, "optimizer steps; overrides epochs when > 0", nonneg=True)
    batch_size: int = field(64, "global batch size, split across processes", positive=True)
    grad_accum: int = field(1, "micro-batches accumulated per optimizer step", positive=True)
    optimizer: str = field("adamw", "optimizer", choices=("adamw", "sgd"))
    lr: float = field(1e-3, "peak learning rate", positive=True)
    min_lr: float = field(0.0, "learning rate at the end of the cosine/linear decay", nonneg=True)
    schedule: str = field("cosine", "learning-rate schedule after warmup (noam: Vaswani et al. "
                          "2017, lr x d_model^-0.5 x min(step^-0.5, step x warmup^-1.5))",
                          choices=("cosine", "linear", "constant", "noam", "step"))
    warmup_steps: int = field(0, "linear warmup steps from 0 to lr", nonneg=True)
    decay_start: int = field(4, "schedule=step: epochs at the full lr before the decay starts",
                             nonneg=True)
    decay_factor: float = field(0.5, "schedule=step: lr multiplier at each later epoch's start",
                                range=(0.0, 1.0))
    decay_every: int = field(1, "schedule=step: epochs between two decays (Xu et al. 2019: "
                             "halved every 50)", positive=True)
    noam_d_model: int = field(0, "d_model in the noam schedule (0: the model's d_model)", nonneg=True)
    weight_decay: float = field(0.0, "decoupled weight decay (not on biases and norms)", nonneg=True)
    momentum: float = field(0.9, "SGD momentum", range=(0.0, 1.0))
    beta1: float = field(0.9, "AdamW beta1", range=(0.0, 0.9999))
    beta2: float = field(0.999, "AdamW beta2", range=(0.0, 0.99999))
    grad_clip: float = field(0.0, "clip the global gradient norm to this (0: off)", nonneg=True)
    label_smoothing: float = field(0.0, "label smoothing of the cross-entropy tasks (classify, "
                                   "graphs, seq2seq, captions, text2text)", range=(0.0, 0.99))
    length_buckets: int = field(0, "sequence tasks: sort the shuffled examples by length within "
                                "pools of N batches, then shuffle the batches; each batch is "
                                "padded to its own longest row, so less padding (0: off)",
                                nonneg=True)
    eval_every: int = field(0, "evaluate every N steps (0: once per epoch)", nonneg=True)
    log_every: int = field(20, "write a train-loss line every N steps", positive=True)
    log_to: str = field("csv", "where the numbers go besides metrics.jsonl: a comma-separated "
                        "list of csv (RUN/metrics.csv) and tensorboard (RUN/tensorboard, needs "
                        "the tensorboard package), or none")
    checkpoint_every: int = field(0, "save a checkpoint every N steps (0: at each evaluation)",
                                  nonneg=True)
    early_stop: int = field(0, "stop after N evaluations without improvement (0: off)", nonneg=True)
    select: str = field("metric", "validation figure that picks the tested checkpoint and drives "
                        "early stopping: metric (the task's), loss, window (the metric averaged "
                        "over the last select_window evaluations) or last (the final model)",
                        choices=SELECT_CHOICES)
    select_window: int = field(10, "select=window: evaluations averaged", positive=True)
    eval_batch_size: int = field(1000, "batch size for evaluation", positive=True)
    seed: int = field(0, "seed for python, numpy and torch", nonneg=True)
    deterministic: bool = field(False, "deterministic kernels: equal runs give equal weights")
    device: str = field("auto", "device", choices=("auto", "cpu", "cuda", "mps"))
    amp: str = field("auto", "mixed precision (auto: bf16 on CUDA, off on CPU)",
                     choices=("auto", "bf16", "off"))
    compile: bool = field(False, "torch.compile the model")
    threads: int = field(0, "torch CPU threads (0: torch's default)", nonneg=True)
    workers: int = field(0, "processes that prepare training batches ahead (decoding, "
                         "augmenting); the batches and the final weights are those of 0, "
                         "which builds them in the training process", range=(0, 64))
    init_from: str = field("", "starting weights: '' = pretrain with the recipe's pretraining "
                               "recipe (if any) into RUN_DIR/pretrain; 'scratch'; or a run "
                               "directory, whose tensors that match by name and shape are copied")
    pretrain_steps: int = field(0, "optimizer steps of that pretraining run (0: its recipe's)",
                                nonneg=True)
    freeze: str = field("", "parameters kept fixed: comma-separated name prefixes or globs, a "
                        "range a-b for layer indices (encoder.blocks.0-1,*.ln1); '' freezes none")
    lora_rank: int = field(0, "rank of low-rank adapters (LoRA) on the lora_targets layers: only "
                           "they and the parameters the starting weights lack train, merged into "
                           "the weights at the end (0: off)", nonneg=True)
    lora_alpha: float = field(16.0, "LoRA scale numerator: the update is (lora_alpha / "
                              "lora_rank) B A", positive=True)
    lora_targets: str = field("", "Linear layers LoRA adapts, as train.freeze's patterns (a bare "
                              "word matches a layer's last name part); '': the attention "
                              "projections q_proj,k_proj,v_proj,out_proj")

    def __post_check__(self):
        tracking.parse(self.log_to)
        if self.epochs == 0 and self.max_steps == 0:
            raise AnnError("set train.epochs or train.max_steps to a positive number")
        if self.min_lr > self.lr:
            raise AnnError(f"train.min_lr ({self.min_lr}) must not exceed train.lr ({self.lr})")
        if self.schedule == "noam" and self.warmup_steps == 0:
            raise AnnError("train.schedule=noam needs train.warmup_steps > 0 (the paper uses 4000)")


@dataclass
class DataConfig:
    """The ``data.*`` settings every dataset shares. A dataset's own options (the dataclass it
    registers with, see :func:`ann.registry.register_dataset`) join these in the data section of
    a run of it: see :func:`data_config`."""

    name: str = field("digits", "dataset name (see `ann list --datasets`)")
    augment_shift: int = field(0, "random translation of training images by up to N pixels",
                               range=(0, 8))
    augment_flip: bool = field(False, "random horizontal flips of training images")
    train_subset: int = field(0, "use only the first N training examples (0: all)", nonneg=True)
    tokenizer: str = field("", "tokenizer of a text dataset: char, word, bpe, or a saved "
                           "tokenizer.json (a run's: an imported checkpoint's own); empty: the "
                           "dataset's default", in_run="tokenizer.json")

    def __post_check__(self):
        t = self.tokenizer
        if t in ("", "char", "word", "bpe"):
            return
        if not t.endswith(".json") or not Path(t).expanduser().is_file():
            raise AnnError(f"data.tokenizer={t!r} is neither char, word, bpe nor a tokenizer.json "
                           "file; give one of those, or leave it empty for the dataset's default")


@functools.cache
def data_config_class(options: type | None) -> type[DataConfig]:
    """:class:`DataConfig` with the fields of a dataset's options dataclass after the shared ones
    (one class per options class, so that two configs of one dataset compare equal)."""
    if options is None:
        return DataConfig
    shared = {f.name for f in dataclasses.fields(DataConfig)}
    clash = sorted(shared & {f.name for f in dataclasses.fields(options)})
    if clash:
        raise TypeError(f"{options.__name__} redefines the shared data settings {', '.join(clash)}")
    # options first in the bases: dataclass collects fields from the last base on, so the shared
    # fields come first (the order of --show-config)
    cls = type(f"DataConfig_{options.__name__}", (options, DataConfig),
               {"__module__": __name__, "__doc__": f"{DataConfig.__doc__}\n\n{options.__doc__}"})
    return dataclass(cls)


def data_config(name: str, registered_by: str = "") -> DataConfig:
    """A default data section for dataset ``name``: the shared settings and the dataset's own.
    ``registered_by``: the module a run recorded as the registrar of a dataset of the user's,
    named in the error when it is not registered now."""
    from ..registry import dataset_entry

    return data_config_class(dataset_entry(name, registered_by).options)(name=name)


def _data_from_dict(d: dict) -> DataConfig:
    """The data section of a ``config.json``. One written before the datasets declared their own
    options holds every dataset's options (one class had them all): those of other datasets are
    dropped. (That version refused a value of an option the dataset did not take, so theirs are
    the defaults; a run directory is read as it is, never refused for them.)"""
    from ..registry import option_datasets

    d = dict(d)
    conf = data_config(d.get("name", DataConfig.name), str(d.pop(REGISTERED_BY, "") or ""))
    own = {f.name for f in dataclasses.fields(conf)}
    others = set(option_datasets()) - own
    return cfg.from_dict(type(conf), {k: v for k, v in d.items() if k not in others}, "data.")


# The entry of a config.json's data section (and of data.json) that names the module which
# registered a dataset of the user's (ann.register_dataset from Python); not a setting.
REGISTERED_BY = "registered_by"


# Keys an earlier version of ann had, and where they went: old key -> (new key, {old value: new
# value}). A config.json that holds them is read in today's keys (migrate_config), and
# ann.api.build_config takes them as aliases of the new keys. A model whose config still has a
# field of the old name (GMDH's model.selection, a fraction) keeps it: nothing moves there.
MOVED_KEYS = {
    # checkpoint selection was a setting of the graph models; it is the engine's, for every family
    "model.selection": ("train.select", {"accuracy": "metric"}),
    "model.select_window": ("train.select_window", {}),
}


def moved_key(model_config, key: str, value) -> tuple[str, Any]:
    """``(key, value)`` in today's keys: a key of :data:`MOVED_KEYS` that ``model_config`` no
    longer has becomes its new key, its value renamed; every other key passes through."""
    section, _, name = key.partition(".")
    if key not in MOVED_KEYS or (section == "model" and name in
                                 {f.name for f in dataclasses.fields(model_config)}):
        return key, value
    new, values = MOVED_KEYS[key]
    return new, values.get(value, value) if isinstance(value, str) else value


def migrate_config(d: dict, model_config) -> dict:
    """A config.json dict written by an earlier version of ann, in today's keys: every moved
    key (:data:`MOVED_KEYS`; ``model_config`` is the model's config class) is taken to its new
    place. A config of this version passes through unchanged."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    for section in ("model", "data", "train"):
        if not isinstance(d.get(section), dict):
            continue                    # missing or damaged: from_dict says so
        for name, value in list(d[section].items()):
            key, value = moved_key(model_config, f"{section}.{name}", value)
            new_section, _, new_name = key.partition(".")
            if key != f"{section}.{name}":
                del out[section][name]
                out.setdefault(new_section, {}).setdefault(new_name, value)
    return out


@dataclass
class RunConfig:
    recipe: str = field("", "the recipe this run started from")
    model_name: str = field("cnn", "registered model name")
    model: Any = None            # the model's own config dataclass
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return cfg.to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        from ..registry import model_entry

        for section in ("model", "data", "train"):
            if section in d and not isinstance(d[section], dict):
                raise AnnError(f"config.json is damaged: its {section!r} entry is "
                               f"{type(d[section]).__name__}, not a section of settings; restore "
                               "the file (ann writes it when a run starts)")
        if not isinstance(d.get("model_name", ""), str):
            raise AnnError("config.json is damaged: its 'model_name' is not a model name")
        try:
            entry = model_entry(d["model_name"])
            d = migrate_config(d, entry.config)
            return cls(recipe=d.get("recipe", ""), model_name=d["model_name"],
                       model=cfg.from_dict(entry.config, d["model"], "model."),
                       data=_data_from_dict(d["data"]),
                       train=cfg.from_dict(TrainConfig, d["train"], "train."))
        except (KeyError, TypeError) as e:
            raise AnnError(f"config.json lacks a required entry ({e}); it was not written by ann") from None
