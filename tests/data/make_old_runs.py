"""Write the tiny run directories of tests/data/old_runs/ and what the commands print on them.

Run once, with the version of ann whose run directories must stay readable (it was first run
before the refactor that moved the tasks out of ann/train/ and split the recipes):

    PYTHONPATH=src python tests/data/make_old_runs.py

The directories are the behaviour to keep: tests/test_old_runs.py copies each one to a temporary
folder and runs `ann info`, `ann eval` and the family's own command (`predict`, `generate`,
`translate`, `fill`) on it, comparing with what this script recorded in
tests/data/old_runs/expected.json. Do not rerun it after the refactor to make those tests pass:
a difference is a run directory of the old version that the new one reads differently.

Each run trains a recipe on embedded data at a tiny size (a few dozen steps, small layers) on
one CPU thread, then keeps only what loading needs (config.json, summary.json, metrics.jsonl,
model.safetensors, tokenizer.json) and the small text outputs (samples.txt); plots are dropped.
The classifier also keeps its checkpoints/, so that resuming an old run is tested too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "old_runs"
SRC = HERE.parents[1] / "src"

COMMON = ["train.threads=1", "train.device=cpu", "--quiet"]

# name -> (recipe, overrides). The name is the folder under old_runs/.
RUNS = {
    "cnn-digits": ("cnn-digits", [
        "model.widths=8,16", "train.epochs=0", "train.max_steps=150", "train.eval_every=50",
        "train.batch_size=32"]),
    "gpt-pydoc": ("gpt-pydoc", [   # byte-level BPE, the recipe's tokenizer (2,048 tokens)
        "model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.block_size=32",
        "train.max_steps=200", "train.eval_every=100", "train.batch_size=16",
        "train.warmup_steps=10", "train.lr=3e-3"]),
    "transformer-numbers": ("transformer-numbers", [
        "model.n_encoder_layers=1", "model.n_decoder_layers=1", "model.d_model=32",
        "model.n_heads=2", "model.d_ff=64", "train.max_steps=300", "train.eval_every=150"]),
    "bert-pydoc": ("bert-pydoc", [  # WordPiece (4,258 pieces on this corpus)
        "model.n_layer=1", "model.n_head=2", "model.n_embd=16", "train.max_steps=150",
        "train.eval_every=75", "train.batch_size=16", "train.warmup_steps=10"]),
    "gcn-karate": ("gcn-karate", ["train.epochs=40"]),
    "vae-digits": ("vae-digits", [
        "model.widths=8,16", "model.hidden=32", "train.epochs=0", "train.max_steps=60",
        "train.eval_every=30"]),
    "pnn-iris": ("pnn-iris", []),   # fitted in closed form: state sized from the weights file
}

# What loading and the commands read; everything else a run writes (plots, samples/) goes.
KEEP = {"config.json", "summary.json", "metrics.jsonl", "model.safetensors", "tokenizer.json",
        "samples.txt", "model.txt"}
KEEP_CHECKPOINTS = {"cnn-digits"}

# The commands whose output is recorded, per run: (label, arguments after the run directory).
# "{digit}" is replaced by a file the test writes: scikit-learn's digits.images[DIGIT] as .npy.
DIGIT = 0
COMMANDS = {
    "cnn-digits": [("predict", ["predict", "{run}", "{digit}", "--json"])],
    "gpt-pydoc": [
        ("greedy", ["generate", "{run}", "--prompt", "The ", "--max-new-tokens", "20",
                    "--temperature", "0"]),
        ("sampled", ["generate", "{run}", "--prompt", "The ", "--max-new-tokens", "20",
                     "--seed", "3"]),
    ],
    "transformer-numbers": [
        ("greedy", ["translate", "{run}", "4721"]),
        ("beam", ["translate", "{run}", "52013", "--beam", "3", "--length-penalty", "0.6"]),
    ],
    "bert-pydoc": [("fill", ["fill", "{run}", "the [MASK] statement raises an exception",
                             "--top", "5", "--json"])],
}


# Runs resumed from their kept checkpoint to this many steps (on a copy); the test metrics of the
# continued run are recorded.
RESUME = {"cnn-digits": 170}


def env(cache: Path) -> dict:
    e = dict(os.environ)
    e.update(PYTHONPATH=str(SRC), ANN_OFFLINE="1", ANN_CACHE_DIR=str(cache), MPLBACKEND="Agg",
             OMP_NUM_THREADS="1")
    return e


def ann(args, cache: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "ann", *map(str, args)], capture_output=True,
                          text=True, env=env(cache))
    if proc.returncode != 0:
        raise SystemExit(f"ann {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def prune(run: Path, keep_checkpoints: bool):
    for path in sorted(run.iterdir()):
        if path.name == "checkpoints" and keep_checkpoints:
            continue
        if path.name not in KEEP:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def digit_file(folder: Path) -> Path:
    import numpy as np
    from sklearn.datasets import load_digits

    path = folder / "digit.npy"
    np.save(path, load_digits().images[DIGIT])
    return path


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    expected = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        digit = digit_file(Path(tmp))
        for name, (recipe, overrides) in RUNS.items():
            run = OUT / name
            print(f"training {name} ...", flush=True)
            ann(["train", recipe, *overrides, *COMMON, "--out", run], cache)
            prune(run, name in KEEP_CHECKPOINTS)
            expected[name] = {}
            for label, args in COMMANDS.get(name, []):
                out = ann([a.format(run=run, digit=digit) for a in args], cache)
                out = out.replace(str(digit), "{digit}").replace(str(run), "{run}")
                expected[name][label] = {"args": args, "stdout": out}
            if name in RESUME:
                copy = Path(tmp) / f"resumed-{name}"
                shutil.copytree(run, copy)
                args = ["train", "--resume", "{run}", f"train.max_steps={RESUME[name]}", "--quiet"]
                ann([a.format(run=copy) for a in args], cache)
                summary = json.loads((copy / "summary.json").read_text())
                expected[name]["resume"] = {"args": args, "steps": summary["steps"],
                                            "test": summary["test"]}
    import numpy
    import torch

    about = {"python": ".".join(map(str, sys.version_info[:3])), "torch": torch.__version__,
             "numpy": numpy.__version__, "digit": DIGIT,
             "note": "written by tests/data/make_old_runs.py; {run} is the run's folder, {digit} "
                     "a .npy file of sklearn's digits.images[digit]"}
    (OUT / "expected.json").write_text(json.dumps({"about": about, "runs": expected}, indent=1,
                                                  ensure_ascii=False) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    for run in sorted(p for p in OUT.iterdir() if p.is_dir()):
        size = sum(p.stat().st_size for p in run.rglob("*") if p.is_file())
        print(f"{run.name:22} {size / 1024:8.1f} KiB")
    print(f"{'total':22} {total / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
