"""Forecasting end to end: the recurrent forecaster against its baselines, plots, bad inputs."""

import json

import pytest

from helpers import ann, fails_cleanly


def test_lstm_learns_to_forecast_mackey_glass(tmp_path, conv):
    out = tmp_path / "mg"
    ann("train", "lstm-mackey-glass", "train.max_steps=200", "train.eval_every=100",
        "model.hidden=32", *conv.args, "--quiet", "--out", out)
    s = json.loads((out / "summary.json").read_text())
    t = s["test"]
    assert {"rmse", "naive_rmse", "ar_rmse", "beats_baselines"} <= set(t)
    # 10 steps ahead the naive forecast is off by 0.187; the full recipe (1,500 steps) gets
    # ~0.006 against the AR baseline's 0.035. 200 steps must cut the naive error by 60%.
    assert t["rmse"] < 0.4 * t["naive_rmse"], t
    assert (out / "forecast.png").stat().st_size > 5000 and (out / "curves.png").exists()


def test_own_csv_series_trains(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("day,value\n" + "".join(f"{i},{(i % 7) * 1.5 + 10}\n" for i in range(120)))
    proc = ann("train", "rnn-sunspots", f"data.path={f}", "data.column=value", "data.window=7",
               "train.max_steps=20", "--quiet", "--out", tmp_path / "run")
    assert "test rmse" in proc.stdout


@pytest.mark.parametrize("rows,column,extra,words", [
    ("t,v\n" + "".join(f"{i},x{i}\n" for i in range(100)), "v", [], ["not numeric"]),
    ("t,v\n" + "".join(f"{i},{'' if i == 50 else i}\n" for i in range(100)), "v", [], ["row 52", "missing"]),
    ("t,v\n" + "".join(f"{i},{i}\n" for i in range(20)), "v", [], ["too short"]),
    ("t,v\n" + "".join(f"{i},{i}\n" for i in range(400)), "v", ["data.window=50", "model.max_len=20"],
     ["longer than model.max_len"]),
])
def test_bad_series_fails_with_one_line(tmp_path, rows, column, extra, words):
    f = tmp_path / "bad.csv"
    f.write_text(rows)
    proc = ann("train", "lstm-sunspots", f"data.path={f}", f"data.column={column}", *extra,
               "train.max_steps=5", "--out", tmp_path / "run", check=False)
    fails_cleanly(proc, *words)
