"""Translation end to end: train transformer-numbers, translate, evaluate, and the bad inputs.

One training run and one translation go through a subprocess, as a user runs them; the other
commands call ``ann.cli.main`` in this process (same code, without a torch import per call).
"""

import json
from types import SimpleNamespace

import pytest

import ann as ann_api
from ann.cli import main
from ann.errors import AnnError
from helpers import ann, fails_cleanly

FAST = ["train.max_steps=300", "train.eval_every=300", "train.threads=1", "--quiet"]


@pytest.fixture(scope="module")
def numbers_run(tmp_path_factory, conv):
    out = tmp_path_factory.mktemp("mt") / "numbers"
    ann("train", "transformer-numbers", *FAST, *conv.args, "--out", out)
    return out


def cli(capsys, *args):
    """``ann ARGS`` in this process, as a CompletedProcess-like result."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


@pytest.mark.convergence
def test_numbers_converges(numbers_run):
    # 300 steps (a few seconds): numbers never seen in training, written exactly right
    summary = json.loads((numbers_run / "summary.json").read_text())
    assert summary["metric"] == "exact_match" and summary["dataset"] == "numbers"
    assert summary["test"]["exact_match"] >= 0.95, summary["test"]
    assert summary["test"]["bleu"] >= 95 and summary["best_val"]["bleu"] >= 95
    tok = json.loads((numbers_run / "tokenizer.json").read_text())
    assert tok["kind"] == "pair" and tok["source"]["kind"] == tok["target"]["kind"] == "regex"
    assert "model:" in (numbers_run / "samples.txt").read_text()


def test_translate(numbers_run, capsys):
    assert ann("translate", numbers_run, "4721").stdout == "four thousand seven hundred twenty one\n"
    beam = cli(capsys, "translate", numbers_run, "52013", "--beam", "3", "--length-penalty", "0.6")
    assert beam.returncode == 0 and beam.stdout == "fifty two thousand thirteen\n"
    cut = cli(capsys, "translate", numbers_run, "4721", "--max-len", "2")
    assert cut.stdout == "four thousand\n"
    run = ann_api.load(numbers_run)
    assert ann_api.api.translate(run, "300416") == "three hundred thousand four hundred sixteen"
    assert run.tokenizer.source.decode(run.tokenizer.encode("905")) == "905"


def test_eval(numbers_run, capsys):
    out = cli(capsys, "eval", numbers_run).stdout
    assert out.startswith("test loss") and "test bleu" in out and "test exact_match" in out
    greedy = json.loads(cli(capsys, "eval", numbers_run, "--split", "val", "--json").stdout)
    beam = json.loads(cli(capsys, "eval", numbers_run, "--split", "val", "--beam", "2",
                          "--json").stdout)
    assert greedy["split"] == "val" and beam["exact_match"] >= greedy["exact_match"] - 0.01
    assert cli(capsys, "info", numbers_run).stdout.count("cross_attn.q_proj") == 2  # layer table


@pytest.mark.parametrize("args,words", [
    (["   "], ["empty"]),
    (["1234567"], ["7 tokens", "at most 6"]),               # longer than the model's source
    (["12", "--beam", "0"], ["beam size"]),
    (["12", "--length-penalty", "-1"], ["length penalty"]),
    (["12", "--max-len", "0"], ["max_len"]),
    (["12", "--max-len", "99"], ["max_len"]),
])
def test_translate_bad_inputs(numbers_run, capsys, args, words):
    fails_cleanly(cli(capsys, "translate", numbers_run, *args), *words)


def test_bad_input_in_a_subprocess(numbers_run):
    fails_cleanly(ann("translate", numbers_run, "", check=False), "empty")


@pytest.mark.parametrize("text", ["-12", "1x2", "12a", "１２", "x"])
def test_a_character_model_refuses_any_character_it_never_saw(numbers_run, capsys, text):
    # the numbers model reads characters, a closed vocabulary: a minus sign, a letter or a
    # full-width digit has no translation (issue 30: "-12" was translated anyway)
    refused = cli(capsys, "translate", numbers_run, text)
    assert refused.returncode != 0 and "never saw" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert cli(capsys, "translate", numbers_run, "12").returncode == 0


def test_a_word_vocabulary_reads_unknown_words_among_known_ones():
    from ann.data.tokenizers import RegexTokenizer
    from ann.tasks.seq2seq import check_known

    class Run:                      # only what check_known reads
        class model:
            class config:
                unk_id = RegexTokenizer.unk_id

    words = RegexTokenizer.train(["ein mann ."])
    chars = RegexTokenizer.train(["12"], pattern=RegexTokenizer.CHARS)
    assert not words.closed and chars.closed
    check_known(Run, words, words.encode("ein hund ."), "ein hund .")      # a rare word: read
    with pytest.raises(AnnError, match="never saw"):
        check_known(Run, words, words.encode("hund"), "hund")              # nothing known
    with pytest.raises(AnnError, match="never saw"):
        check_known(Run, chars, chars.encode("1x"), "1x")


def test_translate_and_eval_options_refuse_other_runs(tmp_path, capsys):
    rc = ann_api.build_config("mlp-digits")
    run = ann_api.Run(rc, ann_api.create_model("mlp"), tmp_path)
    with pytest.raises(ann_api.AnnError, match="does not translate"):
        ann_api.api.translate(run, "Ein Mann.")
    with pytest.raises(ann_api.AnnError, match="seq2seq"):
        run.evaluate("test", beam_size=2)
    fails_cleanly(cli(capsys, "translate", tmp_path / "nowhere", "x"))
