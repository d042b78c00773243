"""Issue 29, metrics people compare: translation runs report standard sacreBLEU (13a, cased, on
detokenized text) with its signature beside the tutorial BLEU on ids, and ``word_bleu`` (that
BLEU on the words of the detokenized text, so T5's figure is no longer one on WordPiece pieces);
``ann eval RUN --write-outputs FILE`` writes every hypothesis and reference. Tiny runs: the
figures are checked against sacrebleu itself on the written texts, not against a target."""

import json
from types import SimpleNamespace

import pytest

import ann
from ann.cli import main

sacrebleu = pytest.importorskip("sacrebleu")
pytestmark = pytest.mark.slow          # two tiny training runs


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


def _train(tmp_path_factory, recipe, steps):
    out = tmp_path_factory.mktemp(recipe) / "run"
    ann.train(recipe, {"train.max_steps": steps, "train.epochs": 0, "train.eval_every": steps,
                       "train.threads": 1, "train.log_to": "none"}, out=out, quiet=True)
    return out


@pytest.fixture(scope="module")
def numbers(tmp_path_factory):
    return _train(tmp_path_factory, "transformer-numbers", 60)


@pytest.fixture(scope="module")
def t5(tmp_path_factory):
    return _train(tmp_path_factory, "t5-tasks-tiny", 10)


def _outputs(file):
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]


def _check_against_sacrebleu(capsys, run_dir, tmp_path):
    file = tmp_path / "outputs.jsonl"
    got = cli(capsys, "eval", run_dir, "--json", "--write-outputs", file)
    assert got.returncode == 0, got.stderr
    metrics = json.loads(got.stdout)
    rows = _outputs(file)
    assert len(rows) == _test_size(run_dir)
    hyps, refs = [r["hypothesis"] for r in rows], [r["reference"] for r in rows]
    want = sacrebleu.corpus_bleu(hyps, [refs])                      # 13a, cased: the defaults
    assert metrics["sacrebleu"] == pytest.approx(want.score, abs=1e-9)
    sig = metrics["sacrebleu_signature"]
    assert "tok:13a" in sig and "case:mixed" in sig and f"version:{sacrebleu.__version__}" in sig
    # the tutorial BLEU on whitespace words of the same texts, as sacrebleu counts it untokenized
    words = sacrebleu.BLEU(tokenize="none").corpus_score(hyps, [refs]).score
    assert metrics["word_bleu"] == pytest.approx(words, abs=1e-6)
    return metrics, rows


def _test_size(run_dir):
    from ann.runs import recorded_data

    return len(recorded_data(ann.load(run_dir).config, "test", run_dir))


def test_translation_reports_sacrebleu_and_writes_outputs(numbers, capsys, tmp_path):
    summary = json.loads((numbers / "summary.json").read_text())
    assert {"bleu", "word_bleu", "sacrebleu"} <= set(summary["test"])
    assert "tok:13a" in summary["signatures"]["sacrebleu"]
    metrics, rows = _check_against_sacrebleu(capsys, numbers, tmp_path)
    assert metrics["sacrebleu"] == pytest.approx(summary["test"]["sacrebleu"], abs=1e-9)
    assert all(r["source"].isdigit() for r in rows)                 # numbers -> words
    # words are the numbers tokenizer's tokens: BLEU on ids is BLEU on the detokenized words
    assert metrics["bleu"] == pytest.approx(metrics["word_bleu"], abs=1e-6)
    plain = cli(capsys, "eval", numbers).stdout
    assert "test sacrebleu " in plain and "test sacrebleu_signature nrefs:1" in plain


def test_t5_bleu_is_reported_on_detokenized_text(t5, capsys, tmp_path):
    metrics, rows = _check_against_sacrebleu(capsys, t5, tmp_path)
    assert not any("##" in r["hypothesis"] + r["reference"] for r in rows)   # no WordPiece marks
    assert {"bleu", "word_bleu", "sacrebleu", "exact_match"} <= set(metrics)


def test_write_outputs_needs_a_tokenizer():
    from ann.errors import AnnError
    from ann.tasks.seq2seq import Seq2Seq

    with pytest.raises(AnnError, match="tokenizer"):
        Seq2Seq(write_outputs="outputs.jsonl").text_scores(None, [[1]], [[1]], [[1]])
    assert Seq2Seq().text_scores(None, [[1]], [[1]], [[1]]) == {}     # nothing to decode with
