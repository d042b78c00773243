"""Object detection end to end: the detector learns shapes scenes, decodes, draws its boxes, and
answers `ann predict`; bad input fails with one clear line."""

import json

import numpy as np
import pytest
import torch

import ann as ann_api
from ann.registry import create_model
from helpers import ann, fails_cleanly

STEPS = 120


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory, conv):
    out = tmp_path_factory.mktemp("detect") / "run"
    return ann_api.train("detector-shapes-quick", {"train.max_steps": STEPS,
                                                   "train.eval_every": STEPS, **conv.overrides},
                         out=out, quiet=True)


@pytest.mark.convergence
def test_detector_learns_shapes_scenes(shapes_run):
    """Convergence: a few dozen seconds of training finds and names most shapes."""
    test = shapes_run.summary["test"]
    assert test["map50"] > 0.5, test          # 0.63 measured (0.0 untrained)
    assert 0 < test["map"] < test["map50"]
    for picture in ("boxes.png", "curves.png"):
        assert (shapes_run.path / picture).stat().st_size > 1000


def test_decoding_finds_the_boxes_it_is_given():
    """Decoding inverts the training targets: an output built from the targets of some boxes
    (heatmap logits, log sizes and offsets at the centres) decodes to those boxes."""
    model = create_model("detector", "tiny", image_size=64)
    y = torch.tensor([[[0, 4.0, 6.0, 20.0, 30.0], [2, 30.0, 30.0, 60.0, 50.0], [-1, 0, 0, 0, 0]]])
    heat, index, log_size, offset, valid = model.targets(y, (16, 16))
    out = torch.zeros(1, 3 + 4, 16, 16)
    out[:, :3] = torch.logit(heat.clamp(1e-6, 1 - 1e-6))
    for j in range(2):
        cy, cx = divmod(int(index[0, j]), 16)
        out[0, 3:5, cy, cx] = log_size[0, j]
        out[0, 5:7, cy, cx] = offset[0, j]
    boxes, scores, labels = model.detect(out, min_score=0.5)[0]
    assert labels.tolist() == [0, 2] or labels.tolist() == [2, 0]
    order = labels.argsort()
    torch.testing.assert_close(boxes[order], y[0, :2, 1:], atol=1e-4, rtol=0)


def _save_png(path, image_chw: torch.Tensor, size=None):
    from PIL import Image

    picture = Image.fromarray(image_chw.permute(1, 2, 0).numpy())
    if size is not None:
        picture = picture.resize((size, size), Image.BILINEAR)
    picture.save(path)
    return path


@pytest.fixture(scope="module")
def test_image(shapes_run, tmp_path_factory):
    from ann.registry import load_dataset

    data = load_dataset("shapes-det", "test")
    folder = tmp_path_factory.mktemp("pictures")
    return data, _save_png(folder / "scene.png", data.x[0])


def test_predict_prints_and_draws_boxes(shapes_run, test_image, tmp_path):
    data, png = test_image
    out = tmp_path / "drawn.png"
    proc = ann("predict", shapes_run.path, png, "--out", out, "--threshold", "0.3")
    lines = [line for line in proc.stdout.splitlines() if line.startswith(str(png))]
    assert lines, proc.stdout
    for line in lines:
        name, score, *box = line.split(": ", 1)[1].split()
        assert name in ("circle", "square", "triangle") and 0.3 <= float(score) <= 1
        x1, y1, x2, y2 = map(float, box)
        assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
    assert out.stat().st_size > 100
    # a twice-as-large copy of the picture is resized; its boxes come back in its own pixels
    big = _save_png(tmp_path / "big.png", data.x[0], size=128)
    large = json.loads(ann("predict", shapes_run.path, big, "--json").stdout)
    assert large["file"] == str(big) and large["boxes"]
    first = lines[0].split(": ", 1)[1].split()
    best = large["boxes"][0]
    if best["class"] == first[0]:
        np.testing.assert_allclose(np.array(best["box"]) / 2, list(map(float, first[2:])), atol=4)


def test_predict_bad_input_fails_cleanly(shapes_run, test_image, tmp_path):
    data, png = test_image
    fails_cleanly(ann("predict", shapes_run.path, png, "--threshold", "1.5", check=False),
                  "threshold", "between 0 and 1")
    huge = _save_png(tmp_path / "huge.png", data.x[0], size=300)
    fails_cleanly(ann("predict", shapes_run.path, huge, check=False), "300x300", "64x64")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    fails_cleanly(ann("predict", shapes_run.path, empty, check=False), "empty")


def test_images_far_from_the_training_size_are_refused(shapes_run, test_image, tmp_path):
    from ann.errors import AnnError
    from ann.tasks.detect import read_for_model

    data, _ = test_image
    config = shapes_run.model.config
    x, pixels, scale = read_for_model(_save_png(tmp_path / "ok.png", data.x[0], size=40), config)
    assert x.shape == (1, 3, 64, 64) and pixels.shape == (40, 40, 3) and scale == (40 / 64,) * 2
    with pytest.raises(AnnError, match="16x16.*64x64"):
        read_for_model(_save_png(tmp_path / "tiny.png", data.x[0], size=16), config)


def _folder(tmp_path, bad_box=None):
    from PIL import Image

    folder = tmp_path / "mine"
    folder.mkdir()
    rows = ["file,x1,y1,x2,y2,label"]
    g = np.random.default_rng(0)
    for i in range(12):
        pixels = np.zeros((32, 32), dtype=np.uint8)
        x, y = (int(v) for v in g.integers(0, 20, 2))
        pixels[y:y + 10, x:x + 10] = 255
        Image.fromarray(pixels).save(folder / f"p{i}.png")
        rows.append(f"p{i}.png,{x},{y},{x + 10},{y + 10},block")
    if bad_box:
        rows.append(f"p3.png,{bad_box},block")
    (folder / "boxes.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_train_on_a_folder_of_your_own(tmp_path):
    folder = _folder(tmp_path)
    run = ann_api.train("detector-shapes", {"data.name": "detection-folder",
                                            "data.path": str(folder), "train.max_steps": 3,
                                            "train.batch_size": 4, "train.threads": 1},
                        out=tmp_path / "run", quiet=True)
    c = run.model.config
    assert (c.in_channels, c.image_size, c.num_classes, c.classes) == (1, 32, 1, ("block",))
    assert np.isfinite(run.summary["test"]["loss"])


@pytest.mark.parametrize("box,words", [("20,20,40,30", ["p3.png", "outside", "32x32"]),
                                       ("5,5,5,12", ["p3.png", "zero area"])])
def test_bad_boxes_in_your_own_data_fail_cleanly(tmp_path, box, words):
    folder = _folder(tmp_path, bad_box=box)
    proc = ann("train", "detector-shapes", "data.name=detection-folder", f"data.path={folder}",
               "train.threads=1", "--out", tmp_path / "run", check=False)
    fails_cleanly(proc, *words)
    assert not (tmp_path / "run").exists()          # nothing written
