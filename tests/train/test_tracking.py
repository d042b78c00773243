"""Issue 29, experiment tracking: ``train.log_to`` (metrics.csv, TensorBoard event files read back
with TensorBoard's own reader), ``curves.png`` redrawn at the evaluations, and the library's
messages through ``logging.getLogger("ann")``."""

import csv
import importlib.util
import json
import logging

import pytest

import ann
from ann import logs, runner
from ann.errors import AnnError
from ann.train import progress, tracking

TINY = {"train.epochs": 0, "train.max_steps": 12, "train.eval_every": 4, "train.log_every": 2,
        "train.batch_size": 32, "train.threads": 1, "train.seed": 1}


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny run logging to both sinks, with curves.png drawn at every evaluation and the
    drawings counted (the number of evaluations each one showed)."""
    import ann.report.plots as plots

    out, seen, real = tmp_path_factory.mktemp("tracking") / "run", [], plots.plot_curves

    def spy(rows, metric, path):
        seen.append(sum(r["split"] == "val" for r in rows))
        real(rows, metric, path)

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    records, keep = [], Keep()
    logging.getLogger("ann").addHandler(keep)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(plots, "plot_curves", spy)
            mp.setattr(runner.CurvesWatch.__init__, "__defaults__", (1.0,))   # draw every time
            log_to = "tensorboard,csv" if importlib.util.find_spec("tensorboard") else "csv"
            ann.train("cnn-digits", {**TINY, "train.log_to": log_to}, out=out)
    finally:
        logging.getLogger("ann").removeHandler(keep)
    return out, seen, records


def test_csv_holds_every_number_of_metrics_jsonl(run):
    out, _, _ = run
    with open(out / "metrics.csv", newline="") as f:
        table = list(csv.reader(f))
    assert tuple(table[0]) == tracking.COLUMNS
    got = {(int(s), split, name): float(v) for s, _, split, name, v in table[1:]}
    want = {(r["step"], r["split"], k): float(v) for r in _rows(out) for k, v in r.items()
            if k not in ("step", "epoch", "split") and isinstance(v, (int, float))}
    assert got == pytest.approx(want)
    assert {"loss", "lr"} <= {name for _, split, name in got if split == "train"}
    assert {"val", "test"} <= {split for _, split, _ in got}


def test_csv_is_the_default_and_none_writes_none(tmp_path):
    assert ann.build_config("cnn-digits").train.log_to == "csv"
    assert tracking.parse("none") == () and tracking.parse("") == ()
    log = progress.MetricsLog(tmp_path / "metrics.jsonl", "none")
    log.write({"step": 1, "split": "train", "loss": 1.0})
    log.finish(tmp_path)
    assert (tmp_path / "metrics.jsonl").exists() and not (tmp_path / "metrics.csv").exists()


def test_csv_rewritten_on_resume(tmp_path):
    log = progress.MetricsLog(tmp_path / "metrics.jsonl", "csv")
    for step in (1, 2, 3):
        log.write({"step": step, "epoch": step / 3, "split": "train", "loss": 1.0 / step})
    log.finish(tmp_path)
    resumed = progress.MetricsLog(tmp_path / "metrics.jsonl", "csv")
    resumed.truncate_after(2)
    resumed.write({"step": 3, "epoch": 1.0, "split": "train", "loss": 0.5})
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == ",".join(tracking.COLUMNS)
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]
    assert lines[-1].endswith(",loss,0.5")


def test_tensorboard_events_read_back(run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _, _ = run
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    for tag in ("train/loss", "train/lr", "train/epoch", "val/loss", "val/accuracy",
                "test/accuracy"):
        assert tag in tags["scalars"], (tag, tags["scalars"])
    rows = _rows(out)
    lrs = {r["step"]: r["lr"] for r in rows if r["split"] == "train"}
    assert {e.step: e.value for e in events.Scalars("train/lr")} == pytest.approx(lrs, rel=1e-6)
    vals = [r["accuracy"] for r in rows if r["split"] == "val"]
    assert [e.value for e in events.Scalars("val/accuracy")] == pytest.approx(vals, rel=1e-6)
    assert {"curves", "confusion"} <= set(tags["images"])
    assert events.Images("curves")[-1].height > 100


def test_curves_redrawn_at_every_evaluation(run):
    out, seen, _ = run
    assert seen == [1, 2, 3, 3]             # after each of the three evaluations, then the end
    assert (out / "curves.png").stat().st_size > 5000


@pytest.mark.parametrize("value", ["wandb", "csv,mlflow"])
def test_unknown_sink_refused_before_the_run_directory(tmp_path, value):
    out = tmp_path / "run"
    with pytest.raises(AnnError, match="not a place to log to"):
        ann.train("cnn-digits", {**TINY, "train.log_to": value}, out=out, quiet=True)
    assert not out.exists()


def test_missing_tensorboard_is_one_line_before_the_run_directory(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    out = tmp_path / "run"
    with pytest.raises(AnnError, match=r"pip install 'ann\[tensorboard\]'"):
        ann.train("cnn-digits", {**TINY, "train.log_to": "tensorboard"}, out=out, quiet=True)
    assert not out.exists()


def test_curves_watch_skips_drawings_that_would_cost_too_much(tmp_path, monkeypatch):
    import ann.report.plots as plots

    calls = []
    monkeypatch.setattr(plots, "plot_curves", lambda *a: calls.append(1))
    watch = runner.CurvesWatch(tmp_path, "accuracy", share=0.1)
    watch([])
    watch.cost = 1000.0                     # as if the first drawing had taken that long
    watch([])
    assert len(calls) == 1


def test_messages_go_through_the_ann_logger(run, capsys):
    out, _, records = run
    said = [(r.name, r.levelno, r.getMessage()) for r in records]
    assert any(name == "ann.runner" and level == logging.INFO and f"training cnn-digits in {out}"
               in text for name, level, text in said), said
    assert any("test accuracy" in text for _, _, text in said), said
    logs.info("ann: a line")                 # the default handler: the current stdout
    assert "ann: a line" in capsys.readouterr().out
    top = logging.getLogger("ann")
    level = top.level
    top.setLevel(logging.WARNING)           # (setLevel: logging caches what a level lets by)
    try:
        logs.info("ann: not shown")
        assert capsys.readouterr().out == ""
    finally:
        top.setLevel(level)
