"""The scene generator behind segmentation, detection and caption data: its truth must be exact."""

import numpy as np
import pytest

from ann.data.scenes import (
    COLORS,
    SHAPES,
    Scene,
    SceneObject,
    caption,
    digits_scene,
    make_scenes,
    shapes_scene,
)


def test_same_seed_same_scenes_and_different_seed_differs():
    a, b, c = (make_scenes("shapes", 5, seed) for seed in (3, 3, 4))
    for x, y in zip(a, b):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.mask, y.mask)
        assert x.objects == y.objects
    assert not all(np.array_equal(x.image, y.image) for x, y in zip(a, c))


def test_shapes_masks_boxes_and_colours_agree():
    rng = np.random.default_rng(0)
    for _ in range(30):
        s = shapes_scene(rng, size=48, n_objects=(1, 4), noise=0.0)
        assert s.image.shape == (3, 48, 48) and s.image.dtype == np.float32
        assert 1 <= len(s.objects) <= 4
        for i, obj in enumerate(s.objects):
            visible = s.instances == i + 1
            assert visible.any(), "every object keeps some pixels in view"
            assert (s.mask[visible] == obj.label).all()
            assert SHAPES[obj.label - 1] == obj.name and obj.color in COLORS
            x1, y1, x2, y2 = obj.box
            rows, cols = np.nonzero(visible)
            # the visible pixels lie inside the object's own box
            assert x1 <= cols.min() and cols.max() < x2 and y1 <= rows.min() and rows.max() < y2
            # without noise, a visible pixel has exactly the object's colour
            assert np.allclose(s.image[:, visible].T, COLORS[obj.color], atol=1e-6)
        assert ((s.mask > 0) == (s.instances > 0)).all()


def test_min_visible_is_kept():
    rng = np.random.default_rng(1)
    for _ in range(20):
        s = shapes_scene(rng, size=40, n_objects=(3, 5), min_visible=0.6)
        for i, obj in enumerate(s.objects):
            x1, y1, x2, y2 = obj.box
            own = (x2 - x1) * (y2 - y1)
            # the visible area is at least 60% of the shape's own area, which is at most its box area
            assert (s.instances == i + 1).sum() >= 0.6 * own * 0.45  # a triangle fills ~half its box


def test_digit_scenes_do_not_overlap_and_masks_hold_the_digit():
    rng = np.random.default_rng(0)
    images = np.zeros((10, 28, 28), dtype=np.uint8)
    for d in range(10):
        images[d, 4 + d:20, 8:20] = 255            # a block whose shape depends on the digit
    labels = np.arange(10)
    for _ in range(20):
        s = digits_scene(rng, images, labels, size=96, n_objects=(2, 4))
        assert s.image.shape == (1, 96, 96)
        boxes = s.boxes
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
        for i, obj in enumerate(s.objects):
            x1, y1, x2, y2 = obj.box
            inside = s.instances[y1:y2, x1:x2] == i + 1
            # the box is tight: ink touches each of its four sides
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            assert (s.mask[s.instances == i + 1] == obj.label).all()
            assert obj.name == str(obj.label - 1)


def _scene(*objects):
    return Scene(np.zeros((3, 8, 8), np.float32), np.zeros((8, 8), np.int64),
                 np.zeros((8, 8), np.int64), list(objects))


def test_caption_orders_left_to_right_and_names_the_relation():
    red = SceneObject(1, "circle", (40, 10, 50, 20), "red", "small")
    blue = SceneObject(2, "square", (0, 12, 20, 32), "blue", "large")
    assert caption(_scene(red, blue)) == "a large blue square left of a small red circle"
    low = SceneObject(3, "triangle", (38, 40, 52, 60), "green", "small")
    assert caption(_scene(red, low)) == "a small red circle above a small green triangle"
    assert caption(_scene(SceneObject(9, "8", (0, 0, 5, 5)))) == "an 8"
    assert caption(_scene()) == "nothing"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown scene kind"):
        make_scenes("clouds", 1, 0)
