"""Pictures of a run: learning curves, confusion matrix, misclassified examples.

Figures are ``matplotlib.figure.Figure`` objects drawn and saved directly, never through ``pyplot``
and never by choosing a backend, so drawing a report leaves the user's matplotlib settings alone.
Each picture is written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import fileio


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs):
    """A new figure of ``figsize`` inches and its axes, as ``pyplot.subplots`` would give them, but
    a figure of its own: nothing registers it globally and no backend is involved."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save(fig: Figure, path: Path):
    """Write ``fig`` as a PNG (110 dpi, cropped to its content), atomically."""
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")




def plot_curves(rows: list[dict], metric: str, path: Path):
    """Loss (train and val) and the validation metric against optimizer steps."""
    fig, (ax_loss, ax_metric) = subplots(1, 2, figsize=(10, 3.8))
    for split, style in (("train", "-"), ("val", "o-")):
        pts = [(r["step"], r["loss"]) for r in rows if r.get("split") == split and "loss" in r]
        if pts:
            ax_loss.plot(*zip(*pts), style, label=split, markersize=3)
    ax_loss.set(xlabel="step", ylabel="loss", title="loss")
    ax_loss.set_yscale("log")
    pts = [(r["step"], r[metric]) for r in rows if r.get("split") == "val" and metric in r]
    if pts:
        ax_metric.plot(*zip(*pts), "o-", color="tab:orange", markersize=3, label="val")
    test = [r for r in rows if r.get("split") == "test" and metric in r]
    if test:
        ax_metric.axhline(test[-1][metric], color="tab:green", ls="--",
                          label=f"test {test[-1][metric]:.4f}")
    ax_metric.set(xlabel="step", ylabel=metric, title=metric)
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    save(fig, path)


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """(n, n) counts: row = true class, column = predicted class."""
    return np.bincount(true * n + pred, minlength=n * n).reshape(n, n)


def plot_confusion(cm: np.ndarray, classes: list[str], path: Path):
    n = len(classes)
    fig, ax = subplots(figsize=(1.2 + 0.55 * n, 1.0 + 0.5 * n))
    ax.imshow(cm, cmap="Blues")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true",
           title=f"confusion matrix (accuracy {np.trace(cm) / max(cm.sum(), 1):.4f})")
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.set_yticklabels(classes)
    limit = cm.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > limit else "black")
    save(fig, path)


def plot_misclassified(images: np.ndarray, true, pred, classes: list[str], path: Path, cols=8):
    """A grid of images (N, C, H, W) titled 'true -> predicted'."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    fig, axes = subplots(rows, cols, figsize=(max(cols * 1.3, 4.0), rows * 1.5 + 0.5),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            img = images[k]
            ax.imshow(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0), cmap="gray")
            ax.set_title(f"{classes[true[k]]}\n-> {classes[pred[k]]}", fontsize=7, color="tab:red")
    fig.suptitle("misclassified test examples (true -> predicted)", fontsize=9)
    fig.tight_layout()
    save(fig, path)


def plot_classification(test_data, preds: np.ndarray, folder: Path, max_examples: int = 32):
    """Confusion matrix and misclassified examples of the predicted classes ``preds`` (N,) of
    ``test_data`` (its ``x``, ``y`` and ``info["classes"]``)."""
    preds = np.asarray(preds)
    true = test_data.y.numpy()
    info = test_data.info
    classes = [str(c) for c in info.get("classes", range(int(true.max()) + 1))]
    plot_confusion(confusion_matrix(true, preds, len(classes)), classes, folder / "confusion.png")
    wrong = np.flatnonzero(preds != true)[:max_examples]
    if len(wrong) and test_data.x.ndim == 4:
        plot_misclassified(test_data.x[wrong].numpy(), true[wrong], preds[wrong], classes,
                           folder / "misclassified.png")
