"""Unpaired image domains for style transfer (CycleGAN): domain A holds images as they are,
domain B the same kind of images with thickened strokes (a 3x3 grey-level dilation), never the
same image in both.

Each example is stacked as three channels, ``x`` (N, 3, H, W) with values in [0, 1]:
``x[:, 0]`` an image of domain A, ``x[:, 1]`` an unrelated image of domain B (another example's,
thickened), and ``x[:, 2]`` the true translation of ``x[:, 0]`` (its own thickened version),
which only evaluation reads (the model never trains on it: the pairs stay unpaired). ``y`` is
the class of ``x[:, 0]``.

* ``digits-thick``: scikit-learn's 8x8 digits (embedded).
* ``mnist-thick``: MNIST, 28x28.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from ..registry import register_dataset
from .base import ArrayDataset
from .vision import DIGITS_INFO, MNIST_INFO, load_digits, load_mnist


def thicken(images: torch.Tensor) -> torch.Tensor:
    """A 3x3 grey-level dilation (max filter) of images (N, C, H, W): thicker strokes."""
    return F.max_pool2d(images, 3, stride=1, padding=1)


def _domains(base: ArrayDataset, split: str) -> ArrayDataset:
    info = base.info
    a = (base.x * info["std"] + info["mean"]).clamp(0, 1)             # (N, 1, H, W) in [0, 1]
    other = torch.from_numpy(np.random.RandomState({"train": 0, "val": 1, "test": 2}[split])
                             .permutation(len(a)))
    x = torch.cat([a, thicken(a[other]), thicken(a)], dim=1)           # (N, 3, H, W)
    out_info = {**copy.deepcopy(info), "task": "image2image", "in_channels": 1, "mean": 0.0,
                "std": 1.0, "domains": ["as written", "thick strokes"],
                "description": f"{info['description'].split(':')[0]}: unpaired domains, strokes "
                               "as written vs. thickened (3x3 dilation)"}
    return ArrayDataset(x, base.y, out_info)


@register_dataset("digits-thick", info={**DIGITS_INFO, "task": "image2image", "mean": 0.0,
                                        "std": 1.0}, embedded=True)
def load_digits_thick(split: str) -> ArrayDataset:
    """scikit-learn's digits (splits as ``digits``) as two unpaired stroke-width domains."""
    return _domains(load_digits(split), split)


@register_dataset("mnist-thick", info={**MNIST_INFO, "task": "image2image", "mean": 0.0,
                                       "std": 1.0}, embedded=False)
def load_mnist_thick(split: str) -> ArrayDataset:
    """MNIST (splits as ``mnist``) as two unpaired stroke-width domains."""
    return _domains(load_mnist(split), split)
