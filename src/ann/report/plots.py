"""Pictures of a run: learning curves, confusion matrix, misclassified examples.

Figures are ``matplotlib.figure.Figure`` objects drawn and saved directly, never through ``pyplot``
and never by choosing a backend, so drawing a report leaves the user's matplotlib settings alone.
Each picture is written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

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




def _steps_per_epoch(rows: list[dict]) -> float | None:
    """Optimizer steps per epoch, read off the rows' (step, epoch) pairs (None: no epochs)."""
    for r in reversed(rows):
        step, epoch = r.get("step"), r.get("epoch")
        if (isinstance(step, (int, float)) and isinstance(epoch, (int, float)) and step > 0
                and epoch > 0 and r.get("split") in ("train", "val")):
            return step / epoch
    return None


def _epoch_axis(ax, per_epoch: float | None):
    """A second x axis on top of ``ax`` in epochs."""
    if per_epoch:
        top = ax.secondary_xaxis("top", functions=(lambda s: s / per_epoch,
                                                   lambda e: e * per_epoch))
        top.set_xlabel("epoch", fontsize=8)
        top.tick_params(labelsize=7)
        ax.set_title(ax.get_title(), pad=24)


def plot_curves(rows: list[dict], metric: str, path: Path):
    """Loss (train and val), the validation metric and, where the rows have it, the learning
    rate against optimizer steps, with epochs on the top axis."""
    lrs = [(r["step"], r["lr"]) for r in rows if r.get("split") == "train" and "lr" in r]
    fig, axes = subplots(1, 3 if lrs else 2, figsize=(14 if lrs else 10, 3.8))
    ax_loss, ax_metric = axes[0], axes[1]
    for split, style in (("train", "-"), ("val", "o-")):
        pts = [(r["step"], r["loss"]) for r in rows if r.get("split") == split and "loss" in r]
        if pts:
            ax_loss.plot(*zip(*pts), style, label=split, markersize=3)
    ax_loss.set(xlabel="step", ylabel="loss", title="loss")
    losses = [r["loss"] for r in rows if isinstance(r.get("loss"), (int, float))]
    if losses and min(losses) > 0:          # a log scale only where every loss has a logarithm
        ax_loss.set_yscale("log")
    pts = [(r["step"], r[metric]) for r in rows if r.get("split") == "val" and metric in r]
    if pts:
        ax_metric.plot(*zip(*pts), "o-", color="tab:orange", markersize=3, label="val")
    test = [r for r in rows if r.get("split") == "test" and metric in r]
    if test:
        ax_metric.axhline(test[-1][metric], color="tab:green", ls="--",
                          label=f"test {test[-1][metric]:.4f}")
    ax_metric.set(xlabel="step", ylabel=metric, title=metric)
    if lrs:
        axes[2].plot(*zip(*lrs), "-", color="tab:purple")
        axes[2].set(xlabel="step", ylabel="learning rate", title="learning rate")
        axes[2].yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
    per_epoch = _steps_per_epoch(rows)
    for ax in axes:
        ax.grid(alpha=0.3)
        _epoch_axis(ax, per_epoch)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
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
