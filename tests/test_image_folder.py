"""``image-folder``: a folder of the user's own pictures, one subfolder per class, trained on by
any image classifier, evaluated, and predicted from (a file or a whole folder)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import ann as ann_api
from ann.errors import AnnError
from ann.registry import dataset_entry, load_dataset
from helpers import ann, fails_cleanly

QUICK = {"train.epochs": 0, "train.max_steps": 80, "train.eval_every": 40,
         "train.batch_size": 16, "data.image_size": 16}
CLASSES = ("dots", "rings", "stripes")


def picture(kind: str, rng: np.random.RandomState) -> Image.Image:
    """One noisy picture of a pattern, in a size and mode of its own (gray or colour, not
    always square): what a user's folder looks like."""
    h, w = rng.randint(14, 40), rng.randint(14, 40)
    a = rng.randint(0, 60, (h, w)).astype(np.float64)
    yy, xx = np.mgrid[:h, :w]
    if kind == "stripes":
        a[(yy // 3) % 2 == 0] += 170
    elif kind == "dots":
        a[(yy % 6 < 2) & (xx % 6 < 2)] += 190
    else:                                   # one bright ring around the centre
        r = np.hypot(yy - h / 2, xx - w / 2) / min(h, w)
        a[(r > 0.25) & (r < 0.4)] += 180
    gray = np.clip(a, 0, 255).astype(np.uint8)
    if rng.rand() < 0.5:
        return Image.fromarray(gray, mode="L")
    tint = rng.uniform(0.6, 1.0, 3)
    return Image.fromarray((gray[..., None] * tint).astype(np.uint8), mode="RGB")


def write_class(folder, kind: str, count: int, seed: int):
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        picture(kind, rng).save(folder / f"{kind}{i}.{('png', 'jpg', 'bmp')[i % 3]}")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for seed, kind in enumerate(CLASSES):
        write_class(root / kind, kind, 40, seed)
    return root


def gray_squares(root, size=12, classes=("a", "b"), count=6):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("L", (size, size), 40 + 150 * c + i).save(root / name / f"{i}.png")
    return root


# -- reading ---------------------------------------------------------------------------------
def test_registered_with_its_options():
    entry = dataset_entry("image-folder")
    assert entry.embedded and entry.info["task"] == "classify"
    assert entry.option_names == ("path", "image_size", "channels", "val_fraction",
                                  "test_fraction", "split_seed", "stream")


def test_classes_channels_size_and_statistics(photos):
    splits = {s: load_dataset("image-folder", s, path=str(photos), test_fraction=0.25)
              for s in ("train", "val", "test")}
    info = splits["train"].info
    assert tuple(info["classes"]) == CLASSES and info["num_classes"] == 3
    assert info["in_channels"] == 3 and info["image_size"] == 32     # mixed sizes: the fallback
    assert set(info["fills"]) >= {"in_channels", "image_size", "num_classes", "classes", "mean",
                                  "std"}
    assert splits["train"].x.shape[1:] == (3, 32, 32)
    # stratified: every class in every split, 40 per class in all
    counts = {s: torch.bincount(d.y, minlength=3).tolist() for s, d in splits.items()}
    assert counts["test"] == [10, 10, 10] and counts["val"] == [4, 4, 4]
    assert [sum(c) for c in zip(*counts.values())] == [40, 40, 40]
    # mean/std are of the training pixels on preprocess_images's scale (raw / 255): the
    # standardised training images have mean 0 and std 1 per channel
    x = splits["train"].x
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std((0, 2, 3), correction=0), torch.ones(3), atol=1e-3)
    raw = x * torch.tensor(info["std"]).view(-1, 1, 1) + torch.tensor(info["mean"]).view(-1, 1, 1)
    assert raw.min() > -1e-4 and raw.max() < 1 + 1e-4


def test_the_split_is_seeded(photos):
    a, b, c = (load_dataset("image-folder", "test", path=str(photos), split_seed=s).x
               for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gray_squares_keep_their_size_and_one_channel(tmp_path):
    root = gray_squares(tmp_path / "p")
    info = load_dataset("image-folder", "train", path=str(root), val_fraction=0.2,
                        test_fraction=0.2).info
    assert info["in_channels"] == 1 and info["image_size"] == 12 and info["classes"] == ("a", "b")
    data = load_dataset("image-folder", "train", path=str(root), channels=3, image_size=20,
                        val_fraction=0.2, test_fraction=0.2)
    assert data.x.shape[1:] == (3, 20, 20)


def test_train_val_test_folders_are_used_as_given(tmp_path):
    root = tmp_path / "p"
    gray_squares(root / "train", count=8)
    gray_squares(root / "test", count=3)
    sizes = {s: len(load_dataset("image-folder", s, path=str(root), val_fraction=0.25))
             for s in ("train", "val", "test")}
    assert sizes == {"train": 12, "val": 4, "test": 6}     # val carved from train/, test as given


# -- bad input: one line naming the file or folder -------------------------------------------
def bad(tmp_path, case):
    root = tmp_path / "p"
    if case == "missing":
        return root, (str(root), "not a folder")
    root.mkdir()
    if case == "empty":
        return root, (str(root), "empty")
    if case == "unseen class":
        gray_squares(root / "train", classes=("a", "b"))
        gray_squares(root / "val", classes=("a", "c"), count=2)
        return root, (str(root / "val" / "c"), "'c'", "train")
    gray_squares(root, classes=("a",) if case == "one class" else ("a", "b"))
    if case == "one class":
        return root, (str(root), "1 class folder", "at least 2")
    if case == "truncated":
        noise = np.random.RandomState(0).randint(0, 255, (40, 40, 3)).astype(np.uint8)
        Image.fromarray(noise).save(root / "b" / "cut.png")
        (root / "b" / "cut.png").write_bytes((root / "b" / "cut.png").read_bytes()[:2000])
        return root, ("cut.png", "not a readable image")
    if case == "garbage":
        (root / "a" / "noise.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
        return root, ("noise.png", "not a readable image")
    if case == "zero bytes":
        (root / "a" / "blank.jpg").write_bytes(b"")
        return root, ("blank.jpg", "empty file")
    if case == "file type":
        (root / "b" / "notes.txt").write_text("hello")
        return root, ("notes.txt", ".txt", ".png")
    raise AssertionError(case)


CASES = ("missing", "empty", "one class", "truncated", "garbage", "zero bytes", "file type",
         "unseen class")


@pytest.mark.parametrize("case", CASES)
def test_bad_folders_fail_in_one_line(tmp_path, case):
    root, words = bad(tmp_path, case)
    with pytest.raises(AnnError) as caught:
        load_dataset("image-folder", "train", path=str(root), val_fraction=0.2, test_fraction=0.2)
    line = str(caught.value)
    assert "\n" not in line
    for w in words:
        assert w in line, (w, line)


def test_no_path_and_a_missing_folder_on_the_command_line(tmp_path):
    fails_cleanly(ann("train", "cnn-digits", "data.name=image-folder", check=False),
                  "image-folder", "data.path")
    fails_cleanly(ann("train", "cnn-digits", "data.name=image-folder",
                      f"data.path={tmp_path / 'nope'}", check=False), "nope", "not a folder")


# -- training, evaluation and prediction ---------------------------------------------------------
def test_python_api_learns_the_patterns(photos, tmp_path, conv):
    run = ann_api.train("cnn-digits", {"data.name": "image-folder", "data.path": str(photos),
                                       "data.test_fraction": 0.25, **QUICK, **conv.overrides},
                        out=tmp_path / "run", quiet=True)
    assert run.config.model.in_channels == 3 and run.config.model.num_classes == 3
    assert run.summary["test"]["accuracy"] >= 0.8        # chance 1/3; seeds 0-4 (1 thread) all gave 1.0
    assert tuple(ann_api.load(tmp_path / "run").info["classes"]) == CLASSES


@pytest.fixture(scope="module")
def cli_run(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "own"
    ann("train", "cnn-digits", "data.name=image-folder", f"data.path={photos}",
        *(f"{k}={v}" for k, v in QUICK.items()), "--out", out)
    return out


def test_cli_run_records_the_folder(cli_run, photos):
    config = json.loads((cli_run / "config.json").read_text())
    assert config["data"]["name"] == "image-folder" and config["data"]["path"] == str(photos)
    facts = json.loads((cli_run / "data.json").read_text())
    assert facts["classes"] == list(CLASSES) and facts["in_channels"] == 3
    assert "test accuracy" in ann("eval", cli_run).stdout


def test_cli_predicts_a_file_and_a_folder_with_class_names(cli_run, photos, tmp_path):
    odd = tmp_path / "new.png"                    # a size and mode no training image had
    picture("stripes", np.random.RandomState(7)).convert("RGBA").resize((50, 23)).save(odd)
    result = json.loads(ann("predict", cli_run, odd, "--json").stdout)
    assert result["class"] in CLASSES and {c for c, _ in result["top"]} <= set(CLASSES)
    lines = ann("predict", cli_run, photos / "dots").stdout.splitlines()
    files = sorted((photos / "dots").iterdir())
    assert len(lines) == len(files) == 40
    assert all(line.startswith(f"{f}: ") and line.split()[1] in CLASSES
               for line, f in zip(lines, files))
    (tmp_path / "nothing").mkdir()
    fails_cleanly(ann("predict", cli_run, tmp_path / "nothing", check=False), "nothing",
                  "no files")
