"""Data augmentation with a conditional GAN (issue 6): LeNet-5 trained on 100 labelled MNIST
images with and without 5,000 cgan-mnist samples; test accuracy of both.

    python benchmarks/gan_augment.py benchmarks/results/runs/cgan-mnist-0

Writes benchmarks/results/generative/gan-augment.json (beside, not among, the recipe results).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ann import fileio
from ann.apps.experiments.generative import augmentation_experiment

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cgan_run", help="a finished cgan-mnist run directory")
    p.add_argument("--real", type=int, default=100)
    p.add_argument("--fake", type=int, default=5000)
    p.add_argument("--steps", type=int, default=1500)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    start = time.time()
    out = augmentation_experiment(args.cgan_run, args.real, args.fake, args.steps)
    out["wall_time_s"] = round(time.time() - start, 1)
    out["command"] = (f"python benchmarks/gan_augment.py {args.cgan_run} --real {args.real} "
                      f"--fake {args.fake} --steps {args.steps}")
    fileio.write_json(HERE / "results" / "generative" / "gan-augment.json", out)
    print(f"{out['n_real']} real images: test accuracy {out['accuracy_real']:.4f}; with "
          f"{out['n_fake']} cgan samples: {out['accuracy_real_plus_gan']:.4f}")


if __name__ == "__main__":
    main()
