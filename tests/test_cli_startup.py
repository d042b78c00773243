"""`ann -h`, `ann list` and argument errors answer without importing torch (issue 29): `import
ann` is light, the command line parses before it imports anything heavy, and what it needs from
the registered tasks, models and datasets is kept by ann.cli_cache. Behaviour, not timing: each
command runs in a fresh process that reports whether torch was imported."""

import json
import subprocess
import sys

import pytest

from ann import cli_cache
from helpers import env

PROBE = """import sys
from ann.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("TORCH" if "torch" in sys.modules else "NO-TORCH", code, file=sys.stderr)
"""


def probe(*args, cache, **extra):
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          timeout=300, env=env(ANN_CACHE_DIR=cache, **extra))
    torch, code = proc.stderr.strip().splitlines()[-1].split()
    return proc.stdout, torch == "TORCH", int(code)


def test_import_ann_imports_no_torch():
    code = "import sys, ann, ann.cli, ann.errors, ann.recipes; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(),
                         check=True).stdout
    assert out.split() == ["False"]


def in_process(args, capsys) -> str:
    """``ann ARGS`` in this process (torch already imported here): computes and keeps what the
    command line needs, as a first call would."""
    from ann import cli

    try:
        cli.main(list(args))
    except SystemExit:
        pass
    return capsys.readouterr().out


def test_help_list_and_argument_errors_answer_without_torch(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("ANN_CACHE_DIR", str(cache))
    first = {args: in_process(args.split(), capsys) for args in ("-h", "list", "list --datasets")}
    assert "predict" in first["-h"] and "cnn-digits" in first["list"]
    warm = {}
    for args in ("-h", "list", "list --datasets", "train -h", "predict -h", "frobnicate",
                 "train --bogus-flag", "train cnn-digts", "eval", "tour --list", "explain"):
        warm[args] = out = probe(*args.split(), cache=cache)
        assert not out[1], f"ann {args} imported torch"
    for args in first:                                                   # the same answers
        assert warm[args][0] == first[args], args
    assert warm["frobnicate"][2] == 2 and warm["train cnn-digts"][2] != 0
    # --import may register more: the cache is not used and torch comes in
    (tmp_path / "mine.py").write_text("")
    out, imported, code = probe("--import", "mine", "-h", cache=cache,
                                PYTHONPATH=f"{tmp_path}:{env()['PYTHONPATH']}")
    assert imported and code == 0 and out == first["-h"]


def test_a_changed_package_file_computes_afresh(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_CACHE_DIR", str(tmp_path))
    calls = []
    compute = lambda: calls.append(1) or {"n": len(calls)}                 # noqa: E731
    assert cli_cache.cached("k", compute) == {"n": 1}
    assert cli_cache.cached("k", compute) == {"n": 1} and len(calls) == 1   # kept
    assert json.loads(next((tmp_path / "cli").glob("*.json")).read_text())["k"] == {"n": 1}
    monkeypatch.setattr(cli_cache, "fingerprint", lambda: "another-version")
    assert cli_cache.cached("k", compute) == {"n": 2}                       # another ann
    assert cli_cache.cached("k", compute, use=False) == {"n": 3}            # --import


def test_the_fingerprint_follows_the_package_files(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(cli_cache, "PACKAGE", pkg)
    first = cli_cache.fingerprint()
    assert cli_cache.fingerprint() == first
    (pkg / "a.py").write_text("x = 22\n")
    assert cli_cache.fingerprint() != first


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_an_unwritable_cache_still_answers(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder would be")
    out, _, code = probe("-h", cache=blocker)
    assert code == 0 and "predict" in out
