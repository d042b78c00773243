"""Render the generated tables of BENCHMARKS.md from benchmarks/results/ (numbers are never
typed by hand). Prints the tables; `--write` replaces every generated block (the text between its
`<!-- NAME:begin -->` and `<!-- NAME:end -->` markers) and leaves the prose around them alone;
`--check` exits 1 naming the blocks that differ from what the stored results render.

Blocks (see BLOCKS): results and speed (this file), scratch (results/scratch/, written by
benchmarks/scratch_digits.py), classical (benchmarks/classical.py's table) and generative
(benchmarks/generative_report.py's tables)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
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


def scratch_table() -> str:
    """ann.apps.scratch against ann's PyTorch recipes on digits (benchmarks/scratch_digits.py)."""
    path = HERE / "results" / "scratch" / "digits.json"
    if not path.exists():
        return "(no results yet: run `python benchmarks/scratch_digits.py`)"
    r = json.loads(path.read_text())
    m = r["machine"]
    rows = ["| model | implementation | test accuracy (mean ± std, range) | gap (points) | epochs | "
            "wall time per run |", "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        a, w = row["accuracy"], row["wall_time_s"]
        gap = f"{row['gap_points']:+.2f}" if "gap_points" in row else "-"
        rows.append(f"| {row['model']} | {row['implementation']} | {100 * a['mean']:.2f}% ± "
                    f"{100 * a['std']:.2f} ({100 * a['min']:.2f}-{100 * a['max']:.2f}%) | {gap} | "
                    f"{row['epochs']} | {w['mean']:.1f} s |")
    rows.append(f"\n{r['seeds']} seeds each; command `{r['command']}`; machine {m['cores']} cores "
                f"({m['cpu']}), one thread, torch {m['torch']}, Python {m['python']}; "
                f"date {r['date']}.")
    return "\n".join(rows)


def _script(name: str):
    """A sibling benchmark script imported as a module (for its table functions)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(HERE))
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def _generative() -> str:
    g = _script("generative_report")
    return g.uses_table() + "\n\n" + g.extra_tables()


# block name -> the function rendering it from the stored results
BLOCKS = {
    "results": table,
    "speed": speed_table,
    "scratch": scratch_table,
    "classical": lambda: _script("classical").table(),
    "generative": _generative,
    "own-data": lambda: _script("own_data").table(),
    "cli-startup": lambda: _script("cli_startup").table(),
}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def _replace(doc: str, begin: str, end: str, text: str) -> str:
    start, stop = doc.index(begin) + len(begin), doc.index(end)
    return doc[:start] + "\n" + text + "\n" + doc[stop:]


def render(doc: str, names=None) -> str:
    """``doc`` with every generated block present in it (or those in ``names``) re-rendered."""
    for name in names or BLOCKS:
        begin, end = _markers(name)
        if begin in doc and end in doc:
            doc = _replace(doc, begin, end, BLOCKS[name]())
    return doc


def stale(doc: str) -> list[str]:
    """The generated blocks of ``doc`` that differ from what the stored results render."""
    out = []
    for name in BLOCKS:
        begin, end = _markers(name)
        if begin in doc and end in doc and render(doc, [name]) != doc:
            out.append(name)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="update BENCHMARKS.md in place")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if BENCHMARKS.md differs from what the results render")
    args = p.parse_args(argv)
    path = HERE.parent / "BENCHMARKS.md"
    if args.check:
        drifted = stale(path.read_text())
        print("BENCHMARKS.md matches the stored results" if not drifted else
              f"BENCHMARKS.md differs from the stored results in: {', '.join(drifted)} "
              "(run python benchmarks/report.py --write)")
        return 1 if drifted else 0
    if not args.write:
        print("\n\n".join(f"{_markers(n)[0]}\n{f()}" for n, f in BLOCKS.items()))
        return 0
    doc = path.read_text()           # read just before writing: others edit the prose
    new = render(doc)
    if new != doc:
        from ann import fileio

        fileio.write_text(path, new)
    print(f"BENCHMARKS.md: {', '.join(stale(doc)) or 'nothing'} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
