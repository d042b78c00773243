"""Running the `ann` command in a subprocess, as a user would."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
BENCHMARKS = SRC.parent / "benchmarks"


def env(**extra):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(SRC) + os.pathsep + e.get("PYTHONPATH", "")
    e.update({k: str(v) for k, v in extra.items()})
    return e


def ann(*args, check=True, timeout=300, cwd=None, **extra_env):
    """Run `python -m ann ARGS`; returns the CompletedProcess."""
    proc = subprocess.run([sys.executable, "-m", "ann", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env(**extra_env))
    if check and proc.returncode != 0:
        raise AssertionError(f"ann {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def fails_cleanly(proc, *words):
    """A user error: non-zero exit, one line on stderr naming ``words``, no traceback."""
    assert proc.returncode != 0, proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    return lines[0]


def benchmark_module(name: str):
    """A script of benchmarks/ (``"recipes"``, ``"report"``) imported as a module, to test its
    functions."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
