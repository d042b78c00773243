"""Pictures of detections: boxes drawn on images with Pillow (a dependency of the image readers).

Predicted boxes are drawn in a colour per class with their class and score; true boxes, when
given, as thin white outlines beneath them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PALETTE = ((255, 64, 64), (64, 220, 64), (80, 140, 255), (255, 210, 0), (230, 80, 230),
           (0, 220, 220), (255, 140, 0), (160, 110, 255), (140, 255, 140), (255, 150, 190))


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W, C) uint8 -> (H, W, 3) uint8."""
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[2] not in (1, 3):
        image = image.transpose(1, 2, 0)
    if image.ndim == 2:
        image = image[..., None]
    return np.ascontiguousarray(np.broadcast_to(image, image.shape[:2] + (3,)), dtype=np.uint8)


def draw(image: np.ndarray, boxes, scores, labels, classes, truths=None, zoom: int = 1):
    """A PIL image: ``image`` (uint8, (C, H, W) or (H, W, C)) enlarged ``zoom`` times with the
    predicted ``boxes`` (D, 4) in pixels, their ``scores`` and ``labels`` drawn, and optionally
    the true boxes ``truths = (boxes (G, 4), labels (G,))``."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(_as_rgb(image))
    if zoom > 1:
        picture = picture.resize((picture.width * zoom, picture.height * zoom), Image.NEAREST)
    pen = ImageDraw.Draw(picture)
    if truths is not None:
        for box in np.asarray(truths[0], dtype=float).reshape(-1, 4):
            pen.rectangle([v * zoom for v in box], outline=(255, 255, 255), width=1)
    for box, score, label in zip(np.asarray(boxes, dtype=float).reshape(-1, 4),
                                 np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)):
        colour = PALETTE[label % len(PALETTE)]
        x1, y1, x2, y2 = (v * zoom for v in box)
        pen.rectangle([x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)], outline=colour, width=2)
        name = classes[label] if label < len(classes) else str(label)
        pen.text((x1 + 2, max(0, y1 - 11)), f"{name} {score:.2f}", fill=colour)
    return picture


def boxes_grid(images, detections, truths, classes, path, columns: int = 4, zoom: int = 3):
    """Write a grid of ``images`` with their ``detections`` and ``truths`` drawn to ``path``."""
    from PIL import Image

    tiles = [draw(img, *det, classes, truth, zoom) for img, det, truth in
             zip(images, detections, truths)]
    if not tiles:
        return
    w, h = tiles[0].size
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (w + 4), rows * (h + 4)), (40, 40, 40))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * (w + 4) + 2, (i // columns) * (h + 4) + 2))
    path = Path(path)
    tmp = path.with_suffix(".tmp.png")
    sheet.save(tmp)
    tmp.replace(path)
