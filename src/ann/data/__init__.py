"""Datasets and the files behind them.

Importing this package registers the built-in datasets (``ann.registry`` imports it on the first
lookup). ``sources`` finds, downloads and verifies files; ``idx`` reads MNIST-style files;
``vision`` holds the image datasets and the image helpers for training and prediction;
``text`` the language-model datasets and ``tokenizers`` their tokenizers; ``translation`` the
sentence-pair datasets; ``sentences`` the single-sentence ones for BERT (SST-2, masked-LM corpora).
"""

import importlib as _importlib
import pkgutil as _pkgutil

from .base import ArrayDataset
from .idx import read_idx
from .sources import RemoteFile, fetch
from .text import TokenWindows
from .tokenizers import BPETokenizer, CharTokenizer, WordTokenizer, load_tokenizer
from .vision import augment_images, preprocess_images, read_image_file

# Importing a module registers its datasets: every module of the package is imported, in the
# order of its name, so a new dataset module needs no line here (each becomes an attribute and is
# listed in __all__).
_MODULES = sorted(m.name for m in _pkgutil.iter_modules(__path__))
for _module in _MODULES:
    _importlib.import_module(f"{__name__}.{_module}")

__all__ = ["ArrayDataset", "BPETokenizer", "CharTokenizer", "RemoteFile", "TokenWindows",
           "WordTokenizer", "augment_images", "fetch", "load_tokenizer", "preprocess_images",
           "read_idx", "read_image_file"]
__all__ += _MODULES
