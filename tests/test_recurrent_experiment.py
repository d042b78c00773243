"""`ann experiment long-range`: the table, the plots, and vanishing gradients made visible."""

import json

from helpers import ann, fails_cleanly


def test_long_range_experiment_writes_table_plots_and_results(tmp_path, conv):
    out = tmp_path / "lr"
    proc = ann("experiment", "long-range", "--lengths", "4,40", "--steps", "60", "--threads", conv.threads,
               "--seed", conv.seed, "--out", out)
    assert "table, plots and results.json" in proc.stdout
    r = json.loads((out / "results.json").read_text())
    assert set(r["accuracy"]) == {"rnn", "lstm", "gru", "transformer"}
    assert r["accuracy"]["transformer"]["40"] > 0.9            # attention reaches the first token
    assert r["accuracy"]["rnn"]["40"] < 0.5                    # 40 steps back is too far for it
    g = r["gradient_norm_by_distance"]
    # Through the Elman RNN the gradient reaching 30 steps back is a vanishing fraction of the
    # last step's; attention's does not fall with distance.
    assert g["rnn"][30] < 1e-4 * g["rnn"][0]
    assert g["transformer"][30] > 0.1 * g["transformer"][0]
    assert "| rnn |" in (out / "table.md").read_text()
    for plot in ("accuracy.png", "gradients.png"):
        assert (out / plot).stat().st_size > 5000


def test_unknown_experiment_fails_cleanly(tmp_path):
    fails_cleanly(ann("experiment", "long-rang", "--out", tmp_path / "x", check=False),
                  "long-range")
    assert not (tmp_path / "x").exists()
