"""Object-detection datasets: images with a variable number of labelled boxes.

* ``shapes-det`` (embedded): 64x64 scenes of 1-4 coloured circles, squares and triangles from
  :func:`ann.data.scenes.shapes_scene`; 3 classes.
* ``mnist-scenes-det``: 96x96 canvases with 1-4 real MNIST digits at scales 0.7-1.5 from
  :func:`ann.data.scenes.digits_scene`; train scenes are built from MNIST's training images, val
  from its validation images and test from the official test images; 10 classes.
* ``detection-folder``: a folder of your own images with a ``boxes.csv`` or ``boxes.json``
  (``data.path=FOLDER``); see :func:`read_box_folder`.

Each split has its own fixed seed, so a split is the same on every machine.

Representation: the boxes of an image are padded to the split's largest object count ``M``, so a
batch is two tensors and the engine batches it as any image dataset. ``y[i, j] = (class, x1, y1,
x2, y2)`` with class 0..K-1 (the scene's label minus 1: the detector has no background class) and
class -1 for a padding row; boxes are in pixels with x2/y2 exclusive (see ann.data.scenes).
Images are held as uint8 and standardised batch by batch (a 10,000-scene split is 92 MB, not 370).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import field
from ..errors import AnnError, CorruptFile
from ..registry import register_dataset
from .base import ArrayDataset
from .scenes import SHAPES, Scene, make_scenes
from .vision import open_image

SEEDS = {"shapes-det": {"train": 9101, "val": 9102, "test": 9103},
         "mnist-scenes-det": {"train": 9201, "val": 9202, "test": 9203}}
COUNTS = {"shapes-det": {"train": 3000, "val": 300, "test": 500},
          "mnist-scenes-det": {"train": 12000, "val": 1000, "test": 2000}}

SHAPES_DET_INFO = {
    "task": "detect", "in_channels": 3, "image_size": 64, "num_classes": 3,
    "classes": SHAPES, "scale": 255, "mean": (0.220, 0.222, 0.222), "std": (0.233, 0.207, 0.230),
    "max_objects": 4,
    "description": "64x64 generated scenes of 1-4 coloured circles, squares and triangles with "
                   "their boxes (3,000 / 300 / 500)",
}
MNIST_SCENES_DET_INFO = {
    "task": "detect", "in_channels": 1, "image_size": 96, "num_classes": 10,
    "classes": tuple(str(d) for d in range(10)), "scale": 255, "mean": (0.035,), "std": (0.159,),
    "max_objects": 4,
    "description": "96x96 canvases of 1-4 real MNIST digits at scales 0.7-1.5 with their boxes "
                   "(12,000 / 1,000 / 2,000; test from the official test images)",
    "source": "http://yann.lecun.com/exdb/mnist/",
}


@dataclass
class BoxDataset(ArrayDataset):
    """Images with padded boxes.

    Shapes:
        x: (N, C, H, W) uint8 raw pixels (0..255); ``batch`` standardises them with
            ``info["mean"]`` / ``info["std"]`` into float32.
        y: (N, M, 5) float32 rows ``(class, x1, y1, x2, y2)``; class -1 marks padding.
    """

    def batch(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        return standardise(self.x[index], self.info), self.y[index]

    def truths(self, index=slice(None)) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(boxes (G, 4), labels (G,))]``, the real boxes of each image."""
        return [(row[row[:, 0] >= 0, 1:], row[row[:, 0] >= 0, 0].long()) for row in self.y[index]]


def standardise(images: torch.Tensor, info: dict) -> torch.Tensor:
    """uint8 (N, C, H, W) -> standardised float32 (N, C, H, W)."""
    mean = torch.as_tensor(info["mean"], dtype=torch.float32).reshape(-1, 1, 1)
    std = torch.as_tensor(info["std"], dtype=torch.float32).reshape(-1, 1, 1)
    return (images.float() / info["scale"] - mean) / std


def pad_boxes(boxes: list[np.ndarray], labels: list[np.ndarray], width: int | None = None):
    """Per-image boxes (G_i, 4) and 0-based labels (G_i,) -> (N, M, 5) float32, class -1 padding."""
    width = max([len(b) for b in boxes] + [1]) if width is None else width
    y = torch.full((len(boxes), width, 5), -1.0)
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        y[i, :len(b), 0] = torch.as_tensor(lab, dtype=torch.float32)
        y[i, :len(b), 1:] = torch.as_tensor(np.asarray(b, dtype=np.float32).reshape(-1, 4))
    return y


def scenes_dataset(scenes: list[Scene], info: dict) -> BoxDataset:
    images = np.stack([np.round(s.image * 255) for s in scenes]).astype(np.uint8)   # (N, C, H, W)
    y = pad_boxes([s.boxes for s in scenes], [s.labels - 1 for s in scenes], info["max_objects"])
    return BoxDataset(torch.from_numpy(images), y, dict(info))


@register_dataset("shapes-det", info=SHAPES_DET_INFO, embedded=True)
def load_shapes_det(split: str) -> BoxDataset:
    """Generated shapes scenes with boxes (embedded; a couple of seconds to build)."""
    scenes = make_scenes("shapes", COUNTS["shapes-det"][split], SEEDS["shapes-det"][split])
    return scenes_dataset(scenes, SHAPES_DET_INFO)


@register_dataset("mnist-scenes-det", info=MNIST_SCENES_DET_INFO, embedded=False)
def load_mnist_scenes_det(split: str) -> BoxDataset:
    """MNIST digit scenes with boxes; each split's digits come from the same MNIST split."""
    from .vision import idx_split_arrays

    images, labels = idx_split_arrays("mnist", split)
    scenes = make_scenes("digits", COUNTS["mnist-scenes-det"][split],
                         SEEDS["mnist-scenes-det"][split], images=images, labels=labels)
    return scenes_dataset(scenes, MNIST_SCENES_DET_INFO)


# --------------------------------------------------------------------- a folder of your own

FOLDER_INFO = {"task": "detect", "scale": 255, "max_objects": 0,
               "description": "your own images and boxes: data.path=FOLDER with boxes.csv "
                              "(file,x1,y1,x2,y2,label) or boxes.json"}
FOLDER_SPLITS = (0.8, 0.1)      # train, val; the rest is test (at least one image each)


def _read_annotations(folder: Path) -> dict[str, list[tuple[list[float], str]]]:
    """``{file: [(box, label), ...]}`` from ``boxes.csv`` or ``boxes.json`` in ``folder``."""
    csv_file, json_file = folder / "boxes.csv", folder / "boxes.json"
    out: dict[str, list] = {}
    if json_file.is_file():
        try:
            data = json.loads(json_file.read_text())
        except (OSError, ValueError) as e:
            raise CorruptFile(f"{json_file} is not valid JSON ({e}); write "
                              '{"image.png": [[x1, y1, x2, y2, "label"], ...], ...}') from None
        if not isinstance(data, dict):
            raise AnnError(f"{json_file} must map each image file to its boxes, e.g. "
                           '{"a.png": [[3, 4, 20, 18, "cat"]]}')
        for name, rows in data.items():
            out[name] = []
            for row in rows if isinstance(rows, list) else [None]:
                if not isinstance(row, list) or len(row) != 5:
                    raise AnnError(f"{json_file}: {name}: each box must be [x1, y1, x2, y2, "
                                   f"label], got {row!r}")
                out[name].append((row[:4], str(row[4])))
        return out
    if csv_file.is_file():
        with open(csv_file, newline="") as f:
            rows = list(csv.DictReader(f))
        need = ["file", "x1", "y1", "x2", "y2", "label"]
        if not rows or any(k not in rows[0] for k in need):
            raise AnnError(f"{csv_file} needs a header line 'file,x1,y1,x2,y2,label' and one row "
                           "per box")
        for row in rows:
            box = [row[k] for k in need[1:5]]
            out.setdefault(row["file"], [])
            if all(v in ("", None) for v in box):       # an image without objects
                continue
            out[row["file"]].append((box, row["label"]))
        return out
    raise AnnError(f"{folder} holds neither boxes.csv nor boxes.json; add one listing each "
                   "image's boxes (file,x1,y1,x2,y2,label)")


def read_picture(path) -> np.ndarray:
    """(H, W, C) uint8 pixels of a PNG/JPEG file: C = 1 for grayscale (``L``, ``1``, ``LA``
    composited over black), else 3 (converted to RGB); an empty or unreadable file is refused
    in one line."""
    img = open_image(path)
    if img.mode == "LA":
        gray, alpha = (np.asarray(band, dtype=np.uint16) for band in img.split())
        return (gray * alpha // 255).astype(np.uint8)[..., None]
    if img.mode in ("1", "L"):
        return np.asarray(img.convert("L"))[..., None]
    return np.asarray(img.convert("RGB"))


def check_box(box, width: int, height: int, where: str) -> list[float]:
    """``box`` as four floats inside a ``width`` x ``height`` image with positive area, or a
    one-line error naming ``where`` (the file) and the box."""
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise AnnError(f"{where}: box {box} is not four numbers x1,y1,x2,y2") from None
    if not (x2 > x1 and y2 > y1):
        raise AnnError(f"{where}: box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) has zero area; boxes are "
                       "x1,y1,x2,y2 with x2 > x1 and y2 > y1")
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise AnnError(f"{where}: box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the "
                       f"{width}x{height} image; boxes are pixels within 0..{width}, 0..{height}")
    return [x1, y1, x2, y2]


def read_box_folder(path: str):
    """Images (N, C, H, W) uint8, boxes and labels per image, class names: from ``path``.

    ``path`` holds PNG/JPEG images of one size and ``boxes.csv`` (header
    ``file,x1,y1,x2,y2,label``, one row per box; a row with empty box fields lists an image
    without objects) or ``boxes.json`` (``{"a.png": [[x1, y1, x2, y2, "label"], ...]}``).
    Grayscale images give a 1-channel dataset, anything else is read as RGB.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise AnnError(f"data.path={path!r} is not a folder; give the folder holding your images "
                       "and boxes.csv")
    notes = _read_annotations(folder)
    if len(notes) < 3:
        raise AnnError(f"{folder} lists {len(notes)} images; give at least 3 (train, validation "
                       "and test need one each)")
    names = sorted({label for rows in notes.values() for _, label in rows})
    if not names:
        raise AnnError(f"{folder}: the annotations hold no boxes; list at least one")
    pictures, boxes, labels = [], [], []
    for file in sorted(notes):
        pixels = read_picture(folder / file)                        # (H, W, C) uint8
        h, w = pixels.shape[:2]
        if pictures and pixels.shape[:2] != pictures[0].shape[:2]:
            raise AnnError(f"{folder / file} is {w}x{h} but {sorted(notes)[0]} is "
                           f"{pictures[0].shape[1]}x{pictures[0].shape[0]}; give images of one size")
        pictures.append(pixels)
        boxes.append([check_box(b, w, h, str(folder / file)) for b, _ in notes[file]])
        labels.append([names.index(lab) for _, lab in notes[file]])
    gray = all(p.shape[2] == 1 for p in pictures)
    images = np.stack([p if gray else np.broadcast_to(p, p.shape[:2] + (3,)) for p in pictures])
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))), boxes, labels, names


@dataclass
class FolderOptions:
    """The folder of your own images and boxes."""

    path: str = field("", "a file of your own to train on, for datasets that accept one",
                      path=True)


@register_dataset("detection-folder", info=FOLDER_INFO, embedded=True, options=FolderOptions)
def load_detection_folder(split: str, path: str = "") -> BoxDataset:
    """Your own images and boxes (``data.path=FOLDER``), split 80/10/10 by a fixed shuffle."""
    if not path:
        raise AnnError("detection-folder needs your data: data.path=FOLDER holding images and "
                       "boxes.csv (file,x1,y1,x2,y2,label) or boxes.json")
    images, boxes, labels, names = read_box_folder(path)
    n = len(images)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0)).tolist()
    n_train = max(1, int(FOLDER_SPLITS[0] * n))
    n_val = max(1, min(int(FOLDER_SPLITS[1] * n), n - n_train - 1))
    part = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
            "test": order[n_train + n_val:]}[split]
    x = images[order[:n_train]].float() / 255         # statistics of the training images
    channels = images.shape[1]
    info = {**FOLDER_INFO, "in_channels": channels, "image_size": int(images.shape[2]),
            "num_classes": len(names), "classes": tuple(names),
            "mean": tuple(x.mean((0, 2, 3)).tolist()),
            "std": tuple(x.std((0, 2, 3)).clamp(min=1e-3).tolist()),
            "max_objects": max(len(b) for b in boxes),
            "fills": ("in_channels", "image_size", "num_classes", "classes", "mean", "std")}
    if images.shape[2] != images.shape[3]:
        raise AnnError(f"{path}: images are {images.shape[3]}x{images.shape[2]}; the detector "
                       "takes square images, so pad or crop them to a square")
    y = pad_boxes([boxes[i] for i in part], [labels[i] for i in part], info["max_objects"])
    return BoxDataset(images[part], y, info)
