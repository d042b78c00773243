"""BERT end to end on small written SST-2 files: pretraining then fine-tuning in one command,
starting weights (train.init_from), resuming, `ann predict --text` and `ann fill`.

Training runs in this process, where the checksums of the written files can be patched in;
`ann predict` and `ann fill` read only the run directory, so one of them also runs as a real
subprocess."""

import contextlib
import io
import json
import shutil
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file
from sst2_files import write_extra_text, write_sst2

from ann.cli import main
from ann.data import sentences
from helpers import ann, fails_cleanly

TINY = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "train.max_steps=30",
        "train.eval_every=10", "train.batch_size=16", "train.threads=1", "train.pretrain_steps=20"]


def cli(*args):
    """``ann ARGS`` in this process: a CompletedProcess-like (returncode, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def ok(*args):
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sentences, "SST2_FILES", write_sst2(folder, n_train=300, n_dev=40))
        mp.setenv("ANN_DATA_DIR", str(folder))
        write_extra_text(folder, mp)  # bert-sst2-mlm mixes PTB and Multi30k text in
        yield folder


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "bert"
    text = ok("train", "bert-sst2", *TINY, "--out", out)
    assert "bert-sst2-mlm" in text and "copied 21 of the model's 25 tensors" in text
    return out


def test_pretraining_runs_first_inside_the_run(run):
    summary = json.loads((run / "summary.json").read_text())
    pre = json.loads((run / "pretrain" / "summary.json").read_text())
    assert summary["recipe"] == "bert-sst2" and summary["steps"] == 30
    assert pre["recipe"] == "bert-sst2-mlm" and pre["steps"] == 20
    assert {"loss", "perplexity", "accuracy"} <= set(pre["test"])
    config = json.loads((run / "pretrain" / "config.json").read_text())
    assert config["model"]["n_embd"] == 32 and config["train"]["threads"] == 1   # taken along
    assert config["data"]["extra_text"] == "ptb,multi30k"    # the pretraining recipe's own data
    assert (run / "tokenizer.json").read_text() == (run / "pretrain" / "tokenizer.json").read_text()


def test_init_from_a_run_and_resume_equal_the_one_command(run, tmp_path):
    """Fine-tuning from the pretraining folder, and resuming a run killed during its
    pretraining, both end with the weights of the uninterrupted command."""
    ok("train", "bert-sst2", *TINY, f"train.init_from={run / 'pretrain'}", "--out", tmp_path / "a")
    killed = tmp_path / "b"
    shutil.copytree(run, killed)
    for name in ("checkpoints", "pretrain/model.safetensors", "pretrain/summary.json",
                 "model.safetensors", "summary.json", "metrics.jsonl"):
        path = killed / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    ok("train", "--resume", killed, "--quiet")
    want = load_file(run / "model.safetensors")
    for folder in (tmp_path / "a", killed):
        got = load_file(folder / "model.safetensors")
        assert all((got[k] == want[k]).all() for k in want), folder
    # a finished run resumed for more steps does not pretrain again
    text = ok("train", "--resume", tmp_path / "a", "train.max_steps=35")
    assert "bert-sst2-mlm" not in text and "35 steps" in text


def test_scratch_skips_pretraining(data_dir, tmp_path):
    text = ok("train", "bert-sst2", *TINY, "train.init_from=scratch", "--out", tmp_path / "s")
    assert "copied" not in text and not (tmp_path / "s" / "pretrain").exists()


def test_bad_init_from(data_dir, tmp_path):
    fails_cleanly(cli("train", "bert-sst2", *TINY, f"train.init_from={tmp_path / 'nowhere'}",
                      "--out", tmp_path / "x"), "init_from", "neither a run directory")
    assert not (tmp_path / "x").exists()                 # failed before writing anything
    other = tmp_path / "other.safetensors"
    save_file({"conv.weight": torch.zeros(3, 3)}, str(other))
    fails_cleanly(cli("train", "bert-sst2", *TINY, f"train.init_from={other}", "--out", tmp_path / "y"),
                  "none of the 1 tensors", "fits")


def test_predict_text(run):
    out = ok("predict", run, "--text", "a gorgeous film", "--text", "a dull , bland movie")
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith('"a gorgeous film": ')
    assert "positive" in lines[0] and "negative" in lines[0]
    out = ok("predict", run, "--text", "what a fun story", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["text"] == "what a fun story" and rows[0]["class"] in ("negative", "positive")
    assert abs(sum(p for _, p in rows[0]["top"]) - 1) < 1e-3


def test_fill(run):
    out = ok("fill", run / "pretrain", "a [MASK] film , the [MASK] .", "--top", "3")
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["[MASK] 1", "[MASK] 2"]
    assert all(len(line.split(",")) == 3 for line in lines)
    result = json.loads(ok("fill", run / "pretrain", "the [MASK] movie", "--json"))
    assert result["text"] == "the [MASK] movie" and len(result["masks"][0]) == 5
    probs = [p for _, p in result["masks"][0]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1


def test_pretraining_report_fills_the_datasets_example_masks(run):
    from ann.data.sentences import SST2_MLM_INFO

    lines = (run / "pretrain" / "samples.txt").read_text().splitlines()
    assert lines[0::2] == list(SST2_MLM_INFO["fill_examples"])
    assert all(len(line.split(",")) == 5 for line in lines[1::2])      # five candidates each


def test_bad_inputs(run, tmp_path):
    fails_cleanly(cli("fill", run / "pretrain", "a gorgeous film"), "no [MASK]")
    fails_cleanly(cli("fill", run, "a [MASK] film"), "does not fill in masks")
    fails_cleanly(cli("predict", run / "pretrain", "--text", "a film"), "does not classify")
    fails_cleanly(cli("predict", run, "--text", "good " * 70), "72 tokens", "at most 66")
    fails_cleanly(cli("predict", run, "--text", "  "), "empty")
    fails_cleanly(cli("predict", run), "--text")
    fails_cleanly(cli("predict", run, tmp_path / "x.png"), "does not read images")
    copy = tmp_path / "copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("pretrain", "checkpoints"))
    (copy / "tokenizer.json").unlink()
    fails_cleanly(cli("predict", copy, "--text", "a film"), "tokenizer.json")


def test_fill_in_a_real_process(run):
    """The installed command, as a user runs it: a clean one-line error, then a result."""
    fails_cleanly(ann("fill", run / "pretrain", "no mask here", check=False), "no [MASK]")
