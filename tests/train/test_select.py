"""Checkpoint selection through the API, for a family that is not a graph network: mlp-digits
with train.select=last, loss and window; the kept checkpoint is read back from the run folder."""

import json

import pytest

import ann
from ann.errors import AnnError
from ann.train import checkpoint

SHORT = {"train.epochs": 0, "train.max_steps": 60, "train.eval_every": 10, "train.log_every": 10,
         "train.threads": 1}


def _val_rows(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == "val"]


def _kept(run_dir) -> int:
    """The step of the checkpoint the run kept as best (and tested)."""
    return int(checkpoint.read_pointer(run_dir / "checkpoints")["best"].split("-")[1])


def test_select_last_tests_the_final_model(tmp_path):
    run = ann.train("mlp-digits", {**SHORT, "train.select": "last"}, out=tmp_path / "r", quiet=True)
    s = run.summary
    assert s["best_step"] == s["steps"] == 60 == _kept(tmp_path / "r")
    assert [r["evaluations"] for r in _val_rows(tmp_path / "r")] == [1, 2, 3, 4, 5, 6]
    assert "evaluations" not in s["test"]          # a selection figure, not a test metric


def test_select_loss_keeps_the_lowest_validation_loss(tmp_path):
    run = ann.train("mlp-digits", {**SHORT, "train.select": "loss", "train.lr": 0.05},
                    out=tmp_path / "r", quiet=True)
    rows = _val_rows(tmp_path / "r")
    lowest = min(rows, key=lambda r: r["loss"])
    assert run.summary["best_step"] == lowest["step"] == _kept(tmp_path / "r")
    assert run.summary["best_val"] == {k: lowest[k] for k in run.summary["best_val"]}


def test_select_window_logs_its_figure(tmp_path):
    run = ann.train("mlp-digits", {**SHORT, "train.select": "window", "train.select_window": 3},
                    out=tmp_path / "r", quiet=True)
    rows = _val_rows(tmp_path / "r")
    acc = [r["accuracy"] for r in rows]
    assert [r["window_accuracy"] for r in rows] == pytest.approx(
        [0.0, 0.0] + [sum(acc[i - 2:i + 1]) / 3 for i in range(2, len(acc))])
    best = max(rows[2:], key=lambda r: (r["window_accuracy"], -r["step"]))
    assert run.summary["best_step"] == best["step"] == _kept(tmp_path / "r")


def test_a_fitted_model_refuses_a_selection_it_cannot_make(tmp_path):
    with pytest.raises(AnnError, match="train.select=loss does not apply") as e:
        ann.train("pnn-iris", {"train.select": "loss"}, out=tmp_path / "r", quiet=True)
    assert "\n" not in str(e.value)
