"""Semantic segmentation datasets: a class for every pixel, from the scene generator.

* ``shapes-seg`` (embedded): 64x64 RGB scenes of 1-4 coloured circles, squares and triangles on a
  noisy background (:func:`ann.data.scenes.shapes_scene`); 4 classes, background first.
* ``mnist-scenes-seg``: 96x96 canvases with 1-4 real MNIST digits at scales 0.7-1.5
  (:func:`ann.data.scenes.digits_scene`); 11 classes: background, then the digits 0-9. Train
  scenes use MNIST's training images, val its validation images, test the official test images
  (the carving of the ``mnist`` dataset, :func:`ann.data.vision.idx_split_arrays`).

Every split has its own seed, so the splits are fixed forever. Pictures are stored as uint8
(N, C, H, W) and masks as uint8 (N, H, W); :meth:`SegmentationDataset.batch` standardises the
pictures and widens the masks to int64 only for the examples asked for, so a split is held once.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..registry import register_dataset
from .base import ArrayDataset
from .scenes import SHAPES, Scene, make_scenes

# Seeds and sizes per split; changing either changes the data, so they never change.
SHAPES_SPLITS = {"train": (101, 2000), "val": (102, 200), "test": (103, 500)}
DIGITS_SPLITS = {"train": (201, 6000), "val": (202, 500), "test": (203, 1000)}

# mean and std: of the train split's pixels after dividing by scale (tests recompute them).
SHAPES_SEG_INFO = {
    "task": "segment", "in_channels": 3, "image_size": 64, "num_classes": 4,
    "classes": ["background", *SHAPES], "scale": 255,
    "mean": [0.2181, 0.2178, 0.2194], "std": [0.2301, 0.2023, 0.2262],
    "description": "64x64 generated scenes of 1-4 coloured circles, squares and triangles; a "
                   "class per pixel (train 2,000 / val 200 / test 500)",
    "source": "generated (ann.data.scenes.shapes_scene)",
}
MNIST_SCENES_SEG_INFO = {
    "task": "segment", "in_channels": 1, "image_size": 96, "num_classes": 11,
    "classes": ["background", *(str(d) for d in range(10))], "scale": 255,
    "mean": 0.0336, "std": 0.1567,
    "description": "96x96 canvases with 1-4 real MNIST digits at random scales and positions; a "
                   "class per pixel (train 6,000 / val 500 / test 1,000)",
    "source": "MNIST digits (http://yann.lecun.com/exdb/mnist/) placed by "
              "ann.data.scenes.digits_scene",
}


@dataclass
class SegmentationDataset(ArrayDataset):
    """Pictures and per-pixel class masks, kept compact.

    Shapes:
        x: (N, C, H, W) uint8 raw pixels (0..255).
        y: (N, H, W) uint8 classes (0 = background).
        batch(index) -> x (B, C, H, W) float32 standardised, y (B, H, W) int64.
    """

    def batch(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[index].float().div_(self.info["scale"])                     # (B, C, H, W)
        mean = torch.as_tensor(self.info["mean"], dtype=torch.float32).reshape(-1, 1, 1)
        std = torch.as_tensor(self.info["std"], dtype=torch.float32).reshape(-1, 1, 1)
        return x.sub_(mean).div_(std), self.y[index].long()

    def raw(self, index) -> torch.Tensor:
        """Pictures as float32 in [0, 1], (B, C, H, W), for drawing."""
        return self.x[index].float() / 255.0


def scenes_to_arrays(scenes: list[Scene]) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, C, H, W) uint8 (rounded from [0, 1]) and masks (N, H, W) uint8 of ``scenes``."""
    images = np.stack([np.rint(s.image * 255.0) for s in scenes]).astype(np.uint8)
    masks = np.stack([s.mask for s in scenes]).astype(np.uint8)
    return images, masks


def _dataset(images: np.ndarray, masks: np.ndarray, info: dict) -> SegmentationDataset:
    return SegmentationDataset(torch.from_numpy(images), torch.from_numpy(masks), copy.deepcopy(info))


@functools.cache
def _shapes_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    seed, count = SHAPES_SPLITS[split]
    return scenes_to_arrays(make_scenes("shapes", count, seed, size=64))


@register_dataset("shapes-seg", info=SHAPES_SEG_INFO, embedded=True)
def load_shapes_seg(split: str) -> SegmentationDataset:
    """Generated shapes scenes: train 2,000 / val 200 / test 500 (seeds 101, 102, 103)."""
    return _dataset(*_shapes_arrays(split), SHAPES_SEG_INFO)


def _digits_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    from .vision import idx_split_arrays

    images, labels = idx_split_arrays("mnist", split)
    seed, count = DIGITS_SPLITS[split]
    return scenes_to_arrays(make_scenes("digits", count, seed, images=images, labels=labels,
                                        size=96))


@register_dataset("mnist-scenes-seg", info=MNIST_SCENES_SEG_INFO, embedded=False)
def load_mnist_scenes_seg(split: str) -> SegmentationDataset:
    """MNIST digit scenes: train 6,000 / val 500 / test 1,000 (seeds 201, 202, 203); train and
    val scenes from MNIST's 55,000 / 5,000 training images, test from the official test set."""
    return _dataset(*_digits_arrays(split), MNIST_SCENES_SEG_INFO)

