"""Image datasets (digits embedded; MNIST and Fashion-MNIST through $ANN_DATA_DIR), image files
for ``ann predict``, and augmentation."""

import sys

import numpy as np
import pytest
import torch
from conftest import real_data

import ann.data  # registers the datasets
from ann.data import vision
from ann.data.idx import write_idx
from ann.errors import AnnError, CorruptFile, DatasetMissing
from ann.registry import DATASETS

try:
    from PIL import Image
except ImportError:  # Pillow is a dev dependency; without it only the PNG/JPEG tests skip
    Image = None
needs_pillow = pytest.mark.skipif(Image is None, reason="needs Pillow: pip install pillow")

INFOS = {"digits": vision.DIGITS_INFO, "mnist": vision.MNIST_INFO,
         "fashion-mnist": vision.FASHION_INFO}


def load(name, split):
    return DATASETS[name].loader(split)


def test_registered_with_static_info():
    for name, info in INFOS.items():
        entry = DATASETS[name]
        assert entry.info == info and entry.splits == ("train", "val", "test")
        assert entry.embedded == (name == "digits")
        assert info["task"] == "classify" and len(info["classes"]) == info["num_classes"] == 10
    assert vision.FASHION_INFO["classes"][0] == "T-shirt/top"
    assert vision.FASHION_INFO["classes"][9] == "Ankle boot"


def test_public_names():
    names = ["ArrayDataset", "RemoteFile", "augment_images", "fetch", "preprocess_images",
             "read_idx", "read_image_file"]
    assert set(names) <= set(ann.data.__all__)
    assert all(callable(getattr(ann.data, name)) for name in names)


# ---------------------------------------------------------------------------------------- digits

def test_digits_splits_are_fixed_disjoint_and_stratified():
    _, labels, splits = vision._digits()
    sizes = {name: len(idx) for name, idx in splits.items()}
    assert sizes == {"train": 1259, "val": 179, "test": 359}
    everything = np.concatenate(list(splits.values()))
    assert len(np.unique(everything)) == len(labels) == 1797
    per_class = np.bincount(labels)
    for name, fraction in {"train": 0.7, "val": 0.1, "test": 0.2}.items():
        counts = np.bincount(labels[splits[name]], minlength=10)
        assert np.all(np.abs(counts - fraction * per_class) <= 1), (name, counts)
    for name, idx in splits.items():
        np.testing.assert_array_equal(load("digits", name).y.numpy(), labels[idx])


def test_digits_tensors_match_info_and_are_standardised():
    info = vision.DIGITS_INFO
    train = load("digits", "train")
    assert train.x.dtype == torch.float32 and train.y.dtype == torch.int64
    assert train.x.shape == (1259, info["in_channels"], info["image_size"], info["image_size"])
    assert set(train.y.tolist()) == set(range(info["num_classes"]))
    assert train.info == info and train.info is not info
    assert abs(train.x.mean().item()) < 1e-3 and abs(train.x.std().item() - 1) < 1e-3
    raw = (train.x * info["std"] + info["mean"]) * info["scale"]  # back to the 0..16 counts
    np.testing.assert_allclose(raw.numpy(), raw.round().numpy(), atol=1e-4)
    assert raw.min().item() == pytest.approx(0, abs=1e-4)
    assert raw.max().item() == pytest.approx(16, abs=1e-4)


def test_stratified_split_uses_every_item_once():
    labels = np.repeat(np.arange(3), [10, 20, 31])
    parts = vision.stratified_split(labels, {"a": 0.5, "b": 0.5}, seed=1)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(61))
    assert np.bincount(labels[parts["a"]]).tolist() == [5, 10, 16]


# ---------------------------------------------------------------------- MNIST and Fashion-MNIST

FIRST_LABELS = {"mnist": ([5, 0, 4, 1, 9], [7, 2, 1, 0, 4]),
                "fashion-mnist": ([9, 0, 0, 3, 0], [9, 2, 1, 1, 6])}


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_idx_dataset(name, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(real_data(name).parent))
    info = INFOS[name]
    splits = {split: load(name, split) for split in ("train", "val", "test")}
    assert {s: len(d) for s, d in splits.items()} == {"train": 55000, "val": 5000, "test": 10000}
    for data in splits.values():
        assert data.x.shape[1:] == (1, 28, 28) and data.x.dtype == torch.float32
        assert data.y.dtype == torch.int64
        assert sorted(set(data.y.tolist())) == list(range(info["num_classes"]))
    train = splits["train"]
    assert abs(train.x.mean().item()) < 1e-3 and abs(train.x.std().item() - 1) < 1e-3
    assert train.x.min().item() == pytest.approx(-info["mean"] / info["std"], abs=1e-5)
    # The official files begin with these labels; indices 0..4 all fall in our train split.
    assert train.y[:5].tolist() == FIRST_LABELS[name][0]
    assert splits["test"].y[:5].tolist() == FIRST_LABELS[name][1]
    misses = vision._idx_arrays.cache_info().misses
    load(name, "val")
    assert vision._idx_arrays.cache_info().misses == misses  # parsed once per process


def test_train_and_val_partition_the_official_training_set():
    idx = vision.train_val_indices()
    assert len(idx["val"]) == 5000 and len(idx["train"]) == 55000
    assert sorted(np.concatenate([idx["val"], idx["train"]]).tolist()) == list(range(60000))
    np.testing.assert_array_equal(idx["val"][:4], [17, 28, 50, 66])  # fixed forever


def test_missing_mnist_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(DatasetMissing) as info:
        load("mnist", "test")
    message = str(info.value)
    for words in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                  str(tmp_path / "empty" / "mnist"), "https://ossci-datasets.s3.amazonaws.com/mnist/"):
        assert words in message


def _fake_part(tmp_path, images, labels):
    paths = {"train-images-idx3-ubyte.gz": tmp_path / "images.gz",
             "train-labels-idx1-ubyte.gz": tmp_path / "labels.gz"}
    write_idx(paths["train-images-idx3-ubyte.gz"], images)
    write_idx(paths["train-labels-idx1-ubyte.gz"], labels)
    return paths


def test_labels_out_of_range_or_wrong_image_size_are_corrupt(tmp_path, monkeypatch):
    monkeypatch.setitem(vision._IDX_COUNTS, "train", 4)
    good = np.zeros((4, 28, 28), np.uint8)
    paths = _fake_part(tmp_path, good, np.array([0, 9, 10, 1], np.uint8))
    with pytest.raises(CorruptFile, match="labels below 10") as info:
        vision._read_part(paths, "train", vision.MNIST_INFO)
    assert str(tmp_path / "labels.gz") in str(info.value)
    paths = _fake_part(tmp_path, np.zeros((4, 27, 27), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(CorruptFile, match="28x28 uint8 images"):
        vision._read_part(paths, "train", vision.MNIST_INFO)
    paths = _fake_part(tmp_path, good, np.zeros(3, np.uint8))
    with pytest.raises(CorruptFile, match="holds 3 items but 4"):
        vision._read_part(paths, "train", vision.MNIST_INFO)


# --------------------------------------------------------------------------- preprocess_images

INFO = vision.MNIST_INFO


def expected(raw, info=INFO):
    return (np.asarray(raw, np.float64) / info["scale"] - info["mean"]) / info["std"]


@pytest.mark.parametrize("shape,out", [((28, 28), (1, 1, 28, 28)), ((5, 28, 28), (5, 1, 28, 28)),
                                       ((1, 28, 28), (1, 1, 28, 28)),
                                       ((5, 1, 28, 28), (5, 1, 28, 28))])
def test_preprocess_shapes_and_values(shape, out):
    raw = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    x = vision.preprocess_images(raw, INFO)
    assert x.shape == out and x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy().reshape(shape), expected(raw), rtol=1e-5, atol=1e-5)


def test_preprocess_never_modifies_its_input():
    array = np.full((2, 28, 28), 255, np.float32)
    tensor = torch.from_numpy(array.copy())
    vision.preprocess_images(array, INFO)
    vision.preprocess_images(tensor, INFO)
    assert (array == 255).all() and (tensor == 255).all()


def test_preprocess_per_channel_statistics():
    info = {"in_channels": 3, "image_size": 2, "scale": 255, "mean": [0.0, 0.5, 1.0],
            "std": [1.0, 0.5, 0.25]}
    x = vision.preprocess_images(np.full((3, 2, 2), 255), info)  # 3-D with 3 channels: (C, H, W)
    assert x.shape == (1, 3, 2, 2)
    assert x[0, :, 0, 0].tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("shape,words", [((28, 27), "28x28"), ((2, 3, 28, 28), "3 channels"),
                                         ((1, 1, 1, 28, 28), "must have shape")])
def test_preprocess_rejects_wrong_shapes(shape, words):
    with pytest.raises(AnnError, match=words):
        vision.preprocess_images(np.zeros(shape), INFO)


# ----------------------------------------------------------------------------- read_image_file

def save_png(path, pixels, mode="L"):
    Image.fromarray(pixels, mode=mode if mode != "L" else None).save(path)
    return path


@needs_pillow
def test_png_is_read_on_the_dataset_scale(tmp_path):
    pixels = np.arange(28 * 28, dtype=np.int64).reshape(28, 28) % 256
    path = save_png(tmp_path / "x.png", pixels.astype(np.uint8))
    x = vision.read_image_file(path, INFO)
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    np.testing.assert_allclose(x[0, 0].numpy(), expected(pixels), rtol=1e-5, atol=1e-5)
    digits = vision.DIGITS_INFO  # PNG 0..255 maps onto digits' 0..16
    small = save_png(tmp_path / "d.png", np.array([[0, 255] * 4] * 8, np.uint8))
    x = vision.read_image_file(small, digits)
    np.testing.assert_allclose(x[0, 0, 0, :2].numpy(), expected([0, 16], digits)[:2], rtol=1e-5)


@needs_pillow
def test_jpeg_bilevel_and_transparent_images(tmp_path):
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(tmp_path / "x.jpg", quality=95)
    x = vision.read_image_file(tmp_path / "x.jpg", INFO)
    np.testing.assert_allclose(x.numpy(), expected(np.full((1, 1, 28, 28), 200)), atol=0.05)
    bilevel = Image.fromarray(np.eye(28, dtype=bool))
    bilevel.save(tmp_path / "b.png")
    assert bilevel.mode == "1"
    x = vision.read_image_file(tmp_path / "b.png", INFO)
    np.testing.assert_allclose(x[0, 0].numpy(), expected(np.eye(28) * 255), atol=1e-5)
    gray_alpha = np.stack([np.full((28, 28), 200, np.uint8),
                           np.repeat(np.array([0, 255], np.uint8), 14 * 28).reshape(28, 28)], -1)
    Image.fromarray(gray_alpha, mode="LA").save(tmp_path / "la.png")
    x = vision.read_image_file(tmp_path / "la.png", INFO)[0, 0]
    np.testing.assert_allclose(x[:14].numpy(), expected(np.zeros((14, 28))), atol=1e-5)
    np.testing.assert_allclose(x[14:].numpy(), expected(np.full((14, 28), 200)), atol=1e-5)


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (1, 1, 28, 28)])
def test_npy_is_read_as_raw_values(tmp_path, shape):
    raw = np.random.default_rng(1).integers(0, 256, shape).astype(np.float32)
    np.save(tmp_path / "x.npy", raw)
    x = vision.read_image_file(tmp_path / "x.npy", INFO)
    assert x.shape == (1, 1, 28, 28)
    np.testing.assert_allclose(x.numpy().reshape(shape), expected(raw), rtol=1e-5, atol=1e-5)


def _bad_inputs(tmp_path):
    """name -> (path, words the one-line error must contain, error class)."""
    save_png(tmp_path / "big.png", np.zeros((32, 32), np.uint8))
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(tmp_path / "rgb.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "x.gif").write_bytes(b"GIF89a")
    np.save(tmp_path / "shape.npy", np.zeros((3, 28, 28)))
    np.save(tmp_path / "text.npy", np.array([["a"] * 28] * 28))
    np.save(tmp_path / "range.npy", np.full((28, 28), 300.0))
    np.save(tmp_path / "nan.npy", np.full((28, 28), np.nan))
    np.save(tmp_path / "objects.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    (tmp_path / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    np.savez(tmp_path / "archive.npz", image=np.zeros((28, 28)))
    (tmp_path / "archive.npz").rename(tmp_path / "archive.npy")
    return {
        "missing": (tmp_path / "absent.png", "no such file", AnnError),
        "too big": (tmp_path / "big.png", "is 32x32 but the model takes 28x28 images; resize",
                    AnnError),
        "rgb": (tmp_path / "rgb.png", "mode 'RGB' but the model takes 1-channel", AnnError),
        "corrupt": (tmp_path / "broken.png", "not a readable image", CorruptFile),
        "extension": (tmp_path / "x.gif", "unsupported file type '.gif'", AnnError),
        "npy shape": (tmp_path / "shape.npy", "shape (3, 28, 28)", AnnError),
        "npy dtype": (tmp_path / "text.npy", "<U1 values", AnnError),
        "npy range": (tmp_path / "range.npy", "outside 0..255", AnnError),
        "npy nan": (tmp_path / "nan.npy", "outside 0..255", AnnError),
        "npy pickle": (tmp_path / "objects.npy", "not a readable .npy", CorruptFile),
        "npy garbage": (tmp_path / "garbage.npy", "not a readable .npy", CorruptFile),
        "npz": (tmp_path / "archive.npy", "an .npz archive", CorruptFile),
    }


@needs_pillow
def test_bad_image_files_fail_with_one_clear_line(tmp_path):
    for name, (path, words, error) in _bad_inputs(tmp_path).items():
        with pytest.raises(error) as info:
            vision.read_image_file(path, INFO)
        message = str(info.value)
        assert words in message and str(path) in message and "\n" not in message, name


@needs_pillow
def test_missing_pillow_says_how_to_install_it(tmp_path, monkeypatch):
    path = save_png(tmp_path / "x.png", np.zeros((28, 28), np.uint8))
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(AnnError, match="pip install pillow"):
        vision.read_image_file(path, INFO)


# -------------------------------------------------------------------------------- augmentation

def reference_move(image, dy, dx, fill, flip=False):
    """One image mirrored (optionally), then moved down by dy and right by dx; a plain loop."""
    source = image.flip(-1) if flip else image
    out = torch.full_like(image, fill)
    h, w = image.shape[-2:]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[..., i, j] = source[..., i - dy, j - dx]
    return out


def matching_moves(image, out, shift, fill, flips=(False,)):
    return [(dy, dx, f) for dy in range(-shift, shift + 1) for dx in range(-shift, shift + 1)
            for f in flips if torch.equal(reference_move(image, dy, dx, fill, f), out)]


def generator(seed):
    return torch.Generator().manual_seed(seed)


def test_augment_is_deterministic_and_shape_preserving():
    x = load("digits", "val").x[:32]
    a = vision.augment_images(x, generator(3), shift=2, flip=True)
    b = vision.augment_images(x, generator(3), shift=2, flip=True)
    c = vision.augment_images(x, generator(4), shift=2, flip=True)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert vision.augment_images(x, generator(3)) is x


def test_every_offset_in_range_is_drawn_and_moves_the_image():
    x = torch.zeros(400, 1, 9, 9)
    x[:, :, 4, 4] = 1.0
    out = vision.augment_images(x, generator(0), shift=2, fill=0.0)
    seen = set()
    for image in out:
        ((dy, dx),) = (torch.nonzero(image[0]) - 4).tolist()  # exactly one lit pixel
        assert torch.equal(image, torch.roll(x[0], (dy, dx), dims=(-2, -1)))
        seen.add((dy, dx))
    assert seen == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_shift_and_flip_match_a_plain_reference_with_background_fill():
    info = vision.DIGITS_INFO
    x = load("digits", "val").x[:24]
    background = (0 - info["mean"]) / info["std"]
    out = vision.augment_images(x, generator(5), shift=3, flip=True)
    flipped = 0
    for image, moved in zip(x, out):
        matches = matching_moves(image, moved, 3, background, flips=(False, True))
        assert matches, "output is not the input moved by an offset within the shift"
        flipped += all(f for _, _, f in matches)
    assert 0 < flipped < len(x)


def test_flip_alone_mirrors_about_half():
    x = torch.arange(64 * 25, dtype=torch.float32).reshape(64, 1, 5, 5)
    out = vision.augment_images(x, generator(2), flip=True)
    mirrored = [torch.equal(o, i.flip(-1)) for i, o in zip(x, out)]
    kept = [torch.equal(o, i) for i, o in zip(x, out)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 16 < sum(mirrored) < 48


def test_augment_rejects_negative_shift():
    with pytest.raises(ValueError):
        vision.augment_images(torch.zeros(1, 1, 4, 4), generator(0), shift=-1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_augment_on_gpu_matches_cpu():
    x = load("digits", "val").x[:32]
    cpu = vision.augment_images(x, generator(7), shift=2, flip=True)
    gpu = vision.augment_images(x.cuda(), generator(7), shift=2, flip=True)
    assert gpu.device.type == "cuda" and torch.equal(gpu.cpu(), cpu)
