"""Object-detection metrics: box IoU, non-maximum suppression, and COCO-style mean average
precision (pure functions).

Boxes are ``(x1, y1, x2, y2)`` in pixels with ``x2``/``y2`` exclusive, so a box's width is
``x2 - x1`` and its area ``(x2 - x1) * (y2 - y1)`` (the continuous convention COCO uses for its
``[x, y, w, h]`` boxes, so that ``xywh = (x1, y1, x2 - x1, y2 - y1)`` gives COCO the same IoUs).

:func:`mean_average_precision` follows the COCO evaluation (Lin et al. 2014, "Microsoft COCO:
Common Objects in Context", https://arxiv.org/abs/1405.0312, and its reference evaluation code's
documented rules): per image and class, detections are matched greedily in order of decreasing
score, each to the unmatched ground-truth box of highest IoU at or above the threshold; per class,
precision is made monotone and read at 101 recall points 0, 0.01, ..., 1 (0 beyond the largest
recall reached); AP averages those points, mAP averages AP over the classes that have at least one
ground-truth box. At most ``max_dets`` detections per image and class count (COCO: 100); every
box counts whatever its area (COCO's area range "all"); nothing is a crowd.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

COCO_IOUS = tuple(np.round(np.linspace(0.5, 0.95, 10), 2).tolist())
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of two sets of boxes.

    Shapes:
        a (..., N, 4), b (..., M, 4) -> (..., N, M). Boxes of zero area have IoU 0 with everything.
    """
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)  # (..., N)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)  # (..., M)
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])    # (..., N, M, 2)
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])    # (..., N, M, 2)
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]                                  # (..., N, M)
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float,
        labels: torch.Tensor | None = None, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy non-maximum suppression, batched over images and (with ``labels``) per class.

    Within an image, boxes are visited in order of decreasing score (ties: the earlier index
    first); a box is kept unless a kept box of the same class overlaps it with IoU above
    ``iou_threshold``. ``valid`` marks the boxes taking part (others are never kept).

    Shapes:
        boxes (B, N, 4) or (N, 4); scores, labels, valid (B, N) or (N,) -> keep, bool, like scores.
    """
    single = boxes.dim() == 2
    if single:
        boxes, scores = boxes[None], scores[None]
        labels = labels[None] if labels is not None else None
        valid = valid[None] if valid is not None else None
    B, N = scores.shape
    if valid is None:
        valid = torch.ones_like(scores, dtype=torch.bool)
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices        # (B, N)
    b_sorted = boxes.gather(1, order[..., None].expand(-1, -1, 4))                  # (B, N, 4)
    overlap = box_iou(b_sorted, b_sorted) > iou_threshold                           # (B, N, N)
    if labels is not None:
        l_sorted = labels.gather(1, order)
        overlap &= l_sorted[:, :, None] == l_sorted[:, None, :]                     # same class only
    alive = valid.gather(1, order).clone()                                          # (B, N)
    later = torch.ones(N, N, dtype=torch.bool, device=boxes.device).triu(1)         # j > i
    for i in range(N):
        # box i, if still alive, is kept and suppresses the later boxes it overlaps
        alive &= ~(alive[:, i:i + 1] & overlap[:, i] & later[i])
    keep = torch.zeros_like(alive)
    keep.scatter_(1, order, alive)
    return keep[0] if single else keep


def _iou_np(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(D, 4) x (G, 4) float64 boxes -> (D, G) IoU."""
    return box_iou(torch.from_numpy(d), torch.from_numpy(g)).numpy()


def _match(dt_boxes, gt_boxes, thresholds) -> np.ndarray:
    """COCO's greedy matching within one image and class; detections in score order.
    Returns (T, D) bool: detection d is a true positive at threshold t."""
    T, D, G = len(thresholds), len(dt_boxes), len(gt_boxes)
    matched = np.zeros((T, D), dtype=bool)
    if D == 0 or G == 0:
        return matched
    ious = _iou_np(dt_boxes, gt_boxes)                              # (D, G)
    for t, thr in enumerate(thresholds):
        taken = np.zeros(G, dtype=bool)
        for d in range(D):
            best, m = min(thr, 1 - 1e-10), -1
            for g in range(G):
                # the highest IoU at or above the threshold; among equal ones, the last
                if taken[g] or ious[d, g] < best:
                    continue
                best, m = ious[d, g], g
            if m >= 0:
                taken[m], matched[t, d] = True, True
    return matched


def _class_precision(per_image, thresholds) -> np.ndarray | None:
    """Interpolated precision (T, 101) of one class from ``[(scores, matched (T, D), n_gt)]`` per
    image (images in order); None when the class has no ground truth."""
    n_gt = sum(n for _, _, n in per_image)
    if n_gt == 0:
        return None
    scores = np.concatenate([s for s, _, _ in per_image]) if per_image else np.zeros(0)
    matched = (np.concatenate([m for _, m, _ in per_image], axis=1) if per_image
               else np.zeros((len(thresholds), 0), dtype=bool))
    order = np.argsort(-scores, kind="mergesort")                   # stable: image, then rank
    matched = matched[:, order]
    tp = np.cumsum(matched, axis=1, dtype=np.float64)               # (T, D)
    fp = np.cumsum(~matched, axis=1, dtype=np.float64)
    out = np.zeros((len(thresholds), len(RECALL_POINTS)))
    for t in range(len(thresholds)):
        recall = tp[t] / n_gt
        precision = tp[t] / (tp[t] + fp[t] + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]    # monotone from the right
        where = np.searchsorted(recall, RECALL_POINTS, side="left")
        ok = where < len(precision)
        out[t, ok] = precision[where[ok]]
    return out


def average_precision_per_class(detections: Sequence, truths: Sequence, num_classes: int,
                                thresholds: Sequence[float] = COCO_IOUS,
                                max_dets: int = 100) -> np.ndarray:
    """AP per class and IoU threshold, (num_classes, T); NaN for a class without ground truth.

    ``detections[i] = (boxes (D, 4), scores (D,), labels (D,))`` and ``truths[i] = (boxes (G, 4),
    labels (G,))`` for image ``i`` (tensors or arrays; labels 0..num_classes-1).
    """
    if len(detections) != len(truths):
        raise ValueError(f"{len(detections)} images of detections but {len(truths)} of truths")
    thresholds = np.asarray(thresholds, dtype=np.float64)
    per_class: list[list] = [[] for _ in range(num_classes)]
    for (d_boxes, d_scores, d_labels), (g_boxes, g_labels) in zip(detections, truths):
        d_boxes, d_scores, d_labels, g_boxes, g_labels = (
            np.asarray(torch.as_tensor(v).detach().cpu(), dtype=np.float64)
            for v in (d_boxes, d_scores, d_labels, g_boxes, g_labels))
        d_boxes, g_boxes = d_boxes.reshape(-1, 4), g_boxes.reshape(-1, 4)
        for k in range(num_classes):
            dk, gk = d_labels == k, g_labels == k
            if not dk.any() and not gk.any():
                continue
            scores = d_scores[dk]
            order = np.argsort(-scores, kind="mergesort")[:max_dets]
            boxes = d_boxes[dk][order]
            per_class[k].append((scores[order], _match(boxes, g_boxes[gk], thresholds),
                                 int(gk.sum())))
    ap = np.full((num_classes, len(thresholds)), np.nan)
    for k in range(num_classes):
        precision = _class_precision(per_class[k], thresholds)
        if precision is not None:
            ap[k] = precision.mean(axis=1)
    return ap


def mean_average_precision(detections: Sequence, truths: Sequence, num_classes: int,
                           max_dets: int = 100) -> dict[str, float]:
    """COCO-style ``map`` (AP averaged over IoU 0.5:0.05:0.95 and the classes with ground
    truth), ``map50`` (IoU 0.5) and ``map75`` (IoU 0.75); see :func:`average_precision_per_class`
    for the arguments. A split without any ground-truth box gives NaN."""
    ap = average_precision_per_class(detections, truths, num_classes, COCO_IOUS, max_dets)
    has_truth = ~np.isnan(ap[:, 0])
    if not has_truth.any():
        return {"map": float("nan"), "map50": float("nan"), "map75": float("nan")}
    ap = ap[has_truth]
    return {"map": float(ap.mean()), "map50": float(ap[:, 0].mean()),
            "map75": float(ap[:, COCO_IOUS.index(0.75)].mean())}
