"""Convergence on embedded data within a small step budget: a metric must cross a threshold."""

import pytest

import ann


@pytest.mark.parametrize("recipe,steps,threshold", [
    ("mlp-digits", 400, 0.93),
    ("cnn-digits", 400, 0.96),
])
def test_digits_reach_accuracy(recipe, steps, threshold, tmp_path, conv):
    run = ann.train(recipe, {"train.epochs": 0, "train.max_steps": steps, "train.eval_every": 100,
                             **conv.overrides},
                    out=tmp_path / recipe, quiet=True)
    assert run.summary["test"]["accuracy"] >= threshold, run.summary["test"]
    # the model chosen on validation is the one saved and reloaded
    again = ann.load(run.path)
    assert again.evaluate("test")["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])
