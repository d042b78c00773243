"""T5 end to end: train t5-tasks-tiny (per-task exact match crosses a threshold), answer a prompt
with `ann generate`, the bad prompts, and a short span-corruption pretraining run.

Training and one generation run in a subprocess, as a user runs them; the other commands call
``ann.cli.main`` in this process (same code, without a torch import per call).
"""

import json
from types import SimpleNamespace

import pytest

from ann.cli import main
from helpers import ann, fails_cleanly


@pytest.fixture(scope="module")
def tasks_run(tmp_path_factory, conv):
    out = tmp_path_factory.mktemp("t5") / "tasks"
    ann("train", "t5-tasks-tiny", "train.max_steps=300", "train.eval_every=300", *conv.args,
        "--quiet", "--out", out)
    return out


def cli(capsys, *args):
    """``ann ARGS`` in this process, as a CompletedProcess-like result."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


@pytest.mark.convergence
def test_tasks_learn_and_are_reported_apart(tasks_run):
    summary = json.loads((tasks_run / "summary.json").read_text())
    test = summary["test"]
    assert summary["metric"] == "exact_match"
    for task in ("reverse", "sort", "add", "date"):
        assert f"{task}_exact_match" in test and f"{task}_bleu" in test
    # 300 steps (about 25 s on one core): sorting, the easiest task, is mostly right on unseen
    # inputs, and most output tokens are right under teacher forcing
    assert test["sort_exact_match"] >= 0.3, test
    assert test["accuracy"] >= 0.6, test
    assert (tasks_run / "tasks.png").stat().st_size > 0
    samples = (tasks_run / "samples.txt").read_text()
    assert "== sort" in samples and "== date" in samples


def test_generate_answers_a_prompt(tasks_run):
    proc = ann("generate", tasks_run, "--prompt", "sort: 9 1 5 3")
    out = proc.stdout.strip()
    assert out and all(c in "0123456789 " for c in out), out


def test_unknown_task_prefix_fails_cleanly(tasks_run, capsys):
    fails_cleanly(cli(capsys, "generate", tasks_run, "--prompt", "translate: a b c"),
                  "prefix", "sort:")


def test_prompt_longer_than_the_encoder_fails_cleanly(tasks_run, capsys):
    prompt = "reverse: " + " ".join("abcdefghijklmnopqrstuvwxyz")
    fails_cleanly(cli(capsys, "generate", tasks_run, "--prompt", prompt), "tokens", "at most")


def test_generate_needs_a_prompt(tasks_run, capsys):
    fails_cleanly(cli(capsys, "generate", tasks_run), "--prompt")
    fails_cleanly(cli(capsys, "generate", tasks_run, "--prompt", "sort: 1 2", "--beam", "0"),
                  "--beam")


def test_beam_search_answers_too(tasks_run, capsys):
    proc = cli(capsys, "generate", tasks_run, "--prompt", "sort: 4 2", "--beam", "3")
    assert proc.returncode == 0 and proc.stdout.strip()


def test_span_corruption_pretraining_runs(tmp_path, capsys):
    out = tmp_path / "spans"
    ann("train", "t5-pretrain-pydoc", "train.max_steps=20", "train.eval_every=20",
        "train.batch_size=8", "model.n_encoder_layers=1", "model.n_decoder_layers=1",
        "train.threads=1", "--quiet", "--out", out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metric"] == "accuracy" and 0 <= summary["test"]["accuracy"] <= 1
    assert "input:" in (out / "samples.txt").read_text()
    proc = cli(capsys, "generate", out, "--prompt", "the <extra_id_0> statement")
    assert proc.returncode == 0
