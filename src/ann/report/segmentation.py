"""Pictures of segmentation runs: masks in colour, and overlays of true and predicted masks.

Written as plain PNGs (one pixel per pixel, scaled up by an integer factor), so that
``ann predict RUN picture.png --out mask.png`` gives a mask of the picture's own size.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from .. import fileio
from .generative import save_grid

# Background black; the classes in well-separated hues (tab10 order), repeating past ten.
PALETTE = np.array([
    (0, 0, 0), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
], dtype=np.float32) / 255.0


def colorize(masks, num_classes: int) -> torch.Tensor:
    """Class masks (N, H, W) as RGB pictures (N, 3, H, W) in [0, 1]."""
    m = torch.as_tensor(masks).long().cpu()
    index = [0] + [1 + (k - 1) % (len(PALETTE) - 1) for k in range(1, num_classes)]
    palette = torch.from_numpy(PALETTE[index])                 # (K, 3)
    return palette[m].permute(0, 3, 1, 2)                      # (N, 3, H, W)


def rgb(images) -> torch.Tensor:
    """Pictures (N, C, H, W) as (N, 3, H, W): grayscale repeated in the three channels."""
    x = torch.as_tensor(images).float().cpu()
    return x.expand(-1, 3, -1, -1) if x.size(1) == 1 else x


def overlay(images, masks, num_classes: int, alpha: float = 0.75, dim: float = 0.4) -> torch.Tensor:
    """Pictures (N, C, H, W) in [0, 1] with each class's colour blended over its pixels (weight
    ``alpha``) and the background darkened to ``dim``, so the mask stands out on any picture."""
    x = rgb(images)                                            # (N, 3, H, W)
    colour = colorize(masks, num_classes)
    fg = (torch.as_tensor(masks).cpu() > 0)[:, None]           # (N, 1, H, W)
    return torch.where(fg, (1 - alpha) * x + alpha * colour, dim * x)


def save_overlays(images, truth, pred, path, num_classes: int, zoom: int = 3):
    """One row per picture: the picture | its true mask over it | the predicted mask over it."""
    rows = torch.stack([rgb(images), overlay(images, truth, num_classes),
                        overlay(images, pred, num_classes)], dim=1)   # (N, 3 panels, 3, H, W)
    save_grid(rows.flatten(0, 1), path, nrow=3, zoom=zoom)


def save_mask(mask, path, num_classes: int):
    """One mask (H, W) as a PNG of the same size in the palette's colours."""
    from PIL import Image

    pixels = (colorize(torch.as_tensor(mask)[None], num_classes)[0].permute(1, 2, 0).numpy()
              * 255 + 0.5).astype(np.uint8)                    # (H, W, 3)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    fileio.write_bytes(Path(path), buf.getvalue())


def save_values(mask, path, values):
    """One mask (H, W) of class indices as a PNG of the same size whose pixels hold each class's
    value ``values[k]`` (a mask like the ones trained on, mode ``P``), each value shown in its
    class's colour."""
    from PIL import Image

    m = torch.as_tensor(mask).long().cpu().numpy()
    pixels = np.asarray(values, dtype=np.uint8)[m]                     # (H, W) values
    img = Image.frombuffer("P", (m.shape[1], m.shape[0]), np.ascontiguousarray(pixels).tobytes(),
                           "raw", "P", 0, 1)
    palette = np.zeros((256, 3), dtype=np.uint8)
    colours = colorize(torch.arange(len(values))[None, None], len(values))[0, :, 0]   # (3, K)
    palette[np.asarray(values)] = (colours.T.numpy() * 255 + 0.5).astype(np.uint8)
    img.putpalette(palette.flatten().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    fileio.write_bytes(Path(path), buf.getvalue())
