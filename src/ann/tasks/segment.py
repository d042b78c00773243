"""Semantic segmentation: a class for every pixel (U-Net, FCN).

Registered as ``segment``. A batch is ``(x, y)``: pictures
(B, C, H, W) and masks (B, H, W) of class indices, 0 the background. The model returns scores
(B, K, H, W). The loss is the model config's ``loss``: per-pixel cross-entropy, the soft Dice loss
(Milletari, Navab & Ahmadi 2016, "V-Net", https://arxiv.org/abs/1606.04797, here averaged over
classes), or their sum. Evaluation accumulates one confusion matrix over the whole split and
reports mean IoU (the metric, higher is better), the IoU of every class, pixel accuracy and the
mean Dice coefficient (see the segmentation section of :mod:`ann.metrics`).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import AnnError, CorruptFile
from ..metrics import confusion_matrix, iou_per_class, mean_dice, mean_iou, pixel_accuracy
from ..registry import register_task
from ..train.distributed import unwrap
from .base import FILES, Answer, Option, Task, Verb, log_prior

# ``ann predict`` on pictures of another size than the training size: the networks are fully
# convolutional, so any height and width that are multiples of 2^depth work; beyond this many
# times the training size (either way) objects are at scales the model never saw, and a huge
# picture would also need memory the user did not expect, so it is refused.
MAX_SCALE = 4
# The target of a pixel that counts neither in the loss nor in the scores (a mask's
# ``data.ignore_index``): cross_entropy's own default ignore_index.
IGNORE = -100


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - the mean over classes of the soft Dice coefficient of the softmax probabilities:
    ``(2 sum(p t) + eps) / (sum(p) + sum(t) + eps)`` over the batch's pixels, ``eps`` smoothing
    classes absent from the batch towards 1. Pixels whose target is negative (:data:`IGNORE`)
    are left out.

    Shapes:
        logits (B, K, H, W), target (B, H, W) int64 -> scalar.
    """
    valid = (target >= 0).unsqueeze(1)                                        # (B, 1, H, W)
    probs = torch.softmax(logits.float(), dim=1) * valid                      # (B, K, H, W)
    onehot = F.one_hot(target.clamp(min=0), logits.size(1)).permute(0, 3, 1, 2) * valid
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)                                         # (K,)
    card = probs.sum(dims) + onehot.float().sum(dims)                          # (K,)
    return 1.0 - ((2 * inter + eps) / (card + eps)).mean()


@register_task
class Segmentation(Task):
    """Per-pixel classification; mean IoU selects the model (higher is better)."""

    name = "segment"
    verbs = {"predict": Verb("predict", "predict_files", (
                 FILES, Option("out", metavar="FILE|FOLDER", help="segmentation runs: the PNG to "
                               "write the predicted mask to (one picture), or a folder for NAME.png "
                               "of each picture")),
                             "the share of pixels of each class in picture files; --out draws the mask")}
    metric = "mean_iou"
    higher_is_better = True

    def loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        logits = model(x).float()                             # (B, K, H, W)
        kind = unwrap(model).config.loss
        ce = F.cross_entropy(logits, y) if kind != "dice" else logits.new_zeros(())
        dice = soft_dice_loss(logits, y) if kind != "ce" else logits.new_zeros(())
        return ce + dice, {}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        """Cross-entropy per pixel (``loss``), ``mean_iou``, ``pixel_accuracy``, mean ``dice`` and
        ``iou_<class>`` for every class, from one confusion matrix over the split."""
        c = unwrap(model).config
        cm = torch.zeros(c.num_classes, c.num_classes, dtype=torch.int64)
        total, count = 0.0, 0
        for x, y in batches:
            logits = model(x).float()                         # (B, K, H, W)
            total += F.cross_entropy(logits, y, reduction="sum", ignore_index=IGNORE).item()
            valid = y >= 0                                    # pixels that are scored
            count += int(valid.sum())
            cm += confusion_matrix(logits.argmax(1)[valid].cpu(), y[valid].cpu(), c.num_classes)
        out = {"loss": total / max(count, 1), "mean_iou": mean_iou(cm),
               "pixel_accuracy": pixel_accuracy(cm), "dice": mean_dice(cm)}
        names = class_names(model)
        out.update({f"iou_{n}": float(v) for n, v in zip(names, iou_per_class(cm))})
        return out

    def baselines(self, train, test, metric: str | None = None) -> dict[str, float]:
        """``majority``: every pixel given the commonest class of the training pixels (the
        all-background picture, where background dominates)."""
        y = train.batch(slice(0, len(train)))[1]
        k = int(train.info.get("num_classes", int(y.max()) + 1))
        prior = log_prior(y[y >= 0], k)                                       # (K,)

        def majority(x):
            return prior.reshape(1, k, 1, 1).expand(len(x), k, *x.shape[2:])  # (B, K, H, W)

        return {"majority": self.score_fixed(majority, test, metric,
                                             SimpleNamespace(num_classes=k, classes=()))}

    @torch.no_grad()
    def predict(self, model, x) -> torch.Tensor:
        """Class probabilities per pixel, (B, K, H, W)."""
        return torch.softmax(model(x).float(), dim=1)

    def report(self, run, test_data, folder):
        """``overlays.png``: test pictures, their true masks and the predicted ones."""
        from ..report.segmentation import save_overlays

        n = min(8, len(test_data))
        x, y = test_data.batch(slice(0, n))
        model = run.model.eval()
        with torch.no_grad():
            pred = model(x.to(next(model.parameters()).device)).argmax(1).cpu()   # (n, H, W)
        save_overlays(test_data.raw(slice(0, n)), y.clamp(min=0), pred, Path(folder) / "overlays.png",
                      unwrap(model).config.num_classes)

    def predict_files(self, run, files, out=None) -> list[Answer]:
        """Segment picture files (a folder stands for the pictures in it): for each the share
        of pixels given to each class. ``out``: a ``.png`` file receiving the mask of the one
        picture, or a folder receiving ``NAME.png`` for each picture ``NAME.*``. A run trained
        on a folder of masks writes masks like its training ones (class values, the picture's
        own size); a run of a built-in dataset draws the classes in colour."""
        from ..report.segmentation import save_mask, save_values
        from .classify import expand_folders

        files = expand_folders(files or (), PICTURE_FILES, "segment")
        if not files:
            raise AnnError("give the picture files to segment")
        targets = mask_targets(files, out)
        model, info = run.model.eval(), run.info
        fitted = bool(info.get("fit_images"))
        pictures = [read_fitted(f, info) if fitted else (read_picture(f, info, model.size_multiple),
                                                           None) for f in files]   # check all first
        names = class_names(model)
        device = next(model.parameters()).device
        lines = []
        for file, (x, size), target in zip(files, pictures, targets):
            with torch.no_grad():
                scores = model(x.to(device)).float()                          # (1, K, h, w)
                if size is not None:        # back to the picture's own size, then the class
                    scores = F.interpolate(scores, size=size, mode="bilinear", align_corners=False)
                pred = scores.argmax(1)[0].cpu()                              # (H, W)
            counts = torch.bincount(pred.flatten(), minlength=len(names)).double()
            shares = {n: float(v) for n, v in zip(names, counts / counts.sum())}
            data = {"file": str(file), "width": pred.shape[1], "height": pred.shape[0],
                    "fractions": shares}
            if target is not None:
                if fitted:
                    save_values(pred, target, info["mask_values"])
                else:
                    save_mask(pred, target, len(names))
                data["mask"] = str(target)
            shown = ", ".join(f"{n} {100 * v:.1f}%" for n, v in shares.items())
            lines.append(Answer(f"{file}: {shown}", data))
        if out is not None:
            lines.append(Answer(f"mask written to {targets[0]}" if len(targets) == 1
                                else f"{len(targets)} masks written to {out}"))
        return lines


PICTURE_FILES = (".png", ".jpg", ".jpeg", ".bmp")


def mask_targets(files: list, out) -> list[Path | None]:
    """Where the mask of each picture goes: nowhere without ``out``; ``out`` itself when it
    ends in ``.png`` (one picture); else ``out/NAME.png`` for each picture ``NAME.*`` (a
    folder, made when missing). A mask never replaces one of the pictures."""
    if out is None:
        return [None] * len(files)
    out = Path(out)
    if out.suffix.lower() == ".png" and not out.is_dir():
        if len(files) != 1:
            raise AnnError(f"--out {out} writes the mask of one picture, but {len(files)} were "
                           "given; give a folder (--out masks/) for one mask per picture")
        targets = [out]
    elif out.suffix and not out.is_dir():
        raise AnnError(f"--out {out}: the mask is written as PNG; give a file name ending .png "
                       "or a folder for one mask per picture")
    elif out.exists() and not out.is_dir():
        raise AnnError(f"--out {out} is a file, not a folder; give a folder for the masks")
    else:
        targets = [out / (Path(f).stem + ".png") for f in files]
        seen: dict[Path, str] = {}
        for file, target in zip(files, targets):
            if target in seen:
                raise AnnError(f"{file} and {seen[target]} would both write {target}; predict "
                               "them into separate folders")
            seen[target] = file
    inputs = {Path(f).resolve() for f in files}
    for target in targets:
        if target.resolve() in inputs:
            raise AnnError(f"--out {target} is one of the pictures; write the masks elsewhere")
    return targets


def read_fitted(path, info: dict) -> tuple[torch.Tensor, tuple[int, int]]:
    """A picture of any size read as a run of ``segmentation-folder`` read its training
    pictures (converted and resized whole, :func:`ann.data.maskfolder.fit_picture`): the
    standardised (1, C, S, S) tensor and the picture's own (height, width)."""
    from ..data.maskfolder import fit_picture
    from ..data.vision import open_image, preprocess_images

    path = Path(path)
    if path.suffix.lower() not in PICTURE_FILES:
        raise AnnError(f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; a "
                       f"segmentation run reads {', '.join(PICTURE_FILES)} pictures")
    img = open_image(path)
    pixels = fit_picture(img, info["image_size"], info["in_channels"])         # (C, S, S)
    return preprocess_images(pixels[None], info), (img.height, img.width)


def class_names(model) -> list[str]:
    c = unwrap(model).config
    return list(c.classes) if c.classes else [str(k) for k in range(c.num_classes)]


def read_picture(path, info: dict, multiple: int) -> torch.Tensor:
    """A PNG/JPEG picture as the standardised (1, C, H, W) tensor a segmentation model takes.

    Fully convolutional networks take any size whose sides are multiples of ``multiple``
    (2^depth) and no more than :data:`MAX_SCALE` times larger or smaller than the training size;
    any other size is refused with a message saying which sizes work (nothing is resized
    silently, since a resized picture's mask would not match its pixels).
    """
    from PIL import Image

    from ..data.vision import PICTURE_EXTENSIONS, _picture_pixels, preprocess_images

    path = Path(path)
    if not path.is_file():
        raise AnnError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AnnError(f"{path} is an empty file (0 bytes); give a PNG or JPEG picture")
    if path.suffix.lower() not in PICTURE_EXTENSIONS:
        raise AnnError(f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; a "
                       f"segmentation run reads {', '.join(PICTURE_EXTENSIONS)} pictures")
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise CorruptFile(f"{path} is not a readable image ({first}); check the file or export "
                          "it again") from None
    side = info["image_size"]
    small, large = max(multiple, side // MAX_SCALE), side * MAX_SCALE
    if w % multiple or h % multiple or not (small <= min(w, h) and max(w, h) <= large):
        raise AnnError(f"{path} is {w}x{h}, but this model takes sides that are multiples of "
                       f"{multiple} from {small} to {large} pixels (it was trained on {side}x{side}; "
                       f"pictures are not resized); crop or pad it, e.g. to {side}x{side}")
    pixels = _picture_pixels(path, {**info, "image_size": (h, w)})          # (H, W, C) uint8
    return preprocess_images(pixels.transpose(2, 0, 1)[None].astype(np.float32) * (info["scale"] / 255),
                             {**info, "image_size": (h, w)})


