"""``segmentation-folder``: a folder of the user's pictures and masks, trained on by U-Net and
FCN, evaluated and predicted from (masks written at each picture's own size); every kind of bad
folder refused in one line naming the file."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import ann as ann_api
from ann.errors import AnnError
from ann.registry import dataset_entry, load_dataset
from ann.tasks import get_task
from ann.tasks.segment import soft_dice_loss
from helpers import ann, fails_cleanly

NAMES = ("background", "disc", "box")
COLOURS = {1: (210, 70, 60), 2: (60, 200, 80)}
QUICK = {"train.epochs": 0, "train.max_steps": 60, "train.eval_every": 30, "train.batch_size": 16,
         "model.widths": "8,16", "train.threads": 1}


def scene(rng: np.random.RandomState, h: int = 32, w: int = 32, gray: bool = False):
    """A noisy picture with 1-3 discs (class 1) and rectangles (class 2), and its mask."""
    pixels = rng.randint(0, 70, (h, w, 3)).astype(np.float64)
    mask = np.zeros((h, w), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(rng.randint(1, 4)):
        cls = rng.randint(1, 3)
        cy, cx = rng.randint(4, h - 4), rng.randint(4, w - 4)
        if cls == 1:
            inside = np.hypot(yy - cy, xx - cx) <= rng.randint(3, 7)
        else:
            inside = (abs(yy - cy) <= rng.randint(2, 5)) & (abs(xx - cx) <= rng.randint(2, 6))
        pixels[inside] = 0.3 * pixels[inside] + COLOURS[cls]
        mask[inside] = cls
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels.mean(2).astype(np.uint8) if gray else pixels), mask


def write_pairs(root, count: int, seed: int = 0, values=(0, 1, 2), names=NAMES, **kw):
    """``root/images/sNN.png`` and ``root/masks/sNN.png`` (class c stored as ``values[c]``)."""
    rng = np.random.RandomState(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        picture, mask = scene(rng, **kw)
        name = f"s{seed}_{i:02d}"
        picture.save(root / "images" / f"{name}.{'png' if i % 2 else 'jpg'}")
        Image.fromarray(np.asarray(values, dtype=np.uint8)[mask]).save(root / "masks" / f"{name}.png")
    if names:
        lines = [""] * (max(values) + 1)
        for v, n in zip(values, names):
            lines[v] = n
        (root / "classes.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("scans"), 60)


def splits(path, **options):
    return {s: load_dataset("segmentation-folder", s, path=str(path), **options)
            for s in ("train", "val", "test")}


# -- reading ---------------------------------------------------------------------------------
def test_registered_with_its_options():
    entry = dataset_entry("segmentation-folder")
    assert entry.embedded and entry.info["task"] == "segment"
    assert entry.option_names == ("path", "size", "channels", "ignore_index", "val_fraction",
                                  "test_fraction", "split_seed")


def test_classes_sizes_statistics_and_split(scans):
    data = splits(scans)
    info = data["train"].info
    assert info["classes"] == NAMES and info["num_classes"] == 3 and info["mask_values"] == (0, 1, 2)
    assert info["in_channels"] == 3 and info["image_size"] == 32
    assert [len(d) for d in data.values()] == [48, 6, 6]
    x, y = data["train"].batch(slice(0, 48))
    assert x.shape == (48, 3, 32, 32) and y.shape == (48, 32, 32) and y.dtype == torch.int64
    # the masks are the files' values, in the order the split lists them (mean/std of the
    # training pixels standardise them to 0 and 1 per channel)
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std((0, 2, 3), correction=0), torch.ones(3), atol=1e-3)
    files = sorted((scans / "masks").iterdir())
    masks = {f.stem: np.asarray(Image.open(f)) for f in files}
    train = [m for m in masks.values() if any(np.array_equal(m, t) for t in y.numpy())]
    assert len(train) == 48
    again = load_dataset("segmentation-folder", "test", path=str(scans), split_seed=1).y
    assert not torch.equal(again, data["test"].y)            # another seed, another split


def test_values_ignored_pixels_and_gray_resized(tmp_path):
    """Mask values 0, 3 and 7 become classes 0, 1, 2; 255 pixels are ignored (-100); gray
    pictures give one channel; data.size resizes masks by the nearest pixel."""
    root = write_pairs(tmp_path / "p", 10, values=(0, 3, 7), names=None, h=24, w=40, gray=True)
    ignored = 0
    for mask in (root / "masks").iterdir():
        values = np.asarray(Image.open(mask)).copy()
        values[:3] = 255                                      # the top rows: ignored
        Image.fromarray(values).save(mask)
        ignored += int((np.asarray(Image.fromarray(values).resize((64, 64), Image.NEAREST))
                        == 255).sum())
    data = load_dataset("segmentation-folder", "train", path=str(root), size=16, val_fraction=0.2,
                        test_fraction=0.2, split_seed=3)
    info = data.info
    assert info["classes"] == ("0", "3", "7") and info["mask_values"] == (0, 3, 7)
    assert info["in_channels"] == 1 and info["image_size"] == 16 and data.x.shape[1:] == (1, 16, 16)
    y = data.batch(slice(0, len(data)))[1]
    assert set(torch.unique(y).tolist()) <= {-100, 0, 1, 2}
    # of every stored mask, nearest-neighbour resizing keeps only values the file had
    big = load_dataset("segmentation-folder", "train", path=str(root), val_fraction=0.2,
                       test_fraction=0.2, split_seed=3)
    assert big.info["image_size"] == 64                       # 40x24: not square, the fallback
    every = splits(root, val_fraction=0.2, test_fraction=0.2, split_seed=3)
    assert sum(int((d.batch(slice(0, len(d)))[1] == -100).sum()) for d in every.values()) == ignored
    # ignore_index=-1: 255 is a class like any other
    info = load_dataset("segmentation-folder", "train", path=str(root), ignore_index=-1,
                        val_fraction=0.2, test_fraction=0.2).info
    assert info["mask_values"] == (0, 3, 7, 255)


def test_train_val_test_folders_are_used_as_given(tmp_path):
    root = tmp_path / "p"
    write_pairs(root / "train", 12, seed=0, names=None)
    write_pairs(root / "test", 4, seed=1, names=None)
    sizes = {s: len(d) for s, d in splits(root, val_fraction=0.25).items()}
    assert sizes == {"train": 9, "val": 3, "test": 4}     # val carved from train/, test as given


def test_ignored_pixels_count_in_neither_loss_nor_score():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (2, 8, 8), generator=g)
    logits = torch.randn(2, 3, 8, 8, generator=g)
    ignored = y.clone()
    ignored[:, :4] = -100
    other = logits.clone()
    other[:, :, :4] = torch.randn(2, 3, 4, 8, generator=g)      # changed only where ignored
    assert soft_dice_loss(logits, ignored).item() == pytest.approx(soft_dice_loss(other, ignored).item())
    # the Dice loss of the kept half alone, computed by hand
    p = torch.softmax(logits, 1)[:, :, 4:]
    t = torch.nn.functional.one_hot(y[:, 4:], 3).permute(0, 3, 1, 2).float()
    by_hand = 1 - ((2 * (p * t).sum((0, 2, 3)) + 1) / (p.sum((0, 2, 3)) + t.sum((0, 2, 3)) + 1)).mean()
    assert soft_dice_loss(logits, ignored).item() == pytest.approx(by_hand.item(), rel=1e-5)
    # a model right on every kept pixel and wrong on the ignored ones scores 1
    from types import SimpleNamespace

    from ann.tasks.base import Fixed

    wrong = (y + 1) % 3
    pred = torch.where(ignored >= 0, y, wrong)
    perfect = Fixed(lambda x: 10.0 * torch.nn.functional.one_hot(pred, 3).permute(0, 3, 1, 2).float(),
                    SimpleNamespace(num_classes=3, classes=()))
    scores = get_task("segment").evaluate(perfect, [(torch.zeros(2, 3, 8, 8), ignored)])
    assert scores["mean_iou"] == 1.0 and scores["pixel_accuracy"] == 1.0


# -- training, evaluation and prediction ------------------------------------------------------
def test_a_tiny_unet_beats_the_all_background_baseline(scans, tmp_path, conv):
    run = ann_api.train("unet-shapes-quick", {"data.name": "segmentation-folder",
                                              "data.path": str(scans), **QUICK, **conv.overrides},
                        out=tmp_path / "run", quiet=True)
    assert run.config.model.num_classes == 3 and run.config.model.classes == NAMES
    summary = run.summary
    # the baseline by hand: every test pixel background, so background's IoU is its share of
    # the test pixels and the other two classes score 0
    test = load_dataset("segmentation-folder", "test", path=str(scans)).y.numpy()
    assert summary["baselines"]["majority"] == pytest.approx(np.mean(test == 0) / 3)
    assert summary["test"]["mean_iou"] >= 0.6 > summary["baselines"]["majority"] + 0.25
    assert summary["beats_baselines"] is True and "target" not in summary


def test_a_run_on_gray_masks_with_ignored_pixels(tmp_path):
    """One channel, values 0/3/7 and ignored rows: the losses (ce+dice), the scores and the
    overlays all take the ignored pixels in their stride."""
    root = write_pairs(tmp_path / "p", 12, values=(0, 3, 7), names=None, gray=True)
    for mask in (root / "masks").iterdir():
        values = np.asarray(Image.open(mask)).copy()
        values[:4] = 255
        Image.fromarray(values).save(mask)
    run = ann_api.train("unet-shapes-quick", {"data.name": "segmentation-folder",
                                              "data.path": str(root), "data.size": 16,
                                              **QUICK, "train.max_steps": 4, "train.eval_every": 4},
                        out=tmp_path / "run", quiet=True)
    assert run.config.model.in_channels == 1 and run.config.model.classes == ("0", "3", "7")
    assert np.isfinite(run.summary["test"]["loss"]) and 0 <= run.summary["test"]["mean_iou"] <= 1
    assert (tmp_path / "run" / "overlays.png").stat().st_size > 0


@pytest.fixture(scope="module")
def cli_run(scans, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fcn"
    ann("train", "fcn-shapes", "data.name=segmentation-folder", f"data.path={scans}",
        *(f"{k}={v}" for k, v in QUICK.items() if k != "model.widths"), "model.widths=8,16,16",
        "train.max_steps=20", "train.eval_every=20", "--out", out, OMP_NUM_THREADS=1)
    return out


def test_cli_train_records_the_folder_and_evaluates(cli_run, scans):
    config = json.loads((cli_run / "config.json").read_text())
    assert config["data"]["name"] == "segmentation-folder" and config["data"]["path"] == str(scans)
    facts = json.loads((cli_run / "data.json").read_text())
    assert facts["classes"] == list(NAMES) and facts["mask_values"] == [0, 1, 2]
    summary = json.loads((cli_run / "summary.json").read_text())
    assert (cli_run / "overlays.png").stat().st_size > 0
    line = ann("eval", cli_run, OMP_NUM_THREADS=1).stdout
    assert f"test mean_iou {summary['test']['mean_iou']:.4f}" in line and "iou_disc" in line


def test_cli_predicts_masks_at_each_pictures_own_size(cli_run, tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    rng = np.random.RandomState(9)
    for name, (h, w) in {"wide": (20, 50), "square": (32, 32)}.items():
        scene(rng, h, w)[0].save(new / f"{name}.png")
    scene(rng, 28, 28, gray=True)[0].save(new / "gray.jpg")      # gray, for an RGB model
    out = tmp_path / "masks"
    proc = ann("predict", cli_run, new, "--out", out, "--json", OMP_NUM_THREADS=1)
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [a["file"] for a in answers[:3]] == [str(new / f) for f in ("gray.jpg", "square.png",
                                                                        "wide.png")]
    for answer, size in zip(answers, [(28, 28), (32, 32), (50, 20)]):
        assert (answer["width"], answer["height"]) == size and set(answer["fractions"]) == set(NAMES)
        assert sum(answer["fractions"].values()) == pytest.approx(1.0)
        with Image.open(answer["mask"]) as img:
            assert img.size == size and img.mode == "P"
            values = np.asarray(img)
        assert set(np.unique(values)) <= {0, 1, 2}
        shares = np.bincount(values.flatten(), minlength=3) / values.size
        assert shares == pytest.approx([answer["fractions"][n] for n in NAMES])
    # one picture into one file, from Python: the same mask
    run = ann_api.load(cli_run)
    one = tmp_path / "one.png"
    ann_api.use(run, "predict", files=[new / "wide.png"], out=one)
    with Image.open(one) as img, Image.open(out / "wide.png") as same:
        assert np.array_equal(np.asarray(img), np.asarray(same))
    with pytest.raises(AnnError, match="one picture.*folder"):
        ann_api.use(run, "predict", files=[new], out=tmp_path / "m.png")
    with pytest.raises(AnnError, match="is one of the pictures"):
        ann_api.use(run, "predict", files=[new / "wide.png"], out=new)


# -- bad input: one line naming the file ---------------------------------------------------------
def bad(tmp_path, case):
    root = tmp_path / "p"
    root.mkdir()
    if case == "empty":
        return root, (str(root), "empty")
    write_pairs(root, 6, names=None)
    first = sorted((root / "masks").iterdir())[0]
    if case == "picture without mask":
        Image.new("RGB", (32, 32)).save(root / "images" / "lonely.png")
        return root, ("lonely.png", "has no mask")
    if case == "mask without picture":
        Image.new("L", (32, 32)).save(root / "masks" / "orphan.png")
        return root, ("orphan.png", "has no picture")
    if case == "mask size":
        Image.new("L", (30, 32)).save(first)
        return root, (first.name, "30x32", "32x32")
    if case == "colour mask":
        Image.new("RGB", (32, 32)).save(first)
        return root, (first.name, "'RGB'", "single-channel")
    if case == "truncated picture":
        cut = root / "images" / "s0_01.png"
        cut.write_bytes(cut.read_bytes()[:300])
        return root, ("s0_01.png", "not a readable image")
    if case == "jpeg mask":
        first.rename(first.with_suffix(".jpg"))
        return root, ("s0_00.jpg", "PNG")
    if case == "one class":
        for f in (root / "masks").iterdir():
            Image.new("L", (32, 32)).save(f)
        return root, ("1 class value", "at least 2")
    if case == "two layouts":
        write_pairs(root / "train", 4, names=None)
        return root, (str(root / "images"), "train/")
    if case == "unseen value":
        for kind in ("images", "masks"):
            (root / kind).rename(root / f"old_{kind}")
        write_pairs(root / "train", 4, names=None)
        write_pairs(root / "val", 2, seed=1, values=(9, 1, 2), names=None)
        return root, (str(root / "val" / "masks"), "value 9", "no training mask")
    if case == "unnamed value":
        (root / "classes.txt").write_text("background\ndisc\n")
        return root, ("classes.txt", "value 2")
    raise AssertionError(case)


CASES = ("empty", "picture without mask", "mask without picture", "mask size", "colour mask",
         "truncated picture", "jpeg mask", "one class", "two layouts", "unseen value", "unnamed value")


@pytest.mark.parametrize("case", CASES)
def test_bad_folders_fail_in_one_line(tmp_path, case):
    root, words = bad(tmp_path, case)
    with pytest.raises(AnnError) as caught:
        load_dataset("segmentation-folder", "train", path=str(root), val_fraction=0.2,
                     test_fraction=0.2)
    line = str(caught.value)
    assert "\n" not in line
    for w in words:
        assert w in line, (w, line)


def test_command_line_refuses_bad_folders_and_options_before_writing(tmp_path):
    root, words = bad(tmp_path, "mask size")
    out = tmp_path / "run"
    base = ("train", "unet-shapes-quick", "data.name=segmentation-folder")
    fails_cleanly(ann(*base, f"data.path={root}", "--out", out, check=False), *words)
    fails_cleanly(ann(*base, f"data.path={root}", "data.image_size=32", "--out", out, check=False),
                  "data.image_size", "data.size", "image-folder")
    assert not out.exists()
    with pytest.raises(AnnError, match="segmentation-folder needs your data: data.path"):
        load_dataset("segmentation-folder", "train")
