"""Audio: WAV reading, speech features computed with ``torch.stft``, and the audio datasets.

Features (no torchaudio): a waveform is cut into 25 ms Hann windows every 10 ms, its power
spectrum (``torch.stft``) is pooled by a triangular mel filterbank (HTK's mel scale,
2595 log10(1 + f / 700)) into ``n_mels`` bands and logged (log-mel filterbanks); MFCCs are the
orthonormal DCT-II of the log-mel bands, first ``n_mfcc`` kept (Davis & Mermelstein 1980).

Datasets (8 kHz mono; every example is ``max_seconds`` long, shorter ones padded with silence
at the end, longer ones cut to their loudest ``max_seconds``; ``x`` is (N, F, T) features by
frames, each coefficient normalised per utterance to mean 0 and std 1 over time):

* ``fsdd``: the Free Spoken Digit Dataset (Jackson et al., https://github.com/Jakobovski/
  free-spoken-digit-dataset): 3,000 recordings ``{digit}_{speaker}_{take}.wav`` of 6 speakers,
  read from ``$ANN_DATA_DIR/fsdd/recordings``. Customary split: takes 0-4 of every speaker and
  digit are test; here takes 5-9 are val and 10-49 train. ``data.speaker=NAME`` holds that
  speaker out instead: all of their recordings are test, the others' takes 0-4 val, 5-49 train.
* ``chirps`` (embedded, generated): five sound patterns (rising chirp, falling chirp, low tone,
  high tone, double beep) placed at a random time in one second of noise.
"""

from __future__ import annotations

import functools
import math
import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import field
from ..errors import AnnError, DatasetMissing
from ..registry import register_dataset
from .base import ArrayDataset
from .sources import data_dirs

SAMPLE_RATE = 8000
FEATURES = {"kind": "logmel", "n_mels": 40, "n_mfcc": 13, "win_ms": 25, "hop_ms": 10,
            "n_fft": 256, "max_seconds": 1.0}
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
CHIRP_CLASSES = ["rising chirp", "falling chirp", "low tone", "high tone", "double beep"]


# ------------------------------------------------------------------------------- WAV files

def read_wav(path) -> tuple[np.ndarray, int]:
    """Samples (float32 in [-1, 1], channels averaged to mono) and the sample rate of a PCM WAV
    file; one clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise AnnError(f"{path}: no such file")
    try:
        with wave.open(str(path), "rb") as f:
            rate, width, channels = f.getframerate(), f.getsampwidth(), f.getnchannels()
            raw = f.readframes(f.getnframes())
    except (wave.Error, EOFError) as e:
        raise AnnError(f"{path} is not a readable WAV file ({e}); give a PCM .wav recording") from None
    kinds = {1: (np.uint8, 128.0, 128.0), 2: (np.int16, 0.0, 32768.0), 4: (np.int32, 0.0, 2.0 ** 31)}
    if width not in kinds:
        raise AnnError(f"{path} holds {8 * width}-bit samples; give 8, 16 or 32-bit PCM audio")
    dtype, offset, scale = kinds[width]
    samples = (np.frombuffer(raw, dtype=dtype).astype(np.float32) - offset) / scale
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(1)
    if len(samples) == 0:
        raise AnnError(f"{path} holds no audio samples; give a non-empty recording")
    return samples, rate


# ------------------------------------------------------------------------------- features

@functools.lru_cache(maxsize=8)
def mel_filterbank(n_mels: int, n_fft: int, rate: int) -> torch.Tensor:
    """Triangular filters on the mel scale, (n_fft // 2 + 1, n_mels)."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(0.0), mel(rate / 2), n_mels + 2))        # band edges in Hz
    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)                       # FFT bin centres
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins - lo) / (mid - lo)
    down = (hi - bins) / (hi - mid)
    return torch.tensor(np.maximum(0.0, np.minimum(up, down)).T, dtype=torch.float32)


@functools.lru_cache(maxsize=8)
def dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Orthonormal DCT-II, (n_in, n_out): MFCC = log-mel @ this."""
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)
    m = torch.cos(math.pi / n_in * (n[:, None] + 0.5) * k[None]) * math.sqrt(2.0 / n_in)
    m[:, 0] /= math.sqrt(2.0)
    return m.float()


def features(wave_: torch.Tensor, rate: int = SAMPLE_RATE, kind: str = "logmel",
             n_mels: int = 40, n_mfcc: int = 13, win_ms: int = 25, hop_ms: int = 10,
             n_fft: int = 256, **_) -> torch.Tensor:
    """Log-mel filterbank energies or MFCCs of waveforms.

    Shapes:
        wave_ (B, S) float -> (B, n_mels or n_mfcc, frames), frames = 1 + S // hop.
    """
    win, hop = rate * win_ms // 1000, rate * hop_ms // 1000
    spec = torch.stft(wave_, n_fft=n_fft, hop_length=hop, win_length=win,
                      window=torch.hann_window(win, device=wave_.device), center=True,
                      return_complex=True)                               # (B, n_fft/2+1, T)
    power = spec.abs() ** 2
    fb = mel_filterbank(n_mels, n_fft, rate).to(wave_.device)
    logmel = torch.log(torch.einsum("bft,fm->bmt", power, fb) + 1e-6)    # (B, n_mels, T)
    if kind == "logmel":
        return logmel
    return torch.einsum("bmt,mk->bkt", logmel, dct_matrix(n_mels, n_mfcc).to(wave_.device))


def fix_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Pad with silence at the end, or keep the loudest ``length`` samples (a sliding window
    of energy) when the recording is longer."""
    if len(samples) <= length:
        return np.pad(samples, (0, length - len(samples)))
    energy = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    start = int(np.argmax(energy[length:] - energy[:-length]))
    return samples[start:start + length]


def waves_to_features(waves: list[np.ndarray], info: dict) -> torch.Tensor:
    """Fixed-length waveforms to raw (unstandardised) features (N, F, T)."""
    length = int(info["max_seconds"] * info["sample_rate"])
    batch = torch.tensor(np.stack([fix_length(w, length) for w in waves]), dtype=torch.float32)
    out = [features(batch[i:i + 256], info["sample_rate"], **info["features"])
           for i in range(0, len(batch), 256)]
    return torch.cat(out)


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Per-utterance mean and variance normalisation of each coefficient over time (CMVN, the
    usual speech front end): needs no dataset statistics, so ``ann predict`` reads a file alone.

    Shapes: (B, F, T) -> (B, F, T)."""
    return (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True).clamp_min(1e-3)


def read_audio_file(path, info: dict) -> torch.Tensor:
    """One WAV file as the standardised (1, F, T) features a model of this dataset takes;
    a recording at another sample rate is refused (resample it first)."""
    samples, rate = read_wav(path)
    if rate != info["sample_rate"]:
        raise AnnError(f"{path} is sampled at {rate} Hz but the model was trained on "
                       f"{info['sample_rate']} Hz audio; resample it first (e.g. `sox {Path(path).name} "
                       f"-r {info['sample_rate']} out.wav`)")
    return standardise(waves_to_features([samples], info))


def _finish(waves, labels, info: dict) -> ArrayDataset:
    x = standardise(waves_to_features(waves, info))                      # (N, F, T)
    return ArrayDataset(x, torch.tensor(labels, dtype=torch.int64), dict(info))


# ----------------------------------------------------------------------------------- FSDD

FSDD_INFO = {"task": "classify", "modality": "audio", "num_classes": 10,
             "classes": [str(i) for i in range(10)], "sample_rate": SAMPLE_RATE,
             "features": {k: v for k, v in FEATURES.items() if k != "max_seconds"},
             "max_seconds": FEATURES["max_seconds"], "n_features": FEATURES["n_mels"],
             "frames": 101,
             "description": "Free Spoken Digit Dataset: 3,000 recordings of the digits 0-9 by 6 "
                            "speakers, 8 kHz; log-mel features",
             "source": "https://github.com/Jakobovski/free-spoken-digit-dataset"}
_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def _fsdd_folder() -> Path:
    for d in data_dirs():
        folder = Path(d) / "fsdd" / "recordings"
        if folder.is_dir():
            return folder
    raise DatasetMissing("the Free Spoken Digit Dataset was not found: place its recordings "
                         "as $ANN_DATA_DIR/fsdd/recordings/{digit}_{speaker}_{take}.wav (from "
                         "https://github.com/Jakobovski/free-spoken-digit-dataset)")


@functools.cache
def _fsdd_files(folder: str) -> tuple[tuple[np.ndarray, int, str, int], ...]:
    rows = []
    for path in sorted(Path(folder).glob("*.wav")):
        m = _NAME.match(path.name)
        if m is None:
            continue
        samples, rate = read_wav(path)
        if rate != SAMPLE_RATE:
            raise AnnError(f"{path} is sampled at {rate} Hz; FSDD recordings are 8000 Hz")
        rows.append((samples, int(m.group(1)), m.group(2), int(m.group(3))))
    if not rows:
        raise DatasetMissing(f"{folder} holds no FSDD recordings named digit_speaker_take.wav")
    return tuple(rows)


def fsdd_split(rows, split: str, speaker: str = "") -> list[int]:
    """Indices of ``rows`` (digit, speaker, take) in ``split`` (see the module docstring)."""
    if speaker:
        if speaker not in {r[2] for r in rows}:
            raise AnnError(f"data.speaker={speaker!r} is not an FSDD speaker; choose from "
                           f"{', '.join(sorted({r[2] for r in rows}))}")
        rule = {"test": lambda r: r[2] == speaker,
                "val": lambda r: r[2] != speaker and r[3] < 5,
                "train": lambda r: r[2] != speaker and r[3] >= 5}[split]
    else:
        rule = {"test": lambda r: r[3] < 5, "val": lambda r: 5 <= r[3] < 10,
                "train": lambda r: r[3] >= 10}[split]
    return [i for i, r in enumerate(rows) if rule(r)]


@dataclass
class SpeakerOptions:
    """Which FSDD speaker, if any, is held out as test."""

    speaker: str = field("", "audio (fsdd): the speaker held out as test (empty: the customary "
                         "split, takes 0-4 of every speaker are test)")


@register_dataset("fsdd", info=FSDD_INFO, embedded=False, options=SpeakerOptions)
def load_fsdd(split: str, speaker: str = "") -> ArrayDataset:
    """FSDD log-mel features; customary split, or ``speaker`` held out as test."""
    rows = _fsdd_files(str(_fsdd_folder()))
    idx = fsdd_split(rows, split, speaker)
    data = _finish([rows[i][0] for i in idx], [rows[i][1] for i in idx], FSDD_INFO)
    data.info["speakers"] = [rows[i][2] for i in idx]
    return data


# --------------------------------------------------------------------------------- chirps

CHIRPS_INFO = {**FSDD_INFO, "num_classes": len(CHIRP_CLASSES), "classes": CHIRP_CLASSES,
               "description": "five generated sound patterns (chirps, tones, a double beep) at "
                              "random times in 1 s of noise, 8 kHz (embedded)",
               "source": "generated by ann.data.audio.make_chirps"}
CHIRP_SIZES = {"train": 1000, "val": 200, "test": 300}


def make_chirps(n: int, seed: int, rate: int = SAMPLE_RATE) -> tuple[list[np.ndarray], list[int]]:
    """``n`` one-second clips: a 0.25 s pattern of a random class at a random onset, random
    pitch (+-15%) and loudness, in white noise."""
    rng = np.random.RandomState(seed)
    waves, labels = [], []
    t = np.arange(int(0.25 * rate)) / rate
    for _ in range(n):
        label = int(rng.randint(len(CHIRP_CLASSES)))
        k = rng.uniform(0.85, 1.15)
        if label == 0:
            phase = 2 * np.pi * (400 * k * t + 0.5 * 8000 * k * t ** 2)   # 400 -> 2400 Hz
        elif label == 1:
            phase = 2 * np.pi * (2400 * k * t - 0.5 * 8000 * k * t ** 2)  # 2400 -> 400 Hz
        elif label == 2:
            phase = 2 * np.pi * 500 * k * t
        elif label == 3:
            phase = 2 * np.pi * 2000 * k * t
        else:
            phase = 2 * np.pi * 1200 * k * t
        pattern = np.sin(phase) * np.hanning(len(t))
        if label == 4:                                                    # two short beeps
            pattern *= (np.abs(t - 0.0625) < 0.05) | (np.abs(t - 0.1875) < 0.05)
        clip = rng.normal(0, 0.05, rate)
        onset = int(rng.randint(0, rate - len(t)))
        clip[onset:onset + len(t)] += rng.uniform(0.3, 1.0) * pattern
        waves.append(clip.astype(np.float32))
        labels.append(label)
    return waves, labels


@functools.cache
def _chirps(split: str):
    seed = {"train": 0, "val": 1, "test": 2}[split]
    return make_chirps(CHIRP_SIZES[split], seed)


@register_dataset("chirps", info=CHIRPS_INFO, embedded=True)
def load_chirps(split: str) -> ArrayDataset:
    """Generated chirps and tones at random onsets: train 1,000 / val 200 / test 300 clips."""
    waves, labels = _chirps(split)
    return _finish(waves, labels, CHIRPS_INFO)
