"""Pictures of the generative families: image grids (reconstructions, samples, interpolations,
before/after denoising), 2-D code scatter plots beside PCA's, and the compression curve.

Grids are written as plain PNGs (one pixel per pixel, scaled up by an integer factor) so that
``ann generate --out grid.png`` gives an image to open anywhere; plots use matplotlib.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps

from .. import fileio
from .plots import save, subplots


def grid_pixels(images, nrow: int, pad: int = 2) -> np.ndarray:
    """Images (N, C, H, W) with values in [0, 1] tiled ``nrow`` to a row: (rows*(H+pad)+pad,
    nrow*(W+pad)+pad, C) uint8 on a mid-grey background."""
    x = torch.as_tensor(images).detach().float().clamp(0, 1).cpu().numpy()
    n, c, h, w = x.shape
    ncol = -(-n // nrow) if n else 1
    out = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, c), 0.5, dtype=np.float32)
    for k in range(n):
        r, q = divmod(k, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + q * (w + pad):pad + q * (w + pad) + w] = x[k].transpose(1, 2, 0)
    return (out * 255 + 0.5).astype(np.uint8)


def save_grid(images, path, nrow: int = 8, zoom: int = 3):
    """Write images (N, C, H, W) in [0, 1] as one PNG grid, each pixel ``zoom`` x ``zoom``."""
    from PIL import Image

    pixels = grid_pixels(images, nrow)
    pixels = pixels.repeat(zoom, 0).repeat(zoom, 1)
    img = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    fileio.write_bytes(Path(path), buf.getvalue())


def plot_rows(rows: list, labels: list[str], path, title: str = ""):
    """Rows of images (each (N, C, H, W) in [0, 1]) one above the other, a label per row
    (originals / corrupted / reconstructed, ...)."""
    fig, axes = subplots(len(rows), 1, figsize=(10, 1.35 * len(rows) + 0.4), squeeze=False)
    for ax, images, label in zip(axes[:, 0], rows, labels):
        pixels = grid_pixels(images, nrow=len(images))
        ax.imshow(pixels[..., 0] if pixels.shape[2] == 1 else pixels, cmap="gray", vmin=0,
                  vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save(fig, Path(path))


def plot_codes(panels: list[tuple[str, np.ndarray]], labels: np.ndarray, classes: list[str], path):
    """Side-by-side scatter plots of 2-D codes (N, 2), one panel per method, coloured by class."""
    fig, axes = subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    cmap = colormaps["tab10"]
    for ax, (title, codes) in zip(axes[0], panels):
        for k, name in enumerate(classes):
            pts = codes[labels == k]
            ax.scatter(pts[:, 0], pts[:, 1], s=6, color=cmap(k % 10), label=name, alpha=0.8)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    save(fig, Path(path))


def plot_compression(sizes: list[int], curves: dict[str, list[float]], ylabel: str, path,
                     title: str = ""):
    """One line per method (autoencoder, PCA) of a figure against the code size."""
    fig, ax = subplots(figsize=(5.5, 3.8))
    for name, values in curves.items():
        ax.plot(sizes, values, "o-", label=name, markersize=4)
    ax.set(xlabel="code size", ylabel=ylabel, title=title, xscale="log")
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, Path(path))
