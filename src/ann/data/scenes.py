"""Generated scenes whose ground truth is known exactly: the one generator behind segmentation,
detection and captioning data.

Two kinds of scene, both drawn from a seeded ``np.random.Generator`` (the same seed gives the same
scenes on every machine and NumPy version that keeps ``PCG64`` frozen, as NumPy promises):

* :func:`shapes_scene`: coloured circles, squares and triangles of two sizes on a noisy
  background, possibly overlapping (later objects hide earlier ones; every object keeps at least
  ``min_visible`` of its pixels in view).
* :func:`digits_scene`: real handwritten digit images (e.g. MNIST) pasted at random scales and
  positions on a larger black canvas, never overlapping.

Every scene carries the picture, a per-pixel class mask, a per-pixel instance map and one
:class:`SceneObject` per object with its class, box and attributes, so a mask, a box or a caption
predicted by a model can be checked against the truth. :func:`caption` describes a scene in words
that the scene determines uniquely.

Conventions: images are float32 in [0, 1], shape (C, H, W); boxes are ``(x1, y1, x2, y2)`` in
pixels, ``x2``/``y2`` exclusive (a box covering only pixel column 0 is ``x1=0, x2=1``), tight
around the object's own pixels (before occlusion); class 0 of a mask is the background.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SHAPES = ("circle", "square", "triangle")
# Names and RGB values far enough apart that a small network (and a reader) tells them apart.
COLORS = {
    "red": (0.90, 0.12, 0.12),
    "green": (0.10, 0.75, 0.20),
    "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.85, 0.10),
    "magenta": (0.85, 0.20, 0.85),
    "cyan": (0.10, 0.80, 0.85),
}
SIZES = {"small": (0.10, 0.14), "large": (0.18, 0.24)}   # half-extent as a fraction of the side


@dataclass
class SceneObject:
    """One object of a scene. ``label`` is its class in masks and detections: for shapes 1 + the
    index in :data:`SHAPES`, for digits 1 + the digit. ``name`` is the class name."""

    label: int
    name: str
    box: tuple[int, int, int, int]
    color: str = ""
    size: str = ""

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2


@dataclass
class Scene:
    """A picture and its truth.

    Shapes:
        image: (C, H, W) float32 in [0, 1] (C = 3 for shapes, 1 for digits).
        mask: (H, W) int64 class per pixel, 0 = background.
        instances: (H, W) int64, 0 = background, i + 1 = ``objects[i]`` (the visible part).
    """

    image: np.ndarray
    mask: np.ndarray
    instances: np.ndarray
    objects: list[SceneObject] = field(default_factory=list)

    @property
    def boxes(self) -> np.ndarray:
        """(N, 4) float32 boxes, one row per object."""
        return np.array([o.box for o in self.objects], dtype=np.float32).reshape(-1, 4)

    @property
    def labels(self) -> np.ndarray:
        """(N,) int64 class labels, one per object."""
        return np.array([o.label for o in self.objects], dtype=np.int64)


def _shape_pixels(shape: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    """(size, size) bool: the pixels whose centres fall inside the shape."""
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    if shape == "circle":
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    if shape == "square":
        return (np.abs(xs - cx) <= r) & (np.abs(ys - cy) <= r)
    # An upright triangle with apex (cx, cy - r) and base from (cx - r, cy + r) to (cx + r, cy + r):
    # below the apex, above the base, and within the two slanted edges (slope 2 each side).
    inside_height = (ys >= cy - r) & (ys <= cy + r)
    return inside_height & (np.abs(xs - cx) <= (ys - (cy - r)) / 2)


def _tight_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(pixels.any(1)), np.flatnonzero(pixels.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def shapes_scene(rng: np.random.Generator, size: int = 64, n_objects: tuple[int, int] = (1, 4),
                 noise: float = 0.05, min_visible: float = 0.6, colors: tuple[str, ...] | None = None,
                 max_tries: int = 100) -> Scene:
    """A scene of ``n_objects[0]..n_objects[1]`` (inclusive) coloured shapes on a grey, noisy
    background. Attributes (shape, colour, size, position) are drawn independently and uniformly;
    an object placed so that it would hide more than ``1 - min_visible`` of an earlier one (or show
    less than that of itself) is drawn again."""
    colors = colors or tuple(COLORS)
    background = rng.uniform(0.05, 0.25)
    image = np.full((3, size, size), background, dtype=np.float32)
    mask = np.zeros((size, size), dtype=np.int64)
    instances = np.zeros((size, size), dtype=np.int64)
    objects: list[SceneObject] = []
    own_pixels: list[np.ndarray] = []
    for _ in range(int(rng.integers(n_objects[0], n_objects[1] + 1))):
        for _ in range(max_tries):
            shape, color = SHAPES[rng.integers(len(SHAPES))], colors[rng.integers(len(colors))]
            size_name = ("small", "large")[rng.integers(2)]
            r = rng.uniform(*SIZES[size_name]) * size
            cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
            pixels = _shape_pixels(shape, cx, cy, r, size)
            covered = instances.copy()
            covered[pixels] = len(objects) + 1
            if pixels.any() and all((covered[p] == i + 1).mean() >= min_visible
                                    for i, p in enumerate(own_pixels)):
                break
        else:
            break  # the canvas is too full for another object: keep the scene as it is
        instances = covered
        mask[pixels] = 1 + SHAPES.index(shape)
        image[:, pixels] = np.array(COLORS[color], dtype=np.float32)[:, None]
        objects.append(SceneObject(1 + SHAPES.index(shape), shape, _tight_box(pixels), color, size_name))
        own_pixels.append(pixels)
    image += rng.normal(0.0, noise, image.shape).astype(np.float32)
    return Scene(np.clip(image, 0.0, 1.0), mask, instances, objects)


def _resize(image: np.ndarray, side: int) -> np.ndarray:
    """Bilinear resize of a (h, w) float image to (side, side), via torch (already a dependency)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    return F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False,
                         antialias=side < image.shape[0])[0, 0].numpy()


def digits_scene(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, size: int = 96,
                 n_objects: tuple[int, int] = (1, 4), scale: tuple[float, float] = (0.7, 1.5),
                 threshold: float = 0.5, max_tries: int = 100) -> Scene:
    """A ``size`` x ``size`` black canvas with ``n_objects[0]..n_objects[1]`` digits drawn from
    ``images`` ((N, h, w) uint8 0..255, e.g. MNIST) at a random scale of their ``h``, never
    overlapping (box intersection is empty). A digit's mask is its pixels brighter than
    ``threshold``; its box is tight around them."""
    canvas = np.zeros((size, size), dtype=np.float32)
    mask = np.zeros((size, size), dtype=np.int64)
    instances = np.zeros((size, size), dtype=np.int64)
    objects: list[SceneObject] = []
    for _ in range(int(rng.integers(n_objects[0], n_objects[1] + 1))):
        for _ in range(max_tries):
            k = int(rng.integers(len(images)))
            side = max(8, int(round(images.shape[1] * rng.uniform(*scale))))
            side = min(side, size)
            glyph = np.clip(_resize(images[k] / 255.0, side), 0.0, 1.0)
            ink = glyph > threshold
            if not ink.any():
                continue
            x0, y0 = int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))
            bx1, by1, bx2, by2 = _tight_box(ink)
            box = (x0 + bx1, y0 + by1, x0 + bx2, y0 + by2)
            if all(box[2] <= o.box[0] or o.box[2] <= box[0] or box[3] <= o.box[1] or o.box[3] <= box[1]
                   for o in objects):
                break
        else:
            break
        region = (slice(y0, y0 + side), slice(x0, x0 + side))
        canvas[region] = np.maximum(canvas[region], glyph)
        mask[region][ink] = 1 + int(labels[k])
        instances[region][ink] = len(objects) + 1
        objects.append(SceneObject(1 + int(labels[k]), str(int(labels[k])), box))
    return Scene(canvas[None], mask, instances, objects)


def describe(obj: SceneObject) -> str:
    """``a small red circle``; for digits ``a 7``."""
    words = [w for w in (obj.size, obj.color, obj.name) if w]
    return ("an " if words[0][0] in "aeiou8" else "a ") + " ".join(words)


def caption(scene: Scene) -> str:
    """Words that the scene determines uniquely: objects in reading order (left to right; a tie
    is broken top to bottom), joined by the relation of each to the next, ``left of`` or
    ``above`` (whichever axis separates their centres more). Example:
    ``a small red circle left of a large blue square``."""
    ordered = sorted(scene.objects, key=lambda o: (o.center[0], o.center[1]))
    if not ordered:
        return "nothing"
    parts = [describe(ordered[0])]
    for a, b in zip(ordered, ordered[1:]):
        dx, dy = b.center[0] - a.center[0], b.center[1] - a.center[1]
        parts.append("left of" if abs(dx) >= abs(dy) else ("above" if dy > 0 else "below"))
        parts.append(describe(b))
    return " ".join(parts)


def make_scenes(kind: str, count: int, seed: int, **options) -> list[Scene]:
    """``count`` scenes of ``kind`` (``shapes``; ``digits`` needs ``images=`` and ``labels=``),
    the same list for the same arguments. Each split uses its own seed."""
    rng = np.random.default_rng(seed)
    if kind == "shapes":
        return [shapes_scene(rng, **options) for _ in range(count)]
    if kind == "digits":
        return [digits_scene(rng, **options) for _ in range(count)]
    raise ValueError(f"unknown scene kind {kind!r}; choose shapes or digits")
