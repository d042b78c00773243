"""``image-folder``: train any image classifier on a folder of your own pictures.

``ann train cnn-digits data.name=image-folder data.path=photos/`` reads

* ``photos/CLASS/*.png|jpg|jpeg|bmp``, one subfolder per class (its name is the class name; the
  classes are sorted by name), split into train/val/test per class by a seeded shuffle
  (``data.val_fraction``, ``data.test_fraction``, ``data.split_seed``); or
* ``photos/train/CLASS/...`` with ``photos/val/CLASS/...`` and ``photos/test/CLASS/...`` when
  those folders exist (a missing ``val/`` or ``test/`` is carved out of ``train/`` as above).

Images may differ in size and mode: each is cropped to the central square of its shorter side
and resized to ``image_size`` x ``image_size`` (Lanczos), transparency composited over black, and
converted to 1 channel (grayscale) or 3 (RGB). The facts known only after reading (channels,
size, class names, the training images' mean and std) go into the split's ``info`` and, through
``fills``, into the model config; the run records them in ``data.json`` so that ``ann predict``
reads a new picture the same way (:func:`read_fitted_image`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import field
from ..errors import AnnError
from ..registry import register_dataset
from .base import ArrayDataset
from .vision import open_image, preprocess_images, read_image_file, stratified_split

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
SPLIT_FOLDERS = ("train", "val", "test")
# Files an operating system leaves in photo folders; they are skipped, not refused.
SYSTEM_FILES = ("thumbs.db", "desktop.ini")
GRAY_MODES = ("1", "L", "LA", "I", "F", "I;16", "I;16L", "I;16B", "I;16N")
AUTO_SIZE_LIMIT = 64     # image_size=0 keeps a common square side up to this, else FALLBACK_SIZE
FALLBACK_SIZE = 32

FOLDER_INFO = {
    "task": "classify", "scale": 255, "fit_images": True,
    "description": "your own images: data.path=FOLDER with one subfolder of pictures per class "
                   "(or train/ val/ test/ folders of class subfolders)",
}
FILLS = ("in_channels", "image_size", "num_classes", "classes", "mean", "std")


@dataclass
class ImageFolderOptions:
    """The folder of your own pictures and how it is read and split."""

    path: str = field("", "a file of your own to train on, for datasets that accept one",
                      path=True)
    image_size: int = field(0, "side the images are resized to (0: their own side when all are "
                            f"one square size up to {AUTO_SIZE_LIMIT}, else {FALLBACK_SIZE})",
                            nonneg=True)
    channels: int = field(0, "image channels (0: 1 when every image is grayscale, else 3)",
                          choices=(0, 1, 3))
    val_fraction: float = field(0.1, "share of each class held out for validation (when the "
                                "folder has no val/ subfolder)", range=(0.0, 0.9))
    test_fraction: float = field(0.1, "share of each class held out for testing (when the "
                                 "folder has no test/ subfolder)", range=(0.0, 0.9))
    split_seed: int = field(0, "seed of the shuffle that splits the images", nonneg=True)


def fit_image(img, size: int, channels: int) -> np.ndarray:
    """(C, size, size) uint8 pixels of a Pillow image of any size and mode: the central square
    of its shorter side, resized with a Lanczos filter; transparent pixels become black, the
    background an augmentation shift fills with."""
    from PIL import Image

    if img.mode.startswith("I;16"):       # 16-bit grayscale: keep the high byte
        img = Image.fromarray((np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8))
    elif img.mode in ("I", "F"):
        img = Image.fromarray(np.clip(np.asarray(img), 0, 255).astype(np.uint8))
    if "A" in img.getbands() or "transparency" in img.info:
        black = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(black, img.convert("RGBA"))
    img = img.convert("L" if channels == 1 else "RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.resize((size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side))
    return np.asarray(img, dtype=np.uint8).reshape(size, size, channels).transpose(2, 0, 1)


def _pictures(folder: Path) -> list[Path]:
    """The image files under a class folder (sorted, subfolders included); any other file is
    refused in one line, so that nothing is left out unnoticed."""
    files = []
    for file in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in file.relative_to(folder).parts) or file.is_dir():
            continue
        if file.name.lower() in SYSTEM_FILES:
            continue
        if file.suffix.lower() not in EXTENSIONS:
            raise AnnError(f"{file}: cannot read {file.suffix or 'files without an extension'}; "
                           f"give images ending in {', '.join(EXTENSIONS)}, or move it out of "
                           f"{folder.parent}")
        files.append(file)
    return files


def _class_folders(root: Path) -> dict[str, list[Path]]:
    """``{class: [files]}`` of the class subfolders of ``root``, sorted by name."""
    loose = [f for f in root.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS]
    if loose:
        raise AnnError(f"{loose[0]} lies directly in {root}; put each image in a subfolder "
                       f"named after its class ({root}/CLASS/{loose[0].name})")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    out = {name: _pictures(root / name) for name in classes}
    for name, files in out.items():
        if not files:
            raise AnnError(f"{root / name} holds no images; add some ({', '.join(EXTENSIONS)}) "
                           "or remove the folder")
    return out


def _layout(folder: Path) -> dict[str, dict[str, list[Path]]]:
    """``{split: {class: [files]}}`` for the splits the folder itself holds (train/ val/ test/
    folders), else ``{"all": {...}}``."""
    present = [s for s in SPLIT_FOLDERS if (folder / s).is_dir()]
    if not present:
        return {"all": _class_folders(folder)}
    if "train" not in present:
        raise AnnError(f"{folder} has {'/ '.join(present)}/ but no train/ folder; add train/CLASS/"
                       " folders of training images")
    return {s: _class_folders(folder / s) for s in present}


def _stamp(folder: Path) -> tuple:
    """Names, sizes and times of every file under ``folder``: a changed folder is read again."""
    return tuple((str(f), s.st_size, s.st_mtime_ns)
                 for f in sorted(folder.rglob("*")) if f.is_file() for s in [f.stat()])


def _check_folder(path: str) -> Path:
    if not path:
        raise AnnError("image-folder needs your pictures: data.path=FOLDER holding one subfolder "
                       "of images per class")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise AnnError(f"data.path={path!r} is not a folder; give the folder holding one "
                       "subfolder of images per class")
    if not any(f.is_file() for f in folder.rglob("*")):
        raise AnnError(f"{folder} is empty; put your images in one subfolder per class "
                       f"({folder}/CLASS/image.png)")
    return folder


def _sizes(files: list[Path], image_size: int, channels: int) -> tuple[int, int]:
    """The side and channel count to read ``files`` at (the automatic ones decided)."""
    from PIL import Image

    if image_size and channels:
        return image_size, channels
    shapes, gray = set(), True
    for file in files:
        try:
            with Image.open(file) as img:
                shapes.add(img.size)
                gray = gray and img.mode in GRAY_MODES
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            open_image(file)                   # raises the file's one-line error
    if not image_size:
        w, h = shapes.pop() if len(shapes) == 1 else (0, 0)
        image_size = w if w == h and 0 < w <= AUTO_SIZE_LIMIT else FALLBACK_SIZE
    return image_size, channels or (1 if gray else 3)


@functools.lru_cache(maxsize=2)
def _read(folder: Path, image_size: int, channels: int, val_fraction: float,
          test_fraction: float, split_seed: int, stamp: tuple):
    """``({split: (images (N, C, S, S) uint8, labels (N,) int64)}, info)``: read once for the
    three splits of a run (``stamp`` only keys the cache)."""
    layout = _layout(folder)
    train_classes = sorted(layout.get("train", layout.get("all")))
    if len(train_classes) < 2:
        where = folder / "train" if "train" in layout else folder
        raise AnnError(f"{where} holds {len(train_classes)} class folder"
                       f"{'' if len(train_classes) == 1 else 's'}; a classifier needs at least 2 "
                       f"(one subfolder of images per class)")
    for split, classes in layout.items():
        unseen = sorted(set(classes) - set(train_classes))
        if unseen:
            raise AnnError(f"{folder / split / unseen[0]}: class {unseen[0]!r} has no images in "
                           f"{folder / 'train'}; add training images of it or remove the folder")
    files = {split: [(f, train_classes.index(c)) for c in sorted(classes) for f in classes[c]]
             for split, classes in layout.items()}
    size, channels = _sizes([f for rows in files.values() for f, _ in rows], image_size, channels)
    arrays = {}
    for split, rows in files.items():
        images = np.stack([fit_image(open_image(f), size, channels) for f, _ in rows])
        arrays[split] = images, np.array([c for _, c in rows], dtype=np.int64)
    arrays = _carve(arrays, folder, val_fraction, test_fraction, split_seed)
    pixels = torch.from_numpy(arrays["train"][0]).float() / 255        # (N, C, S, S)
    info = {**FOLDER_INFO, "in_channels": channels, "image_size": size,
            "num_classes": len(train_classes), "classes": tuple(train_classes),
            "mean": tuple(pixels.mean((0, 2, 3)).tolist()),
            "std": tuple(pixels.std((0, 2, 3), correction=0).clamp(min=1e-3).tolist()),
            "fills": FILLS}
    return arrays, info


def _carve(arrays: dict, folder: Path, val_fraction: float, test_fraction: float,
           seed: int) -> dict:
    """Train, val and test arrays: the splits the folder lacks are cut from ``train`` (or from
    the single pool), per class by a seeded shuffle."""
    pool = arrays.pop("all", None) or arrays.pop("train")
    wanted = {s: f for s, f in (("val", val_fraction), ("test", test_fraction)) if s not in arrays}
    if sum(wanted.values()) >= 1:
        raise AnnError(f"data.val_fraction + data.test_fraction = {sum(wanted.values()):g} leaves "
                       "no training images; keep their sum below 1")
    parts = stratified_split(pool[1], {**wanted, "train": 0.0}, seed)
    out = {**arrays, **{s: (pool[0][idx], pool[1][idx]) for s, idx in parts.items()}}
    for split in SPLIT_FOLDERS:
        if len(out[split][1]) == 0:
            option = {"train": "data.val_fraction and data.test_fraction",
                      "val": "data.val_fraction", "test": "data.test_fraction"}[split]
            raise AnnError(f"{folder}: the {split} split gets no images ({len(pool[1])} to share); "
                           f"add images or adjust {option}")
    return out


@register_dataset("image-folder", info=FOLDER_INFO, embedded=True, options=ImageFolderOptions)
def load_image_folder(split: str, path: str = "", image_size: int = 0, channels: int = 0,
                      val_fraction: float = 0.1, test_fraction: float = 0.1,
                      split_seed: int = 0) -> ArrayDataset:
    """Your own pictures (``data.path=FOLDER``), one subfolder per class; see the module."""
    folder = _check_folder(path)
    arrays, info = _read(folder.resolve(), image_size, channels, val_fraction, test_fraction,
                         split_seed, _stamp(folder))
    images, labels = arrays[split]
    return ArrayDataset(preprocess_images(images, info), torch.from_numpy(labels), dict(info))


def read_fitted_image(path, info: dict) -> torch.Tensor:
    """One picture as the standardised (1, C, H, W) tensor a run of ``image-folder`` takes:
    cropped, resized and converted as the training images were (``ann predict``). A ``.npy``
    array must already have the model's shape, on the 0..255 scale."""
    path = Path(path)
    if not path.is_file():
        raise AnnError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return read_image_file(path, info)
    if suffix not in EXTENSIONS:
        raise AnnError(f"{path}: unsupported file type {suffix or '(no extension)'!r}; use "
                       f"{', '.join(EXTENSIONS)} or .npy")
    pixels = fit_image(open_image(path), info["image_size"], info["in_channels"])   # (C, S, S)
    return preprocess_images(pixels[None], info)
