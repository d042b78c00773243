"""A single-stage, anchor-free object detector in the manner of CenterNet.

Zhou, Wang & Krähenbühl 2019, "Objects as Points", https://arxiv.org/abs/1904.07850: every
object is its box centre. The network outputs, at stride 4, one heatmap per class whose peaks are
centres, and at each centre the box size and the sub-cell offset of the exact centre. Training
puts a Gaussian bump on each true centre and uses the paper's penalty-reduced focal loss (after
Lin et al. 2017, "Focal loss for dense object detection"); sizes and offsets get regression
losses at the true centres. Decoding takes the local maxima of the heatmaps (a 3x3 max-pool, the
paper's replacement for NMS), the top scores, and then greedy per-class non-maximum suppression
(it removes the rare double peak on one object).

Choices of ours, each small: sizes are regressed as ``log(size / stride)`` (scale-free, so one
weight suits small and large objects; the paper regresses pixels with weight 0.1), with smooth L1
(Girshick 2015) instead of L1 for sizes and offsets; the Gaussian of an object is elliptical
with sigmas ``alpha * (w, h) / 6`` as in TTFNet (Liu et al. 2019,
https://arxiv.org/abs/1909.00700) rather than CenterNet's radius formula. The backbone is ann's
residual blocks (He et al. 2016) with a top-down path that adds upsampled deep features to the
stride-4 ones (FPN, Lin et al. 2017, https://arxiv.org/abs/1612.03144), so the stride-4 output
sees whole objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...config import field, validate
from ...errors import AnnError
from ...layers import Conv2d, ConvBNAct, MaxPool2d, ReLU
from ...metrics_detection import nms
from ...registry import register_model
from ..inputs import LabelledImageInput
from .cnn import ResidualBlock
from .common import he_init

STRIDE = 4      # the output grid: one cell per 4x4 pixels
SMOOTH_BETA = 0.1   # where the size and offset losses turn from quadratic to L1 (in cells / log)


@dataclass
class DetectorConfig(LabelledImageInput):
    widths: tuple[int, ...] = field((16, 32, 64, 96), "channels of the stride-2 stem, then of each "
                                    "stage (each halves the resolution; at least 3 entries)",
                                    positive=True)
    blocks: int = field(1, "residual blocks per stage", positive=True)
    head_width: int = field(32, "channels of the top-down path and of each head's hidden layer",
                            positive=True)
    alpha: float = field(0.54, "Gaussian sigma of an object's heatmap bump, as alpha * size / 6",
                         range=(0.05, 3.0))
    size_weight: float = field(1.0, "weight of the smooth-L1 loss on log box sizes", nonneg=True)
    offset_weight: float = field(1.0, "weight of the smooth-L1 loss on centre offsets",
                                 nonneg=True)
    max_detections: int = field(100, "boxes kept per image at most (COCO counts 100)",
                                positive=True)
    min_score: float = field(0.01, "lowest score of a box that decoding keeps", range=(0.0, 1.0))
    nms_iou: float = field(0.5, "IoU above which a lower-scored box of the same class is dropped",
                           range=(0.0, 1.0))
    classes: tuple[str, ...] = field((), "class names (filled from the dataset)")
    mean: tuple[float, ...] = field((0.0,), "per-channel mean of the training pixels in [0, 1] "
                                    "(filled from the dataset; used by ann predict)")
    std: tuple[float, ...] = field((1.0,), "per-channel std of the training pixels (filled from "
                                   "the dataset; used by ann predict)", positive=True)

    def __post_check__(self):
        if len(self.widths) < 3:
            raise AnnError("detector widths needs at least 3 entries (stem, the stride-4 stage, "
                           "one deeper stage), e.g. widths=16,32,64")
        if self.image_size < 8:
            raise AnnError(f"detector: images of {self.image_size}x{self.image_size} are too small; "
                           "give at least 8x8")
        if self.classes and len(self.classes) != self.num_classes:
            raise AnnError(f"detector: {len(self.classes)} class names for {self.num_classes} "
                           "classes; give one name per class")


class Head(nn.Module):
    """3x3 conv -> ReLU -> 1x1 conv to ``out`` maps. Shapes: (B, C, h, w) -> (B, out, h, w)."""

    def __init__(self, width: int, hidden: int, out: int):
        super().__init__()
        self.hidden = Conv2d(width, hidden, 3, padding="same")
        self.act = ReLU()
        self.out = Conv2d(hidden, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.hidden(x)))


@register_model("detector", config=DetectorConfig, family="cnn", presets={
    "tiny": {"image_size": 32, "in_channels": 3, "num_classes": 3, "widths": (8, 16, 16),
             "head_width": 16},
    "shapes": {"image_size": 64, "in_channels": 3, "num_classes": 3, "widths": (16, 24, 48, 64),
               "head_width": 32},
    "mnist-scenes": {"image_size": 96, "in_channels": 1, "num_classes": 10,
                     "widths": (16, 32, 64, 128), "head_width": 48},
})
class CenterNet(nn.Module):
    """CenterNet-style detector (Zhou et al. 2019): class heatmaps, sizes and offsets at stride 4.

    ``forward`` returns one tensor: channels ``0..K-1`` are heatmap logits, ``K, K+1`` the log
    width and height (in cells of 4 pixels), ``K+2, K+3`` the centre's x and y offset within its
    cell. :meth:`detect` decodes it into boxes; :func:`centernet_loss` trains it.

    Shapes:
        input (B, C, H, W) -> (B, K + 4, ceil(H / 4), ceil(W / 4)).
    """

    task = "detect"
    stride = STRIDE

    def __init__(self, config: DetectorConfig):
        super().__init__()
        validate(config)
        self.config = c = config
        w = c.widths
        self.stem = ConvBNAct(c.in_channels, w[0], 3, 2)                         # stride 2
        self.stages = nn.ModuleList(
            nn.Sequential(*[ResidualBlock(w[i] if b == 0 else w[i + 1], w[i + 1],
                                          2 if b == 0 else 1, "relu") for b in range(c.blocks)])
            for i in range(len(w) - 1))                                          # strides 4, 8, ...
        self.lateral = nn.ModuleList(ConvBNAct(wi, c.head_width, 1, activation=None)
                                     for wi in w[1:])
        self.smooth = ConvBNAct(c.head_width, c.head_width, 3)
        self.heatmap = Head(c.head_width, c.head_width, c.num_classes)
        self.size = Head(c.head_width, c.head_width, 2)
        self.offset = Head(c.head_width, c.head_width, 2)
        self.apply(he_init)
        # Focal-loss prior (Lin et al. 2017, section 4.1): every heatmap starts at p = 0.1, so
        # the many background cells do not swamp the first steps.
        nn.init.constant_(self.heatmap.out.bias, -math.log((1 - 0.1) / 0.1))
        for head in (self.size, self.offset):      # start near size 1 cell, offset 0
            nn.init.normal_(head.out.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        x = self.stem(x)                                     # (B, w0, H/2, W/2)
        for stage in self.stages:
            x = stage(x)                                     # (B, w_i, H/2^(i+1), ...)
            feats.append(x)
        # top-down: the deepest features, upsampled and added to each shallower level's
        y = self.lateral[-1](feats[-1])                      # (B, F, h_last, w_last)
        for feat, lateral in zip(feats[-2::-1], list(self.lateral)[-2::-1]):
            y = F.interpolate(y, size=feat.shape[-2:], mode="nearest") + lateral(feat)
        y = self.smooth(y)                                   # (B, F, H/4, W/4)
        return torch.cat([self.heatmap(y), self.size(y), self.offset(y)], dim=1)  # (B, K+4, h, w)

    def example_batch(self, batch_size: int, generator: torch.Generator):
        """Random images with 1-3 boxes each, painted so the boxes can be found: x (B, C, S, S)
        noise with each box filled by a class-dependent level; y (B, 3, 5) padded boxes."""
        c = self.config
        s = c.image_size
        x = 0.1 * torch.randn(batch_size, c.in_channels, s, s, generator=generator)
        y = torch.full((batch_size, 3, 5), -1.0)
        for i in range(batch_size):
            for j in range(int(torch.randint(1, 4, (1,), generator=generator))):
                side = torch.randint(max(2, s // 6), max(3, s // 3), (2,), generator=generator)
                x1 = int(torch.randint(0, s - int(side[0]) + 1, (1,), generator=generator))
                y1 = int(torch.randint(0, s - int(side[1]) + 1, (1,), generator=generator))
                label = int(torch.randint(0, c.num_classes, (1,), generator=generator))
                x[i, :, y1:y1 + int(side[1]), x1:x1 + int(side[0])] = 1.0 + 2.0 * label / c.num_classes
                y[i, j] = torch.tensor([label, x1, y1, x1 + int(side[0]), y1 + int(side[1])])
        return x, y

    # -- training targets and decoding ---------------------------------------------------------
    def targets(self, y: torch.Tensor, grid: tuple[int, int]):
        """Training targets from padded boxes ``y`` (B, M, 5) on a ``grid`` = (h, w) of cells.

        Returns the heatmap (B, K, h, w) in [0, 1] with 1 exactly at each object's centre cell,
        the centre cells' flat indices (B, M), the log sizes (B, M, 2) and offsets (B, M, 2), and
        the mask of real objects (B, M)."""
        h, w = grid
        k = self.config.num_classes
        valid = y[..., 0] >= 0                                                   # (B, M)
        labels = y[..., 0].clamp(min=0).long()
        boxes = y[..., 1:] / self.stride                                         # in cells
        size = (boxes[..., 2:] - boxes[..., :2]).clamp(min=1e-3)                 # (B, M, 2)
        centre = (boxes[..., :2] + boxes[..., 2:]) / 2                           # (B, M, 2)
        cell = torch.stack([centre[..., 0].floor().clamp(0, w - 1),
                            centre[..., 1].floor().clamp(0, h - 1)], -1)         # (B, M, 2)
        sigma = (self.config.alpha * size / 6).clamp(min=0.25)                   # (B, M, 2)
        xs = torch.arange(w, device=y.device, dtype=y.dtype)
        ys = torch.arange(h, device=y.device, dtype=y.dtype)
        gx = torch.exp(-(xs - cell[..., 0:1]) ** 2 / (2 * sigma[..., 0:1] ** 2))  # (B, M, w)
        gy = torch.exp(-(ys - cell[..., 1:2]) ** 2 / (2 * sigma[..., 1:2] ** 2))  # (B, M, h)
        bumps = gy[..., :, None] * gx[..., None, :] * valid[..., None, None]     # (B, M, h, w)
        one_hot = F.one_hot(labels, k).to(y.dtype) * valid[..., None]            # (B, M, K)
        heat = (bumps[:, :, None] * one_hot[..., None, None]).amax(1)            # (B, K, h, w)
        index = (cell[..., 1] * w + cell[..., 0]).long()                         # (B, M)
        return heat, index, size.log(), centre - cell, valid

    @torch.no_grad()
    def detect(self, out: torch.Tensor, min_score: float | None = None,
               max_detections: int | None = None, nms_iou: float | None = None):
        """Boxes from the network's output ``out`` (B, K + 4, h, w): a list with one
        ``(boxes (D, 4), scores (D,), labels (D,))`` per image, best first, boxes in input pixels
        clipped to the image."""
        c = self.config
        min_score = c.min_score if min_score is None else min_score
        max_detections = max_detections or c.max_detections
        nms_iou = c.nms_iou if nms_iou is None else nms_iou
        B, _, h, w = out.shape
        k = c.num_classes
        heat = torch.sigmoid(out[:, :k].float())                                 # (B, K, h, w)
        peaks = heat * (heat == MaxPool2d(3, stride=1, padding=1)(heat))         # local maxima
        top = min(max_detections, k * h * w)
        scores, flat = peaks.flatten(1).topk(top, dim=1)                         # (B, D)
        labels, pos = flat // (h * w), flat % (h * w)
        cy, cx = (pos // w).float(), (pos % w).float()
        extra = out[:, k:].float().flatten(2)                                    # (B, 4, h*w)
        at = extra.gather(2, pos[:, None].expand(-1, 4, -1))                     # (B, 4, D)
        size = at[:, 0:2].clamp(max=math.log(4 * max(h, w))).exp()               # (B, 2, D)
        x = (cx + at[:, 2]) * self.stride
        y = (cy + at[:, 3]) * self.stride
        half_w, half_h = size[:, 0] * self.stride / 2, size[:, 1] * self.stride / 2
        boxes = torch.stack([x - half_w, y - half_h, x + half_w, y + half_h], -1)  # (B, D, 4)
        # clipped to the grid's extent (the image, for sides that are multiples of 4)
        limit = torch.tensor([w, h, w, h], dtype=boxes.dtype, device=boxes.device) * self.stride
        boxes = torch.minimum(boxes.clamp(min=0), limit)
        keep = nms(boxes, scores, nms_iou, labels, valid=scores >= min_score)     # (B, D)
        return [(boxes[i][keep[i]], scores[i][keep[i]], labels[i][keep[i]]) for i in range(B)]


def centernet_loss(model: CenterNet, out: torch.Tensor, y: torch.Tensor):
    """CenterNet's training loss for output ``out`` (B, K + 4, h, w) and padded boxes ``y``
    (B, M, 5): focal loss on the heatmaps plus weighted L1 on log sizes and offsets at the true
    centres (smooth L1), each divided by the number of objects. Returns (loss, parts as floats)."""
    c = model.config
    k = c.num_classes
    logits = out[:, :k].float()
    heat, index, log_size, offset, valid = model.targets(y, tuple(out.shape[-2:]))
    n = valid.sum().clamp(min=1)
    # penalty-reduced focal loss (Zhou et al. 2019, eq. 1; alpha = 2, beta = 4)
    p = torch.sigmoid(logits)
    positive = heat == 1
    pos_loss = -((1 - p) ** 2 * F.logsigmoid(logits))[positive].sum()
    neg_loss = -((1 - heat) ** 4 * p ** 2 * F.logsigmoid(-logits))[~positive].sum()
    focal = (pos_loss + neg_loss) / n
    extra = out[:, k:].float().flatten(2)                                        # (B, 4, h*w)
    at = extra.gather(2, index[:, None].expand(-1, 4, -1)).transpose(1, 2)       # (B, M, 4)
    m = valid[..., None].float()
    # smooth L1 (Girshick 2015, Fast R-CNN): L1 beyond SMOOTH_BETA, quadratic within, so that
    # the regression settles instead of jittering by the optimiser's step around 0
    size_l1 = (F.smooth_l1_loss(at[..., 0:2], log_size, reduction="none", beta=SMOOTH_BETA)
               * m).sum() / n
    offset_l1 = (F.smooth_l1_loss(at[..., 2:4], offset, reduction="none", beta=SMOOTH_BETA)
                 * m).sum() / n
    loss = focal + c.size_weight * size_l1 + c.offset_weight * offset_l1
    return loss, {"focal": focal.item(), "size": size_l1.item(), "offset": offset_l1.item()}
