"""``audio-folder``: a folder of the user's own WAV recordings, one subfolder per class, at any
sample rate, channel count and PCM width: the WAV reader, the resampler (against the exact
signal and scipy), the dataset, a TDNN trained on it, ``ann predict`` on a file and a folder,
and each bad input in one line."""

import json
import math
import struct
import wave

import numpy as np
import pytest
import torch
from conftest import real_data

import ann
from ann.data import audio
from ann.data.audiofolder import AUTO_SECONDS_LIMIT, KIND, _recording
from ann.data.classfolders import labelled_files
from ann.errors import AnnError
from ann.registry import dataset_entry, load_dataset
from helpers import ann as ann_cli
from helpers import fails_cleanly

CLASSES = ("chirp", "high", "low")                    # sorted, as the folder names are
RATES, WIDTHS = (8000, 16000, 11025), (2, 1, 3, 4)
QUICK = {"train.epochs": 0, "train.max_steps": 60, "train.eval_every": 30,
         "train.batch_size": 16, "data.test_fraction": 0.25, "data.max_seconds": 0.5}


# -- writing WAV files (the stdlib's wave module, or bytes by hand for what it cannot write) --
def pcm(samples: np.ndarray, width: int) -> bytes:
    """Samples in [-1, 1] as little-endian integer PCM of ``width`` bytes (8-bit unsigned)."""
    if width == 1:
        return (np.round(samples * 127) + 128).astype(np.uint8).tobytes()
    ints = np.round(samples * (2 ** (8 * width - 1) - 1)).astype("<i4")
    if width == 3:
        return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return ints.astype({2: "<i2", 4: "<i4"}[width]).tobytes()


def write_wav(path, samples, rate=8000, channels=1, width=2):
    """A PCM WAV through ``wave``; ``channels`` copies of the signal, the second at 0.8 times
    (so the mono mix is 0.9 times it)."""
    frames = np.stack([samples * (1.0 if c == 0 else 0.8) for c in range(channels)], 1)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(pcm(frames.reshape(-1), width))
    return path


PCM_GUID = bytes.fromhex("0100000000001000800000aa00389b71")
FLOAT_GUID = bytes.fromhex("0300000000001000800000aa00389b71")


def riff(tag: int, channels: int, rate: int, bits: int, data: bytes, guid: bytes = b"",
         extra_chunk: bytes = b"") -> bytes:
    """A RIFF/WAVE file by hand: a fmt chunk (WAVE_FORMAT_EXTENSIBLE when ``guid`` is given),
    an optional chunk before the data, and the data chunk."""
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if guid else tag, channels, rate, rate * align, align, bits)
    if guid:
        fmt += struct.pack("<HHI", 22, bits, 0) + guid
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunk
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def sound(kind: str, rate: int, rng: np.random.RandomState) -> np.ndarray:
    """0.5-0.9 s of faint noise with a 0.3 s pattern at a random onset: a low tone, a high tone
    or a rising chirp, pitch +-10%, random loudness."""
    n, m = int(rng.uniform(0.5, 0.9) * rate), int(0.3 * rate)
    t, k = np.arange(m) / rate, rng.uniform(0.9, 1.1)
    phase = {"low": 2 * np.pi * 400 * k * t, "high": 2 * np.pi * 1800 * k * t,
             "chirp": 2 * np.pi * k * (500 * t + 0.5 * (2000 / 0.3) * t ** 2)}[kind]
    clip = rng.normal(0, 0.02, n)
    onset = rng.randint(0, n - m)
    clip[onset:onset + m] += rng.uniform(0.3, 0.8) * np.sin(phase) * np.hanning(m)
    return clip


def write_class(folder, kind: str, count: int, seed: int):
    """``count`` recordings of ``kind``, cycling through 8/11.025/16 kHz, mono and stereo and
    8/16/24/32-bit PCM: what a folder gathered from several recorders looks like."""
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rate = RATES[i % 3]
        write_wav(folder / f"{kind}{i}.wav", sound(kind, rate, rng), rate, 1 + (i // 3) % 2,
                  WIDTHS[i % 4])


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    root = tmp_path_factory.mktemp("recordings")
    for seed, kind in enumerate(CLASSES):
        write_class(root / kind, kind, 24, seed)
    return root


def two_tones(root, count=6, classes=("a", "b")):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            t = np.arange(4000) / 8000
            write_wav(root / name / f"{i}.wav", 0.5 * np.sin(2 * np.pi * (300 + 900 * c) * t))
    return root


# -- the WAV reader ----------------------------------------------------------------------------
@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_widths_and_channels_read_as_written(tmp_path, width):
    x = np.random.RandomState(width).uniform(-0.9, 0.9, 500)
    write_wav(tmp_path / "a.wav", x, 11025, channels=2, width=width)
    samples, rate = audio.read_wav(tmp_path / "a.wav")
    # the integers written, by their own scale: 8-bit unsigned around 128, the others signed
    ints = np.frombuffer(pcm(np.stack([x, 0.8 * x], 1).reshape(-1), width), np.uint8)
    if width == 1:
        want = (ints.astype(np.float64) - 128) / 128
    else:
        b = ints.reshape(-1, width).astype(np.int64)
        v = sum(b[:, i] << (8 * i) for i in range(width))
        want = np.where(v >= 2 ** (8 * width - 1), v - 2 ** (8 * width), v) / 2.0 ** (8 * width - 1)
    assert rate == 11025 and len(samples) == 500
    np.testing.assert_allclose(samples, want.reshape(-1, 2).mean(1), atol=1e-6)
    np.testing.assert_allclose(samples, 0.9 * x, atol=2.5 / 2 ** (8 * width - 1))


def test_extensible_pcm_odd_chunks_and_a_streamed_size(tmp_path):
    x = np.linspace(-0.5, 0.5, 300)
    data = pcm(np.stack([x, x], 1).reshape(-1), 3)
    listing = b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"        # odd size, padded
    (tmp_path / "ext.wav").write_bytes(riff(1, 2, 48000, 24, data, PCM_GUID, listing))
    samples, rate = audio.read_wav(tmp_path / "ext.wav")
    assert rate == 48000
    np.testing.assert_allclose(samples, x, atol=1e-6)
    streamed = bytearray(riff(1, 1, 8000, 16, pcm(x, 2)))
    streamed[-len(x) * 2 - 4:-len(x) * 2] = b"\xff\xff\xff\xff"    # size never filled in
    (tmp_path / "stream.wav").write_bytes(bytes(streamed))
    assert len(audio.read_wav(tmp_path / "stream.wav")[0]) == 300


# -- the resampler -----------------------------------------------------------------------------
PAIRS = [(16000, 8000), (44100, 8000), (11025, 8000), (8000, 16000), (8000, 11025),
         (48000, 16000)]


def tones(rate: int, n: int, freqs, phases) -> np.ndarray:
    t = np.arange(n) / rate
    return sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases)) / len(freqs)


@pytest.mark.parametrize("rate_in,rate_out", PAIRS)
def test_resampled_tones_are_the_tones_at_the_new_rate(rate_in, rate_out):
    """Tones below 0.7 of the lower Nyquist frequency come out as the same tones sampled at the
    new rate (the exact answer), away from the ends, where the recording's zeros beyond its
    edges count."""
    rng = np.random.RandomState(rate_in + rate_out)
    nyquist = min(rate_in, rate_out) / 2
    freqs, phases = rng.uniform(50, 0.7 * nyquist, 4), rng.uniform(0, 2 * np.pi, 4)
    y = audio.resample(tones(rate_in, rate_in, freqs, phases), rate_in, rate_out)
    assert len(y) == rate_out and y.dtype == np.float32                # one second
    want = tones(rate_out, rate_out, freqs, phases)
    inner = slice(rate_out // 20, -rate_out // 20)
    assert np.abs(y - want)[inner].max() < 1e-3                        # measured <= 7e-5


def test_frequencies_the_new_rate_cannot_hold_are_removed_not_aliased():
    """16 kHz -> 8 kHz: a 4.4 kHz tone (above the new 4 kHz Nyquist) would fold onto 3.6 kHz
    if the samples were merely dropped; the low-pass removes it (measured -79 dB). A 3 kHz
    tone passes (measured +0.001 dB), a constant stays constant."""
    def level(f):
        t = np.arange(32000) / 16000
        y = audio.resample(np.sin(2 * np.pi * f * t), 16000, 8000)[1000:-1000]
        return math.sqrt(2 * np.mean(y.astype(np.float64) ** 2))

    assert level(4400) < 1e-3
    assert abs(level(3000) - 1) < 0.01
    flat = audio.resample(np.full(1000, 0.25), 22050, 8000)
    np.testing.assert_allclose(flat[50:-50], 0.25, atol=1e-6)
    assert len(audio.resample(np.zeros(1001), 44100, 8000)) == math.ceil(1001 * 8000 / 44100)


@pytest.mark.parametrize("rate_in,rate_out", PAIRS)
def test_resampler_agrees_with_scipy(rate_in, rate_out):
    """scipy.signal.resample_poly (a Kaiser-windowed FIR of its own design, cutoff at the
    Nyquist frequency) on a mix of tones inside both filters' pass bands: the two filters
    differ in their ripple, not in the signal (measured <= 1.2e-3; float64 inside both, so the
    bound is about the filters, not about rounding)."""
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.RandomState(7)
    nyquist = min(rate_in, rate_out) / 2
    x = tones(rate_in, rate_in // 2, rng.uniform(50, 0.7 * nyquist, 5), rng.uniform(0, 6, 5))
    g = math.gcd(rate_in, rate_out)
    want = signal.resample_poly(x, rate_out // g, rate_in // g)
    y = audio.resample(x, rate_in, rate_out)
    assert y.shape == want.shape
    inner = slice(rate_out // 20, -rate_out // 20)
    assert np.abs(y - want)[inner].max() < 5e-3


# -- the dataset -------------------------------------------------------------------------------
def test_registered_with_its_options():
    entry = dataset_entry("audio-folder")
    assert entry.embedded and entry.info["task"] == "classify"
    assert entry.info["modality"] == "audio" and entry.info["resample"]
    assert entry.option_names == ("path", "sample_rate", "max_seconds", "feature_kind",
                                  "normalise", "val_fraction", "test_fraction", "split_seed")


def test_classes_features_length_and_training_statistics(recordings):
    splits = {s: load_dataset("audio-folder", s, path=str(recordings), test_fraction=0.25,
                                   normalise="global")
              for s in ("train", "val", "test")}
    info = splits["train"].info
    assert tuple(info["classes"]) == CLASSES and info["num_classes"] == 3
    assert info["sample_rate"] == 8000 and info["features"]["kind"] == "logmel"
    assert set(info["fills"]) >= {"n_features", "frames", "num_classes", "classes"}
    # stratified: every class in every split, 24 per class in all
    counts = {s: torch.bincount(d.y, minlength=3).tolist() for s, d in splits.items()}
    assert counts["test"] == [6, 6, 6] and counts["val"] == [2, 2, 2]
    # the length: the longest training recording (at 8 kHz), rounded up to 10 ms
    _, files = labelled_files(recordings, KIND, 0.1, 0.25, 0)
    longest = max(len(_recording(f, 8000)) for f, _ in files["train"]) / 8000
    assert info["max_seconds"] == math.ceil(longest * 100) / 100
    assert info["frames"] == 1 + int(info["max_seconds"] * 8000 + 1e-6) // 80
    assert splits["train"].x.shape[1:] == (40, info["frames"])
    # mean/std are the training frames' per coefficient: standardised, they are 0 and 1
    x = splits["train"].x
    assert torch.allclose(x.mean((0, 2)), torch.zeros(40), atol=1e-4)
    assert torch.allclose(x.std((0, 2), correction=0), torch.ones(40), atol=1e-3)
    assert len(info["mean"]) == len(info["std"]) == 40


def test_a_recording_at_another_rate_and_channel_count_reads_as_the_same_sound(tmp_path):
    """The same band-limited signal written at 8 kHz mono 16-bit and at 44.1 kHz stereo
    24-bit comes out of the reader and resampler as the same 8 kHz waveform."""
    rng = np.random.RandomState(3)
    freqs, phases = rng.uniform(100, 2500, 6), rng.uniform(0, 6, 6)
    write_wav(tmp_path / "a.wav", 0.5 * tones(8000, 4000, freqs, phases), 8000)
    write_wav(tmp_path / "b.wav", 0.5 / 0.9 * tones(44100, 22050, freqs, phases), 44100,
              channels=2, width=3)
    a, b = _recording(tmp_path / "a.wav", 8000), _recording(tmp_path / "b.wav", 8000)
    assert len(a) == len(b) == 4000
    assert np.abs(a - b)[200:-200].max() < 2e-3


def test_predict_reads_a_file_as_training_did(recordings):
    """``read_audio_file`` (what ``ann predict`` runs) on a training file, a 16 kHz stereo one
    included, gives that file's row of the training split."""
    data = load_dataset("audio-folder", "train", path=str(recordings), split_seed=2,
                        normalise="global")
    test = load_dataset("audio-folder", "test", path=str(recordings), split_seed=2,
                        normalise="global")
    rows = {}
    for c in CLASSES:                               # every file's features, by hand, per split
        for f in sorted((recordings / c).iterdir()):
            rows[f] = audio.read_audio_file(f, data.info)[0]
    for split in (data, test):
        matched = sum(any(torch.allclose(x, r, atol=1e-4) for r in rows.values()) for x in split.x)
        assert matched == len(split)
    assert data.info["mean"] == test.info["mean"]    # the training statistics, for every split


def test_options_mfcc_utterance_rate_and_length(recordings):
    data = load_dataset("audio-folder", "train", path=str(recordings), feature_kind="mfcc",
                        normalise="utterance", sample_rate=16000, max_seconds=0.5)
    info = data.info
    assert info["n_features"] == 13 and info["features"]["n_fft"] == 512      # 400-sample window
    assert info["frames"] == 1 + 8000 // 160 and "mean" not in info
    assert data.x.shape[1:] == (13, 51)
    assert torch.allclose(data.x.mean(-1), torch.zeros(1), atol=1e-4)        # per recording


def test_the_split_is_seeded_and_split_folders_are_used_as_given(recordings, tmp_path):
    a, b, c = (load_dataset("audio-folder", "test", path=str(recordings), split_seed=s).x
               for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    root = tmp_path / "r"
    two_tones(root / "train", count=8)
    two_tones(root / "test", count=3)
    sizes = {s: len(load_dataset("audio-folder", s, path=str(root), val_fraction=0.25))
             for s in ("train", "val", "test")}
    assert sizes == {"train": 12, "val": 4, "test": 6}     # val carved from train/, test as given


def test_the_automatic_length_is_the_longest_training_recording_up_to_a_limit(tmp_path):
    root = tmp_path / "r"
    for split, count in (("train", 4), ("val", 2), ("test", 2)):
        two_tones(root / split, count=count)                         # 0.5 s each
    write_wav(root / "test" / "a" / "long.wav", np.full(8000 * 2, 0.01))   # not training
    assert load_dataset("audio-folder", "train", path=str(root)).info["max_seconds"] == 0.5
    write_wav(root / "train" / "a" / "long.wav", np.full(8000 * 6, 0.01))
    info = load_dataset("audio-folder", "train", path=str(root)).info
    assert info["max_seconds"] == AUTO_SECONDS_LIMIT and info["frames"] == 401


# -- bad input: one line naming the file or folder, no run directory ----------------------------
def bad(tmp_path, case):
    root = tmp_path / "rec"
    root.mkdir()
    if case == "empty":
        return root, (str(root), "empty")
    if case == "unseen class":
        two_tones(root / "train")
        two_tones(root / "val", count=2, classes=("a", "c"))
        return root, (str(root / "val" / "c"), "'c'", "train")
    two_tones(root, classes=("a",) if case == "one class" else ("a", "b"))
    x = np.sin(np.arange(800) / 5)
    if case == "one class":
        return root, (str(root), "1 class folder", "at least 2")
    if case == "float":
        (root / "b" / "float.wav").write_bytes(riff(3, 1, 8000, 32, x.astype("<f4").tobytes()))
        return root, ("float.wav", "IEEE float", "format tag 3", "not integer PCM", "pcm_s16le")
    if case == "extensible float":
        data = x.astype("<f4").tobytes()
        (root / "b" / "ext.wav").write_bytes(riff(3, 1, 8000, 32, data, FLOAT_GUID))
        return root, ("ext.wav", "IEEE float", "convert")
    if case == "compressed":
        (root / "a" / "song.wav").write_bytes(riff(0x55, 1, 8000, 0, b"\xff\xfb" * 200))
        return root, ("song.wav", "MP3", "not integer PCM", "convert")
    if case == "truncated":
        write_wav(root / "b" / "cut.wav", x)
        (root / "b" / "cut.wav").write_bytes((root / "b" / "cut.wav").read_bytes()[:900])
        return root, ("cut.wav", "cut short", "1,600 bytes")
    if case == "garbage":
        (root / "a" / "notes.wav").write_text("this is text, not audio")
        return root, ("notes.wav", "not a readable WAV")
    if case == "file type":
        (root / "b" / "notes.txt").write_text("hello")
        return root, ("notes.txt", ".txt", ".wav")
    raise AssertionError(case)


CASES = ("empty", "one class", "float", "extensible float", "compressed", "truncated",
         "garbage", "file type", "unseen class")


@pytest.mark.parametrize("case", CASES)
def test_bad_folders_fail_in_one_line_before_a_run_directory(tmp_path, case):
    root, words = bad(tmp_path, case)
    with pytest.raises(AnnError) as caught:
        ann.train("tdnn-chirps", {"data.name": "audio-folder", "data.path": str(root)},
                  out=tmp_path / "run", quiet=True)
    line = str(caught.value)
    assert "\n" not in line
    for w in words:
        assert w in line, (w, line)
    assert not (tmp_path / "run").exists()


def test_bad_folder_on_the_command_line(tmp_path):
    root, _ = bad(tmp_path, "float")
    fails_cleanly(ann_cli("train", "tdnn-fsdd", "data.name=audio-folder", f"data.path={root}",
                          "--out", tmp_path / "run", check=False), "float.wav", "IEEE float")
    assert not (tmp_path / "run").exists()


# -- training and prediction -------------------------------------------------------------------
def test_a_tdnn_learns_the_recordings(recordings, tmp_path, conv):
    run = ann.train("tdnn-chirps", {"data.name": "audio-folder", "data.path": str(recordings),
                                    **QUICK, **conv.overrides}, out=tmp_path / "run", quiet=True)
    assert run.config.model.n_features == 40 and run.config.model.num_classes == 3
    assert run.config.model.frames == run.info["frames"]
    assert run.summary["test"]["accuracy"] >= 0.75, run.summary   # chance 1/3; 18 test files
    assert "baselines" in run.summary


@pytest.fixture(scope="module")
def xvector_run(recordings, tmp_path_factory):
    """The README's command, ``ann train tdnn-fsdd data.name=audio-folder data.path=...``, with
    a narrow x-vector TDNN trained for a few steps (no accuracy is claimed of it)."""
    out = tmp_path_factory.mktemp("runs") / "xvector"
    ann.train("tdnn-fsdd", {"data.name": "audio-folder", "data.path": str(recordings),
                            "data.normalise": "global", "model.channels": 16,
                            "model.pool_dim": 16, "model.embed_dim": 16,
                            **QUICK, "train.max_steps": 20}, out=out, quiet=True)
    return out


def test_the_run_records_the_folder_and_its_facts(xvector_run, recordings):
    config = json.loads((xvector_run / "config.json").read_text())
    assert config["data"]["name"] == "audio-folder" and config["data"]["path"] == str(recordings)
    facts = json.loads((xvector_run / "data.json").read_text())
    assert facts["classes"] == list(CLASSES) and facts["sample_rate"] == 8000
    assert facts["max_seconds"] == 0.5 and facts["frames"] == 51 == config["model"]["frames"]
    assert len(facts["mean"]) == 40 and facts["features"]["kind"] == "logmel"


def test_cli_predicts_a_file_at_another_rate_and_a_folder_with_class_names(xvector_run,
                                                                         recordings, tmp_path):
    new = write_wav(tmp_path / "new.wav", sound("high", 22050, np.random.RandomState(9)), 22050,
                    channels=2, width=3)
    lines = ann_cli("predict", xvector_run, new, recordings / "low").stdout.splitlines()
    files = [new, *sorted((recordings / "low").iterdir())]
    assert len(lines) == len(files) == 25
    assert all(line.startswith(f"{f}: ") and line.split()[1] in CLASSES
               for line, f in zip(lines, files))
    # the numbers of reading the new file the run's way in this process
    run = ann.load(xvector_run)
    want = run.predict(audio.read_audio_file(new, run.info))[0]
    assert f"({CLASSES[int(want.argmax())]} {float(want.max()):.3f}, " in lines[0]


# -- the Free Spoken Digit Dataset as class folders (optional: $ANN_DATA_DIR) --------------------
def test_fsdd_as_class_folders_matches_the_built_in_loader(tmp_path):
    """FSDD's recordings linked into train/ val/ test/ digit folders by the built-in split: the
    same recordings per split and class, and with the built-in settings (1 s, per-utterance
    normalisation) the same features."""
    folder = real_data("fsdd") / "recordings"
    rows = audio._fsdd_files(str(folder))
    names = sorted(p for p in folder.glob("*.wav") if audio._NAME.match(p.name))
    for split in ("train", "val", "test"):
        for i in audio.fsdd_split(rows, split):
            digit = names[i].name.split("_")[0]
            (tmp_path / split / digit).mkdir(parents=True, exist_ok=True)
            (tmp_path / split / digit / names[i].name).symlink_to(names[i])
    for split in ("train", "val", "test"):
        idx = audio.fsdd_split(rows, split)
        ours = load_dataset("audio-folder", split, path=str(tmp_path), normalise="utterance",
                            max_seconds=1.0)
        theirs = load_dataset("fsdd", split)
        assert len(ours) == len(theirs) == len(idx)
        assert torch.equal(torch.bincount(ours.y), torch.bincount(theirs.y))
        # ours lists the recordings by digit folder, then name; theirs by name
        order = sorted(range(len(idx)), key=lambda j: (rows[idx[j]][1], names[idx[j]].name))
        torch.testing.assert_close(ours.x, theirs.x[order], rtol=0, atol=1e-5)
