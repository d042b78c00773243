"""``segmentation-folder``: train U-Net or FCN on your own pictures and their masks.

``ann train unet-shapes data.name=segmentation-folder data.path=scans/`` reads

* ``scans/images/NAME.png|jpg|jpeg|bmp`` and ``scans/masks/NAME.png``, paired by file name,
  split into train/val/test by a seeded shuffle (``data.val_fraction``, ``data.test_fraction``,
  ``data.split_seed``); or
* ``scans/train/images/...`` and ``scans/train/masks/...`` with ``val/`` and ``test/`` laid out
  the same way when those folders exist (a missing ``val/`` or ``test/`` is carved out of
  ``train/`` as above).

A mask is a single-channel PNG (mode ``L`` or ``P``, or 16-bit gray holding values up to 255)
of the same size as its picture, whose pixel values are classes. The classes are the values
found in the training masks, in increasing order (the smallest, usually 0, is the first and is
drawn as background); ``scans/classes.txt`` may name them, one name per line, its first line
naming value 0, its second value 1, and so on. Pixels of value ``data.ignore_index`` (255 by
default, -1 for none) count neither in the loss nor in the scores.

Pictures are converted as ``image-folder``'s are (:func:`ann.data.folders.in_channels`: 1
channel when all are grayscale, else 3, or ``data.channels``) and resized whole to ``data.size``
x ``data.size``: bilinear for the picture, nearest for the mask, so no class value is blended
into another (0, the default: their own side when all pictures are one square size, else
:data:`FALLBACK_SIZE`). ``ann predict`` resizes a new picture the same way and brings the
predicted scores back to the picture's own size before choosing each pixel's class, so the mask
it writes (a PNG of the same class values as the training masks) fits the picture.

Every pair is read and checked before a run directory exists: an empty folder, a picture
without a mask or a mask without a picture, an unreadable picture, a mask in colour or of
another size than its picture, or a value in a val/test mask that no training mask holds each
stop with one line naming the file.
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
from .classfolders import SPLIT_FOLDERS, SYSTEM_FILES, folder_stamp
from .folders import GRAY_MODES, in_channels
from .segmentation import SegmentationDataset
from .vision import open_image

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
MASK_MODES = ("1", "L", "P", "I", "I;16", "I;16L", "I;16B", "I;16N")
FALLBACK_SIZE = 64
IGNORED = 255            # a stored mask's value for an ignored pixel (classes are 0..254)
LAYOUT = "FOLDER/images/NAME.png with its mask FOLDER/masks/NAME.png"

FOLDER_INFO = {
    "task": "segment", "scale": 255, "fit_images": True,
    "description": "your own pictures and masks: data.path=FOLDER with images/NAME.png|jpg and "
                   "masks/NAME.png of class values (or train/ val/ test/ folders of both)",
}
FILLS = ("in_channels", "image_size", "num_classes", "classes", "mean", "std")


@dataclass
class MaskFolderOptions:
    """The folder of your own pictures and masks, and how it is read and split."""

    path: str = field("", "a file of your own to train on, for datasets that accept one",
                      path=True)
    size: int = field(0, "side the pictures and masks are resized to (0: their own side when "
                      f"all pictures are one square size, else {FALLBACK_SIZE})", nonneg=True)
    channels: int = field(0, "image channels (0: 1 when every image is grayscale, else 3)",
                          choices=(0, 1, 3))
    ignore_index: int = field(IGNORED, "mask value of pixels left out of the loss and the scores "
                              "(-1: none)", range=(-1, 255))
    val_fraction: float = field(0.1, "share of the pairs held out for validation (when the "
                                "folder has no val/ subfolder)", range=(0.0, 0.9))
    test_fraction: float = field(0.1, "share of the pairs held out for testing (when the "
                                 "folder has no test/ subfolder)", range=(0.0, 0.9))
    split_seed: int = field(0, "seed of the shuffle that splits the pairs", nonneg=True)


@dataclass
class MaskFolderDataset(SegmentationDataset):
    """Pictures and masks of a folder; ignored pixels are stored as 255 and handed out as -100,
    the target value ``torch.nn.functional.cross_entropy`` and the segment task skip.

    Shapes:
        x: (N, C, S, S) uint8, y: (N, S, S) uint8 class indices (255: ignored).
        batch(index) -> x (B, C, S, S) float32 standardised, y (B, S, S) int64 (-100: ignored).
    """

    def batch(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = super().batch(index)
        return x, y.masked_fill_(y == IGNORED, -100)


# --------------------------------------------------------------------------------- the layout

def _visible(root: Path) -> list[Path]:
    """The files under ``root`` (sorted, subfolders included), hidden and system files skipped."""
    return [f for f in sorted(root.rglob("*")) if f.is_file()
            and not any(p.startswith(".") for p in f.relative_to(root).parts)
            and f.name.lower() not in SYSTEM_FILES]


def _pairs(root: Path) -> list[tuple[Path, Path]]:
    """``[(picture, mask)]`` of ``root/images`` and ``root/masks``, matched by the file name
    without its extension (the part under ``images/``); each file must have its partner."""
    images, masks = root / "images", root / "masks"
    for folder in (images, masks):
        if not folder.is_dir():
            raise AnnError(f"{root} has no {folder.name}/ folder; lay your data out as {LAYOUT}")
    pictures: dict[Path, Path] = {}
    for file in _visible(images):
        if file.suffix.lower() not in IMAGE_EXTENSIONS:
            raise AnnError(f"{file}: cannot read {file.suffix or 'files without an extension'}; "
                           f"give pictures ending in {', '.join(IMAGE_EXTENSIONS)}, or move it "
                           f"out of {images}")
        key = file.relative_to(images).with_suffix("")
        if key in pictures:
            raise AnnError(f"{file} and {pictures[key]} share the name {key}; a mask belongs to "
                           "one picture, so rename one of them")
        pictures[key] = file
    labels: dict[Path, Path] = {}
    for file in _visible(masks):
        if file.suffix.lower() != ".png":
            raise AnnError(f"{file}: masks are PNG files of class values (JPEG's compression "
                           "would change the values); save it as .png")
        labels[file.relative_to(masks).with_suffix("")] = file
    for key, file in pictures.items():
        if key not in labels:
            raise AnnError(f"{file} has no mask; add {masks / key}.png or move the picture out")
    for key, file in labels.items():
        if key not in pictures:
            raise AnnError(f"{file} has no picture; add {images / key}.png (or .jpg) or remove "
                           "the mask")
    if not pictures:
        raise AnnError(f"{images} holds no pictures; lay your data out as {LAYOUT}")
    return [(pictures[k], labels[k]) for k in sorted(pictures)]


def _split_pairs(folder: Path, val_fraction: float, test_fraction: float,
                 seed: int) -> dict[str, list[tuple[Path, Path]]]:
    """Train, val and test pairs: the folder's own split folders, the missing ones cut from
    ``train`` (or from the single pool) by a seeded shuffle. Nothing is read."""
    present = [s for s in SPLIT_FOLDERS if (folder / s).is_dir()]
    if present and "train" not in present:
        raise AnnError(f"{folder} has {'/ '.join(present)}/ but no train/ folder; add "
                       "train/images/ and train/masks/ of training pairs")
    stray = [folder / k for k in ("images", "masks") if present and (folder / k).is_dir()]
    if stray:
        raise AnnError(f"{folder} holds both {stray[0]} and {'/ '.join(present)}/ folders; keep "
                       "one layout: move those pairs into train/ (or the split folders out)")
    found = {s: _pairs(folder / s) for s in present} if present else {"train": _pairs(folder)}
    wanted = {s: f for s, f in (("val", val_fraction), ("test", test_fraction))
              if s not in found}
    if sum(wanted.values()) >= 1:
        raise AnnError(f"data.val_fraction + data.test_fraction = {sum(wanted.values()):g} leaves "
                       "no training pairs; keep their sum below 1")
    pool = found.pop("train")
    order = np.random.RandomState(seed).permutation(len(pool))
    start = 0
    for split, fraction in wanted.items():
        count = int(len(pool) * fraction + 0.5)
        found[split] = [pool[i] for i in sorted(order[start:start + count])]
        start += count
    found["train"] = [pool[i] for i in sorted(order[start:])]
    for split in SPLIT_FOLDERS:
        if not found[split]:
            option = {"train": "data.val_fraction and data.test_fraction",
                      "val": "data.val_fraction", "test": "data.test_fraction"}[split]
            raise AnnError(f"{folder}: the {split} split gets no pairs ({len(pool)} to share); "
                           f"add pictures and masks or adjust {option}")
    return {split: found[split] for split in SPLIT_FOLDERS}


# ------------------------------------------------------------------------------ reading files

def read_mask(path: Path) -> np.ndarray:
    """(H, W) uint8 class values of a single-channel PNG mask; a colour mask, a value above 255
    or an unreadable file is refused in one line naming it."""
    img = open_image(path)
    if img.mode not in MASK_MODES:
        raise AnnError(f"{path} is a mask in mode {img.mode!r} ({len(img.getbands())} channels); "
                       "a mask is a single-channel PNG (mode L or P) whose pixel values are "
                       "classes, e.g. PIL.Image.fromarray(values.astype('uint8')).save(path)")
    values = np.asarray(img)
    if values.dtype == bool:
        values = values.astype(np.uint8)
    if values.size and (values.min() < 0 or values.max() > 255):
        raise AnnError(f"{path} holds the mask value {int(values.max())}; class values go from 0 "
                       "to 255")
    return values.astype(np.uint8)


def fit_picture(img, size: int, channels: int) -> np.ndarray:
    """(C, size, size) uint8 pixels of a Pillow image of any size and mode, resized whole
    (bilinear) in ``channels``: how a segmentation-folder run reads every picture."""
    from PIL import Image

    img = in_channels(img, channels).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8).reshape(size, size, channels).transpose(2, 0, 1)


def _fit_mask(values: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8: ``values`` resized by the nearest pixel (no value is invented)."""
    from PIL import Image

    if values.shape == (size, size):
        return values
    return np.asarray(Image.fromarray(values).resize((size, size), Image.Resampling.NEAREST))


def _read_pairs(pairs: list[tuple[Path, Path]]) -> list[tuple[object, np.ndarray]]:
    """Each pair's loaded picture and mask values, their sizes checked against each other."""
    out = []
    for picture, mask in pairs:
        img, values = open_image(picture), read_mask(mask)
        if values.shape != (img.height, img.width):
            raise AnnError(f"{mask} is {values.shape[1]}x{values.shape[0]} but its picture "
                           f"{picture} is {img.width}x{img.height}; a mask has its picture's size")
        out.append((img, values))
    return out


def _class_names(folder: Path, values: list[int]) -> tuple[str, ...]:
    """The names of the class ``values``: lines of ``folder/classes.txt`` (line 1 names value
    0), else the values themselves."""
    file = folder / "classes.txt"
    if not file.is_file():
        return tuple(str(v) for v in values)
    try:
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise AnnError(f"{file} is not readable UTF-8 text ({e}); write one class name per "
                       "line") from None
    while lines and not lines[-1]:
        lines.pop()
    for v in values:
        if v >= len(lines) or not lines[v]:
            raise AnnError(f"{file} names no class for the mask value {v} (its line {v + 1}); "
                           "write one name per line, the first line naming value 0")
    names = tuple(lines[v] for v in values)
    if len(set(names)) < len(names):
        raise AnnError(f"{file} gives two classes the same name; give each its own")
    return names


def _class_values(masks: dict[str, list[np.ndarray]], pairs: dict, ignore: int) -> list[int]:
    """The values of the training masks (without ``ignore``), after checking that every val
    and test mask holds only those."""
    seen = np.zeros(256, dtype=bool)
    for values in masks["train"]:
        seen[np.unique(values)] = True
    if ignore >= 0:
        seen[ignore] = False
    classes = np.flatnonzero(seen).tolist()
    if len(classes) < 2:
        raise AnnError(f"the training masks hold {len(classes)} class value"
                       f"{'' if len(classes) == 1 else 's'} ({', '.join(map(str, classes))}) "
                       "besides data.ignore_index; a segmenter needs at least 2")
    if len(classes) > IGNORED:
        raise AnnError(f"the training masks hold all 256 values; at most {IGNORED} classes fit, "
                       "so mark the ignored pixels with data.ignore_index")
    for split in ("val", "test"):
        for (_, file), values in zip(pairs[split], masks[split]):
            unseen = sorted(set(np.unique(values).tolist()) - set(classes) - {ignore})
            if unseen:
                raise AnnError(f"{file} holds the mask value {unseen[0]}, which no training mask "
                               "has; add training pairs with that class or change the mask")
    return classes


def _side(pictures: list, size: int) -> int:
    if size:
        return size
    shapes = {img.size for img in pictures}
    w, h = shapes.pop() if len(shapes) == 1 else (0, 0)
    return w if w == h and w > 0 else FALLBACK_SIZE


@functools.lru_cache(maxsize=2)
def _read(folder: Path, size: int, channels: int, ignore: int, val_fraction: float,
          test_fraction: float, split_seed: int, stamp: tuple):
    """``({split: (pictures (N, C, S, S) uint8, masks (N, S, S) uint8)}, info)``, read once for
    the three splits of a run (``stamp`` only keys the cache)."""
    pairs = _split_pairs(folder, val_fraction, test_fraction, split_seed)
    read = {split: _read_pairs(rows) for split, rows in pairs.items()}
    values = _class_values({s: [m for _, m in r] for s, r in read.items()}, pairs, ignore)
    lookup = np.full(256, IGNORED, dtype=np.uint8)               # mask value -> class index
    lookup[values] = np.arange(len(values))
    everything = [img for rows in read.values() for img, _ in rows]
    side = _side(everything, size)
    channels = channels or (1 if all(img.mode in GRAY_MODES for img in everything) else 3)
    arrays = {}
    for split, rows in read.items():
        pictures = np.stack([fit_picture(img, side, channels) for img, _ in rows])
        masks = np.stack([lookup[_fit_mask(m, side)] for _, m in rows])
        arrays[split] = pictures, masks
    pixels = torch.from_numpy(arrays["train"][0]).float() / 255        # (N, C, S, S)
    info = {**FOLDER_INFO, "in_channels": channels, "image_size": side,
            "num_classes": len(values), "classes": _class_names(folder, values),
            "mask_values": tuple(values), "ignore_index": ignore,
            "mean": tuple(pixels.mean((0, 2, 3)).tolist()),
            "std": tuple(pixels.std((0, 2, 3), correction=0).clamp(min=1e-3).tolist()),
            "fills": FILLS}
    return arrays, info


def _check_folder(path: str) -> Path:
    if not path:
        raise AnnError(f"segmentation-folder needs your data: data.path=FOLDER holding {LAYOUT}")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise AnnError(f"data.path={path!r} is not a folder; give the folder holding {LAYOUT}")
    if not _visible(folder):
        raise AnnError(f"{folder} is empty; put your pictures and masks in it as {LAYOUT}")
    return folder


@register_dataset("segmentation-folder", info=FOLDER_INFO, embedded=True,
                  options=MaskFolderOptions)
def load_segmentation_folder(split: str, path: str = "", size: int = 0, channels: int = 0,
                             ignore_index: int = IGNORED, val_fraction: float = 0.1,
                             test_fraction: float = 0.1, split_seed: int = 0
                             ) -> MaskFolderDataset:
    """Your own pictures and masks (``data.path=FOLDER``); see the module."""
    folder = _check_folder(path)
    arrays, info = _read(folder.resolve(), size, channels, ignore_index, val_fraction,
                         test_fraction, split_seed, folder_stamp(folder))
    pictures, masks = arrays[split]
    return MaskFolderDataset(torch.from_numpy(pictures), torch.from_numpy(masks), dict(info))
