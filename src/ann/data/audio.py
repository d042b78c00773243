"""Audio: WAV reading, resampling, speech features computed with ``torch.stft``, and the audio
datasets.

WAV files (:func:`read_wav`, no dependency): integer PCM of 8 (unsigned), 16, 24 or 32 bits,
plain or WAVE_FORMAT_EXTENSIBLE, any number of channels (averaged to mono); float, compressed
and cut-short files are refused naming the file. :func:`resample` changes the sample rate by
band-limited (Kaiser-windowed sinc, polyphase) interpolation.

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

Your own recordings: ``audio-folder`` (:mod:`ann.data.audiofolder`), which resamples them.
"""

from __future__ import annotations

import functools
import math
import re
import struct
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

# WAV format tags (the fmt chunk's first field) of encodings that are not integer PCM, by name.
WAV_ENCODINGS = {2: "Microsoft ADPCM", 3: "IEEE float", 6: "A-law", 7: "mu-law",
                 0x11: "IMA ADPCM", 0x31: "GSM 6.10", 0x55: "MP3", 0x161: "Windows Media Audio"}
WAVE_FORMAT_PCM, WAVE_FORMAT_EXTENSIBLE = 1, 0xFFFE
UNKNOWN_SIZE = 0xFFFFFFFF            # a data chunk written while streaming, size never filled in


def _not_wav(path: Path, why: str) -> AnnError:
    return AnnError(f"{path} is not a readable WAV file ({why}); give a PCM .wav recording")


def _wav_chunks(path: Path, raw: bytes) -> tuple[bytes, bytes]:
    """The ``fmt `` and ``data`` chunks of a RIFF/WAVE file's bytes; a data chunk shorter than
    its header says is refused (the file was cut short)."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise _not_wav(path, "an RF64 (64-bit) WAV; save it as a plain WAV" if raw[:4] == b"RF64"
                       else "no RIFF/WAVE header")
    fmt, pos = None, 12
    while pos + 8 <= len(raw):
        name, size = raw[pos:pos + 4], int.from_bytes(raw[pos + 4:pos + 8], "little")
        body = raw[pos + 8:pos + 8 + size]
        if name == b"fmt ":
            fmt = body
        elif name == b"data" and fmt is not None:
            if size == UNKNOWN_SIZE:
                return fmt, raw[pos + 8:]
            if len(body) < size:
                raise AnnError(f"{path} is cut short: its header promises {size:,} bytes of audio "
                               f"but the file holds {len(body):,}; copy or export the recording "
                               "again")
            return fmt, body
        pos += 8 + size + (size & 1)                      # chunks are padded to even sizes
    raise _not_wav(path, "no 'fmt ' chunk" if fmt is None else "no 'data' chunk: cut short or "
                   "corrupt")


def _pcm_layout(path: Path, fmt: bytes) -> tuple[int, int, int]:
    """``(channels, rate, bytes per sample)`` of an integer PCM fmt chunk (plain or
    WAVE_FORMAT_EXTENSIBLE); every other encoding is refused naming it."""
    if len(fmt) < 16:
        raise _not_wav(path, f"a {len(fmt)}-byte 'fmt ' chunk; it has 16 or more")
    tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")        # the sub-format GUID starts with it
    if tag != WAVE_FORMAT_PCM:
        kind = WAV_ENCODINGS.get(tag, "an unknown encoding")
        raise AnnError(f"{path} holds {kind} audio (WAV format tag {tag}), not integer PCM; "
                       f"convert it, e.g. `ffmpeg -i {path.name} -c:a pcm_s16le "
                       f"{path.stem}-pcm.wav` or `sox {path.name} -b 16 -e signed-integer "
                       f"{path.stem}-pcm.wav`")
    if channels == 0 or rate == 0:
        raise _not_wav(path, f"its header gives {channels} channels at {rate} Hz")
    width = align // channels if align else (bits + 7) // 8    # the container, >= valid bits
    if width not in (1, 2, 3, 4):
        raise AnnError(f"{path} holds {8 * width}-bit samples; give 8, 16, 24 or 32-bit PCM "
                       "audio")
    return channels, rate, width


def _decode(data: bytes, width: int) -> np.ndarray:
    """Little-endian integer PCM samples as float32 in [-1, 1]; 8-bit WAV is unsigned."""
    if width == 1:
        return (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 3:                                        # three bytes, sign-extended
        b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    dtype = {2: "<i2", 4: "<i4"}[width]
    return (np.frombuffer(data, dtype).astype(np.float64) / 2.0 ** (8 * width - 1)
            ).astype(np.float32)


def read_wav(path) -> tuple[np.ndarray, int]:
    """Samples (float32 in [-1, 1], channels averaged to mono) and the sample rate of an
    integer PCM WAV file (8, 16, 24 or 32-bit; plain or WAVE_FORMAT_EXTENSIBLE); one clear
    error naming the file for anything else: another encoding (float, compressed), a cut-short
    or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise AnnError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise AnnError(f"{path}: cannot be read ({e.strerror}); check its permissions") from None
    fmt, data = _wav_chunks(path, raw)
    channels, rate, width = _pcm_layout(path, fmt)
    frame = width * channels
    samples = _decode(data[:len(data) - len(data) % frame], width)   # whole frames only
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(1)
    if len(samples) == 0:
        raise AnnError(f"{path} holds no audio samples; give a non-empty recording")
    return samples, rate


# ------------------------------------------------------------------------------- resampling

RESAMPLE_ZEROS = 24       # zero crossings of the windowed sinc on each side
RESAMPLE_ROLLOFF = 0.9    # the low-pass cutoff, as a fraction of the lower of the two Nyquists
RESAMPLE_BETA = 7.0       # Kaiser window shape: side lobes about 70 dB down


@functools.lru_cache(maxsize=16)
def _phase_taps(up: int, down: int) -> tuple[np.ndarray, int]:
    """``(taps (up, 2 half), half)``: the low-pass interpolation filter of each of the ``up``
    output phases (see :func:`resample`), each scaled to sum 1."""
    fc = RESAMPLE_ROLLOFF * min(1.0, up / down)           # cutoff, fraction of the input Nyquist
    half = math.ceil(RESAMPLE_ZEROS / fc)                 # reach, in input samples
    frac = np.arange(up)[:, None] / up                    # (up, 1) where t falls between samples
    d = frac + (half - 1) - np.arange(2 * half)[None]     # (up, 2 half) t - k, in [-half, half)
    window = np.i0(RESAMPLE_BETA * np.sqrt(np.clip(1 - (d / half) ** 2, 0, 1))) / np.i0(RESAMPLE_BETA)
    taps = fc * np.sinc(fc * d) * window
    taps /= taps.sum(1, keepdims=True)
    taps.setflags(write=False)
    return taps, half


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (windowed-sinc interpolation, Smith's method).

    Output sample ``n`` sits at ``t = n * rate_in / rate_out`` input samples and is
    ``sum_k x[k] h(t - k)``, zero outside the recording, where ``h`` is an ideal low-pass at
    ``RESAMPLE_ROLLOFF`` times the lower Nyquist frequency (a sinc) under a Kaiser window
    reaching ``RESAMPLE_ZEROS`` zero crossings each side: frequencies the new rate cannot hold
    are removed before they could alias. ``t``'s fraction takes only ``rate_out / gcd`` values,
    so the filter of each is computed once (polyphase) and scaled to sum 1 (a constant stays
    constant). Float64 inside.

    Shapes: (S,) -> (ceil(S * rate_out / rate_in),) float32.
    """
    if rate_in == rate_out:
        return np.asarray(samples, dtype=np.float32)
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    taps, half = _phase_taps(up, down)
    x = np.pad(np.asarray(samples, dtype=np.float64), (half - 1, half))
    n_out = -(-len(samples) * up // down)
    out = np.empty(n_out)
    reach = np.arange(2 * half)
    step = max(1, (1 << 20) // (2 * half))                # outputs per block: bounded memory
    for start in range(0, n_out, step):
        n = np.arange(start, min(start + step, n_out))
        base, phase = np.divmod(n * down, up)             # t = base + phase / up
        out[n] = np.einsum("nk,nk->n", x[base[:, None] + reach], taps[phase])
    return out.astype(np.float32)


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


def normalise(x: torch.Tensor, info: dict) -> torch.Tensor:
    """Features standardised as ``info`` says: per coefficient by the training split's mean
    and std where ``info["normalise"]`` is ``"global"`` (``audio-folder``'s default), else per
    utterance (:func:`standardise`, the built-in datasets').

    Shapes: (B, F, T) -> (B, F, T)."""
    if info.get("normalise") != "global":
        return standardise(x)
    mean = torch.tensor(info["mean"], dtype=x.dtype).view(-1, 1)
    std = torch.tensor(info["std"], dtype=x.dtype).view(-1, 1)
    return (x - mean) / std


def read_audio_file(path, info: dict) -> torch.Tensor:
    """One WAV file as the normalised (1, F, T) features a model of this dataset takes. A
    recording at another sample rate is resampled where the dataset's ``info`` says
    ``resample`` (``audio-folder``), else refused (the built-in datasets: resample it first)."""
    samples, rate = read_wav(path)
    if rate != info["sample_rate"]:
        if not info.get("resample"):
            raise AnnError(f"{path} is sampled at {rate} Hz but the model was trained on "
                           f"{info['sample_rate']} Hz audio; resample it first (e.g. `sox "
                           f"{Path(path).name} -r {info['sample_rate']} out.wav`)")
        samples = resample(samples, rate, info["sample_rate"])
    return normalise(waves_to_features([samples], info), info)


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
