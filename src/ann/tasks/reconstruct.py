"""Reconstruction (autoencoders): the model rebuilds its input; its per-example loss terms come
from ``model.losses(x, generator)`` (a dict of (B,) tensors with ``loss`` among them: an
autoencoder's squared error, a VAE's reconstruction plus KL term); the task averages them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..errors import AnnError
from ..registry import register_task
from ..train.device import model_device
from .base import FILES, SEED, Answer, Option, Task, Verb
from .rows import Table, batched, number, read_rows_of


def _sum_terms(totals: dict, terms: dict):
    for k, v in terms.items():
        totals[k] = totals.get(k, 0.0) + float(v.float().sum())


def _mean_psnr(mse: torch.Tensor) -> torch.Tensor:
    """Per-example PSNR in dB for data in [0, 1], capped at 100 dB (a perfect copy)."""
    return (10 * torch.log10(1.0 / mse.float().clamp_min(1e-10))).clamp(max=100.0)


# The generate verb's options of the image generators (VAE, GAN, super-resolution).
IMAGE_COUNT = Option("n", int, "image generators: how many images (default 64)")
IMAGE_LABEL = Option("label", int, "conditional image generators: the class to draw")
IMAGE_OUT = Option("out", metavar="FILE", help="image generators: the PNG grid to write (default "
                   "RUN_DIR/generated.png)")
GENERATE_IMAGES = Verb("generate", "generate_images", (IMAGE_COUNT, IMAGE_LABEL, SEED, IMAGE_OUT),
                       "a grid of generated images")
SCORE = Verb("predict", "score_inputs", (
    dataclasses.replace(FILES, help="autoencoders: one CSV/TSV (or .npy) file of rows for a run "
                        "trained on rows, else pictures or .npy images"),
    Option("out", metavar="FILE", help="autoencoders: the CSV file to write the scores to, or "
           "for pictures a .png of each input beside its reconstruction")),
             "the anomaly score (reconstruction error) of each row or picture; --out writes the "
             "scores as CSV, or the reconstructions as PNG")


class ImageGenerator:
    """The generate verb's method of the generative tasks (their ``verbs`` name it)."""

    def generate_images(self, run, n: int | None = None, label: int | None = None, seed: int = 0,
                        out=None, input=None) -> list[Answer]:
        """``ann generate RUN --n 64 [--label K] [--out grid.png]``: a grid of generated images
        (a super-resolution run upscales the ``--input`` images instead)."""
        from .images import generate_to_file

        n = 64 if n is None else n
        path = generate_to_file(run, n, label, seed, out, input)
        count = len(input) if input else n
        return [Answer(f"wrote {count} images to {path}", {"images": count, "file": str(path)})]


@register_task
class Reconstruction(ImageGenerator, Task):
    """Rebuild the input: the loss is the mean of the model's per-example ``loss``. Evaluation
    averages every term per example and adds ``psnr`` (mean per-image PSNR in dB of the
    reconstruction, data in [0, 1]) and, for a denoiser, ``psnr_input`` (of the corrupted
    input). Corruption and sampling use a generator seeded with 0 at each evaluation, so the
    figures of one split are comparable from evaluation to evaluation. Lower loss is better."""

    name = "reconstruct"
    targets = "class"
    unlabelled = True
    verbs = {"generate": GENERATE_IMAGES, "predict": SCORE}
    metric = "loss"
    higher_is_better = False

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        return model.losses(batch[0])["loss"].mean(), {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        totals, count, generator = {}, 0, None
        for batch in batches:
            x = batch[0]
            if generator is None:
                generator = torch.Generator(device=x.device).manual_seed(0)
            terms = model.losses(x, generator)
            images = getattr(getattr(model, "config", None), "images", True)
            extra = {"psnr": _mean_psnr(terms["mse"])} if images else {}
            if "mse_input" in terms:
                extra["psnr_input"] = _mean_psnr(terms["mse_input"])
            _sum_terms(totals, {**terms, **extra})
            count += len(x)
        return {k: v / max(count, 1) for k, v in totals.items()}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Reconstructions in data space, the input's shape."""
        return model(x)

    def report(self, run, test_data, folder) -> None:
        """Reconstructions (and a VAE's samples and interpolations, a denoiser's before and
        after) and the figures of the codes' use (:func:`ann.tasks.images.reconstruction_uses`)."""
        from .images import reconstruction_uses, record_uses

        record_uses(run, reconstruction_uses(run, test_data))

    def score_inputs(self, run, files, out=None) -> list[Answer]:
        """``ann predict RUN rows.csv`` (a run trained on rows) or ``ann predict RUN a.png
        ...``: the anomaly score of each input, the run's per-example loss on it (the
        reconstruction's mean squared error in data space; a VAE's negative ELBO), computed as
        the run's AUROC was: higher is more anomalous. Columns ``row`` (1 for the first row) or
        ``file``, and ``score``. For pictures ``--out FILE.png`` draws each input beside its
        reconstruction (the scores are printed); any other ``--out`` is the CSV of scores."""
        from ..data.rows import describes_rows

        model, device = run.model.eval(), model_device(run.model)
        generator = torch.Generator(device=device).manual_seed(0)
        score = lambda x: model.losses(x, generator)["loss"]      # noqa: E731  (B,)
        if describes_rows(run.info):
            path, rows = read_rows_of(run, files)
            table = Table(["row", "score"])
            for n, s in enumerate(batched(score, rows.x, device).tolist()):
                table.add([str(n + 1), number(s)], f"row {n + 1}: score {s:.6g}",
                          {"row": n + 1, "score": s})
            return table.answers(out, [path])
        names, x = _images(run, files)
        picture = out is not None and Path(out).suffix.lower() == ".png"
        if picture and any(Path(f).resolve() == Path(out).resolve() for f in names):
            raise AnnError(f"--out {out} is an input file; choose another file")
        table = Table(["file", "score"])
        for name, s in zip(names, batched(score, x, device).tolist()):
            table.add([str(name), number(s)], f"{name}: score {s:.6g}",
                      {"file": str(name), "score": s})
        if not picture:
            return table.answers(out, names)
        from ..report.generative import save_grid

        recon = batched(model, x, device)                              # (N, C, H, W)
        pairs = torch.stack([model.to_data(x).cpu(), recon], 1).flatten(0, 1)   # (2N, C, H, W)
        save_grid(pairs, out, nrow=2 * min(8, len(names)))
        return table.answers() + [Answer(f"wrote {len(names)} inputs beside their "
                                         f"reconstructions to {out}",
                                         {"file": str(out), "images": len(names)})]


def _images(run, files) -> tuple[list, torch.Tensor]:
    """The picture (or ``.npy`` image) files, folders expanded, and the standardised batch
    (N, C, H, W) read as the run's training images were."""
    from ..data import read_image_file
    from ..data.folders import EXTENSIONS, read_fitted_image
    from .classify import expand_folders

    info = run.info
    if "in_channels" not in info:
        raise AnnError(f"{run.path}: its data.json does not say how an input was read; train "
                       "it again to score new inputs")
    reader = read_fitted_image if info.get("fit_images") else read_image_file
    names = expand_folders(list(files), (*EXTENSIONS, ".npy"))
    return names, torch.cat([reader(f, info) for f in names])
