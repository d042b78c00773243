"""Generated data for the density estimators and the function fitters, embedded (no download).

* ``moons``, ``circles``: scikit-learn's two interleaved half-moons and two concentric circles
  (``make_moons(noise=0.05)``, ``make_circles(noise=0.05, factor=0.5)``), points in the plane
  (N, 2) on their own scale (not standardised, so a density's NLL is in the data's units). The
  label (which moon or circle) is kept but a density model ignores it. Splits are independent
  draws of the same generator: 4,000 train, 1,000 val, 2,000 test.
* ``exp-sin``: the function of Liu et al. 2024 (KAN, section 3.1), ``f(x, y) = exp(sin(pi x) +
  y^2)`` with x, y uniform on [-1, 1]: 1,000 train, 500 val, 1,000 test (regression).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..registry import register_dataset
from .base import ArrayDataset

SIZES = {"train": 4000, "val": 1000, "test": 2000}
FUNCTION_SIZES = {"train": 1000, "val": 500, "test": 1000}
SEEDS = {"train": 0, "val": 1, "test": 2}     # each split its own draw

MOONS_INFO = {"task": "density", "in_features": 2, "num_classes": 2, "classes": ["upper", "lower"],
              "description": "two interleaved half-moons in the plane (scikit-learn make_moons, "
              "noise 0.05), 4,000/1,000/2,000 points",
              "source": "sklearn.datasets.make_moons"}
CIRCLES_INFO = {"task": "density", "in_features": 2, "num_classes": 2,
                "classes": ["outer", "inner"],
                "description": "two concentric circles in the plane (scikit-learn make_circles, "
                "noise 0.05, factor 0.5), 4,000/1,000/2,000 points",
                "source": "sklearn.datasets.make_circles"}
EXP_SIN_INFO = {"task": "regression", "in_features": 2, "out_features": 1,
                "feature_names": ["x", "y"],
                "description": "f(x, y) = exp(sin(pi x) + y^2) on [-1, 1]^2 (Liu et al. 2024), "
                "1,000/500/1,000 samples",
                "source": "generated (KAN paper, arXiv:2404.19756, section 3.1)"}


def _points(x: np.ndarray, y: np.ndarray, info: dict) -> ArrayDataset:
    return ArrayDataset(torch.tensor(x, dtype=torch.float32),                    # (N, 2)
                        torch.tensor(y, dtype=torch.int64), dict(info))


@register_dataset("moons", info=MOONS_INFO, embedded=True)
def load_moons(split: str) -> ArrayDataset:
    from sklearn.datasets import make_moons

    return _points(*make_moons(SIZES[split], noise=0.05, random_state=SEEDS[split]), MOONS_INFO)


@register_dataset("circles", info=CIRCLES_INFO, embedded=True)
def load_circles(split: str) -> ArrayDataset:
    from sklearn.datasets import make_circles

    x, y = make_circles(SIZES[split], noise=0.05, factor=0.5, random_state=SEEDS[split])
    return _points(x, y, CIRCLES_INFO)


def exp_sin(x: torch.Tensor) -> torch.Tensor:
    """``exp(sin(pi x0) + x1^2)`` of (N, 2) inputs, (N,)."""
    return torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2)


@register_dataset("exp-sin", info=EXP_SIN_INFO, embedded=True)
def load_exp_sin(split: str) -> ArrayDataset:
    g = torch.Generator().manual_seed(SEEDS[split])
    x = torch.rand(FUNCTION_SIZES[split], 2, generator=g) * 2 - 1                # (N, 2)
    return ArrayDataset(x, exp_sin(x), dict(EXP_SIN_INFO))
