"""``audio-folder``: train the audio classifiers (the TDNNs) on a folder of your own recordings.

``ann train tdnn-fsdd data.name=audio-folder data.path=recordings/`` reads

* ``recordings/CLASS/*.wav``, one subfolder per class (its name is the class name; the classes
  are sorted by name), split into train/val/test per class by a seeded shuffle
  (``data.val_fraction``, ``data.test_fraction``, ``data.split_seed``); or
* ``recordings/train/CLASS/...`` with ``val/`` and ``test/`` beside it when those folders exist
  (a missing one is carved out of ``train/`` as above): the layout and its checks are
  :mod:`ann.data.classfolders`, which ``image-folder`` reads too.

Recordings are integer PCM WAV files (8, 16, 24 or 32-bit, :func:`ann.data.audio.read_wav`) of
any sample rate and channel count: channels are averaged to mono and every recording is
resampled to ``data.sample_rate`` (8000 Hz by default, the built-in audio datasets' rate) by
band-limited interpolation (:func:`ann.data.audio.resample`). Each is then made
``data.max_seconds`` long (0, the default: the longest training recording, rounded up to 10 ms,
at most ``AUTO_SECONDS_LIMIT``): shorter ones padded with silence at the end, longer ones cut to
their loudest stretch; and turned into the built-in datasets' features, 40 log-mel filterbank
energies or 13 MFCCs (``data.feature_kind``) per 10 ms frame. ``data.normalise=utterance`` (the
default) standardises each coefficient within each recording, as ``fsdd`` and ``chirps`` do;
``global`` standardises it by its mean and std over the training recordings' frames. Utterance
is the default because the TDNN recipe was tuned on it: with ``global``, ``tdnn-fsdd`` on FSDD's
recordings as class folders fitted its training set (loss 0.37) while its validation accuracy
swung between 10% and 40% for 7 epochs (BENCHMARKS.md, "Your own data").

The facts known only after reading (sample rate, length, frames, features, class names, the
training statistics) go into the split's ``info`` and, through ``fills``, into the model
config; the run records them in ``data.json`` so that ``ann predict RUN clip.wav`` (or a folder
of WAVs) reads a new recording the same way, at any sample rate
(:func:`ann.data.audio.read_audio_file`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import field
from ..registry import register_dataset
from . import audio
from .base import ArrayDataset
from .classfolders import FolderKind, check_folder, folder_stamp, labelled_files, split_option

KIND = FolderKind("audio-folder", "recordings", (".wav",), "clip.wav")
AUTO_SECONDS_LIMIT = 4.0     # max_seconds=0 takes the longest training recording up to this
FEATURE_KINDS = {"logmel": "n_mels", "mfcc": "n_mfcc"}   # each kind's coefficient count key

FOLDER_INFO = {
    "task": "classify", "modality": "audio", "resample": True,
    "description": "your own recordings: data.path=FOLDER with one subfolder of WAV files per "
                   "class (or train/ val/ test/ folders of class subfolders)",
}
FILLS = ("n_features", "frames", "num_classes", "classes")


@dataclass
class AudioFolderOptions:
    """The folder of your own recordings and how it is read, featurised and split."""

    path: str = field("", "a folder of your own to train on: one subfolder of WAV recordings "
                      "per class", path=True)
    sample_rate: int = field(audio.SAMPLE_RATE, "rate in Hz every recording is resampled to",
                             range=(4000, 48000))
    max_seconds: float = field(0.0, "seconds every recording is padded or cut to (0: the "
                               f"longest training recording, up to {AUTO_SECONDS_LIMIT:g})",
                               range=(0.0, 60.0))
    feature_kind: str = field("logmel", "features per frame: 40 log-mel energies or 13 MFCCs",
                              choices=tuple(FEATURE_KINDS))
    normalise: str = field("utterance", "standardise each coefficient within each recording "
                           "(utterance) or by the training recordings' mean and std (global)",
                           choices=("global", "utterance"))
    val_fraction: float = split_option("val_fraction", "recordings")
    test_fraction: float = split_option("test_fraction", "recordings")
    split_seed: int = split_option("split_seed", "recordings")


def feature_settings(rate: int, kind: str) -> dict:
    """The settings of :func:`ann.data.audio.features` at ``rate``: the built-in 25 ms windows
    every 10 ms, the FFT the smallest power of two that holds a window."""
    settings = {k: v for k, v in audio.FEATURES.items() if k != "max_seconds"}
    window = rate * settings["win_ms"] // 1000
    return {**settings, "kind": kind, "n_fft": 1 << (window - 1).bit_length()}


def _auto_seconds(waves: list[np.ndarray], rate: int) -> float:
    """The longest of ``waves`` in seconds, rounded up to 10 ms, at most the limit."""
    longest = max(len(w) for w in waves) / rate
    return min(AUTO_SECONDS_LIMIT, math.ceil(round(longest * 100, 6)) / 100)


def _recording(path: Path, rate: int) -> np.ndarray:
    samples, own = audio.read_wav(path)
    return audio.resample(samples, own, rate)


@functools.lru_cache(maxsize=2)
def _read(folder: Path, sample_rate: int, max_seconds: float, feature_kind: str, normalise: str,
          val_fraction: float, test_fraction: float, split_seed: int, stamp: tuple):
    """``({split: (features (N, F, T) float32, labels (N,) int64)}, info)``: read once for the
    three splits of a run (``stamp`` only keys the cache)."""
    classes, files = labelled_files(folder, KIND, val_fraction, test_fraction, split_seed)
    waves = {split: [_recording(f, sample_rate) for f, _ in rows] for split, rows in files.items()}
    settings = feature_settings(sample_rate, feature_kind)
    info = {**FOLDER_INFO, "sample_rate": sample_rate, "features": settings,
            "max_seconds": max_seconds or _auto_seconds(waves["train"], sample_rate),
            "n_features": settings[FEATURE_KINDS[feature_kind]], "num_classes": len(classes),
            "classes": classes, "normalise": normalise, "fills": FILLS}
    raw = {split: audio.waves_to_features(w, info) for split, w in waves.items()}
    info["frames"] = raw["train"].shape[-1]
    if normalise == "global":                 # per coefficient, over every training frame
        info["mean"] = tuple(raw["train"].mean((0, 2)).tolist())
        info["std"] = tuple(raw["train"].std((0, 2), correction=0).clamp(min=1e-3).tolist())
    arrays = {split: (audio.normalise(x, info),
                      torch.tensor([c for _, c in files[split]], dtype=torch.int64))
              for split, x in raw.items()}
    return arrays, info


@register_dataset("audio-folder", info=FOLDER_INFO, embedded=True, options=AudioFolderOptions)
def load_audio_folder(split: str, path: str = "", sample_rate: int = audio.SAMPLE_RATE,
                      max_seconds: float = 0.0, feature_kind: str = "logmel",
                      normalise: str = "utterance", val_fraction: float = 0.1,
                      test_fraction: float = 0.1, split_seed: int = 0) -> ArrayDataset:
    """Your own WAV recordings (``data.path=FOLDER``), one subfolder per class; see the module."""
    folder = check_folder(path, KIND)
    arrays, info = _read(folder.resolve(), sample_rate, max_seconds, feature_kind, normalise,
                         val_fraction, test_fraction, split_seed, folder_stamp(folder))
    x, y = arrays[split]
    return ArrayDataset(x.clone(), y.clone(), dict(info))
