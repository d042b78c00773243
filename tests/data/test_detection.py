"""Detection datasets: generated shapes scenes, MNIST scenes, and a folder of your own."""

import json

import numpy as np
import pytest
import torch
from conftest import real_data

from ann.data.detection import BoxDataset, load_detection_folder
from ann.errors import AnnError
from ann.registry import dataset_entry, load_dataset


def _check_boxes(data: BoxDataset, num_classes: int, size: int):
    y = data.y
    real = y[..., 0] >= 0
    assert real.any(1).all(), "every scene has an object"
    assert ((y[..., 0] == -1) | real).all()
    assert (y[..., 0][real] < num_classes).all()
    boxes = y[real][:, 1:]
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= size).all()
    assert (boxes[:, 2:] > boxes[:, :2]).all()
    # padding rows come after the real ones
    assert torch.equal(real, real.long().sort(dim=1, descending=True, stable=True).values.bool())


def test_shapes_det_splits_are_fixed_and_well_formed():
    val = load_dataset("shapes-det", "val")
    assert isinstance(val, BoxDataset) and len(val) == 300
    assert val.x.shape == (300, 3, 64, 64) and val.x.dtype == torch.uint8
    assert val.y.shape == (300, 4, 5)
    _check_boxes(val, 3, 64)
    again = load_dataset("shapes-det", "val")
    assert torch.equal(val.x, again.x) and torch.equal(val.y, again.y)
    test = load_dataset("shapes-det", "test")
    assert not torch.equal(test.x[:300], val.x)
    # all three classes and 1..4 objects per scene occur
    counts = (val.y[..., 0] >= 0).sum(1)
    assert set(counts.tolist()) == {1, 2, 3, 4}
    assert set(val.y[..., 0][val.y[..., 0] >= 0].long().tolist()) == {0, 1, 2}


def test_shapes_det_batches_are_standardised():
    data = load_dataset("shapes-det", "val")
    x, y = data.batch(slice(0, 300))
    assert x.dtype == torch.float32 and torch.equal(y, data.y)
    assert x.mean((0, 2, 3)).abs().max() < 0.1 and (x.std((0, 2, 3)) - 1).abs().max() < 0.1


def test_info_and_registration():
    entry = dataset_entry("shapes-det")
    assert entry.embedded and entry.info["task"] == "detect" and entry.info["classes"] == (
        "circle", "square", "triangle")
    assert not dataset_entry("mnist-scenes-det").embedded
    assert dataset_entry("detection-folder").option_names == ("path",)


def test_mnist_scenes_det_uses_each_mnist_split():
    real_data("mnist")
    test = load_dataset("mnist-scenes-det", "test")
    assert test.x.shape == (2000, 1, 96, 96)
    _check_boxes(test, 10, 96)
    assert set(test.y[..., 0][test.y[..., 0] >= 0].long().tolist()) == set(range(10))


# --------------------------------------------------------------------------- your own folder

def _write_folder(tmp_path, n=10, size=32, rows=None, as_json=False):
    from PIL import Image

    g = np.random.default_rng(0)
    folder = tmp_path / "own"
    folder.mkdir()
    notes = {}
    for i in range(n):
        pixels = np.zeros((size, size, 3), dtype=np.uint8)
        x1, y1 = (int(v) for v in g.integers(0, size // 2, 2))
        pixels[y1:y1 + 8, x1:x1 + 8] = (255, 0, 0) if i % 2 else (0, 255, 0)
        Image.fromarray(pixels).save(folder / f"img{i}.png")
        notes[f"img{i}.png"] = [[x1, y1, x1 + 8, y1 + 8, "red" if i % 2 else "green"]]
    if rows is not None:
        notes.update(rows)
    if as_json:
        (folder / "boxes.json").write_text(json.dumps(notes))
    else:
        lines = ["file,x1,y1,x2,y2,label"] + [f"{f},{b[0]},{b[1]},{b[2]},{b[3]},{b[4]}"
                                              for f, bs in notes.items() for b in bs]
        (folder / "boxes.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize("as_json", [False, True])
def test_folder_of_your_own(tmp_path, as_json):
    folder = _write_folder(tmp_path, as_json=as_json)
    parts = {s: load_detection_folder(s, path=str(folder)) for s in ("train", "val", "test")}
    assert [len(p) for p in parts.values()] == [8, 1, 1]
    info = parts["train"].info
    assert info["classes"] == ("green", "red") and info["num_classes"] == 2
    assert info["in_channels"] == 3 and info["image_size"] == 32
    assert "classes" in info["fills"]
    _check_boxes(parts["train"], 2, 32)


@pytest.mark.parametrize("box,words", [
    ([20, 20, 40, 28, "red"], ["img0.png", "outside", "32x32"]),
    ([5, 5, 5, 9, "red"], ["img0.png", "zero area"]),
    ([-1, 2, 4, 6, "red"], ["img0.png", "outside"]),
])
def test_folder_bad_boxes_name_the_file_and_box(tmp_path, box, words):
    folder = _write_folder(tmp_path, rows={"img0.png": [box]})
    with pytest.raises(AnnError) as e:
        load_detection_folder("train", path=str(folder))
    for w in words:
        assert w in str(e.value)
    assert "\n" not in str(e.value)


def test_folder_without_annotations(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnError, match="boxes.csv"):
        load_detection_folder("train", path=str(tmp_path / "empty"))
    with pytest.raises(AnnError, match="data.path"):
        load_detection_folder("train")
