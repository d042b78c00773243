"""Datasets and the files behind them.

Importing this package registers the built-in datasets (``ann.registry`` imports it on the first
lookup). ``sources`` finds, downloads and verifies files; ``idx`` reads MNIST-style files;
``vision`` holds the image datasets and the image helpers for training and prediction.
"""

from . import vision
from .base import ArrayDataset
from .idx import read_idx
from .sources import RemoteFile, fetch
from .vision import augment_images, preprocess_images, read_image_file

__all__ = ["ArrayDataset", "RemoteFile", "augment_images", "fetch", "preprocess_images",
           "read_idx", "read_image_file", "vision"]
