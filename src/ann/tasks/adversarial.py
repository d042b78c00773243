"""The adversarial objective (GANs): two players and two optimizers, so the engine steps the model
through its own ``training_step``; this task evaluates it (``model.evaluate_batch``) and gives
the contract tests a loss to differentiate."""

from __future__ import annotations

import torch

from ..registry import register_task
from .base import Task
from .reconstruct import GENERATE_IMAGES, ImageGenerator

# The classifier that judges a GAN's samples, per dataset: a recipe and its overrides. The API
# trains it once into the cache (~/.cache/ann/helpers/RECIPE-..., or $ANN_CACHE_DIR) and reuses it.
JUDGES = {"digits": ("mlp-digits", {}),
          "mnist": ("lenet-mnist", {"train.epochs": 2}),
          "fashion-mnist": ("lenet-mnist", {"data.name": "fashion-mnist", "train.epochs": 3})}


@register_task
class Adversarial(ImageGenerator, Task):
    """A generator against a discriminator. Training goes through ``model.training_step`` (the
    engine's hook for models with several optimizers); ``loss`` is the sum of the two players'
    losses, for the contract tests only (its gradient reaches every parameter). Evaluation
    averages ``model.evaluate_batch`` over the split; its ``metric`` is the model's own
    (``fd_pixels``, a Fréchet distance on pooled pixels: lower is better)."""

    name = "adversarial"
    targets = "class"
    unlabelled = True
    verbs = {"generate": GENERATE_IMAGES}
    metric = "fd_pixels"
    higher_is_better = False

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        d_loss, g_loss = model.losses(batch)
        return d_loss + g_loss, {}

    def logits(self, model, batch) -> torch.Tensor:
        """The discriminator's scores of the real images, (B,)."""
        return model.score(batch)

    def inputs(self, model, batch) -> tuple:
        """The arguments of ``model(...)`` for a batch (``ann info``'s layer table): noise and
        labels for a generator, the input images for an image-to-image model."""
        return model.forward_inputs(batch)

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        return model.evaluate_split(batches)

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        return model.score((x,))

    @torch.no_grad()
    def after_eval(self, model, run_dir, step: int):
        """Save a grid of 64 samples (the same noise every time) as
        ``samples/step-NNNNNNN.png``: the run's pictures of training, evaluation by evaluation."""
        from ..report.generative import save_grid

        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        images = model.sample(64, torch.Generator(device=device).manual_seed(0))
        save_grid(images, run_dir / "samples" / f"step-{step:07d}.png")
        model.train(was_training)

    def helpers(self, run) -> dict[str, tuple[str, dict]]:
        """ann's own classifier of the run's dataset, which judges the samples (where there is one)."""
        judge = JUDGES.get(run.config.data.name)
        return {"judge": judge} if judge is not None else {}

    def report(self, run, test_data, folder) -> None:
        """Sample grids, and the samples judged by ann's own classifier
        (:func:`ann.tasks.images.gan_report`)."""
        from .images import gan_report, record_uses

        record_uses(run, gan_report(run, test_data))
