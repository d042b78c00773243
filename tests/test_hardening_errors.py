"""Ordinary mistakes are one clear line, never an internal error (issue 30, sections 1-3 and 5):
random and adversarial values for every model.*, data.* and train.* key of a sample of recipes
are built or refused with AnnError; damaged run directories are refused in one line by every
command that reads them; a dataset of another kind, sizes set against the data or too large to
hold, and options that mean nothing are refused before anything is written."""

import contextlib
import io
import json
import shutil
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ann
from ann.api import build_config, config_rows
from ann.cli import main
from ann.errors import AnnError, excerpt, withhold_contents

RECIPES = ("cnn-digits", "gcn-karate", "gpt-pydoc", "pnn-iris", "lstm-sunspots")
KEYS = [(r, k) for r in RECIPES for k, _, _ in config_rows(build_config(r))]

ADVERSARIAL = st.sampled_from([
    "", " ", "nan", "-nan", "inf", "-inf", "1e308", "1e309", "-1", "0", "-0", str(2**63),
    str(2**64), str(-2**70), "9" * 40, "0x10", "1_000", "true", "None", "null", "[]", "[1,2]",
    "[[1]]", "{}", '{"a": 1}', "é", "１２３", "\u202e", "\x00", "a=b", "../../etc/passwd",
    "/etc/passwd", "3.5", "1e-320"])
VALUES = st.one_of(ADVERSARIAL, st.integers(-2**70, 2**70).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.text(max_size=12),
                   st.lists(st.integers(-10**12, 10**12), max_size=4).map(json.dumps))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(KEYS), VALUES)
def test_any_value_of_any_key_builds_or_is_one_line(recipe_key, value):
    recipe, key = recipe_key
    if key == "data.name":      # another dataset is its own test (below)
        return
    try:
        build_config(recipe, [f"{key}={value}"])
    except AnnError as e:
        assert "\n" not in str(e) and str(e)


STDOUT = io.StringIO()      # what the last _cli call printed


def _cli(*argv) -> tuple[int, list[str]]:
    global STDOUT
    err, STDOUT = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(STDOUT):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:
            code = e.code
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


def refused(*argv, words=()):
    code, lines = _cli(*argv)
    assert code != 0 and len(lines) == 1, lines
    assert "internal error" not in lines[0] and "Traceback" not in lines[0], lines[0]
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    return lines[0]


@pytest.mark.parametrize("args, words", [
    (["cnn-digits", "data.name=karate"], ["cnn-digits", "karate", "node_classify"]),
    (["gcn-karate", "data.name=digits"], ["gcn-karate", "digits"]),
    (["gpt-pydoc", "data.name=digits"], ["gpt-pydoc", "lm data"]),
    (["cnn-digits", "data.name=sst2"], ["text", "images"]),
    (["cnn-digits", "model.num_classes=3"], ["model.num_classes=3", "num_classes=10"]),
    (["cnn-digits", "model.in_channels=3"], ["model.in_channels=3", "in_channels=1"]),
    (["cnn-digits", "model.image_size=1000"], ["model.image_size=1000", "image_size=8"]),
    (["cnn-digits", "model.widths=100000000"], ["model.widths", "weights", "memory"]),
    (["cnn-digits", "--out", ""], ["--out is empty"]),
])
def test_wrong_training_settings_are_one_line_and_write_nothing(args, words, tmp_path,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = [] if "--out" in args else ["--out", tmp_path / "run"]
    refused("train", *args, *out, "train.max_steps=1", "train.threads=1", words=words)
    # nothing written, not even the run folder (cache/ is $ANN_CACHE_DIR: the command table)
    assert [p for p in tmp_path.iterdir() if p.name != "cache"] == []


def test_recipes_keep_the_datasets_of_their_kind():
    assert build_config("cnn-digits", ["data.name=image-folder"]).data.name == "image-folder"
    assert build_config("t5-tasks-tiny", ["data.name=text-pairs"]).data.name == "text-pairs"
    assert build_config("pnn-iris", ["data.name=table"]).data.name == "table"
    assert build_config("gcn-karate", ["data.name=sbm"]).model.in_channels == 16
    assert build_config("mlp-digits", ["data.name=digits-table"]).data.name == "digits-table"
    assert build_config("ae-anomaly-breast-cancer", ["data.name=table"]).data.name == "table"


@pytest.mark.parametrize("argv, words", [
    (["list", "--models", "--datasets"], ["one of them"]),
    (["tour", "--only", ""], ["names no family"]),
    (["tour", "--threads", "-1"], ["--threads"]),
    (["experiment", "long-range", "--threads", "-1"], ["--threads"]),
    (["experiment", "long-range", "--lengths", "100000000"], ["--lengths 100000000", "GiB"]),
    (["scratch", "digits", "--seed", "-1"], ["--seed"]),
])
def test_options_that_mean_nothing_are_refused(argv, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, lines = _cli(*argv)
    assert code != 0 and len(lines) == 1 and "internal error" not in lines[0], lines
    assert all(w.lower() in lines[0].lower() for w in words), lines[0]
    assert [p for p in tmp_path.iterdir() if p.name != "cache"] == []


def test_scratch_refuses_before_its_header(capsys):
    assert main(["scratch", "digits", "--epochs", "0"]) != 0
    assert capsys.readouterr().out == ""


# --- damaged run directories against every read-only command --------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    small = {"train.epochs": 0, "train.max_steps": 2, "train.eval_every": 2, "train.threads": 1}
    made = {}
    for recipe in ("cnn-digits", "gcn-karate", "pnn-iris"):
        ann.train(recipe, small, out=root / recipe, quiet=True)
        made[recipe] = root / recipe
    return made


def _commands(recipe, run, tmp_path):
    image = tmp_path / "x.npy"
    np.save(image, np.zeros((8, 8), np.float32))
    own = {"cnn-digits": [["predict", run, image]], "gcn-karate": [["predict", run]],
           "pnn-iris": [["predict", run, "--text", "5.1,3.5,1.4,0.2"]]}[recipe]
    return [["eval", run], ["info", run], *own]


def _set(section, value):
    def harm(run):
        config = json.loads((run / "config.json").read_text())
        config[section] = value
        (run / "config.json").write_text(json.dumps(config))
    return harm


def _wrong_sizes(run):
    config = json.loads((run / "config.json").read_text())
    key = next(k for k, v in config["model"].items()
               if isinstance(v, int) and not isinstance(v, bool) and v > 1 and k != "seed")
    config["model"][key] += 1
    (run / "config.json").write_text(json.dumps(config))


def _damages():
    for name in ("config.json", "summary.json", "data.json", "checkpoints/latest.json",
                 "model.safetensors"):
        yield f"invalid {name}", lambda run, n=name: (run / n).write_bytes(b"\xa7{not json")
        yield f"missing {name}", lambda run, n=name: (run / n).unlink()
    yield "summary is a list", lambda run: (run / "summary.json").write_text("[1]")
    yield "summary lacks its metric", lambda run: (run / "summary.json").write_text(
        json.dumps({"metric": 5, "test": []}))
    yield "model: null", _set("model", None)
    yield "data: a list", _set("data", [1])
    yield "model sizes differ from the weights", _wrong_sizes


DAMAGES = list(_damages())


@pytest.mark.parametrize("recipe", ["cnn-digits", "gcn-karate", "pnn-iris"])
def test_damaged_runs_are_one_line_for_every_reader(recipe, runs, tmp_path):
    tried = clean = 0
    failures = []
    for what, harm in DAMAGES:
        run = tmp_path / "run"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(runs[recipe], run)
        harm(run)
        for cmd in _commands(recipe, run, tmp_path):
            code, lines = _cli(*cmd)
            tried += 1
            if code == 0 or (len(lines) == 1 and "internal error" not in lines[0]):
                clean += 1
            else:
                failures.append((what, cmd[0], lines))
    assert not failures, failures
    assert tried == clean > 20


def test_a_recorded_data_path_is_named_and_its_contents_never_quoted(runs, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("password-hunter2\nnot-a-number-either\n")
    run = tmp_path / "run"
    shutil.copytree(runs["pnn-iris"], run)
    _set("data", {**json.loads((run / "config.json").read_text())["data"], "name": "table",
                  "path": str(secret), "target": "password-hunter2"})(run)
    line = refused("eval", run)
    assert "hunter2" not in line and "not-a-number" not in line
    assert str(secret) in line


def test_excerpts_are_short_and_printable_and_quotes_are_withheld():
    assert excerpt("\x93NUMPY\x00" + "x" * 100, 10) == repr("?NUMPY?xxx...")
    assert withhold_contents("f: column 'root:x:0' holds \"daemon\"") == "f: column '...' holds '...'"


def test_export_never_replaces_a_file_of_the_run(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["cnn-digits"], run)
    before = (run / "config.json").read_bytes()
    refused("export", run, "--out", run / "config.json", words=["never replaces"])
    refused("export", run, "--out", run / "model.safetensors", words=["never replaces"])
    assert (run / "config.json").read_bytes() == before
    refused("export", run, "--out", tmp_path, words=["is a folder"])


def test_resume_with_out_and_text_on_an_image_run_are_refused(runs):
    refused("train", "--resume", runs["cnn-digits"], "--out", "elsewhere", words=["--out"])
    refused("predict", runs["cnn-digits"], "--text", "hello", words=["reads images"])
    refused("predict", runs["pnn-iris"], "--text", "5.1,3.5,1.4,0.2", words=["rows of a table"])


class _Evil:
    def __reduce__(self):
        return (print, ("PWNED",))


@pytest.mark.parametrize("state, words", [({"x": 1}, ["is damaged"]),
                                          ({"step": 1, "x": _Evil()}, ["pickled", "never loads"])])
def test_a_damaged_or_pickled_training_state_is_one_line_on_resume(state, words, runs, tmp_path):
    import torch

    run = tmp_path / "run"
    shutil.copytree(runs["cnn-digits"], run)
    last = json.loads((run / "checkpoints/latest.json").read_text())["last"]
    torch.save(state, run / "checkpoints" / last / "state.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no UserWarning lines before the refusal
        refused("train", "--resume", run, "train.max_steps=4", words=words)
    assert "PWNED" not in STDOUT.getvalue()
