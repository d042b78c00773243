"""The object-detection task: images and padded boxes in, boxes out (CenterNet, ann.models.cnn).

A batch is ``(x, y)``: images (B, C, H, W) and boxes (B, M, 5) rows ``(class, x1, y1, x2, y2)``,
class -1 for padding (see ann.data.detection). The model computes its own training targets and
decodes its own output (``targets``, ``detect``); this task adds up the loss, measures COCO-style
mAP (ann.metrics_detection), draws ``boxes.png`` after a run and answers ``ann predict``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import AnnError
from ..registry import register_task
from ..train.distributed import unwrap
from .base import FILES, Answer, Option, Task, Verb

# ``ann predict`` resizes an image to the training size when each side is within this factor
# of it, and refuses one further off (a detector trained on 64x64 scenes does not know objects
# at a tenth or ten times their size).
RESIZE_FACTOR = 2.0
DEFAULT_THRESHOLD = 0.3


def truths_of(y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Padded boxes (B, M, 5) -> ``[(boxes (G, 4), labels (G,))]`` per image."""
    return [(row[row[:, 0] >= 0, 1:].cpu(), row[row[:, 0] >= 0, 0].long().cpu()) for row in y]


@register_task
class Detection(Task):
    """CenterNet's loss; metrics ``map50`` (mAP at IoU 0.5, the selection metric), ``map``
    (COCO's AP averaged over IoU 0.5:0.95), ``map75`` and the loss. Higher mAP is better."""

    name = "detect"
    verbs = {"predict": Verb("predict", "predict_files", (
                 FILES, Option("out", metavar="FILE", help="detection runs: the PNG to write with the boxes "
                               "drawn (one input file)"),
                 Option("threshold", float, "detection runs: the lowest score of a box to "
                        "report, in [0, 1] (default 0.3)")),
                             "boxes found in image files; --out draws them")}
    metric = "map50"
    higher_is_better = True

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        from ..models.cnn.detector import centernet_loss

        x, y = batch
        return centernet_loss(unwrap(model), model(x), y)

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        from ..metrics_detection import mean_average_precision
        from ..models.cnn.detector import centernet_loss

        inner = unwrap(model)
        total, count, detections, truths = 0.0, 0, [], []
        for x, y in batches:
            out = model(x)
            loss, _ = centernet_loss(inner, out, y)
            total += loss.item() * len(x)
            count += len(x)
            detections += [tuple(t.cpu() for t in d) for d in inner.detect(out)]
            truths += truths_of(y)
        metrics = mean_average_precision(detections, truths, inner.config.num_classes)
        return {"loss": total / max(count, 1), **metrics}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Detections padded to the longest list: (B, D, 6) rows ``(x1, y1, x2, y2, score,
        class)``, class -1 for padding."""
        found = unwrap(model).detect(model(x))
        out = torch.full((len(found), max([len(d[0]) for d in found] + [1]), 6), -1.0)
        for i, (boxes, scores, labels) in enumerate(found):
            out[i, :len(boxes)] = torch.cat([boxes, scores[:, None], labels[:, None].float()], 1)
        return out

    # -- pictures and files -----------------------------------------------------------------
    def report(self, run, test_data, folder, n: int = 16):
        """``boxes.png``: the first ``n`` test images with predicted boxes (score >= 0.3, in a
        colour per class, with class and score) over the true boxes (white)."""
        try:
            import PIL  # noqa: F401  (the pictures need Pillow, an optional dependency)

            from ..report.detection import boxes_grid
        except ImportError:
            return
        model = run.model.eval()
        device = next(model.parameters()).device
        x, y = test_data.batch(slice(0, n))
        found = model.detect(model(x.to(device)))
        found = [tuple(t[s >= DEFAULT_THRESHOLD].cpu() for t in (b, s, lab)) for b, s, lab in found]
        raw = test_data.x[:n].numpy()
        zoom = max(1, 256 // raw.shape[-1])
        boxes_grid(raw, found, truths_of(y), _classes(run), Path(folder) / "boxes.png", zoom=zoom)

    def predict_files(self, run, files, out=None, threshold=None) -> list[Answer]:
        """``ann predict RUN image.png ...``: one line per box ``FILE: CLASS SCORE x1 y1 x2 y2``
        (boxes in the file's own pixels; as JSON one object per file); ``out`` draws the boxes of
        the (single) file into a PNG."""
        if not files:
            raise AnnError("give the image files to find boxes in")
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        if not 0.0 <= threshold <= 1.0:
            raise AnnError(f"--threshold must be between 0 and 1 (a box's score), got {threshold}")
        if out is not None and len(files) != 1:
            raise AnnError(f"--out draws the boxes of one image; give one file, not {len(files)}")
        images = [read_for_model(f, run.model.config) for f in files]   # all checked first
        model, lines = run.model.eval(), []
        classes = _classes(run)
        device = next(model.parameters()).device
        for file, (x, pixels, scale) in zip(files, images):
            boxes, scores, labels = (t.cpu() for t in model.detect(model(x.to(device)))[0])
            keep = scores >= threshold
            boxes = boxes[keep] * torch.tensor([scale[0], scale[1]] * 2)
            scores, labels = scores[keep], labels[keep]
            found = [{"class": classes[int(k)], "score": round(float(s), 4),
                      "box": [round(float(v), 1) for v in b]}
                     for b, s, k in zip(boxes, scores, labels)]
            text = "\n".join(f"{file}: {d['class']} {d['score']:.3f} "
                             + " ".join(f"{v:.1f}" for v in d["box"]) for d in found)
            lines.append(Answer(text or f"{file}: no box scores {threshold} or more",
                                {"file": str(file), "boxes": found}))
            if out is not None:
                from ..report.detection import draw

                draw(pixels, boxes, scores, labels, classes).save(out)
                lines.append(Answer(f"boxes drawn in {out}"))
        return lines


def _classes(run) -> list[str]:
    c = run.model.config
    return list(c.classes) if c.classes else [str(k) for k in range(c.num_classes)]


def read_for_model(path, config) -> tuple[torch.Tensor, np.ndarray, tuple[float, float]]:
    """An image file as the model's standardised input (1, C, S, S), its own pixels (H, W, C)
    uint8, and the (x, y) factors from model pixels back to the file's. An image whose sides
    are within a factor 2 of the training size S is resized to S x S (bilinear); one further
    off is refused, as is an empty or unreadable file."""
    from PIL import Image

    from ..data.detection import read_picture, standardise

    pixels = read_picture(path)                                          # (H, W, C) uint8
    h, w = pixels.shape[:2]
    s = config.image_size
    if not all(s / RESIZE_FACTOR <= side <= s * RESIZE_FACTOR for side in (h, w)):
        raise AnnError(f"{path} is {w}x{h}, too far from the {s}x{s} images this detector was "
                       f"trained on; give an image with sides between {int(s / RESIZE_FACTOR)} "
                       f"and {int(s * RESIZE_FACTOR)} pixels (it is resized to {s}x{s}), or crop "
                       "it into such pieces")
    mode = "L" if pixels.shape[2] == 1 else "RGB"
    picture = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)
    picture = picture.convert("L" if config.in_channels == 1 else "RGB").resize(
        (s, s), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(picture).reshape(s, s, -1).transpose(2, 0, 1).copy())
    info = {"scale": 255, "mean": config.mean, "std": config.std}     # as the training images
    return standardise(x[None], info), pixels, (w / s, h / s)

