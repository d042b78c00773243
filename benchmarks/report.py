"""Render the results table of BENCHMARKS.md from benchmarks/results/*.json (numbers are never
typed by hand). Prints the table; `--write` replaces the block between the markers in
BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
SPEED_BEGIN, SPEED_END = "<!-- speed:begin -->", "<!-- speed:end -->"


def table() -> str:
    rows = ["| recipe | test metric | target | reached | reference | params | train time | "
            "command | machine | date |", "|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted((HERE / "results").glob("*.json")):
        r = json.loads(path.read_text())
        m = r["machine"]
        runs = r["runs"]
        fmt = (lambda v: f"{100 * v:.2f}%") if r["metric"] in ("accuracy", "exact_match") \
            else (lambda v: f"{v:.4f}")
        value = fmt(r["mean"]) if len(runs) == 1 else \
            f"{fmt(r['mean'])} (range {fmt(r['min'])}-{fmt(r['max'])}, {len(runs)} seeds)"
        label = f"`{r['recipe']}`" + (f" ({r['tag']})" if r.get("tag") else "")
        rows.append(f"| {label} | {r['metric']} {value} | {fmt(r['target'])} | "
                    f"{'yes' if r['reached'] else '**no**'} | {r['reference'] or '-'} | "
                    f"{r['parameters']:,} | {runs[0]['train_time_s']:.0f} s ({runs[0]['steps']} steps) | "
                    f"`{r['command']}` | {m['cores']} cores, {m['cpu']}, torch {m['torch']} | "
                    f"{r['date']} |")
    return "\n".join(rows)


def speed_table() -> str:
    """Same-run speed comparisons against peers, from results/speed/*.json."""
    rows = ["| work | ann | peer | ann / peer | MFU ann / peer (measured peak) | command | machine | "
            "date |", "|---|---|---|---|---|---|---|---|"]
    for path in sorted((HERE / "results" / "speed").glob("*.json")):
        r = json.loads(path.read_text())
        c, m = r["config"], r["machine"]
        work = (f"GPT train step, {c['n_layer']} layers x {c['n_embd']}, {c['n_head']} heads, "
                f"T {c['block_size']}, B {c['batch_size']}")
        rows.append(f"| {work} | {r['ann']['tokens_per_s']:,.0f} tokens/s | "
                    f"{r['hf']['tokens_per_s']:,.0f} tokens/s (transformers GPT2LMHeadModel) | "
                    f"{r['speedup']:.2f}x | {r['ann']['mfu']:.0%} / {r['hf']['mfu']:.0%} "
                    f"({r['peak_flops'] / 1e9:.0f} GFLOP/s) | `{r['command']}` | "
                    f"{m['cores']} cores, {m['torch_threads']} threads, {m['cpu']} | {r['date']} |")
    return "\n".join(rows)


def _replace(doc: str, begin: str, end: str, text: str) -> str:
    start, stop = doc.index(begin) + len(begin), doc.index(end)
    return doc[:start] + "\n" + text + "\n" + doc[stop:]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="update BENCHMARKS.md in place")
    args = p.parse_args()
    text, speed = table(), speed_table()
    if not args.write:
        print(text + "\n\n" + speed)
        return
    doc = HERE.parent / "BENCHMARKS.md"
    new = _replace(doc.read_text(), BEGIN, END, text)
    doc.write_text(_replace(new, SPEED_BEGIN, SPEED_END, speed))


if __name__ == "__main__":
    main()
