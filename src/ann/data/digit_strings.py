"""Spoken digit strings: recordings of single digits joined into utterances such as "4 7 1 9",
the data of speech recognition with CTC (``ann train ctc-fsdd``).

Each utterance holds 3-7 digits drawn uniformly, each spoken by a recording of that digit drawn
from the split's pool, with a random short silence (50-250 ms of faint noise) before, between
and after them, and a random loudness per digit; everything is seeded, so a split is the same
on every machine. Features are the 40 log-mel bands every 10 ms of :mod:`ann.data.audio`,
standardised per utterance (CMVN). A split holds ``x`` (N, F, T) features padded with zeros
after each utterance's ``lengths`` (N,) frames, and ``y`` (N, L) the digits, padded with -1.

* ``fsdd-strings``: real recordings of the Free Spoken Digit Dataset
  (``$ANN_DATA_DIR/fsdd/recordings``). The speaker ``data.held_out`` (default ``theo``) is held
  out of training entirely; of the other five, FSDD's official take split decides which
  recordings a split draws from: takes 0-4 are test (as ``fsdd`` does), 5-9 val, 10-49 train.
  The extra split ``speaker`` is strings of the held-out speaker's recordings, all takes:
  ``ann eval RUN --split speaker``.
* ``tone-strings`` (embedded, generated): each digit is a tone of its own pitch (300 + 250 d
  Hz, +-4%) lasting 80-160 ms, for tests and a first look; no speech in it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import field
from ..errors import AnnError
from ..registry import register_dataset
from ..split import Split
from .audio import FEATURES, FSDD_SPEAKERS, SAMPLE_RATE, _fsdd_files, _fsdd_folder, standardise
from .audio import features as audio_features

DIGITS = [str(d) for d in range(10)]
MIN_DIGITS, MAX_DIGITS = 3, 7
GAP_SECONDS = (0.05, 0.25)         # silence before, between and after the digits
FEATURE_INFO = {k: v for k, v in FEATURES.items() if k != "max_seconds"}
STRINGS_INFO = {"task": "transcribe", "modality": "audio", "num_classes": 10, "classes": DIGITS,
                "sample_rate": SAMPLE_RATE, "features": FEATURE_INFO,
                "n_features": FEATURES["n_mels"]}
SPLITS = ("train", "val", "test", "speaker")
SEEDS = {"train": 0, "val": 1, "test": 2, "speaker": 3}


@dataclass
class DigitStrings(Split):
    """Utterances of digit strings: padded features, their lengths, padded digit labels.

    Shapes:
        x (N, F, T) float, lengths (N,) int64 frames, y (N, L) int64 digits (-1 pads);
        batch(index) -> (x (B, F, T_b), lengths (B,), y (B, L_b)), cut to the batch's longest.
    """

    x: torch.Tensor
    lengths: torch.Tensor
    y: torch.Tensor
    info: dict[str, Any]

    def __len__(self) -> int:
        return len(self.y)

    def batch(self, index):
        lengths, y = self.lengths[index], self.y[index]
        T = int(lengths.max()) if len(lengths) else 0
        L = int((y >= 0).sum(1).max()) if len(y) else 0
        return self.x[index][..., :T], lengths, y[:, :L]


def join_digits(pool: dict[int, list[np.ndarray]], n: int, seed: int,
                rate: int = SAMPLE_RATE) -> tuple[list[np.ndarray], list[list[int]]]:
    """``n`` waveforms of 3-7 digits each, every digit a random recording of it from ``pool``
    (digit -> waveforms), between random silences of faint noise; and their digits."""
    rng = np.random.RandomState(seed)
    waves, labels = [], []
    for _ in range(n):
        digits = rng.randint(0, 10, rng.randint(MIN_DIGITS, MAX_DIGITS + 1)).tolist()
        pieces = []
        for d in digits:
            pieces.append(rng.normal(0, 1e-3, int(rng.uniform(*GAP_SECONDS) * rate)))
            take = pool[d][rng.randint(len(pool[d]))]
            pieces.append(take * rng.uniform(0.6, 1.2))
        pieces.append(rng.normal(0, 1e-3, int(rng.uniform(*GAP_SECONDS) * rate)))
        waves.append(np.concatenate(pieces).astype(np.float32))
        labels.append(digits)
    return waves, labels


def build(waves, labels, info: dict) -> DigitStrings:
    """Features of each waveform, standardised per utterance, padded into one split."""
    feats = [standardise(audio_features(torch.from_numpy(w)[None], info["sample_rate"],
                                        **info["features"]))[0] for w in waves]   # each (F, T)
    lengths = torch.tensor([f.shape[1] for f in feats], dtype=torch.int64)
    x = torch.zeros(len(feats), feats[0].shape[0], int(lengths.max()))
    for i, f in enumerate(feats):
        x[i, :, :f.shape[1]] = f
    y = torch.full((len(labels), MAX_DIGITS), -1, dtype=torch.int64)
    for i, digits in enumerate(labels):
        y[i, :len(digits)] = torch.tensor(digits)
    return DigitStrings(x, lengths, y, dict(info))


# ------------------------------------------------------------------------------ fsdd-strings

FSDD_STRINGS_INFO = {**STRINGS_INFO,
                     "description": "Free Spoken Digit Dataset recordings joined into strings of "
                                    "3-7 digits with random silences, 8 kHz; log-mel features",
                     "source": "https://github.com/Jakobovski/free-spoken-digit-dataset"}


@dataclass
class StringOptions:
    """How many digit strings each split holds, and (FSDD) the speaker held out."""

    held_out: str = field("theo", "digit strings (fsdd-strings): the speaker held out of "
                          "training, scored on the 'speaker' split", choices=FSDD_SPEAKERS)
    strings: int = field(3000, "digit strings: utterances in the train split (val and test "
                         "hold a tenth and a sixth of it, at least 50)", range=(1, 1_000_000))


def split_size(split: str, strings: int) -> int:
    return strings if split == "train" else max(50, strings // (10 if split == "val" else 6))


def fsdd_pool(rows, split: str, speaker: str) -> dict[int, list[np.ndarray]]:
    """The recordings (digit -> waveforms) that ``split``'s strings draw from."""
    rule = {"speaker": lambda r: r[2] == speaker,
            "test": lambda r: r[2] != speaker and r[3] < 5,
            "val": lambda r: r[2] != speaker and 5 <= r[3] < 10,
            "train": lambda r: r[2] != speaker and r[3] >= 10}[split]
    pool: dict[int, list[np.ndarray]] = {d: [] for d in range(10)}
    for samples, digit, who, take in rows:
        if rule((samples, digit, who, take)):
            pool[digit].append(samples)
    empty = [str(d) for d, takes in pool.items() if not takes]
    if empty:
        raise AnnError(f"the FSDD recordings hold no {split} take of digit(s) {', '.join(empty)}"
                       f" (speaker {speaker!r} held out); place the whole dataset in "
                       "$ANN_DATA_DIR/fsdd/recordings")
    return pool


@functools.lru_cache(maxsize=8)
def _fsdd_strings(folder: str, split: str, speaker: str, strings: int) -> DigitStrings:
    pool = fsdd_pool(_fsdd_files(folder), split, speaker)
    waves, labels = join_digits(pool, split_size(split, strings), SEEDS[split])
    data = build(waves, labels, FSDD_STRINGS_INFO)
    data.info["held_out_speaker"] = speaker
    return data


@register_dataset("fsdd-strings", info=FSDD_STRINGS_INFO, embedded=False, splits=SPLITS,
                  options=StringOptions)
def load_fsdd_strings(split: str, held_out: str = "theo", strings: int = 3000) -> DigitStrings:
    """FSDD digits joined into strings; speaker ``held_out`` kept out of training (the
    ``speaker`` split)."""
    return _fsdd_strings(str(_fsdd_folder()), split, held_out, strings)


# ------------------------------------------------------------------------------ tone-strings

TONE_STRINGS_INFO = {**STRINGS_INFO,
                     "description": "generated strings of 3-7 digits, each a tone of its own "
                                    "pitch, with random silences, 8 kHz (embedded)",
                     "source": "generated by ann.data.digit_strings.tone_pool"}


def tone_pool(seed: int, per_digit: int = 20, rate: int = SAMPLE_RATE) -> dict:
    """``per_digit`` tones of each digit: 300 + 250 d Hz (+-4%), 80-160 ms, Hann-shaped."""
    rng = np.random.RandomState(seed)
    pool = {}
    for d in range(10):
        takes = []
        for _ in range(per_digit):
            t = np.arange(int(rng.uniform(0.08, 0.16) * rate)) / rate
            f = (300 + 250 * d) * rng.uniform(0.96, 1.04)
            takes.append((0.5 * np.sin(2 * np.pi * f * t) * np.hanning(len(t))
                          + rng.normal(0, 0.01, len(t))).astype(np.float32))
        pool[d] = takes
    return pool


@dataclass
class ToneOptions:
    """How many generated digit strings the train split holds."""

    strings: int = field(400, "digit strings: utterances in the train split (val and test "
                         "hold a tenth and a sixth of it, at least 50)", range=(1, 1_000_000))


@functools.lru_cache(maxsize=8)
def _tone_strings(split: str, strings: int) -> DigitStrings:
    waves, labels = join_digits(tone_pool(SEEDS[split]), split_size(split, strings),
                                SEEDS[split] + 10)
    return build(waves, labels, TONE_STRINGS_INFO)


@register_dataset("tone-strings", info=TONE_STRINGS_INFO, embedded=True, options=ToneOptions)
def load_tone_strings(split: str, strings: int = 400) -> DigitStrings:
    """Generated tone digits joined into strings (embedded)."""
    return _tone_strings(split, strings)
