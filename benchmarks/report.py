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
        if "std" in r:   # --seeds / --folds: mean +- standard deviation over the runs
            std = f"{100 * r['std']:.2f}" if r["metric"] in ("accuracy", "exact_match") \
                else f"{r['std']:.4f}"
            value = f"{fmt(r['mean'])} ± {std} ({r['over']}, range {fmt(r['min'])}-{fmt(r['max'])})"
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
        if r.get("kind") == "gnn":        # benchmarks/gnn_speed.py: one row per model and graph
            rows += gnn_speed_rows(r)
            continue
        if r.get("kind") == "lstm":       # benchmarks/lstm_speed.py: fast and readable paths
            rows += lstm_speed_rows(r)
            continue
        c, m = r["config"], r["machine"]
        work = (f"GPT train step, {c['n_layer']} layers x {c['n_embd']}, {c['n_head']} heads, "
                f"T {c['block_size']}, B {c['batch_size']}")
        rows.append(f"| {work} | {r['ann']['tokens_per_s']:,.0f} tokens/s | "
                    f"{r['hf']['tokens_per_s']:,.0f} tokens/s (transformers GPT2LMHeadModel) | "
                    f"{r['speedup']:.2f}x | {r['ann']['mfu']:.0%} / {r['hf']['mfu']:.0%} "
                    f"({r['peak_flops'] / 1e9:.0f} GFLOP/s) | `{r['command']}` | "
                    f"{m['cores']} cores, {m['torch_threads']} threads, {m['cpu']} | {r['date']} |")
    return "\n".join(rows)


def lstm_speed_rows(r: dict) -> list[str]:
    c, m = r["config"], r["machine"]
    work = (f"LSTM LM train step, {c['n_layer']} x {c['hidden']}, vocab {c['vocab_size']}, "
            f"T {c['block_size']}, B {c['batch_size']}")
    return [f"| {work}, {label} | {r[key]['tokens_per_s']:,.0f} tokens/s | "
            f"{r['torch']['tokens_per_s']:,.0f} tokens/s ({r['peer']}) | {r[key + '_vs_torch']:.2f}x | "
            f"- | `{r['command']}` | {m['cores']} cores, {m['torch_threads']} threads, {m['cpu']} | "
            f"{r['date']} |" for key, label in (("ann", "fused path"), ("readable", "readable cells"))]


def gnn_speed_rows(r: dict) -> list[str]:
    m = r["machine"]
    return [f"| {row['model'].upper()} full-batch training epoch, {row['dataset']} | "
            f"{row['ann_ms']:.1f} ms | {row['pyg_ms']:.1f} ms ({r['peer']}) | "
            f"{row['speedup']:.2f}x | - | `{r['command']}` | {m['cores']} cores, "
            f"{m['torch_threads']} threads, {m['cpu']} | {r['date']} |" for row in r["rows"]]


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
