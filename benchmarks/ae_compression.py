"""Compression: an autoencoder's test reconstruction error and PSNR against its code size,
beside PCA with as many components (issue 6).

    python benchmarks/ae_compression.py                         # ae-digits, sizes 2..32
    python benchmarks/ae_compression.py --recipe ae-mnist --sizes 4,8,16,32,64 train.epochs=3

Writes benchmarks/results/generative/compression-RECIPE.json and the curves beside the runs in
benchmarks/results/runs/compression-RECIPE/.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from ann import fileio
from ann.apps.experiments.generative import compression_curve

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default="ae-digits")
    p.add_argument("--sizes", default="2,4,8,16,32")
    p.add_argument("overrides", nargs="*", help="key=value overrides for every run")
    args = p.parse_args(argv)
    folder = HERE / "results" / "runs" / f"compression-{args.recipe}"
    shutil.rmtree(folder, ignore_errors=True)
    start = time.time()
    overrides = dict(o.split("=", 1) for o in args.overrides)
    out = compression_curve(args.recipe, [int(s) for s in args.sizes.split(",")], folder, overrides)
    out["wall_time_s"] = round(time.time() - start, 1)
    out["command"] = " ".join(["python benchmarks/ae_compression.py", "--recipe", args.recipe,
                               "--sizes", args.sizes, *args.overrides])
    fileio.write_json(HERE / "results" / "generative" / f"compression-{args.recipe}.json", out)
    for i, size in enumerate(out["sizes"]):
        print(f"code {size:3d}: autoencoder PSNR {out['ae_psnr'][i]:.2f} dB (MSE "
              f"{out['ae_mse'][i]:.4f}), PCA {out['pca_psnr'][i]:.2f} dB (MSE {out['pca_mse'][i]:.4f})")


if __name__ == "__main__":
    main()
