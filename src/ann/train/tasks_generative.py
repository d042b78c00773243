"""Tasks of the generative families: reconstruction (autoencoders) and adversarial (GANs).

A reconstruction model gives per-example loss terms through ``model.losses(x, generator)``
(a dict of (B,) tensors with ``loss`` among them: an autoencoder's squared error, a VAE's
reconstruction plus KL term); the task averages them. An adversarial model has two players and
two optimizers, so the engine steps it through its own ``training_step``; this task only
evaluates it (``model.evaluate_batch``) and gives the contract tests a loss to differentiate.
"""

from __future__ import annotations

import torch


def _sum_terms(totals: dict, terms: dict):
    for k, v in terms.items():
        totals[k] = totals.get(k, 0.0) + float(v.float().sum())


def _mean_psnr(mse: torch.Tensor) -> torch.Tensor:
    """Per-example PSNR in dB for data in [0, 1], capped at 100 dB (a perfect copy)."""
    return (10 * torch.log10(1.0 / mse.float().clamp_min(1e-10))).clamp(max=100.0)


class Reconstruction:
    """Rebuild the input: the loss is the mean of the model's per-example ``loss``. Evaluation
    averages every term per example and adds ``psnr`` (mean per-image PSNR in dB of the
    reconstruction, data in [0, 1]) and, for a denoiser, ``psnr_input`` (of the corrupted
    input). Corruption and sampling use a generator seeded with 0 at each evaluation, so the
    figures of one split are comparable from evaluation to evaluation. Lower loss is better."""

    name = "reconstruct"
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


class Adversarial:
    """A generator against a discriminator. Training goes through ``model.training_step`` (the
    engine's hook for models with several optimizers); ``loss`` is the sum of the two players'
    losses, for the contract tests only (its gradient reaches every parameter). Evaluation
    averages ``model.evaluate_batch`` over the split; its ``metric`` is the model's own
    (``fd_pixels``, a Fréchet distance on pooled pixels: lower is better)."""

    name = "adversarial"
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


class ImageToImage:
    """Map images to images with adversarial training (SRGAN's upscaling, CycleGAN's domain
    transfer): stepped through ``model.training_step`` like a GAN; evaluation gives the model's
    own figures with ``psnr`` against the true target images first (higher is better)."""

    name = "image2image"
    metric = "psnr"
    higher_is_better = True
    loss, logits, inputs = Adversarial.loss, Adversarial.logits, Adversarial.inputs
    evaluate = Adversarial.evaluate

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Output images in [0, 1] from input images in [0, 1]."""
        return model(x)


GENERATIVE_TASKS = {"reconstruct": Reconstruction, "adversarial": Adversarial,
                    "image2image": ImageToImage}
