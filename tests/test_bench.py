"""`ann bench` and the generated tables of BENCHMARKS.md: the tables are what
benchmarks/report.py renders from the stored results (never typed by hand), regenerating keeps
the prose around them, and the command finds, plans and refuses benchmarks as it should."""

import json
import sys
from pathlib import Path

import pytest

from ann.apps import bench
from helpers import ann, benchmark_module, fails_cleanly

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_md_matches_the_stored_results():
    report = benchmark_module("report")
    doc = (ROOT / "BENCHMARKS.md").read_text()
    for name in ("results", "speed", "scratch", "classical", "generative"):
        assert f"<!-- {name}:begin -->" in doc, name
    assert report.stale(doc) == [], ("BENCHMARKS.md differs from the stored results; run "
                                     "python benchmarks/report.py --write")


def test_render_replaces_only_generated_blocks():
    report = benchmark_module("report")
    doc = ("# Title\nprose before\n<!-- speed:begin -->\n| typed | by hand |\n<!-- speed:end -->\n"
           "prose after, with 99.9% typed\n")
    new = report.render(doc)
    assert "typed | by hand" not in new and report.speed_table() in new
    assert new.startswith("# Title\nprose before\n") and new.endswith("prose after, with 99.9% typed\n")
    assert report.stale(doc) == ["speed"] and report.stale(new) == []


def test_every_stored_result_is_a_benchmark_with_its_command():
    found = bench.benchmarks(ROOT)
    stored = {p.relative_to(ROOT / "benchmarks" / "results").with_suffix("").as_posix()
              for p in [*(ROOT / "benchmarks" / "results").glob("*.json"),
                        *(ROOT / "benchmarks" / "results").glob("*/*.json")]}
    assert stored <= set(found)
    assert found["cnn-digits"].argv[1:] == ("benchmarks/recipes.py", "--only", "cnn-digits")
    # a result recorded from `ann train` reruns through recipes.py, under its tag
    argv = bench._argv("bert-sst2-scratch", "ann train bert-sst2 train.threads=1 train.init_from=scratch")
    assert argv == (sys.executable, "benchmarks/recipes.py", "--only", "bert-sst2", "--tag",
                    "scratch", "train.threads=1", "train.init_from=scratch")
    assert bench._argv("x", "python benchmarks/tdnn_shift.py RUN_DIR") is None


def test_cli_dry_run_prints_the_plan():
    out = ann("bench", "--only", "cnn-digits,speed/gpt", "--dry-run", cwd=ROOT).stdout
    assert "[1/2] cnn-digits: benchmarks/recipes.py --only cnn-digits" in out
    assert "[2/2] speed/gpt: benchmarks/gpt_speed.py" in out


@pytest.mark.parametrize("args,words", [
    (["--only", "cnn-digit"], ["unknown benchmark", "did you mean", "cnn-digits"]),
    (["--only", "tdnn/shift-tdnn-chirps"], ["made by hand", "RUN_DIR"]),
    (["--only", ","], ["names no benchmark"]),
])
def test_cli_bad_input(args, words):
    fails_cleanly(ann("bench", *args, "--dry-run", check=False, cwd=ROOT), *words)


def test_cli_outside_a_checkout(tmp_path):
    fails_cleanly(ann("bench", "--render", check=False, cwd=tmp_path), "checkout", str(tmp_path))


@pytest.mark.parametrize("command", [
    "python benchmarks/../../pwn.py",                 # leaves the benchmarks folder
    "python /tmp/pwn.py", "python benchmarks/sub/x.py", "python benchmarks/not_there.py",
    "python -c 'import os'", "sh -c 'rm -rf /'", "ann train cnn-digits; rm -rf /",
    "ann train ../../x train.lr=1", "python benchmarks/recipes.py\x00", "python 'unterminated",
])
def test_a_recorded_command_runs_only_as_one_of_anns_own_scripts(command):
    """A results file is data: what it records is rerun only as one of the checkout's own
    benchmark scripts, never as a path or a program it names (issue 30)."""
    assert bench._argv("x", command, ROOT) is None


def test_a_hostile_results_file_is_listed_not_run(tmp_path):
    (tmp_path / "pwn.py").write_text("open('PWNED', 'w')\n")
    fake = tmp_path / "checkout"
    (fake / "benchmarks" / "results").mkdir(parents=True)
    (fake / "pyproject.toml").write_text("")
    (fake / "benchmarks" / "report.py").write_text("open('PWNED', 'w')\n")
    (fake / "benchmarks" / "results" / "evil.json").write_text(
        json.dumps({"command": "python benchmarks/../../pwn.py"}))
    found = bench.benchmarks(fake)
    assert found["evil"].argv is None
    # ann bench in a folder holding some other checkout refuses to run that checkout's report.py
    fails_cleanly(ann("bench", "--render", check=False, cwd=fake), "not the checkout")
    assert not (fake / "PWNED").exists() and not (tmp_path / "PWNED").exists()
