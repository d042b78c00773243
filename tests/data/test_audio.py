"""Audio: WAV reading, speech features against numpy/scipy references, the chirps and FSDD sets."""

import wave

import numpy as np
import pytest
import torch
from conftest import real_data

from ann.data import audio
from ann.errors import AnnError


def write_wav(path, samples, rate=8000, width=2):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_wav_round_trip_and_bad_files(tmp_path):
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(800) / 8000)
    samples, rate = audio.read_wav(write_wav(tmp_path / "a.wav", tone))
    assert rate == 8000 and len(samples) == 800
    np.testing.assert_allclose(samples, tone, atol=1e-4)
    (tmp_path / "b.wav").write_text("not audio at all")
    with pytest.raises(AnnError, match="not a readable WAV"):
        audio.read_wav(tmp_path / "b.wav")
    write_wav(tmp_path / "c.wav", tone, rate=16000)
    with pytest.raises(AnnError, match="16000 Hz"):
        audio.read_audio_file(tmp_path / "c.wav", audio.FSDD_INFO)


def test_stft_power_matches_numpy_fft():
    """One frame of the log-mel pipeline against numpy's FFT of the same Hann-windowed frame."""
    rng = np.random.RandomState(0)
    x = rng.randn(2000).astype(np.float32)
    spec = torch.stft(torch.tensor(x), n_fft=256, hop_length=80, win_length=200,
                      window=torch.hann_window(200), center=False, return_complex=True)
    frame = x[400:656].copy()
    win = np.zeros(256)
    win[28:228] = np.sin(np.pi * np.arange(200) / 200) ** 2         # periodic Hann, centred
    want = np.abs(np.fft.rfft(frame * win)) ** 2
    np.testing.assert_allclose((spec[:, 5].abs() ** 2).numpy(), want, rtol=1e-3, atol=1e-3)


def test_mfcc_is_scipy_dct_of_logmel():
    from scipy.fft import dct

    wave_ = torch.randn(1, 4000)
    logmel = audio.features(wave_, kind="logmel")
    mfcc = audio.features(wave_, kind="mfcc", n_mfcc=13)
    want = dct(logmel[0].numpy(), type=2, norm="ortho", axis=0)[:13]
    np.testing.assert_allclose(mfcc[0].numpy(), want, rtol=1e-4, atol=1e-3)


def test_a_tone_lights_its_own_mel_band():
    fb = audio.mel_filterbank(40, 256, 8000)
    assert fb.shape == (129, 40) and (fb >= 0).all()
    for hz in (300, 1000, 3000):
        tone = torch.tensor(np.sin(2 * np.pi * hz * np.arange(8000) / 8000), dtype=torch.float32)
        band = int(audio.features(tone[None])[0].mean(-1).argmax())
        centre = int(fb[:, band].argmax()) * 8000 / 256
        assert abs(centre - hz) < 0.15 * hz + 40, (hz, centre)


def test_fix_length_pads_or_keeps_the_loudest_part():
    assert len(audio.fix_length(np.ones(10, np.float32), 25)) == 25
    x = np.zeros(100, np.float32)
    x[70:80] = 1
    assert audio.fix_length(x, 20).sum() == 10


def test_chirps_are_balanced_and_normalised():
    data = audio.load_chirps("val")
    assert data.x.shape == (200, 40, 101)
    counts = torch.bincount(data.y, minlength=5)
    assert counts.min() >= 25
    assert data.x.mean(-1).abs().max() < 1e-4          # per-utterance CMVN


def test_fsdd_splits():
    real_data("fsdd")
    rows = audio._fsdd_files(str(audio._fsdd_folder()))
    sizes = {s: len(audio.fsdd_split(rows, s)) for s in ("train", "val", "test")}
    assert sizes == {"train": 2400, "val": 300, "test": 300}
    held = {s: len(audio.fsdd_split(rows, s, "theo")) for s in ("train", "val", "test")}
    assert held == {"train": 2250, "val": 250, "test": 500}
    with pytest.raises(AnnError, match="not an FSDD speaker"):
        audio.fsdd_split(rows, "test", "nobody")
