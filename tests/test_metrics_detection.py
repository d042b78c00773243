"""Detection metrics: box IoU, NMS, and mAP checked against pycocotools on the same predictions."""

import contextlib
import io

import numpy as np
import pytest
import torch

from ann.metrics_detection import box_iou, mean_average_precision, nms


def test_box_iou_by_hand():
    a = torch.tensor([[0.0, 0, 10, 10], [0, 0, 0, 5]])               # second: zero area
    b = torch.tensor([[5.0, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    iou = box_iou(a, b)
    torch.testing.assert_close(iou, torch.tensor([[50 / 150, 1.0, 0.0], [0.0, 0.0, 0.0]]))
    assert box_iou(a[None].expand(3, -1, -1), b[None].expand(3, -1, -1)).shape == (3, 2, 3)


def test_box_iou_matches_pycocotools():
    mask = pytest.importorskip("pycocotools.mask")
    g = np.random.default_rng(0)
    xy = g.uniform(0, 50, (40, 2))
    a = np.concatenate([xy, xy + g.uniform(1, 30, (40, 2))], 1)
    xy = g.uniform(0, 50, (30, 2))
    b = np.concatenate([xy, xy + g.uniform(1, 30, (30, 2))], 1)
    xywh = lambda x: np.concatenate([x[:, :2], x[:, 2:] - x[:, :2]], 1)  # noqa: E731
    ref = mask.iou(xywh(a), xywh(b), [0] * len(b))
    ours = box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_nms_keeps_the_best_of_each_cluster_per_class():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10],
                          [21, 21, 31, 31]])
    scores = torch.tensor([0.9, 0.95, 0.5, 0.8, 0.5])
    labels = torch.tensor([0, 0, 0, 1, 0])
    keep = nms(boxes, scores, 0.5, labels)
    # box 1 beats box 0 (same class, IoU 0.68); box 3 is another class; 2 and 4 tie at 0.5:
    # the earlier index goes first and suppresses the other
    assert keep.tolist() == [False, True, True, True, False]
    # without classes box 3 falls to box 1 as well
    assert nms(boxes, scores, 0.5).tolist() == [False, True, True, False, False]
    # per class, a threshold above every IoU keeps all; invalid boxes are never kept
    assert nms(boxes, scores, 0.99, labels).all()
    valid = torch.tensor([True, False, True, True, True])
    assert nms(boxes, scores, 0.5, labels, valid).tolist() == [True, False, True, True, False]


def test_nms_batched_equals_one_image_at_a_time():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(4, 30, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + 5 + torch.rand(4, 30, 2, generator=g) * 20], -1)
    scores = torch.rand(4, 30, generator=g)
    labels = torch.randint(0, 3, (4, 30), generator=g)
    batched = nms(boxes, scores, 0.4, labels)
    for i in range(4):
        assert torch.equal(batched[i], nms(boxes[i], scores[i], 0.4, labels[i]))
    # the greedy rule, checked directly: no two kept boxes of a class overlap above 0.4, and
    # every dropped box overlaps a kept, better box of its class above 0.4
    for i in range(4):
        iou = box_iou(boxes[i], boxes[i])
        same = labels[i][:, None] == labels[i][None, :]
        kept = batched[i]
        clash = (iou > 0.4) & same & kept[:, None] & kept[None, :]
        assert not clash.fill_diagonal_(False).any()
        for j in (~kept).nonzero().flatten():
            better = (scores[i] > scores[i][j]) & kept & same[j] & (iou[j] > 0.4)
            assert better.any()


# --------------------------------------------------------------------------- mAP vs pycocotools

def _coco(detections, truths, num_classes):
    """stats[0], stats[1], stats[2] of pycocotools' COCOeval on the same boxes."""
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    gt = {"images": [{"id": i + 1, "width": 100, "height": 100} for i in range(len(truths))],
          "categories": [{"id": k + 1, "name": str(k)} for k in range(num_classes)],
          "annotations": []}
    for i, (boxes, labels) in enumerate(truths):
        for b, k in zip(boxes.tolist(), labels.tolist()):
            w, h = b[2] - b[0], b[3] - b[1]
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i + 1,
                                      "category_id": int(k) + 1, "bbox": xywh(b), "area": w * h,
                                      "iscrowd": 0})
    dets = [{"image_id": i + 1, "category_id": int(k) + 1, "bbox": xywh(b), "score": float(s)}
            for i, (boxes, scores, labels) in enumerate(detections)
            for b, s, k in zip(boxes.tolist(), scores.tolist(), labels.tolist())]
    with contextlib.redirect_stdout(io.StringIO()):
        ground = coco_mod.COCO()
        ground.dataset = gt
        ground.createIndex()
        result = ground.loadRes(dets)
        ev = cocoeval.COCOeval(ground, result, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def _random_case(seed, n_images=12, num_classes=4, crowded=False, ties=False, skip_class=None):
    g = np.random.default_rng(seed)
    detections, truths = [], []
    for _ in range(n_images):
        n = int(g.integers(0, 12 if crowded else 5))
        centre = g.uniform(20, 80, (1, 2)) if crowded else g.uniform(10, 90, (n, 2))
        xy = centre + (g.normal(0, 6, (n, 2)) if crowded else 0) - g.uniform(3, 15, (n, 2))
        gt = np.concatenate([xy, xy + g.uniform(4, 30, (n, 2))], 1).round(1)
        labels = g.integers(0, num_classes, n)
        # detections: jittered truths (some badly), duplicates, and false positives
        m = int(g.integers(0, 8))
        fp_xy = g.uniform(0, 90, (m, 2))
        fp = np.concatenate([fp_xy, fp_xy + g.uniform(3, 30, (m, 2))], 1)
        jitter = gt + g.normal(0, g.choice([0.5, 3.0, 8.0]), gt.shape)
        dup = gt[: n // 2] + g.normal(0, 2.0, (n // 2, 4))
        boxes = np.concatenate([jitter, dup, fp]).reshape(-1, 4)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.5)
        d_labels = np.concatenate([labels, labels[: n // 2], g.integers(0, num_classes, m)])
        wrong = g.random(len(d_labels)) < 0.1
        d_labels[wrong] = g.integers(0, num_classes, wrong.sum())
        scores = g.random(len(boxes))
        if ties:
            scores = np.round(scores, 1)          # many equal scores within and across images
        if skip_class is not None:                # a class never predicted
            keep = d_labels != skip_class
            boxes, scores, d_labels = boxes[keep], scores[keep], d_labels[keep]
        detections.append((torch.tensor(boxes), torch.tensor(scores), torch.tensor(d_labels)))
        truths.append((torch.tensor(gt), torch.tensor(labels)))
    return detections, truths


@pytest.mark.parametrize("seed,options", [
    (0, {}), (1, {}), (2, {"crowded": True}), (3, {"crowded": True, "ties": True}),
    (4, {"ties": True}), (5, {"skip_class": 2}), (6, {"num_classes": 1}),
    (7, {"n_images": 40, "num_classes": 6, "crowded": True}),
])
def test_map_matches_pycocotools(seed, options):
    detections, truths = _random_case(seed, **options)
    k = options.get("num_classes", 4)
    if not any(len(d[0]) for d in detections):
        pytest.skip("no detections at all")
    stats = _coco(detections, truths, k)
    ours = mean_average_precision(detections, truths, k)
    assert abs(ours["map"] - stats[0]) < 1e-6, (ours, stats[:3])
    assert abs(ours["map50"] - stats[1]) < 1e-6, (ours, stats[:3])
    assert abs(ours["map75"] - stats[2]) < 1e-6, (ours, stats[:3])


def test_map_perfect_and_empty():
    truths = [(torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]]), torch.tensor([0, 1]))]
    perfect = [(truths[0][0], torch.tensor([0.9, 0.8]), truths[0][1])]
    assert mean_average_precision(perfect, truths, 3) == pytest.approx(
        {"map": 1.0, "map50": 1.0, "map75": 1.0}, abs=1e-12)
    empty = [(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long))]
    assert mean_average_precision(empty, truths, 3)["map50"] == 0.0
    none = [(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))]
    assert np.isnan(mean_average_precision(empty, none, 3)["map"])
