"""Shift invariance of a trained TDNN: shift every test input in time and count how often the
prediction stays the same, and the accuracy at each shift (Waibel et al. 1989's argument for
weights shared across time).

    python benchmarks/tdnn_shift.py RUN_DIR [--shifts 0,5,10,20,40] [--tag speaker-theo]

Inputs are rolled along time: an FSDD recording is padded with silence at its end, so rolling
by s frames moves the spoken digit s frames (10 ms each) later. Results go to
benchmarks/results/tdnn/shift-RECIPE[-TAG].json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import ann
from ann import fileio
from ann.api import load_split
from ann.models.other.tdnn import shift_agreement

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--shifts", default="0,5,10,20,40")
    p.add_argument("--tag", default="", help="a variant's name: shift-RECIPE-TAG.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    run = ann.load(args.run_dir)
    test = load_split(run.config, "test")
    shifts = [int(s) for s in args.shifts.split(",")]
    agree = shift_agreement(run.model, test.x, shifts)
    with torch.no_grad():
        accuracy = {s: float((run.model(torch.roll(test.x, s, -1)).argmax(-1) == test.y)
                             .float().mean()) for s in shifts}
    result = {"recipe": run.config.recipe, "run": args.run_dir, "frames_ms": 10,
              "same_prediction": agree, "accuracy": accuracy, "examples": len(test),
              "command": f"python benchmarks/tdnn_shift.py RUN_DIR --shifts {args.shifts}",
              "date": time.strftime("%Y-%m-%d")}
    name = f"shift-{run.config.recipe}{'-' + args.tag if args.tag else ''}.json"
    fileio.write_json(HERE / "results" / "tdnn" / name, result)
    for s in shifts:
        print(f"shift {s:3d} frames ({10 * s} ms): same prediction {100 * agree[s]:.1f}%, "
              f"accuracy {100 * accuracy[s]:.2f}%")


if __name__ == "__main__":
    sys.exit(main())
