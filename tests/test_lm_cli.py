"""Language models end to end: train on embedded text, generate, and the bad inputs."""

import json
import math

import pytest

from helpers import ann, fails_cleanly

SMALL = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.block_size=32",
         "train.max_steps=60", "train.eval_every=30", "train.batch_size=16", "train.warmup_steps=10",
         "train.lr=3e-3", "--quiet"]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "gpt"
    ann("train", "gpt-pydoc", *SMALL, "data.tokenizer=char", "--out", out)
    return out


def test_lm_run_directory(lm_run):
    summary = json.loads((lm_run / "summary.json").read_text())
    assert summary["metric"] == "loss" and "perplexity" in summary["test"]
    tok = json.loads((lm_run / "tokenizer.json").read_text())
    assert tok["kind"] == "char"
    uniform = math.log(len(tok["chars"]))                     # loss of knowing nothing
    assert summary["test"]["loss"] < uniform - 1.0, (summary["test"], uniform)
    assert (lm_run / "samples.txt").read_text().strip()


def test_generate_continues_the_prompt_reproducibly(lm_run):
    args = ("generate", lm_run, "--prompt", "The ", "--max-new-tokens", "20", "--seed", "3")
    first, second = ann(*args).stdout, ann(*args).stdout
    assert first.startswith("The ") and len(first.rstrip("\n")) >= 20
    assert first == second
    greedy = ann("generate", lm_run, "--prompt", "The ", "--max-new-tokens", "10",
                 "--temperature", "0").stdout
    assert greedy == ann("generate", lm_run, "--prompt", "The ", "--max-new-tokens", "10",
                         "--temperature", "0", "--seed", "9").stdout


@pytest.mark.parametrize("args,words", [
    (["--prompt", ""], ["prompt", "empty"]),
    (["--max-new-tokens", "-1"], ["max-new-tokens"]),
    (["--top-p", "1.5"], ["top-p"]),
    (["--prompt", "caf\u00e9 \u2603"], ["\u2603"]),
])
def test_generate_bad_inputs(lm_run, args, words):
    fails_cleanly(ann("generate", lm_run, *args, check=False), *words)


def test_prompt_longer_than_the_context(lm_run):
    fails_cleanly(ann("generate", lm_run, "--prompt", "x" * 100, check=False), "32")


def test_new_tokens_beyond_the_context_need_slide(lm_run):
    # context 32 characters: "The " (4) + 28 fits exactly; one more needs --slide
    fits = ann("generate", lm_run, "--prompt", "The ", "--max-new-tokens", "28").stdout
    assert len(fits.rstrip("\n")) == 32
    fails_cleanly(ann("generate", lm_run, "--prompt", "The ", "--max-new-tokens", "29",
                      check=False), "context of 32", "--slide")
    slid = ann("generate", lm_run, "--prompt", "The ", "--max-new-tokens", "100", "--slide").stdout
    assert len(slid.rstrip("\n")) == 104
    default = ann("generate", lm_run, "--prompt", "The ").stdout   # fills the context
    assert len(default.rstrip("\n")) == 32


def test_missing_tokenizer_file(lm_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(lm_run, copy)
    (copy / "tokenizer.json").unlink()
    fails_cleanly(ann("generate", copy, "--prompt", "a", check=False), "tokenizer.json")


def test_generate_refuses_a_classifier(tmp_path):
    out = tmp_path / "mlp"
    ann("train", "mlp-digits", "train.epochs=0", "train.max_steps=5", "--out", out, "--quiet")
    fails_cleanly(ann("generate", out, check=False), "does not generate text")
