"""Render the results table of BENCHMARKS.md from benchmarks/results/*.json (numbers are never
typed by hand). Prints the table; `--write` replaces the block between the markers in
BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def table() -> str:
    rows = ["| recipe | test metric | target | reached | reference | params | train time | "
            "command | machine | date |", "|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted((HERE / "results").glob("*.json")):
        r = json.loads(path.read_text())
        m = r["machine"]
        runs = r["runs"]
        fmt = (lambda v: f"{100 * v:.2f}%") if r["metric"] == "accuracy" else (lambda v: f"{v:.4f}")
        value = fmt(r["mean"]) if len(runs) == 1 else \
            f"{fmt(r['mean'])} (range {fmt(r['min'])}-{fmt(r['max'])}, {len(runs)} seeds)"
        rows.append(f"| `{r['recipe']}` | {r['metric']} {value} | {fmt(r['target'])} | "
                    f"{'yes' if r['reached'] else '**no**'} | {r['reference'] or '-'} | "
                    f"{r['parameters']:,} | {runs[0]['train_time_s']:.0f} s ({runs[0]['steps']} steps) | "
                    f"`{r['command']}` | {m['cores']} cores, {m['cpu']}, torch {m['torch']} | "
                    f"{r['date']} |")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="update BENCHMARKS.md in place")
    args = p.parse_args()
    text = table()
    if not args.write:
        print(text)
        return
    doc = HERE.parent / "BENCHMARKS.md"
    old = doc.read_text()
    start, end = old.index(BEGIN) + len(BEGIN), old.index(END)
    doc.write_text(old[:start] + "\n" + text + "\n" + old[end:])


if __name__ == "__main__":
    main()
