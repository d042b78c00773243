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


@functools.lru_cache(maxsize=2)
def _read(folder: Path, image_size: int, channels: int, val_fraction: float,
          test_fraction: float, split_seed: int, stamp: tuple):
    """``({split: (images (N, C, S, S) uint8, labels (N,) int64)}, info)``: read once for the
    three splits of a run (``stamp`` only keys the cache)."""
    classes, files = labelled_files(folder, KIND, val_fraction, test_fraction, split_seed)
    size, channels = _sizes([f for rows in files.values() for f, _ in rows], image_size, channels)
    arrays = {}
    for split, rows in files.items():
        images = np.stack([fit_image(open_image(f), size, channels) for f, _ in rows])
        arrays[split] = images, np.array([c for _, c in rows], dtype=np.int64)
    pixels = torch.from_numpy(arrays["train"][0]).float() / 255        # (N, C, S, S)
    info = {**FOLDER_INFO, "in_channels": channels, "image_size": size,
            "num_classes": len(classes), "classes": classes,
            "mean": tuple(pixels.mean((0, 2, 3)).tolist()),
            "std": tuple(pixels.std((0, 2, 3), correction=0).clamp(min=1e-3).tolist()),
            "fills": FILLS}
    return arrays, info


@register_dataset("image-folder", info=FOLDER_INFO, embedded=True, options=ImageFolderOptions)
def load_image_folder(split: str, path: str = "", image_size: int = 0, channels: int = 0,
                      val_fraction: float = 0.1, test_fraction: float = 0.1,
                      split_seed: int = 0) -> ArrayDataset:
    """Your own pictures (``data.path=FOLDER``), one subfolder per class; see the module."""
    folder = check_folder(path, KIND)
    arrays, info = _read(folder.resolve(), image_size, channels, val_fraction, test_fraction,
                         split_seed, folder_stamp(folder))
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
