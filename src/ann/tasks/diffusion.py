"""Denoising diffusion (DDPM/DDIM): the model regresses the noise added to its images, stepping
itself through ``training_step`` (it keeps a moving average of its weights); this task
evaluates the denoising loss, judges the samples with ann's own classifier as the GAN runs are
judged, and draws the denoising chain. ``ann generate RUN --label 3 --steps 50`` samples."""

from __future__ import annotations

import torch

from ..registry import register_task
from .adversarial import JUDGES
from .base import SEED, Answer, Option, Task, Verb
from .reconstruct import IMAGE_COUNT, IMAGE_LABEL, IMAGE_OUT, ImageGenerator

STEPS = Option("steps", int, "diffusion models: denoising steps (default: the model's "
               "sample_steps; fewer is faster, up to its timesteps)", metavar="N")
GUIDANCE = Option("guidance", float, "conditional diffusion models: classifier-free guidance "
                  "scale (1: none; default: the model's)")
GENERATE = Verb("generate", "generate_images",
                (IMAGE_COUNT, IMAGE_LABEL, SEED, IMAGE_OUT, STEPS, GUIDANCE),
                "a grid of images denoised from noise (DDIM or DDPM), of --label's class")
CHAIN_POINTS = 9       # states of the chain drawn in chain.png, x_T to x_0


class _Sampler:
    """A run's model seen by :func:`ann.tasks.images.generate_to_file`: ``sample`` with the
    verb's steps and guidance fixed."""

    def __init__(self, model, steps, guidance):
        self.model, self.steps, self.guidance = model, steps, guidance

    def __getattr__(self, name):
        return getattr(self.model, name)

    def eval(self):
        return self

    def sample(self, n, generator=None, label=None):
        return self.model.sample(n, generator, label, self.steps, self.guidance)


@register_task
class Diffusion(ImageGenerator, Task):
    """Denoising diffusion. Training goes through ``model.training_step``; ``loss`` (the contract
    tests') is the mean squared error of the predicted noise at random timesteps. Evaluation
    gives that loss over the split with seeded draws (lower is better, the checkpoint metric);
    the report adds the samples judged by ann's classifier of the dataset (``fd_classifier``,
    ``confidence``, ``label_accuracy`` for a conditional model: see
    :func:`ann.tasks.images.sample_quality`), ``samples.png`` and ``chain.png``."""

    name = "diffusion"
    targets = "class"
    verbs = {"generate": GENERATE}
    metric = "loss"
    higher_is_better = False

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        return model.losses(batch).mean(), {}

    def inputs(self, model, batch) -> tuple:
        """Noisy images (t = T / 2, seeded noise), the timesteps and the labels."""
        return model.forward_inputs(batch)

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        return model.evaluate_split(batches)

    def generate_images(self, run, n: int | None = None, label: int | None = None, seed: int = 0,
                        out=None, steps: int | None = None,
                        guidance: float | None = None) -> list[Answer]:
        """``ann generate RUN [--n 64] [--label K] [--steps N] [--guidance S] [--out g.png]``."""
        import dataclasses

        from ..errors import AnnError

        if guidance is not None and not run.model.conditional:
            raise AnnError(f"--guidance applies to conditional models; {run.path} holds an "
                           "unconditional one")
        if steps is not None and not 1 <= steps <= run.model.config.timesteps:
            raise AnnError(f"--steps must be between 1 and the model's "
                           f"{run.model.config.timesteps} timesteps, got {steps}")
        view = dataclasses.replace(run, model=_Sampler(run.model.eval(), steps, guidance))
        return super().generate_images(view, n, label, seed, out)

    def helpers(self, run) -> dict[str, tuple[str, dict]]:
        """ann's own classifier of the run's dataset, which judges the samples (where there is one)."""
        judge = JUDGES.get(run.config.data.name)
        return {"judge": judge} if judge is not None else {}

    def report(self, run, test_data, folder) -> None:
        """``samples.png`` (ten per class for a conditional model), ``chain.png`` (rows from x_T
        to x_0), and the samples judged by ann's own classifier."""
        from .images import record_uses, sample_quality

        self.draw(run.model.eval(), folder)
        judge = run.helpers.get("judge")
        record_uses(run, sample_quality(run, test_data, judge) if judge is not None else {})

    @torch.no_grad()
    def draw(self, model, folder) -> None:
        from ..report import generative as plots

        c, dev = model.config, next(model.parameters()).device
        g = lambda k: torch.Generator(device=dev).manual_seed(k)   # noqa: E731
        rows = c.num_classes if model.conditional else 8
        per_row = [model.sample(10, g(k), k if model.conditional else None) for k in range(rows)]
        plots.save_grid(torch.cat(per_row), folder / "samples.png", nrow=10)
        chain = model.denoise(rows, g(0), None, keep=CHAIN_POINTS)    # CHAIN_POINTS x (rows, ...)
        steps = torch.stack(chain, 1)                                 # (rows, points, C, S, S)
        labels = [f"class {k}" if model.conditional else f"sample {k}" for k in range(rows)]
        plots.plot_rows(list(steps), labels, folder / "chain.png",
                        f"denoising chain, x_T (left) to x_0 (right): {c.sampler}, "
                        f"{c.sample_steps} steps" + (f", guidance {c.guidance:g}"
                                                     if model.conditional else ""))
