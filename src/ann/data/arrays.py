"""``arrays``: train any image or table recipe on arrays you hold in Python.

``ann.train("cnn-mnist", data=(x, y), val=(x_val, y_val), test=(x_test, y_test))`` takes NumPy
arrays, torch tensors, or (for ``data=``, ``val=`` and ``test=`` alike) any
``torch.utils.data.Dataset`` of ``(input, target)`` pairs, read once into arrays. The run saves
them in its folder, ``RUN/data/arrays.npz`` (written atomically, read back with
``allow_pickle=False``), and records ``data.name=arrays data.path=...`` in ``config.json``, so
``ann eval RUN``, ``ann predict RUN``, ``ann info RUN`` and ``ann train --resume RUN`` work later
with nothing passed. An ``.npz`` file of your own with the same arrays (``x_train``,
``y_train``, and optionally ``x_val``, ``y_val``, ``x_test``, ``y_test``) trains from the command
line too: ``ann train pnn-iris data.name=arrays data.path=mine.npz``.

What the arrays say:

* the inputs ``x``: images (N, C, H, W) or (N, H, W) (square, channels first as torch has
  them; ``uint8`` pixels are read on the 0..255 scale, other numbers as they are) for image
  models, rows of features (N, F) for table models (and for the MLP, which reads a row as a 1x1
  image of F channels). Each channel or feature is standardised with the training part's mean
  and std;
* the targets ``y`` (N,): integers, booleans or strings are class labels, named by their values
  (sorted; numbers numerically), so predictions name them; floats are a number to predict
  (regression);
* no targets at all (``data=x``, a Dataset of inputs alone, or an ``.npz`` without ``y_*``)
  train the recipes that learn from inputs alone (autoencoders and unconditional GANs); every
  target then reads 0;
* without ``val=`` or ``test=`` the missing parts are held out of ``data``
  (``data.val_fraction``, ``data.test_fraction``), stratified by class with ``data.split_seed``
  (a random shuffle for a numeric target).

An input shape or target kind the recipe's model cannot take stops before anything is written,
in one line naming the shape it expects (:func:`check_model`). ``ann predict`` on such a run
reads a CSV of rows (columns ``x0``, ``x1``, ... and optionally ``y``) or a ``.npy`` array of
rows, or image files and ``.npy`` images on the arrays' own scale.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import fileio, registry
from ..config import field
from ..errors import AnnError, CorruptFile
from ..registry import register_dataset
from .base import ArrayDataset
from .vision import preprocess_images, stratified_split

NAME = "arrays"
FILE = Path("data") / "arrays.npz"       # where a run keeps the arrays it was handed
SPLITS = ("train", "val", "test")
ARRAYS_INFO = {"task": "classify or regression",
               "description": "arrays from Python: ann.train(RECIPE, data=(x, y)), kept in the "
                              "run as data/arrays.npz (or data.path=FILE.npz of x_train, y_train)"}


@dataclass
class ArraysOptions:
    """The ``.npz`` file of arrays and how its training part is split."""

    path: str = field("", "the .npz file of your own arrays (x_train, y_train, optionally "
                      "x_val, y_val, x_test, y_test); ann.train(data=...) keeps it in the run",
                      path=True, in_run=FILE.as_posix())
    val_fraction: float = field(0.1, "share of the training arrays held out for validation "
                                "when there is no x_val (stratified by class)", range=(0.0, 0.9))
    test_fraction: float = field(0.2, "share of the training arrays held out for testing when "
                                 "there is no x_test (stratified by class)", range=(0.0, 0.9))
    split_seed: int = field(0, "seed of the shuffle that splits the training arrays",
                            nonneg=True)


# --- from Python objects to checked arrays ------------------------------------------------------

def _array(value, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor)
                                                          for v in value):
        return torch.stack(list(value)).detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise AnnError(f"{what} cannot be read as an array ({e}); give a NumPy array or a torch "
                       "tensor") from None


def _from_dataset(dataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every (input, target) pair of a map-style dataset, stacked once."""
    n = len(dataset)
    if n == 0:
        raise AnnError(f"{name}= is an empty Dataset; give one with examples")
    xs, ys = [], []
    def alone(item):            # an input, or a 1-tuple of it (TensorDataset(x))
        return not isinstance(item, (tuple, list)) or len(item) == 1

    first = dataset[0]
    inputs_only = alone(first)
    for i in range(n):
        item = first if i == 0 else dataset[i]
        if inputs_only:
            if not alone(item):
                raise AnnError(f"{name}= item 0 is an input alone but item {i} is a "
                               f"{type(item).__name__} of {len(item)}; give items of one form")
            xs.append(_array(item if not isinstance(item, (tuple, list)) else item[0],
                             f"{name}= item {i}"))
            continue
        if len(item) != 2:
            raise AnnError(f"{name}= item {i} is a {type(item).__name__} of {len(item)}, not an "
                           "(input, target) pair; give a Dataset whose items are (input, "
                           "target), or inputs alone")
        xs.append(_array(item[0], f"{name}= item {i}'s input"))
        ys.append(item[1].item() if isinstance(item[1], torch.Tensor) and item[1].ndim == 0
                  else item[1])
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise AnnError(f"{name}= inputs have different shapes ({', '.join(map(str, sorted(shapes)[:3]))}); "
                       "give inputs of one shape")
    return np.stack(xs), None if inputs_only else _array(ys, f"{name}= targets")


def as_pair(value, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(x, y)`` of what ``ann.train``'s ``data=``, ``val=`` or ``test=`` got: a pair of
    arrays or tensors, an array or tensor of inputs alone (``y`` None), or a
    ``torch.utils.data.Dataset`` of (input, target) pairs or of inputs."""
    if isinstance(value, torch.utils.data.Dataset) and not isinstance(value, (tuple, list)):
        x, y = _from_dataset(value, name)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        x, y = _array(value[0], f"{name}= inputs"), _array(value[1], f"{name}= targets")
    elif isinstance(value, (np.ndarray, torch.Tensor)):
        x, y = _array(value, f"{name}= inputs"), None
    else:
        settings = (" (data.* settings go with the other overrides: "
                    "{\"data.val_fraction\": 0.2})" if isinstance(value, dict) else "")
        raise AnnError(f"{name}= takes (x, y), a pair of arrays or tensors, inputs x alone, or "
                       f"a torch Dataset of (input, target) pairs, not a "
                       f"{type(value).__name__}{settings}")
    return _checked(x, y, name)


def _checked(x: np.ndarray, y: np.ndarray | None, name: str
             ) -> tuple[np.ndarray, np.ndarray | None]:
    if x.dtype.kind not in "biuf":
        raise AnnError(f"{name}= inputs are {x.dtype} values; give numbers (float or integer)")
    if x.ndim < 2:
        raise AnnError(f"{name}= inputs have shape {x.shape}; give one row per example: (N, F) "
                       "rows of features or (N, C, H, W) / (N, H, W) images")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise AnnError(f"{name}= inputs hold NaN or infinite values; give finite numbers")
    if y is None:
        return (x if x.dtype == np.uint8 else x.astype(np.float32)), None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise AnnError(f"{name}= targets have shape {y.shape}; give one target per example, "
                       "(N,): class labels or numbers")
    if len(x) != len(y):
        raise AnnError(f"{name}= has {len(x)} inputs but {len(y)} targets; give one target per "
                       "input")
    if y.dtype.kind == "O":
        if not all(isinstance(v, str) for v in y.tolist()):
            raise AnnError(f"{name}= targets mix kinds of values; give class labels (integers or "
                           "strings) or numbers")
        y = y.astype(str)
    if y.dtype.kind == "S":
        y = y.astype(str)
    if y.dtype.kind not in "biufU":
        raise AnnError(f"{name}= targets are {y.dtype} values; give class labels (integers or "
                       "strings) or numbers")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise AnnError(f"{name}= targets hold NaN or infinite values; give finite numbers")
    x = x if x.dtype == np.uint8 else x.astype(np.float32)
    if y.dtype.kind in "biu":
        y = y.astype(np.int64)
    elif y.dtype.kind == "f":
        y = y.astype(np.float32)
    return x, y


def stage(data, val=None, test=None) -> dict[str, np.ndarray]:
    """The arrays of ``ann.train(data=..., val=..., test=...)`` as the ``.npz`` holds them
    (``x_train``, ``y_train``, ...), checked to agree with each other."""
    out = {}
    for split, value, name in (("train", data, "data"), ("val", val, "val"), ("test", test, "test")):
        if value is None:
            continue
        out[f"x_{split}"], y = as_pair(value, name)
        if y is not None:
            out[f"y_{split}"] = y
    _agree(out, "ann.train")
    return out


def _agree(arrays: dict[str, np.ndarray], where: str):
    train_x, train_y = arrays["x_train"], arrays.get("y_train")
    for split in ("val", "test"):
        if f"x_{split}" not in arrays:
            continue
        x, y = arrays[f"x_{split}"], arrays.get(f"y_{split}")
        if x.shape[1:] != train_x.shape[1:]:
            raise AnnError(f"{where}: {split} inputs are {x.shape[1:]} each but training inputs "
                           f"are {train_x.shape[1:]}; give inputs of one shape")
        if (y is None) != (train_y is None):
            have, lack = ("training", split) if y is None else (split, "training")
            raise AnnError(f"{where}: the {have} arrays have targets but the {lack} arrays "
                           "have none; give targets for every part or for none")
        if y is None:
            continue
        if _kind(y) != _kind(train_y):
            raise AnnError(f"{where}: the {split} targets are {_kind(y)}s but the training "
                           f"targets are {_kind(train_y)}s; give targets of one kind")


def _kind(y: np.ndarray) -> str:
    return "number" if y.dtype.kind == "f" else "string" if y.dtype.kind == "U" else "integer"


def save(arrays: dict[str, np.ndarray], path) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically (whole or not there)."""
    path = Path(path)
    with fileio.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


# --- reading the file back: splits and what the model needs to know ---------------------------

def _read_npz(path: str) -> dict[str, np.ndarray]:
    if not path:
        raise AnnError("dataset 'arrays' needs its file: data.path=FILE.npz holding x_train and "
                       "y_train (ann.train(RECIPE, data=(x, y)) writes one into the run)")
    file = Path(path).expanduser()
    if not file.is_file():
        raise AnnError(f"data.path={path!r} is not a file; give the .npz file of arrays (a run "
                       f"trained from Python keeps it as RUN/{FILE.as_posix()})")
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError) as e:
        raise CorruptFile(f"{file} cannot be read as a .npz file of arrays ({e}); it is damaged "
                          "or holds Python objects (give numbers and strings only)") from None
    if "x_train" not in arrays:
        raise AnnError(f"{file} has no array 'x_train' (it has {', '.join(arrays) or 'none'}); "
                       "save x_train and y_train (and optionally x_val, y_val, x_test, y_test; "
                       "no y_* at all for inputs alone)")
    unlabelled = not any(f"y_{split}" in arrays for split in SPLITS)
    out = {}
    for split in SPLITS:
        has_x = f"x_{split}" in arrays
        pair = [has_x, f"y_{split}" in arrays or (unlabelled and has_x)]
        if any(pair) and not all(pair):
            raise AnnError(f"{file} has one of x_{split} and y_{split} but not the other; save "
                           "both or neither")
        if all(pair):
            x, y = _checked(arrays[f"x_{split}"], arrays.get(f"y_{split}"), split)
            out[f"x_{split}"] = x
            if y is not None:
                out[f"y_{split}"] = y
    _agree(out, str(file))
    return out


def _class_names(y: np.ndarray) -> list:
    values = sorted(set(y.tolist()))
    return [str(v) for v in values]


def _carve(y: np.ndarray, wanted: dict[str, float], seed: int, classes: bool) -> dict:
    """Indices of the parts ``wanted`` held out of the training arrays, and what stays."""
    if not wanted:
        return {"train": np.arange(len(y))}
    if sum(wanted.values()) >= 1:
        raise AnnError(f"data.val_fraction + data.test_fraction = {sum(wanted.values()):g} "
                       "leaves no training examples; keep their sum below 1")
    strata = np.unique(y, return_inverse=True)[1] if classes else np.zeros(len(y), dtype=int)
    parts = stratified_split(strata, {**wanted, "train": 0.0}, seed)
    for split, idx in parts.items():
        if not len(idx):
            raise AnnError(f"the {split} part of the {len(y)} training examples is empty; give "
                           "more examples, or val=/test= arrays, or adjust data.val_fraction / "
                           "data.test_fraction")
    return parts


@functools.lru_cache(maxsize=4)
def _splits(path: str, stamp: tuple, val_fraction: float, test_fraction: float,
            split_seed: int) -> dict:
    arrays = _read_npz(path)
    x = arrays["x_train"]
    y = arrays.get("y_train")
    classes = y is not None and y.dtype.kind != "f"
    wanted = {s: f for s, f in (("val", val_fraction), ("test", test_fraction))
              if f"x_{s}" not in arrays}
    parts = _carve(np.zeros(len(x), dtype=np.int64) if y is None else y, wanted, split_seed,
                   classes)
    raw = {s: (x[i], None if y is None else y[i]) for s, i in parts.items()}
    raw.update({s: (arrays[f"x_{s}"], arrays.get(f"y_{s}")) for s in ("val", "test")
                if f"x_{s}" in arrays})
    info = _info(raw["train"][0], raw["train"][1])
    out = {"info": info}
    for split in SPLITS:
        sx, sy = raw[split]
        out[split] = (_inputs(sx, info), _targets(sy, info, split, len(sx)))
    return out


def _info(x: np.ndarray, y: np.ndarray) -> dict:
    """What the model and ``ann predict`` need to know about the arrays."""
    info = {**ARRAYS_INFO, "input_shape": list(x.shape[1:])}
    if x.ndim == 2:
        # rows of features, standardised as a table's are
        d = x.shape[1]
        mean, std = x.mean(0, dtype=np.float64), x.std(0, dtype=np.float64)
        names = [f"x{i}" for i in range(d)]
        info.update(inputs="rows", feature_names=names, columns=names, mean=mean.tolist(),
                    std=np.where(std > 0, std, 1.0).tolist(), in_features=d, in_channels=d,
                    image_size=1, target="y")
        fills = ["in_features", "in_channels", "image_size"]
    else:
        if x.ndim > 4:
            raise AnnError(f"inputs of shape {x.shape} are neither rows (N, F) nor images "
                           "(N, C, H, W) or (N, H, W)")
        images = x[:, None] if x.ndim == 3 else x                          # (N, C, H, W)
        if x.ndim == 4 and x.shape[3] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
            raise AnnError(f"images of shape {x.shape} look channels-last (N, H, W, C); give "
                           "them channels first, (N, C, H, W): x.transpose(0, 3, 1, 2)")
        if images.shape[2] != images.shape[3]:
            raise AnnError(f"images are {images.shape[3]}x{images.shape[2]}; the image models take "
                           "square images (N, C, S, S): crop or pad them")
        scale = 255 if x.dtype == np.uint8 else 1
        unit = images.astype(np.float64) / scale
        mean, std = unit.mean((0, 2, 3)), unit.std((0, 2, 3))
        std = np.where(std > 0, std, 1.0)
        info.update(inputs="images", in_channels=int(images.shape[1]),
                    image_size=int(images.shape[2]), scale=scale, mean=mean.tolist(),
                    std=std.tolist())
        fills = ["in_channels", "image_size"]
        if images.shape[1] == 1:      # one number each: an autoencoder's data space is pixels
            info.update(mean=float(mean[0]), std=float(std[0]))
            fills += ["mean", "std"]
    if y is None:
        info.update(task="unlabelled", target_kind="none")
    elif y.dtype.kind == "f":
        info.update(task="regression", target_kind="number", out_features=1)
        fills.append("out_features")
    else:
        names = _class_names(y)
        if len(names) < 2:
            raise AnnError(f"the training targets hold one class ({names[0]!r}); a classifier "
                           "needs at least 2")
        info.update(task="classify", target_kind="class", classes=names,
                    label_kind=_kind(y), num_classes=len(names))
        fills.append("num_classes")
    info["fills"] = tuple(fills)
    return info


def _inputs(x: np.ndarray, info: dict) -> torch.Tensor:
    if info["inputs"] == "images":
        return preprocess_images(x, info)                                   # (N, C, S, S)
    mean, std = np.asarray(info["mean"]), np.asarray(info["std"])
    return torch.tensor((x - mean) / std, dtype=torch.float32)             # (N, F)


def _targets(y: np.ndarray | None, info: dict, split: str, n: int) -> torch.Tensor:
    if y is None:               # inputs alone: each batch still carries a target, 0
        return torch.zeros(n, dtype=torch.int64)
    if info["target_kind"] == "number":
        return torch.tensor(y, dtype=torch.float32)
    index = {c: i for i, c in enumerate(info["classes"])}
    labels = [str(v) for v in y.tolist()]
    unseen = sorted({v for v in labels if v not in index})
    if unseen:
        raise AnnError(f"class {unseen[0]!r} is in the {split} targets but never in training; "
                       f"give training examples of it or drop them from {split}")
    return torch.tensor([index[v] for v in labels], dtype=torch.int64)


@register_dataset(NAME, info=ARRAYS_INFO, embedded=True, options=ArraysOptions)
def load_arrays(split: str, path: str = "", val_fraction: float = 0.1, test_fraction: float = 0.2,
                split_seed: int = 0) -> ArrayDataset:
    """Split ``split`` of the arrays in the ``.npz`` file ``path`` (see the module)."""
    file = Path(path).expanduser() if path else None
    stat = file.stat() if file is not None and file.is_file() else None
    stamp = (stat.st_mtime_ns, stat.st_size) if stat else ()
    parts = _splits(path, stamp, val_fraction, test_fraction, split_seed)
    x, y = parts[split]
    return ArrayDataset(x, y, dict(parts["info"]))


# --- does the recipe's model take them? --------------------------------------------------------

def check_model(recipe: str, model_name: str, conf, info: dict):
    """One line, before anything is written, when the recipe's model cannot take inputs of the
    arrays' shape or targets of their kind; else nothing. ``conf`` is the model's config with
    the arrays' facts filled in (its own checks then run: ``cfg.validate``)."""
    from .. import config as cfg

    names = {f.name for f in dataclasses.fields(conf)}
    reads_images, reads_rows = {"in_channels", "image_size"} <= names, "in_features" in names
    shape = tuple(info["input_shape"])
    got = f"(N, {', '.join(map(str, shape))})"
    who = f"recipe {recipe!r} (model {model_name})"
    if not (reads_images or reads_rows):
        raise AnnError(f"{who} reads neither images nor rows of features, so it cannot train on "
                       "arrays; choose an image recipe (inputs (N, C, H, W) or (N, H, W)) or a "
                       "table recipe (inputs (N, F))")
    if info["inputs"] == "images" and not reads_images:
        raise AnnError(f"{who} reads rows of features: give inputs of shape (N, F), not {got} "
                       "(flatten images with x.reshape(len(x), -1) if you mean that)")
    if getattr(conf, "vocab_size", 0) or getattr(conf, "src_vocab_size", 0):
        raise AnnError(f"{who} reads text (token ids) as well, which arrays do not hold; choose "
                       "an image recipe (inputs (N, C, H, W) or (N, H, W)) or a table recipe "
                       "(inputs (N, F))")
    model_class = registry.model_entry(model_name).cls
    task = model_class.task
    wants = registry.task_class(task).targets
    if info["target_kind"] == "none":
        if not registry.task_class(task).unlabelled or getattr(model_class, "conditional", False):
            raise AnnError(f"{who} learns from labelled examples, but the arrays hold inputs "
                           "alone; give data=(x, y), or choose a recipe that learns from "
                           "inputs alone (an autoencoder or an unconditional GAN)")
        wants = "none"
    if not wants:
        raise AnnError(f"{who} is a {task} model, whose targets are not class labels or numbers, "
                       "so it cannot train on arrays (x, y); choose a classifier, a regression, "
                       "an autoencoder or a GAN recipe")
    if wants != info["target_kind"]:
        have = "numbers (floats)" if info["target_kind"] == "number" else "class labels"
        need = ("class labels (integers or strings)" if wants == "class"
                else "numbers (floats: a regression target)")
        other = "regression" if wants == "class" else "classification"
        raise AnnError(f"{who} is a {task} model, which needs targets that are {need}, but y "
                       f"holds {have}; convert y, or choose a {other} recipe")
    try:
        cfg.validate(conf)
    except AnnError as e:
        expected = ("images (N, C, H, W) or (N, H, W) of a size it takes"
                    if info["inputs"] == "rows" or not reads_rows else "rows (N, F)")
        raise AnnError(f"{who} cannot take inputs of shape {got}: {e}; give {expected}") from None
