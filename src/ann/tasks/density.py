"""Density estimation by exact likelihood (normalizing flows): the model's ``log_prob(x,
generator)`` gives each example's log-likelihood (B,) in nats; the loss is the mean negative
log-likelihood.

Evaluation reports ``nll`` (nats per example, the metric, lower is better; ``loss`` is the same)
and ``bits_per_dim``, ``nll / (D ln 2)`` for D coordinates per example; for images the model's
log-likelihood is of the discrete image (a dequantization bound, Theis et al. 2016), so bits per
dimension are the figure papers quote. Dequantization noise comes from a generator seeded with 0
at each evaluation, so the figures of one split are comparable from evaluation to evaluation.

A finished run's report draws, for 2-D data, ``density.png``: the learned density as a heatmap
beside the test points and as many samples; for images, ``samples.png``, a grid of samples.
``ann generate RUN`` draws samples: a PNG grid for images, a CSV of points (or, ``--out
x.png``, a scatter plot of 2-D points) for vectors.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..errors import AnnError
from ..registry import register_task
from ..train.device import model_device
from ..train.distributed import unwrap
from .base import SEED, Answer, Option, Task, Verb

LOWER = ("nll", "bits_per_dim", "loss")
MAX_SAMPLES = 100_000
GENERATE = Verb("generate", "generate_samples", (
    Option("n", int, "density models: how many samples (default 64 images, 1,000 points)"),
    SEED,
    Option("out", metavar="FILE", help="density models: a .png (image grid, or a scatter of "
           "2-D points) or a .csv of points (default RUN_DIR/generated.png or .csv)")),
    "samples of the learned density: an image grid, or points as CSV")


def _dims(model) -> int:
    return model.config.dims


@register_task
class Density(Task):
    """Density estimation: mean negative log-likelihood as the loss; ``nll`` (nats per example,
    lower is better) and ``bits_per_dim``."""

    name = "density"
    metric = "nll"
    higher_is_better = False
    verbs = {"generate": GENERATE}

    def is_higher_better(self, metric: str) -> bool:
        return False if metric in LOWER else super().is_higher_better(metric)

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        # through forward (the log-likelihood), so a DistributedDataParallel wrapper syncs it
        return -model(batch[0]).mean(), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        flow, total, count, generator = unwrap(model), 0.0, 0, None
        for batch in batches:
            x = batch[0]
            if generator is None:
                generator = torch.Generator(device=x.device).manual_seed(0)
            total += -float(flow.log_prob(x, generator).double().sum())
            count += len(x)
        nll = total / max(count, 1)
        return {"nll": nll, "bits_per_dim": nll / (_dims(flow) * math.log(2)), "loss": nll}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Log-likelihood of each input (B,) in nats."""
        return unwrap(model).log_prob(x)

    # --- a finished run ----------------------------------------------------------------------
    def report(self, run, test_data, folder) -> None:
        """``density.png`` (2-D points) or ``samples.png`` (images)."""
        model = unwrap(run.model).eval()
        g = torch.Generator(device=model_device(model)).manual_seed(0)
        if model.config.images:
            from ..report.generative import save_grid

            save_grid(model.sample(64, g).cpu(), Path(folder) / "samples.png", nrow=8)
        elif model.config.dims == 2:
            x = test_data.batch(slice(0, len(test_data)))[0]
            plot_density(model, x, model.sample(len(x), g).cpu(), Path(folder) / "density.png")

    def generate_samples(self, run, n: int | None = None, seed: int = 0,
                         out=None) -> list[Answer]:
        """``ann generate RUN [--n N] [--seed S] [--out FILE]``: samples of the density."""
        model = unwrap(run.model).eval()
        images = model.config.images
        n = (64 if images else 1000) if n is None else n
        if not 1 <= n <= MAX_SAMPLES:
            raise AnnError(f"--n must be between 1 and {MAX_SAMPLES}, got {n}")
        path = Path(out) if out is not None else run.path / ("generated.png" if images
                                                             else "generated.csv")
        suffix = path.suffix.lower()
        if suffix not in (".png", ".csv") or (images and suffix != ".png") or \
                (suffix == ".png" and not images and model.config.dims != 2):
            raise AnnError(f"--out {path}: write images to a .png, points to a .csv (or 2-D "
                           "points to a .png scatter plot)")
        if not path.parent.is_dir():
            raise AnnError(f"--out {path}: folder {path.parent} does not exist; create it first")
        g = torch.Generator(device=model_device(model)).manual_seed(seed)
        samples = torch.cat([model.sample(min(4096, n - i), g).cpu() for i in range(0, n, 4096)])
        if images:
            from ..report.generative import save_grid

            save_grid(samples, path, max(1, math.ceil(math.sqrt(n))))
        elif suffix == ".png":
            plot_density(model, None, samples, path)
        else:
            from .. import fileio

            head = ",".join(f"x{i}" for i in range(samples.shape[1]))
            rows = "\n".join(",".join(f"{v:.6g}" for v in row) for row in samples.tolist())
            fileio.write_text(path, head + "\n" + rows + "\n")
        return [Answer(f"wrote {n} samples to {path}", {"samples": n, "file": str(path)})]


@torch.no_grad()
def plot_density(model, points, samples, path: Path, side: int = 200):
    """The density of a 2-D model as a heatmap over the points' box, beside the points (when
    given) and the samples."""
    from ..report.plots import save, subplots

    cloud = samples if points is None else points
    lo, hi = cloud.min(0).values, cloud.max(0).values
    pad = 0.15 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    xs, ys = (torch.linspace(float(lo[i]), float(hi[i]), side) for i in range(2))
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)                       # (side^2, 2)
    device = model_device(model)
    logp = torch.cat([model.log_prob(grid[i:i + 8192].to(device)).cpu()
                      for i in range(0, len(grid), 8192)])
    density = logp.exp().view(side, side).numpy()                             # (side, side)
    panels = 2 if points is None else 3
    fig, axes = subplots(1, panels, figsize=(4.2 * panels, 4))
    extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
    axes[0].imshow(density, origin="lower", extent=extent, cmap="viridis", aspect="auto")
    axes[0].set_title("learned density p(x)")
    shown = [("samples", samples, "tab:orange")]
    if points is not None:
        shown.insert(0, ("test points", points, "tab:blue"))
    for ax, (title, pts, colour) in zip(axes[1:], shown):
        ax.scatter(pts[:, 0].numpy(), pts[:, 1].numpy(), s=2, alpha=0.5, color=colour)
        ax.set(title=title, xlim=extent[:2], ylim=extent[2:])
    save(fig, path)
