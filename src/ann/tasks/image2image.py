"""Image to image (SRGAN, CycleGAN): a picture in, a picture out, judged by PSNR."""

from __future__ import annotations

import torch

from ..registry import register_task
from .adversarial import Adversarial
from .base import Option, Task, Verb
from .reconstruct import GENERATE_IMAGES, ImageGenerator


@register_task
class ImageToImage(ImageGenerator, Task):
    """Map images to images with adversarial training (SRGAN's upscaling, CycleGAN's domain
    transfer): stepped through ``model.training_step`` like a GAN; evaluation gives the model's
    own figures with ``psnr`` against the true target images first (higher is better)."""

    name = "image2image"
    verbs = {"generate": Verb("generate", "generate_images", (
        *GENERATE_IMAGES.options,
        Option("input", many=True, metavar="FILE", help="super-resolution runs: a low-resolution image to "
               "upscale (repeat)")), "a grid of generated images, or the --input images upscaled")}
    metric = "psnr"
    higher_is_better = True
    loss, logits, inputs = Adversarial.loss, Adversarial.logits, Adversarial.inputs
    evaluate = Adversarial.evaluate

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Output images in [0, 1] from input images in [0, 1]."""
        return model(x)

    def report(self, run, test_data, folder) -> None:
        """``superres.png`` for super-resolution, ``cyclegan.png`` for unpaired translation."""
        from .images import cycle_report, record_uses, sr_report

        model = run.model
        record_uses(run, sr_report(run, test_data) if callable(getattr(model, "low_res", None))
                    else cycle_report(run, test_data))
