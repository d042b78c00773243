"""Anomaly-detection datasets: train on normal examples only, test on normal and anomalous ones.

Labels are ``0`` (normal) and ``1`` (anomaly); an autoencoder scores each test example by its
reconstruction error and the AUROC of those scores against the labels is the figure reported.

* ``breast-cancer-anomaly``: the Wisconsin diagnostic breast cancer table shipped with
  scikit-learn (569 rows, 30 features; Street, Wolberg & Mangasarian 1993). Benign tumours are
  normal, malignant ones anomalies. Embedded.
* ``mnist-anomaly``: MNIST with the digits of ``data.normal_classes`` (default ``0``) as normal
  and all other digits as anomalies (the one-class protocol of Ruff et al. 2018, Deep SVDD).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..config import field
from ..errors import AnnError
from ..registry import register_dataset
from .base import ArrayDataset
from .vision import MNIST_INFO, _load_idx_split, stratified_split

BREAST_INFO = {
    "task": "reconstruct", "in_features": 30, "num_classes": 2, "classes": ["normal", "anomaly"],
    "description": "Wisconsin breast cancer, 30 features: train on benign rows, find malignant "
                   "ones (scikit-learn, embedded)",
    "source": "https://archive.ics.uci.edu/dataset/17/breast+cancer+wisconsin+diagnostic",
}
MNIST_ANOMALY_INFO = {
    **{k: MNIST_INFO[k] for k in ("in_channels", "image_size", "scale", "mean", "std", "source")},
    "task": "reconstruct", "num_classes": 2, "classes": ["normal", "anomaly"],
    "description": "MNIST: train on the digits of data.normal_classes (default 0), find the others",
}


@functools.cache
def _breast_cancer() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[str]]:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    x = bunch.data.astype(np.float32)                       # (569, 30)
    anomaly = (bunch.target == 0).astype(np.int64)          # sklearn: 0 malignant, 1 benign
    splits = stratified_split(anomaly, {"test": 0.3, "val": 0.1, "train": 0.6}, 0)
    return x, anomaly, splits, [str(n) for n in bunch.feature_names]


@register_dataset("breast-cancer-anomaly", info=BREAST_INFO, embedded=True)
def load_breast_cancer_anomaly(split: str) -> ArrayDataset:
    """Stratified 60/10/30 split of the 569 rows; train and val keep only the benign rows, test
    keeps all (about 107 benign and 64 malignant). Features are standardised with the mean and
    std of the benign training rows (recorded in the info with the feature names, so that ``ann
    predict RUN rows.csv`` scores new rows the same way)."""
    x, anomaly, splits, names = _breast_cancer()
    normal_train = splits["train"][anomaly[splits["train"]] == 0]
    mean, std = x[normal_train].mean(0), x[normal_train].std(0) + 1e-6
    idx = splits[split]
    if split != "test":
        idx = idx[anomaly[idx] == 0]
    info = {**copy.deepcopy(BREAST_INFO), "feature_names": names, "mean": mean.tolist(),
            "std": std.tolist()}
    return ArrayDataset(torch.from_numpy((x[idx] - mean) / std),
                        torch.from_numpy(anomaly[idx]), info)


def parse_classes(text: str, default: tuple[int, ...] = (0,)) -> tuple[int, ...]:
    """``"0,1"`` -> (0, 1); empty -> ``default``; anything but digits 0-9 fails clearly."""
    if not text.strip():
        return default
    try:
        classes = tuple(sorted({int(t) for t in text.split(",")}))
    except ValueError:
        classes = ()
    if not classes or not all(0 <= c <= 9 for c in classes) or len(classes) == 10:
        raise AnnError(f"data.normal_classes={text!r} must list some (not all) of the digits "
                       "0-9, comma-separated, e.g. 0 or 0,1,2")
    return classes


@dataclass
class NormalClassesOptions:
    """The digits an anomaly detector learns as normal."""

    normal_classes: str = field("", "anomaly detection: the classes counted as normal, "
                                "comma-separated (empty: the dataset's default)")


@register_dataset("mnist-anomaly", info=MNIST_ANOMALY_INFO, embedded=False,
                  options=NormalClassesOptions)
def load_mnist_anomaly(split: str, normal_classes: str = "") -> ArrayDataset:
    """Train and val: the MNIST images of the normal digits; test: all 10,000 test images,
    labelled 1 where the digit is not a normal one."""
    normal = parse_classes(normal_classes)
    data = _load_idx_split("mnist", split)
    anomaly = (~torch.isin(data.y, torch.tensor(normal))).long()
    keep = slice(None) if split == "test" else anomaly == 0
    info = {**copy.deepcopy(MNIST_ANOMALY_INFO), "normal_classes": list(normal)}
    return ArrayDataset(data.x[keep], anomaly[keep], info)
