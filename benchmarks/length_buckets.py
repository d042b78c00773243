"""What batching by length (``train.length_buckets``) saves on Multi30k, same run.

    python benchmarks/length_buckets.py                      # padding over one epoch, and timing
    python benchmarks/length_buckets.py --rounds 0           # padding only (no training steps)

A translation batch is padded to its longest source and its longest target. With examples drawn
in random order, a batch of 128 holds a long sentence or two and so is mostly padding; sorting
each pool of batches by length first (then shuffling the batches) keeps the lengths in a batch
close. The script counts, over one epoch of transformer-multi30k's batches (128 pairs), the
token positions the model computes (batch rows x padded width, source and target) against the
real tokens, for several pool sizes; then it times training steps of the recipe's model
(the tutorial's 3+3 x 256 Transformer) on the plain and the pooled batches, alternating, and
reports the median step time and their ratio. Results go to
benchmarks/results/padding/multi30k.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipes import machine  # noqa: E402

from ann import fileio  # noqa: E402
from ann.recipes import get_recipe  # noqa: E402
from ann.registry import build_model, fill_from_data, load_dataset, model_config  # noqa: E402
from ann.tasks.seq2seq import Seq2Seq  # noqa: E402
from ann.train.batches import EpochBatches  # noqa: E402

HERE = Path(__file__).resolve().parent


def padded_cost(data, batches: EpochBatches, pad: int) -> tuple[int, int]:
    """(positions computed, real tokens) over one epoch, source and target together."""
    computed = real = 0
    for step in range(batches.steps_per_epoch):
        x, y = data.batch(batches.indices(step))
        for t in (x, y):
            t = Seq2Seq.trim(t, pad)
            computed += t.numel()
            real += int((t != pad).sum())
    return computed, real


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pools", default="0,10,50,200", help="pool sizes in batches (0: plain)")
    ap.add_argument("--rounds", type=int, default=20, help="timed steps per side (0: none)")
    ap.add_argument("--pool", type=int, default=50, help="the pool size timed against plain")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    recipe = get_recipe("transformer-multi30k")
    train = load_dataset("multi30k", "train")
    conf = model_config("transformer", recipe.preset)
    fill_from_data(conf, train.info)
    pad, bs = conf.pad_id, recipe.train["batch_size"]
    task = Seq2Seq()
    model = build_model("transformer", conf)
    lengths = task.lengths(model, train)

    def batches(pool: int) -> EpochBatches:
        return EpochBatches(len(train), bs, seed=0, lengths=lengths if pool else None, pool=pool)

    padding = {}
    for pool in (int(p) for p in args.pools.split(",")):
        computed, real = padded_cost(train, batches(pool), pad)
        padding[pool] = {"computed": computed, "real": real, "padding": 1 - real / computed}
        print(f"pool {pool:4d} batches: {computed:,} positions for {real:,} tokens "
              f"({100 * (1 - real / computed):.1f}% padding)")

    timing = {}
    if args.rounds:
        opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
        sides = {"plain": batches(0), f"pool {args.pool}": batches(args.pool)}
        times = {k: [] for k in sides}

        def step(b: EpochBatches, s: int) -> float:
            batch = train.batch(b.indices(s))
            start = time.perf_counter()
            loss, _ = task.loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return time.perf_counter() - start

        for b in sides.values():            # warm-up, not counted
            step(b, 0)
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(sides)[::-1]
            for name in order:
                times[name].append(step(sides[name], r + 1))
        timing = {k: statistics.median(v) for k, v in times.items()}
        ratio = timing["plain"] / timing[f"pool {args.pool}"]
        print("median step: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timing.items())
              + f"; plain / pooled = {ratio:.2f}x")
        timing["ratio"] = ratio

    command = "python benchmarks/length_buckets.py " + " ".join(argv or sys.argv[1:])
    fileio.write_json(HERE / "results" / "padding" / "multi30k.json", {
        "batch_size": bs, "padding": padding, "median_step_s": timing, "rounds": args.rounds,
        "threads": args.threads, "command": command.strip(), "date": time.strftime("%Y-%m-%d"),
        "machine": machine()})


if __name__ == "__main__":
    main()
