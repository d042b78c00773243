"""Attention rollout drawn over sample images (Abnar & Zuidema 2020,
https://arxiv.org/abs/2005.00928): for any image model with a ``rollout(images)`` method (the ViT),
``rollout.png`` shows each test image beside it with the rollout map laid over it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .plots import save, subplots


def _pictures(x: torch.Tensor, info: dict) -> np.ndarray:
    """Standardised (N, C, H, W) back to displayable (N, H, W, C) in [0, 1]."""
    mean = torch.as_tensor(info.get("mean", 0.0), dtype=torch.float32).reshape(-1, 1, 1)
    std = torch.as_tensor(info.get("std", 1.0), dtype=torch.float32).reshape(-1, 1, 1)
    raw = (x.float().cpu() * std + mean).clamp(0, 1)
    return raw.permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def plot_rollout(model, images: torch.Tensor, info: dict, path: Path, labels=None, preds=None):
    """Each image (first row of a pair) and its attention rollout, upsampled to the image and
    drawn over it (second row). ``labels``/``preds`` (class names) title the columns."""
    device = next(model.parameters()).device
    maps = model.rollout(images.to(device)).float().cpu()  # (N, g, g)
    size = images.shape[-2:]
    maps = F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    maps = maps / maps.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]  # (N, H, W) in [0, 1]
    pics = _pictures(images, info)
    n = len(images)
    fig, axes = subplots(2, n, figsize=(1.4 * n + 0.4, 3.2), squeeze=False)
    for i in range(n):
        pic = pics[i] if pics.shape[-1] == 3 else pics[i, :, :, 0]
        cmap = None if pics.shape[-1] == 3 else "gray"
        axes[0, i].imshow(pic, cmap=cmap, vmin=0, vmax=1)
        axes[1, i].imshow(pic, cmap=cmap, vmin=0, vmax=1)
        axes[1, i].imshow(maps[i].numpy(), cmap="inferno", alpha=0.6, vmin=0, vmax=1)
        if labels is not None:
            title = f"{labels[i]}" + (f" -> {preds[i]}" if preds is not None else "")
            axes[0, i].set_title(title, fontsize=7)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.suptitle("attention rollout (Abnar & Zuidema 2020): where the class token looks", fontsize=9)
    save(fig, path)


def report_rollout(run, test_data, n: int = 8) -> Path:
    """``rollout.png`` in the run directory over the first ``n`` test images."""
    x, y = test_data.batch(slice(0, n))[:2]
    names = run.info.get("classes")
    preds = labels = None
    if names is not None and y.dim() == 1:
        with torch.no_grad():
            device = next(run.model.parameters()).device
            p = run.model.eval()(x.to(device)).argmax(-1).cpu()
        labels, preds = [names[int(i)] for i in y], [names[int(i)] for i in p]
    path = run.path / "rollout.png"
    plot_rollout(run.model, x, run.info, path, labels, preds)
    return path
