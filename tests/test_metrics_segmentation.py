"""Segmentation metrics (ann.metrics): hand-computed values, and scikit-learn on random data."""

import math

import numpy as np
import pytest
import torch

from ann.metrics import (
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mean_dice,
    mean_iou,
    pixel_accuracy,
)

# A 2x4 mask with 3 classes and a prediction, worked by hand:
#   truth  0 0 1 1      pred  0 1 1 1
#          2 2 2 0            2 2 0 0
# pairs (truth, pred): (0,0) (0,1) (1,1) (1,1) (2,2) (2,2) (2,0) (0,0)
TRUTH = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 0]])
PRED = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 0]])
CM = [[2, 1, 0],
      [0, 2, 0],
      [1, 0, 2]]


def test_hand_computed():
    cm = confusion_matrix(PRED, TRUTH, 3)
    assert cm.tolist() == CM and cm.dtype == torch.int64
    # class 0: TP 2, FP 1 (row 2), FN 1 (col 1) -> IoU 2/4, Dice 4/6
    # class 1: TP 2, FP 1, FN 0 -> 2/3, 4/5;  class 2: TP 2, FP 0, FN 1 -> 2/3, 4/5
    torch.testing.assert_close(iou_per_class(cm), torch.tensor([0.5, 2 / 3, 2 / 3], dtype=torch.float64))
    torch.testing.assert_close(dice_per_class(cm), torch.tensor([4 / 6, 0.8, 0.8], dtype=torch.float64))
    assert mean_iou(cm) == pytest.approx((0.5 + 4 / 3) / 3)
    assert mean_dice(cm) == pytest.approx((4 / 6 + 1.6) / 3)
    assert pixel_accuracy(cm) == pytest.approx(6 / 8)


def test_absent_class_is_left_out_of_the_means():
    cm = confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), 4)   # classes 2, 3 unseen
    iou = iou_per_class(cm)
    assert math.isnan(iou[2]) and math.isnan(iou[3])
    assert mean_iou(cm) == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert math.isnan(mean_iou(torch.zeros(3, 3)))


def test_perfect_prediction():
    y = torch.randint(0, 5, (2, 16, 16), generator=torch.Generator().manual_seed(0))
    cm = confusion_matrix(y, y, 5)
    assert mean_iou(cm) == 1.0 and mean_dice(cm) == 1.0 and pixel_accuracy(cm) == 1.0


def test_shapes_must_agree():
    with pytest.raises(ValueError):
        confusion_matrix(torch.zeros(3), torch.zeros(4), 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_scikit_learn(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    k = 6
    truth = rng.integers(0, k, size=(3, 20, 20))
    # mostly right, so that the figures are far from 1/k
    pred = np.where(rng.random(truth.shape) < 0.6, truth, rng.integers(0, k, size=truth.shape))
    cm = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(truth), k)
    t, p, labels = truth.ravel(), pred.ravel(), list(range(k))
    np.testing.assert_array_equal(cm.numpy(), metrics.confusion_matrix(t, p, labels=labels))
    np.testing.assert_allclose(iou_per_class(cm).numpy(),
                               metrics.jaccard_score(t, p, labels=labels, average=None), atol=1e-12)
    assert mean_iou(cm) == pytest.approx(metrics.jaccard_score(t, p, labels=labels, average="macro"),
                                         abs=1e-12)
    np.testing.assert_allclose(dice_per_class(cm).numpy(),
                               metrics.f1_score(t, p, labels=labels, average=None), atol=1e-12)
    assert mean_dice(cm) == pytest.approx(metrics.f1_score(t, p, labels=labels, average="macro"),
                                          abs=1e-12)
    assert pixel_accuracy(cm) == pytest.approx(metrics.accuracy_score(t, p), abs=1e-12)
