"""Segmentation datasets: fixed seeds give fixed splits, and masks are the scenes' own."""

import numpy as np
import pytest
import torch
from conftest import real_data

from ann.data import segmentation as seg
from ann.data.scenes import make_scenes
from ann.registry import dataset_entry, load_dataset


def test_shapes_seg_splits_are_fixed_and_compact():
    val = load_dataset("shapes-seg", "val")
    assert val.x.shape == (200, 3, 64, 64) and val.x.dtype == torch.uint8
    assert val.y.shape == (200, 64, 64) and val.y.dtype == torch.uint8
    assert val.info["num_classes"] == 4 and val.info["classes"][0] == "background"
    # the same seed makes the same scenes: regenerate the first few and compare
    seed, _ = seg.SHAPES_SPLITS["val"]
    scenes = make_scenes("shapes", 5, seed, size=64)
    for i, s in enumerate(scenes):
        assert np.array_equal(val.y[i].numpy(), s.mask)
        assert np.abs(val.x[i].numpy() / 255.0 - s.image).max() <= 0.5 / 255 + 1e-6
    # splits differ from each other
    test = load_dataset("shapes-seg", "test")
    assert len(test) == 500 and not torch.equal(test.y[:5], val.y[:5])


def test_batch_standardises_and_widens():
    data = load_dataset("shapes-seg", "val")
    x, y = data.batch(slice(0, 4))
    assert x.dtype == torch.float32 and x.shape == (4, 3, 64, 64)
    assert y.dtype == torch.int64 and y.shape == (4, 64, 64)
    mean = torch.tensor(data.info["mean"]).reshape(1, 3, 1, 1)
    std = torch.tensor(data.info["std"]).reshape(1, 3, 1, 1)
    torch.testing.assert_close(x * std + mean, data.x[:4].float() / 255)
    assert set(torch.unique(y).tolist()) <= {0, 1, 2, 3}
    xi, yi = data.batch(torch.tensor([3, 1]))
    torch.testing.assert_close(xi[1], x[1])


def test_shapes_seg_normalisation_matches_the_train_split():
    x = seg._shapes_arrays("train")[0] / 255.0
    info = dataset_entry("shapes-seg").info
    np.testing.assert_allclose(x.mean((0, 2, 3)), info["mean"], atol=1e-3)
    np.testing.assert_allclose(x.std((0, 2, 3)), info["std"], atol=1e-3)


def test_mnist_scenes_seg_from_real_digits(monkeypatch):
    root = real_data("mnist").parent
    monkeypatch.setenv("ANN_DATA_DIR", str(root))
    from ann.data.vision import idx_split_arrays

    test = load_dataset("mnist-scenes-seg", "test")
    assert test.x.shape == (1000, 1, 96, 96) and test.y.shape == (1000, 96, 96)
    assert int(test.y.max()) <= 10 and test.info["classes"][1] == "0"
    images, labels = idx_split_arrays("mnist", "test")   # test scenes: the official test images
    seed, _ = seg.DIGITS_SPLITS["test"]
    scenes = make_scenes("digits", 3, seed, images=images, labels=labels, size=96)
    for i, s in enumerate(scenes):
        assert np.array_equal(test.y[i].numpy(), s.mask)
        assert sorted(np.unique(s.mask[s.mask > 0]).tolist()) == sorted({o.label for o in s.objects})
    again = load_dataset("mnist-scenes-seg", "test")
    assert torch.equal(again.x, test.x)


@pytest.mark.parametrize("name", ["shapes-seg", "mnist-scenes-seg"])
def test_registered_with_segment_task(name):
    info = dataset_entry(name).info
    assert info["task"] == "segment" and len(info["classes"]) == info["num_classes"]
