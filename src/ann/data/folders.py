"""``image-folder``: train any image classifier on a folder of your own pictures.

``ann train cnn-digits data.name=image-folder data.path=photos/`` reads

* ``photos/CLASS/*.png|jpg|jpeg|bmp``, one subfolder per class (its name is the class name; the
  classes are sorted by name), split into train/val/test per class by a seeded shuffle
  (``data.val_fraction``, ``data.test_fraction``, ``data.split_seed``); or
* ``photos/train/CLASS/...`` with ``photos/val/CLASS/...`` and ``photos/test/CLASS/...`` when
  those folders exist (a missing ``val/`` or ``test/`` is carved out of ``train/`` as above;
  the layout and its checks are :mod:`ann.data.classfolders`, shared with ``audio-folder``).

Images may differ in size and mode: each is cropped to the central square of its shorter side
and resized to ``image_size`` x ``image_size`` (Lanczos), transparency composited over black, and
converted to 1 channel (grayscale) or 3 (RGB). The facts known only after reading (channels,
size, class names, the training images' mean and std) go into the split's ``info`` and, through
``fills``, into the model config; the run records them in ``data.json`` so that ``ann predict``
reads a new picture the same way (:func:`read_fitted_image`).

A folder larger than memory streams (``data.stream``, :mod:`ann.data.lazyimages`): only its file
names are held, and each batch decodes its pictures (``train.workers=N`` processes do it ahead).
Its mean and std come from a seeded sample of up to 2,000 training images; the first batch, the
accuracy and the predictions are the in-memory ones. A picture found unreadable mid-run stops
the run with its name (the last checkpoint is kept).
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
from .classfolders import FolderKind, check_folder, folder_stamp, labelled_files, split_option
from .lazyimages import (
    STREAM_BUDGET,
    LazyImages,
    StreamedImages,
    decoded_bytes,
    image_groups,
    pixel_stats,
    stats_sample,
)
from .vision import open_image, preprocess_images, read_image_file

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
KIND = FolderKind("image-folder", "images", EXTENSIONS, "image.png")
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
    val_fraction: float = split_option("val_fraction", "images")
    test_fraction: float = split_option("test_fraction", "images")
    split_seed: int = split_option("split_seed", "images")
    stream: str = field("auto", "decode the images from their files batch by batch (in "
                        "train.workers processes) instead of holding them in memory: on, off, "
                        "or auto (on when the decoded images would pass 2 GB)",
                        choices=("auto", "on", "off"))


def in_channels(img, channels: int):
    """A Pillow image of any mode as ``L`` (``channels`` 1) or ``RGB`` (3): 16-bit grayscale
    keeps its high byte, transparent pixels become black (the background an augmentation shift
    fills with). The one conversion of the picture-folder sources."""
    from PIL import Image

    if img.mode.startswith("I;16"):
        img = Image.fromarray((np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8))
    elif img.mode in ("I", "F"):
        img = Image.fromarray(np.clip(np.asarray(img), 0, 255).astype(np.uint8))
    if "A" in img.getbands() or "transparency" in img.info:
        black = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(black, img.convert("RGBA"))
    return img.convert("L" if channels == 1 else "RGB")


def fit_image(img, size: int, channels: int) -> np.ndarray:
    """(C, size, size) uint8 pixels of a Pillow image of any size and mode: the central square
    of its shorter side, resized with a Lanczos filter, in ``channels`` (:func:`in_channels`)."""
    from PIL import Image

    img = in_channels(img, channels)
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.resize((size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side))
    return np.asarray(img, dtype=np.uint8).reshape(size, size, channels).transpose(2, 0, 1)


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


def fit_image_file(path: Path, size: int, channels: int) -> np.ndarray:
    """(C, size, size) uint8 pixels of the picture file ``path`` (:func:`fit_image`)."""
    return fit_image(open_image(path), size, channels)


@functools.lru_cache(maxsize=2)
def _plan(folder: Path, image_size: int, channels: int, val_fraction: float,
          test_fraction: float, split_seed: int, stamp: tuple):
    """``(classes, {split: [(file, class)]}, size, channels)``: the layout checked and the
    automatic side and channels decided, no pixel read (``stamp`` only keys the cache)."""
    classes, files = labelled_files(folder, KIND, val_fraction, test_fraction, split_seed)
    size, channels = _sizes([f for rows in files.values() for f, _ in rows], image_size, channels)
    return classes, files, size, channels


def _info(classes, size: int, channels: int, stats) -> dict:
    mean, std = stats
    return {**FOLDER_INFO, "in_channels": channels, "image_size": size,
            "num_classes": len(classes), "classes": classes, "mean": mean, "std": std,
            "fills": FILLS}


@functools.lru_cache(maxsize=2)
def _read(plan_key: tuple):
    """``({split: (images (N, C, S, S) uint8, labels (N,) int64)}, info)``: read once for the
    three splits of a run."""
    classes, files, size, channels = _plan(*plan_key)
    arrays = {}
    for split, rows in files.items():
        images = np.stack([fit_image_file(f, size, channels) for f, _ in rows])
        arrays[split] = images, np.array([c for _, c in rows], dtype=np.int64)
    return arrays, _info(classes, size, channels, pixel_stats(image_groups(arrays["train"][0])))


@functools.lru_cache(maxsize=2)
def _streamed_info(plan_key: tuple, split_seed: int) -> dict:
    """The info of a streamed folder: its statistics from a seeded sample of training images."""
    classes, files, size, channels = _plan(*plan_key)
    train = files["train"]
    sample = (fit_image_file(train[i][0], size, channels)                 # one at a time
              for i in stats_sample(len(train), split_seed))
    return _info(classes, size, channels, pixel_stats(sample))


def _streams(stream: str, files: dict, size: int, channels: int) -> bool:
    """Whether the folder is read lazily: ``data.stream=on``, or ``auto`` and its decoded images
    would take more than :data:`~ann.data.lazyimages.STREAM_BUDGET`."""
    if stream != "auto":
        return stream == "on"
    count = sum(len(rows) for rows in files.values())
    return decoded_bytes(count, channels, size) > STREAM_BUDGET


@register_dataset("image-folder", info=FOLDER_INFO, embedded=True, options=ImageFolderOptions)
def load_image_folder(split: str, path: str = "", image_size: int = 0, channels: int = 0,
                      val_fraction: float = 0.1, test_fraction: float = 0.1,
                      split_seed: int = 0, stream: str = "auto") -> ArrayDataset:
    """Your own pictures (``data.path=FOLDER``), one subfolder per class; see the module."""
    folder = check_folder(path, KIND)
    key = (folder.resolve(), image_size, channels, val_fraction, test_fraction, split_seed,
           folder_stamp(folder))
    _, files, size, channels = _plan(*key)
    if _streams(stream, files, size, channels):
        info = _streamed_info(key, split_seed)
        rows = files[split]
        images = LazyImages(tuple(f for f, _ in rows),
                            functools.partial(fit_image_file, size=size, channels=channels), info)
        labels = torch.tensor([c for _, c in rows], dtype=torch.int64)
        return StreamedImages(images, labels, dict(info))
    arrays, info = _read(key)
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
