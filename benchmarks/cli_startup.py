"""How fast the command line answers what needs no model (issue 29): `ann -h`, `ann list` and
`ann list --datasets` against `python -c pass` (the interpreter's own start) and `python -c
"import torch"` (what every call paid when `import ann` imported torch), in alternating rounds;
medians. Each ann command also runs once first on an empty cache (the first call after
installing or changing ann, which computes and keeps its tables: ann.cli_cache).

    python benchmarks/cli_startup.py [--rounds 9] [--before REV]

``--before``: a git revision of this repository (e.g. the commit before the change), whose
``src`` is unpacked to a temporary folder and whose `ann -h` and `ann list` join the rounds.
Writes results/cli/startup.json; `python benchmarks/report.py --write` renders it into
BENCHMARKS.md (block cli-startup).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
RESULT = HERE / "results" / "cli" / "startup.json"


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def _timed(argv: list[str], src: Path, cache: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "ANN_CACHE_DIR": cache}
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return seconds


def unpack(rev: str) -> Path:
    """The ``src`` folder of revision ``rev``, unpacked into a temporary folder."""
    out = Path(tempfile.mkdtemp(prefix="ann-before-"))
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", rev, "src"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out / "src"


def measure(rounds: int, before: Path | None) -> dict:
    py = sys.executable
    cases = {"python -c pass": ([py, "-c", "pass"], SRC),
             "python -c 'import torch'": ([py, "-c", "import torch"], SRC),
             "ann -h": ([py, "-m", "ann", "-h"], SRC),
             "ann list": ([py, "-m", "ann", "list"], SRC),
             "ann list --datasets": ([py, "-m", "ann", "list", "--datasets"], SRC)}
    if before is not None:
        cases["ann -h (before)"] = ([py, "-m", "ann", "-h"], before)
        cases["ann list (before)"] = ([py, "-m", "ann", "list"], before)
    cache = tempfile.mkdtemp(prefix="ann-cli-startup-")
    first = {name: _timed(argv, src, cache) for name, (argv, src) in cases.items()
             if name.startswith("ann") and "before" not in name}      # empty cache: computed
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):                   # alternating: each round runs every case once
        for name, (argv, src) in cases.items():
            times[name].append(_timed(argv, src, cache))
    return {"first_call_s": first,
            "median_s": {k: statistics.median(v) for k, v in times.items()},
            "min_s": {k: min(v) for k, v in times.items()}, "rounds": rounds}


def table() -> str:
    r = json.loads(RESULT.read_text())
    med, first, m = r["median_s"], r["first_call_s"], r["machine"]
    base = med["python -c pass"]
    rows = ["| command | median | over `python -c pass` | first call (empty cache) |",
            "|---|---|---|---|"]
    for name, seconds in med.items():
        cold = f"{first[name]:.2f} s" if name in first else "-"
        rows.append(f"| `{name}` | {seconds:.2f} s | +{seconds - base:.2f} s | {cold} |")
    rows.append(f"\n{r['rounds']} alternating rounds, medians; command `{r['command']}`; machine "
                f"{m['cores']} cores ({m['cpu']}), shared: load average {m['load_before']} before "
                f"and {m['load_after']} after; torch {m['torch']}, Python {m['python']}; "
                f"date {r['date']}.")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--before", default=None, help="a git revision to time beside this one")
    args = p.parse_args(argv)
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    result = measure(args.rounds, unpack(args.before) if args.before else None)
    result.update({
        "command": "python benchmarks/cli_startup.py" + (f" --rounds {args.rounds}" if args.rounds != 9
                                                          else "")
                   + (f" --before {args.before}" if args.before else ""),
        "date": datetime.date.today().isoformat(),
        "machine": {"cores": os.cpu_count(), "cpu": _cpu(), "load_before": load_before,
                    "load_after": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
                    "torch": importlib.metadata.version("torch"),
                    "python": platform.python_version()}})
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
