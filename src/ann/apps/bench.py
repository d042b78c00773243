"""``ann bench``: run the long benchmarks of a checkout and regenerate BENCHMARKS.md's tables.

The benchmarks live in the repository's ``benchmarks/`` folder, not in the installed package, so
``ann bench`` works from a checkout (the current folder or one above it). Every stored result
under ``benchmarks/results/`` is a benchmark, named by its path there without ``.json``
(``cnn-digits``, ``bert-sst2-scratch``, ``speed/gpt``, ``classical/pnn-iris``), and records the
command that made it: ``ann bench`` runs that command again (``ann train R ...`` becomes
``benchmarks/recipes.py --only R ...``, which stores the result). A recipe with no stored result
yet is a benchmark too (``benchmarks/recipes.py --only R train.threads=1``). Results made from a
run folder by hand (commands with ``RUN_DIR``) are listed but not rerun. After the runs,
``benchmarks/report.py --write`` regenerates every generated table of BENCHMARKS.md.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import AnnError, suggest


@dataclass(frozen=True)
class Benchmark:
    name: str
    command: str                     # as recorded (or planned, for a recipe without a result)
    argv: tuple[str, ...] | None     # what ann bench runs; None: made by hand, not rerun
    stored: bool                     # a result exists under benchmarks/results/


_SCRIPT = re.compile(r"benchmarks/[A-Za-z0-9_]+\.py")


def _own_checkout() -> Path:
    """The checkout this ann is imported from (``src/ann`` of it), whether or not it has
    benchmarks."""
    return Path(__file__).resolve().parents[3]


def find_checkout(start: Path | None = None) -> Path:
    """The repository root above ``start`` (default: the current folder): the first folder
    holding ``benchmarks/report.py`` and ``pyproject.toml``, which must be the checkout of the
    ann being run: ann bench runs only its own scripts, never those of a folder it is run in."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "benchmarks" / "report.py").is_file() and (folder / "pyproject.toml").is_file():
            if folder != _own_checkout():
                raise AnnError(f"{folder} is not the checkout of the ann being run "
                               f"({_own_checkout()}); ann bench runs only its own benchmarks: cd "
                               "into that checkout")
            return folder
    raise AnnError(f"ann bench runs from a checkout of the ann repository (a folder with "
                   f"benchmarks/ and pyproject.toml), and {here} is not inside one; cd into it")


def _argv(name: str, command: str | None, root: Path | None = None) -> tuple[str, ...] | None:
    """What ann bench runs for a recorded ``command``: ``ann train RECIPE KEY=VALUE...`` reruns
    through ``benchmarks/recipes.py``; ``python benchmarks/NAME.py ...`` only when NAME.py is one
    of the checkout's own benchmark scripts (no other path, however it is spelled). Anything
    else is listed, not run: a results file is data, never a command to execute."""
    if not command or ";" in command or "RUN_DIR" in command or "--record" in command:
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if words[:2] == ["ann", "train"] and len(words) > 2:
        from ..recipes import RECIPES

        recipe, rest = words[2], [w for w in words[3:] if "=" in w and not w.startswith("-")]
        if recipe not in RECIPES:
            return None
        tag = name[len(recipe) + 1:] if name.startswith(recipe + "-") else ""
        return (sys.executable, "benchmarks/recipes.py", "--only", recipe,
                *(["--tag", tag] if tag else []), *rest)
    if len(words) > 1 and words[0] == "python" and _SCRIPT.fullmatch(words[1]):
        if (((root or _own_checkout()) / words[1]).is_file()
                and not ((root or _own_checkout()) / words[1]).is_symlink()):
            return (sys.executable, *words[1:])
    return None


def benchmarks(root: Path) -> dict[str, Benchmark]:
    """Every benchmark of the checkout at ``root``, by name."""
    import json

    from ..recipes import list_recipes

    results = root / "benchmarks" / "results"
    found: dict[str, Benchmark] = {}
    for path in sorted([*results.glob("*.json"), *results.glob("*/*.json")]):
        name = path.relative_to(results).with_suffix("").as_posix()
        try:
            command = json.loads(path.read_text()).get("command")
        except (OSError, ValueError):
            continue
        if not isinstance(command, str):
            command = None
        found[name] = Benchmark(name, command or "(not recorded)", _argv(name, command, root),
                                True)
    for r in list_recipes():
        if r.name not in found:
            command = f"python benchmarks/recipes.py --only {r.name} train.threads=1"
            found[r.name] = Benchmark(r.name, command, _argv(r.name, command, root), False)
    return found


def select(found: dict[str, Benchmark], only: str | None) -> list[Benchmark]:
    """The benchmarks ``--only`` names (comma-separated), or every rerunnable one."""
    if only is None:
        return [b for b in found.values() if b.argv]
    names = [n.strip() for n in only.split(",") if n.strip()]
    if not names:
        raise AnnError("--only names no benchmark; give comma-separated names (see ann bench --list)")
    chosen = []
    for n in names:
        if n not in found:
            raise AnnError(f"unknown benchmark {n!r}{suggest(n, found)}; `ann bench --list` "
                           "lists them")
        if found[n].argv is None:
            raise AnnError(f"benchmark {n!r} was made by hand from a run folder and is not rerun "
                           f"by ann bench; its command: {found[n].command}")
        chosen.append(found[n])
    return chosen


def listing(root: Path | None = None) -> str:
    root = root or find_checkout()
    rows = []
    for b in benchmarks(root).values():
        state = ("stored" if b.stored else "no result yet") + ("" if b.argv else ", by hand")
        rows.append(f"{b.name:<36} {state:<22} {b.command}")
    return "\n".join(rows)


def run(only: str | None = None, render_only: bool = False, dry_run: bool = False,
        root: Path | None = None) -> list[str]:
    """Run the chosen benchmarks one after another (a failure does not stop the others), then
    regenerate BENCHMARKS.md. Returns the names that failed; raises AnnError if any did."""
    root = root or find_checkout()
    chosen = [] if render_only else select(benchmarks(root), only)
    failed = []
    for i, b in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {b.name}: {shlex.join(b.argv[1:])}", flush=True)
        if dry_run:
            continue
        start = time.time()
        if subprocess.run(b.argv, cwd=root).returncode != 0:
            failed.append(b.name)
        print(f"[{i}/{len(chosen)}] {b.name}: {'failed' if b.name in failed else 'done'} in "
              f"{time.time() - start:.0f} s", flush=True)
    if not dry_run:
        proc = subprocess.run([sys.executable, "benchmarks/report.py", "--write"], cwd=root)
        if proc.returncode != 0:
            raise AnnError("benchmarks/report.py --write failed (its output is above)")
    if failed:
        raise AnnError(f"{len(failed)} of {len(chosen)} benchmarks failed: {', '.join(failed)} "
                       "(their output is above); the tables hold the other results")
    return failed
