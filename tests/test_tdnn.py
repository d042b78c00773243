"""Time-delay networks (Waibel et al. 1989; Snyder et al. 2018): the time-delay layer against an
explicit sum over delayed frames, shift invariance, chirps convergence, `ann predict` on WAV
files and bad audio through the CLI."""

import wave

import numpy as np
import pytest
import torch

import ann
from ann.data.audio import make_chirps
from ann.models.other.tdnn import shift_agreement
from ann.registry import create_model
from helpers import ann as ann_cli
from helpers import fails_cleanly


def test_time_delay_layer_is_a_weight_shared_window_over_frames():
    """Waibel's unit j at time t: tanh(b_j + sum_{d < D} sum_f W[j, f, d] x[f, t + d]),
    written out frame by frame."""
    model = create_model("tdnn", n_features=5, frames=9, num_classes=2, hidden=(4,),
                         delays=(3,)).eval()
    x = torch.randn(2, 5, 9)
    conv = model.frames[0]
    want = torch.stack([torch.tanh(conv.bias + torch.einsum("jfd,bfd->bj", conv.weight,
                                                            x[:, :, t:t + 3]))
                        for t in range(9 - 2)], -1)
    torch.testing.assert_close(model.frames(x), want, rtol=1e-5, atol=1e-5)
    evidence = model.evidence(want).mean(-1)            # integrated over time
    torch.testing.assert_close(model(x), evidence, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["tdnn", "tdnn-xvector"])
def test_a_pattern_shifted_in_time_gives_the_same_output(name):
    model = create_model(name, "tiny", frames=60).eval()
    pattern = torch.randn(1, 8, 12)
    a, b = torch.zeros(1, 8, 60), torch.zeros(1, 8, 60)
    a[..., 10:22] = pattern
    b[..., 31:43] = pattern                               # the same sound 21 frames later
    if name == "tdnn":  # time-averaged output: equal up to the changed background length
        torch.testing.assert_close(model(a), model(b), rtol=1e-5, atol=1e-5)
    else:               # statistics pooling: the multiset of frame outputs is the same
        torch.testing.assert_close(model(a), model(b), rtol=1e-4, atol=1e-4)


def _wav(path, samples, rate=8000):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_tdnn_chirps_learns_predicts_wavs_and_refuses_bad_audio(tmp_path, conv):
    run = ann.train("tdnn-chirps", {"train.epochs": 4, **conv.overrides}, out=tmp_path / "r",
                    quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.9, run.summary["test"]
    test = ann.load_dataset("chirps", "test")
    agree = shift_agreement(run.model, test.x[:100], shifts=(0, 10, 30))
    assert agree[30] >= 0.9, agree
    waves, labels = make_chirps(6, seed=5)
    files = [_wav(tmp_path / f"clip{i}.wav", w) for i, w in enumerate(waves)]
    out = ann_cli("predict", run.path, *files, "--json")
    import json

    preds = [json.loads(line)["class"] for line in out.stdout.splitlines()]
    names = run.info["classes"]
    assert sum(p == names[y] for p, y in zip(preds, labels)) >= 5
    _wav(tmp_path / "fast.wav", waves[0], rate=16000)
    (tmp_path / "notes.wav").write_text("this is text, not audio")
    fails_cleanly(ann_cli("predict", run.path, tmp_path / "fast.wav", check=False),
                  "16000 Hz", "8000 Hz")
    fails_cleanly(ann_cli("predict", run.path, tmp_path / "notes.wav", check=False),
                  "not a readable WAV")
