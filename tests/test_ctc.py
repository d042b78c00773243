"""Speech recognition with CTC: greedy and prefix beam decoding on hand-written scores against
an enumeration of every path, the loss against the same enumeration, WER/CER against `jiwer`,
the tone digit strings learnt at tiny size, `ann transcribe` on WAV files the test writes and
bad audio through the CLI; and the recurrent classifier reading audio frames (the
`lstm-digits-rows data.name=fsdd` crash)."""

import itertools
import json
import math
import random
import wave

import numpy as np
import pytest
import torch

import ann
from ann.data.digit_strings import join_digits, tone_pool
from ann.metrics import cer, wer
from ann.tasks.transcribe import Transcription, beam_decode, greedy_decode, targets
from helpers import ann as ann_cli
from helpers import fails_cleanly


def _collapse(path):
    out, prev = [], 0
    for k in path:
        if k != prev and k != 0:
            out.append(k - 1)
        prev = k
    return tuple(out)


def _string_probs(log_probs):
    """Every label string's probability, by enumerating all paths (the definition of CTC)."""
    probs = log_probs.double().exp()
    T, C = probs.shape
    total = {}
    for path in itertools.product(range(C), repeat=T):
        p = math.prod(probs[t, k].item() for t, k in enumerate(path))
        total[_collapse(path)] = total.get(_collapse(path), 0.0) + p
    return total


def test_greedy_merges_repeats_and_drops_blanks():
    # best classes per step: 2 2 0 2 3 3 0 1 -> labels (class - 1): 1, 1, 2, 0
    best = [2, 2, 0, 2, 3, 3, 0, 1]
    scores = torch.full((len(best), 4), -5.0)
    scores[torch.arange(len(best)), torch.tensor(best)] = 0.0
    assert greedy_decode(scores.log_softmax(-1)) == [1, 1, 2, 0]
    assert greedy_decode(scores.log_softmax(-1), length=3) == [1]    # frames past the length


def test_beam_finds_the_string_greedy_misses():
    # blank 0.6, "a" 0.4 at both steps: the best path is blank-blank (""), p = 0.36, but "a"
    # has three paths (a-, -a, aa) worth 0.24 + 0.24 + 0.16 = 0.64
    lp = torch.tensor([[0.6, 0.4], [0.6, 0.4]]).log()
    assert greedy_decode(lp) == []
    assert beam_decode(lp, beam=3) == [0]
    probs = _string_probs(lp)
    assert probs[(0,)] == pytest.approx(0.64) and probs[()] == pytest.approx(0.36)


@pytest.mark.parametrize("seed", range(6))
def test_beam_search_matches_the_best_string_by_enumeration(seed):
    g = torch.Generator().manual_seed(seed)
    lp = (torch.randn(5, 3, generator=g) * 1.5).log_softmax(-1)
    probs = _string_probs(lp)
    best = max(probs, key=probs.get)
    assert tuple(beam_decode(lp, beam=16)) == best


def test_ctc_loss_is_minus_log_of_the_summed_paths():
    g = torch.Generator().manual_seed(0)
    lp = torch.randn(1, 5, 4, generator=g).log_softmax(-1)            # (B, T, 1 + C)

    class Scores(torch.nn.Module):
        def forward(self, x, lengths):
            return lp, torch.tensor([5])

    y = torch.tensor([[2, 0, -1]])                                    # labels 2, 0; -1 pads
    tgt, n = targets(y)
    assert tgt.tolist() == [3, 1] and n.tolist() == [2]               # blank is class 0
    loss, _ = Transcription().loss(Scores(), (torch.zeros(1, 1, 5), torch.tensor([5]), y))
    enumerated = _string_probs(lp[0])[(2, 0)]
    assert loss.item() * 2 == pytest.approx(-math.log(enumerated), rel=1e-4)   # mean per label


def test_wer_and_cer_match_jiwer():
    jiwer = pytest.importorskip("jiwer")
    rng = random.Random(0)
    refs = [" ".join(rng.choice("0123456789") for _ in range(rng.randint(1, 7)))
            for _ in range(40)]
    hyps = []
    for r in refs:
        words = r.split()
        for _ in range(rng.randint(0, 3)):
            op, at = rng.choice("sid"), rng.randrange(len(words) + 1)
            if op == "i" or not words:
                words.insert(at, rng.choice("0123456789"))
            elif op == "d":
                del words[min(at, len(words) - 1)]
            else:
                words[min(at, len(words) - 1)] = rng.choice("0123456789")
        hyps.append(" ".join(words) or "5")
    assert wer(hyps, refs) == pytest.approx(jiwer.wer(refs, hyps))
    assert cer(hyps, refs) == pytest.approx(jiwer.cer(refs, hyps))
    assert wer(["1 2 3"], ["1 2 3"]) == 0 and wer(["4"], ["1 2"]) == 1.0


def _wav(path, samples, rate=8000, tag=1):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    if tag != 1:                                  # rewrite the format tag (3: IEEE float)
        raw = bytearray(path.read_bytes())
        raw[20:22] = tag.to_bytes(2, "little")
        path.write_bytes(bytes(raw))
    return path


@pytest.fixture(scope="module")
def tone_run(tmp_path_factory):
    overrides = {"model.hidden": 32, "model.n_layer": 1,
                 "model.subsample": 4, "model.dropout": 0.0, "data.strings": 300,
                 "train.epochs": 12, "train.lr": 1e-2, "train.threads": 1}
    return ann.train("ctc-tones", overrides, out=tmp_path_factory.mktemp("ctc") / "r",
                     quiet=True)


@pytest.mark.convergence
def test_tone_strings_are_learnt_well_below_the_baseline(tone_run):
    test = tone_run.summary["test"]
    task = Transcription()
    base = task.baselines(ann.load_dataset("tone-strings", "train", strings=300),
                          ann.load_dataset("tone-strings", "test", strings=300))
    assert min(base.values()) >= 0.8, base
    assert test["wer"] <= 0.25, test
    beam = tone_run.evaluate("test", beam_size=4)
    assert beam["wer"] <= test["wer"] + 0.02, (beam, test)


@pytest.mark.convergence
def test_cli_transcribes_wavs_and_refuses_bad_audio(tone_run, tmp_path):
    waves, labels = join_digits(tone_pool(seed=7), 4, seed=8)
    files = [_wav(tmp_path / f"s{i}.wav", w) for i, w in enumerate(waves)]
    # another rate is resampled to the run's 8 kHz
    from ann.data.audio import resample

    files.append(_wav(tmp_path / "fast.wav", resample(waves[0], 8000, 16000), rate=16000))
    labels.append(labels[0])
    out = ann_cli("transcribe", tone_run.path, *files, "--beam", "4", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    got = [r["transcript"] for r in rows]
    truth = [" ".join(map(str, d)) for d in labels]
    assert [r["file"] for r in rows] == list(map(str, files))
    assert wer(got, truth) <= 0.3, (got, truth)
    (tmp_path / "empty.wav").write_bytes(b"")
    fails_cleanly(ann_cli("transcribe", tone_run.path, tmp_path / "empty.wav", check=False),
                  "empty.wav", "not a readable WAV")
    _wav(tmp_path / "float.wav", waves[0], tag=3)
    fails_cleanly(ann_cli("transcribe", tone_run.path, tmp_path / "float.wav", check=False),
                  "IEEE float", "PCM")


def test_recurrent_classifier_reads_audio_frames(tmp_path):
    # `ann train lstm-digits-rows data.name=fsdd` crashed inside the LSTM: audio (B, F, T) was
    # read as F steps of T values. chirps has FSDD's shape and needs no download.
    run = ann.train("lstm-digits-rows", {"data.name": "chirps", "train.max_steps": 3,
                                          "train.eval_every": 3, "model.hidden": 8,
                                          "train.threads": 1},
                    out=tmp_path / "r", quiet=True)
    assert run.config.model.n_features == 40
    x = ann.load_dataset("chirps", "test").x[:2]                      # (2, 40, 101)
    assert run.model(x).shape == (2, len(run.info["classes"]))
    with pytest.raises(ann.AnnError, match="40 values per step"):
        run.model(x[:, :30])
