"""Image classification datasets, and the image helpers that training and ``ann predict`` share.

Datasets (all grayscale, one channel; splits ``train``/``val``/``test``, fixed forever):

* ``digits``: scikit-learn's 8x8 handwritten digits (embedded, no download).
* ``mnist``: LeCun, Bottou, Bengio, Haffner (1998), http://yann.lecun.com/exdb/mnist/
* ``fashion-mnist``: Xiao, Rasul, Vollgraf (2017), https://arxiv.org/abs/1708.07747

Every loader returns an :class:`~ann.data.base.ArrayDataset` whose ``x`` is float32
``(N, 1, H, W) = (raw / scale - mean) / std`` with the dataset's static ``info``, and ``y`` int64.
Splits are drawn with ``np.random.RandomState``, whose stream NumPy keeps frozen across versions.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np
import torch

from ..errors import AnnError, CorruptFile
from ..registry import register_dataset
from .base import ArrayDataset
from .idx import read_idx
from .sources import RemoteFile, data_dirs, fetch

SPLIT_SEED = 0
DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# mean and std: of the train split's pixels after dividing by scale (tests recompute them).
DIGITS_INFO = {
    "task": "classify", "in_channels": 1, "image_size": 8, "num_classes": 10,
    "classes": DIGIT_NAMES, "scale": 16, "mean": 0.3061, "std": 0.3766,
    "description": "8x8 handwritten digits, 1,797 images (values 0-16) shipped with scikit-learn",
    "source": "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits",
}
MNIST_INFO = {
    "task": "classify", "in_channels": 1, "image_size": 28, "num_classes": 10,
    "classes": DIGIT_NAMES, "scale": 255, "mean": 0.1306, "std": 0.3081,
    "description": "28x28 handwritten digits: 60,000 training and 10,000 test images",
    "source": "http://yann.lecun.com/exdb/mnist/",
}
FASHION_INFO = {
    "task": "classify", "in_channels": 1, "image_size": 28, "num_classes": 10,
    "classes": FASHION_NAMES, "scale": 255, "mean": 0.2861, "std": 0.3529,
    "description": "28x28 photos of clothing in 10 classes: 60,000 training and 10,000 test images",
    "source": "https://github.com/zalandoresearch/fashion-mnist",
}


def _dataset(images: np.ndarray, labels: np.ndarray, info: dict) -> ArrayDataset:
    return ArrayDataset(preprocess_images(images, info), torch.tensor(labels, dtype=torch.int64),
                        copy.deepcopy(info))


# ---------------------------------------------------------------------------------------- digits

def stratified_split(labels: np.ndarray, fractions: dict[str, float], seed: int
                     ) -> dict[str, np.ndarray]:
    """Sorted indices per split: each class is shuffled and cut by ``fractions`` (rounded per
    class); the split listed last takes what remains."""
    rng = np.random.RandomState(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in fractions}
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        start = 0
        for i, (name, fraction) in enumerate(fractions.items()):
            last = i == len(fractions) - 1
            stop = len(members) if last else start + int(len(members) * fraction + 0.5)
            parts[name].append(members[start:stop])
            start = stop
    return {name: np.sort(np.concatenate(p)) for name, p in parts.items()}


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.uint8)  # (1797, 8, 8), integers 0..16
    labels = bunch.target.astype(np.int64)
    splits = stratified_split(labels, {"test": 0.2, "val": 0.1, "train": 0.7}, SPLIT_SEED)
    return images, labels, splits


@register_dataset("digits", info=DIGITS_INFO, embedded=True)
def load_digits(split: str) -> ArrayDataset:
    """scikit-learn's 1,797 digits, stratified: train 1,259 / val 179 / test 359 images.

    Within each class, 20% (rounded) goes to test, 10% to val, the rest to train.
    """
    images, labels, splits = _digits()
    idx = splits[split]
    return _dataset(images[idx], labels[idx], DIGITS_INFO)


# --------------------------------------------------------------------------- MNIST-style (IDX)

_IDX_FILES = {  # dataset -> file name -> (sha256, bytes)
    "mnist": {
        "train-images-idx3-ubyte.gz":
            ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        "train-labels-idx1-ubyte.gz":
            ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        "t10k-images-idx3-ubyte.gz":
            ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        "t10k-labels-idx1-ubyte.gz":
            ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        "train-labels-idx1-ubyte.gz":
            ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        "t10k-images-idx3-ubyte.gz":
            ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        "t10k-labels-idx1-ubyte.gz":
            ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    },
}
# Official addresses over https only (the sha256 is checked as well), tried in order: the
# mirror torchvision uses, then the one TensorFlow's reader uses (yann.lecun.com is http).
_IDX_URLS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    # Zalando's repository holds the same gzip files its S3 website serves over plain http
    "fashion-mnist": ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",),
}
_IDX_INFO = {"mnist": MNIST_INFO, "fashion-mnist": FASHION_INFO}
_IDX_COUNTS = {"train": 60000, "t10k": 10000}
VAL_SIZE = 5000


def remote_files(dataset: str) -> list[RemoteFile]:
    return [RemoteFile(name, sha, tuple(base + name for base in _IDX_URLS[dataset]), size)
            for name, (sha, size) in _IDX_FILES[dataset].items()]


def _read_part(paths: dict[str, Path], prefix: str, info: dict) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) uint8 and labels (N,) of the ``train`` or ``t10k`` files, checked."""
    count, size = _IDX_COUNTS[prefix], info["image_size"]
    images_path = paths[f"{prefix}-images-idx3-ubyte.gz"]
    labels_path = paths[f"{prefix}-labels-idx1-ubyte.gz"]
    images, labels = read_idx(images_path, count), read_idx(labels_path, count)
    if images.dtype != np.uint8 or images.shape[1:] != (size, size):
        raise CorruptFile(f"{images_path}: expected {size}x{size} uint8 images, found "
                          f"{images.dtype} of shape {images.shape}; delete it and fetch it again")
    if labels.dtype != np.uint8 or labels.ndim != 1 or labels.max() >= info["num_classes"]:
        raise CorruptFile(f"{labels_path}: expected uint8 labels below {info['num_classes']}; "
                          f"delete it and fetch it again")
    return images, labels


@functools.lru_cache(maxsize=4)
def _idx_arrays(dataset: str, dirs: tuple[Path, ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The parsed train and test parts of ``dataset``, once per process (``dirs`` is only part of
    the cache key, so that a changed ``$ANN_DATA_DIR`` is honoured)."""
    paths = fetch(dataset, dataset, remote_files(dataset))
    info = _IDX_INFO[dataset]
    return {"train": _read_part(paths, "train", info), "test": _read_part(paths, "t10k", info)}


@functools.cache
def train_val_indices() -> dict[str, np.ndarray]:
    """Sorted indices into the 60,000 official training images: ``val`` is the first 5,000 of
    ``RandomState(SPLIT_SEED).permutation(60000)``, ``train`` the other 55,000."""
    perm = np.random.RandomState(SPLIT_SEED).permutation(_IDX_COUNTS["train"])
    return {"val": np.sort(perm[:VAL_SIZE]), "train": np.sort(perm[VAL_SIZE:])}


def idx_split_arrays(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw images (N, 28, 28) uint8 and labels (N,) of ``mnist`` or ``fashion-mnist`` for one
    split, carved as the registered datasets carve them (for datasets built from these images)."""
    parts = _idx_arrays(dataset, tuple(data_dirs()))
    if split == "test":
        return parts["test"]
    idx = train_val_indices()[split]
    return parts["train"][0][idx], parts["train"][1][idx]


def _load_idx_split(dataset: str, split: str) -> ArrayDataset:
    return _dataset(*idx_split_arrays(dataset, split), _IDX_INFO[dataset])


@register_dataset("mnist", info=MNIST_INFO, embedded=False)
def load_mnist(split: str) -> ArrayDataset:
    """MNIST: train 55,000 / val 5,000 (both from the official training set, see
    :func:`train_val_indices`) / test the official 10,000 images."""
    return _load_idx_split("mnist", split)


@register_dataset("fashion-mnist", info=FASHION_INFO, embedded=False)
def load_fashion_mnist(split: str) -> ArrayDataset:
    """Fashion-MNIST: train 55,000 / val 5,000 / test 10,000, carved exactly as for MNIST."""
    return _load_idx_split("fashion-mnist", split)


# ------------------------------------------------------------------------- images for models

def _hw(info: dict) -> tuple[int, int]:
    size = info["image_size"]
    return (size, size) if isinstance(size, int) else tuple(size)


def _as_nchw(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.ndim == 2:
        return x[None, None]                                   # (1, 1, H, W)
    if x.ndim == 3:
        return x[:, None] if channels == 1 else x[None]        # (N, 1, H, W) or (1, C, H, W)
    if x.ndim == 4:
        return x
    raise AnnError(f"images must have shape (H, W), (N, H, W), (C, H, W) or (N, C, H, W), "
                   f"got {tuple(x.shape)}")


def preprocess_images(array, info: dict) -> torch.Tensor:
    """Raw images (values 0..``info["scale"]``) to the standardised float32 (N, C, H, W) a model
    takes. A 3-D array is (N, H, W) for 1-channel data and (C, H, W) otherwise. ``mean`` and
    ``std`` may be numbers or one per channel. The input is never modified."""
    if isinstance(array, torch.Tensor):
        x = array.detach().to(torch.float32, copy=True)
    else:
        x = torch.from_numpy(np.array(array, dtype=np.float32))
    channels, (h, w) = info["in_channels"], _hw(info)
    x = _as_nchw(x, channels)
    if x.shape[1] != channels:
        raise AnnError(f"images have {x.shape[1]} channels but the model takes {channels}")
    if tuple(x.shape[2:]) != (h, w):
        raise AnnError(f"images are {x.shape[3]}x{x.shape[2]} but the model takes {w}x{h} images; "
                       f"resize them first")
    mean = torch.as_tensor(info["mean"], dtype=torch.float32, device=x.device).reshape(-1, 1, 1)
    std = torch.as_tensor(info["std"], dtype=torch.float32, device=x.device).reshape(-1, 1, 1)
    return x.div_(info["scale"]).sub_(mean).div_(std)


PICTURE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def _picture_pixels(path: Path, info: dict) -> np.ndarray:
    """(H, W, C) uint8 pixels of a PNG/JPEG whose size and channels suit the model.

    1-channel models take grayscale (``L``), bilevel (``1``) and grayscale+alpha (``LA``, composited
    over black, the datasets' background, so transparent pixels read as background); 3-channel
    models take ``RGB``. Any other mode is refused with the conversion to make, rather than
    converted silently.
    """
    try:
        from PIL import Image
    except ImportError:
        raise AnnError("reading PNG/JPEG images needs Pillow: pip install pillow "
                       "(or pass the image as a .npy file)") from None
    try:
        with Image.open(path) as img:
            img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise CorruptFile(f"{path} is not a readable image ({_first_line(e)}); "
                          f"check the file or export it again") from None
    channels, (h, w) = info["in_channels"], _hw(info)
    if img.size != (w, h):
        raise AnnError(f"{path} is {img.width}x{img.height} but the model takes {w}x{h} images; "
                       f"resize it first")
    accepted, target = ({"1", "L", "LA"}, "L") if channels == 1 else ({"RGB"}, "RGB")
    if img.mode not in accepted:
        kind = "1-channel grayscale" if channels == 1 else f"{channels}-channel RGB"
        raise AnnError(f"{path} is an image in mode {img.mode!r} but the model takes {kind} "
                       f"images; convert it first, e.g. "
                       f"PIL.Image.open(path).convert({target!r}).save(path)")
    if img.mode == "LA":
        gray, alpha = (np.asarray(band, dtype=np.uint16) for band in img.split())
        return (gray * alpha // 255).astype(np.uint8)[..., None]
    pixels = np.asarray(img.convert(target))
    return pixels.reshape(h, w, channels)


def _npy_image(path: Path, info: dict) -> np.ndarray:
    """(1, C, H, W) array of one image stored with ``np.save`` on the dataset's raw scale."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise CorruptFile(f"{path} is not a readable .npy file ({_first_line(e)}); "
                          f"save the image with numpy.save") from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise CorruptFile(f"{path} is an .npz archive, not a .npy array; save one image with "
                          f"numpy.save")
    if array.dtype.kind not in "uif":
        raise AnnError(f"{path} holds {array.dtype} values; save the image as numbers "
                       f"(uint8 or float32)")
    c, (h, w) = info["in_channels"], _hw(info)
    shapes = [(c, h, w), (1, c, h, w)] + ([(h, w)] if c == 1 else [])
    if array.shape not in shapes:
        also = f" or {(h, w)}" if c == 1 else ""
        raise AnnError(f"{path} holds an array of shape {array.shape} but the model takes one "
                       f"image of shape {(c, h, w)}{also}")
    scale = info["scale"]
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > scale:
        raise AnnError(f"{path} holds values outside 0..{scale}; the model takes raw pixel values "
                       f"from 0 to {scale} (this dataset's scale)")
    return array.reshape(1, c, h, w)


def open_image(path):
    """The loaded Pillow image of a picture file; a missing, empty or unreadable file (or a
    picture of 0 pixels) is refused in one line naming it."""
    try:
        from PIL import Image
    except ImportError:
        raise AnnError("reading PNG/JPEG images needs Pillow: pip install pillow") from None

    path = Path(path)
    if not path.is_file():
        raise AnnError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CorruptFile(f"{path} is an empty file (0 bytes); export it again or delete it")
    try:
        with Image.open(path) as img:
            img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise CorruptFile(f"{path} is not a readable image ({first}); check the file, export it "
                          "again or delete it") from None
    if img.width == 0 or img.height == 0:
        raise CorruptFile(f"{path} is an empty image (0 pixels); give a real picture")
    return img


def read_image_file(path, info: dict) -> torch.Tensor:
    """One image file as the standardised (1, C, H, W) float32 tensor a model takes.

    PNG/JPEG pixels (0..255) are mapped onto the dataset's raw range 0..``info["scale"]`` (for
    digits 0..16); a ``.npy`` array is taken to be on that raw scale already, with shape
    (C, H, W), (1, C, H, W), or (H, W) for 1-channel data.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        raw = _npy_image(path, info)
    elif suffix in PICTURE_EXTENSIONS:
        pixels = _picture_pixels(path, info)                          # (H, W, C)
        raw = pixels.transpose(2, 0, 1)[None] * (info["scale"] / 255)  # (1, C, H, W)
    else:
        raise AnnError(f"{path}: unsupported file type {suffix or '(no extension)'!r}; "
                       f"use {', '.join(PICTURE_EXTENSIONS)} or .npy")
    return preprocess_images(raw, info)


# ------------------------------------------------------------------------------- augmentation

def augment_images(x: torch.Tensor, generator: torch.Generator, shift: int = 0,
                   flip: bool = False, fill: float | torch.Tensor | None = None) -> torch.Tensor:
    """Random translations (and horizontal flips) of a batch of standardised images.

    Each image moves by its own (dy, dx), drawn uniformly from -shift..shift, and if ``flip`` is
    set is mirrored left-right with probability 0.5; uncovered pixels take ``fill``. By default
    ``fill`` is the per-channel minimum of the batch: raw pixels are >= 0, so that is the
    standardised value of raw 0, the background of the datasets here. The draws come from
    ``generator`` alone, so equal generator states give equal results. Shape: (N, C, H, W) in and
    out; ``shift=0, flip=False`` returns ``x`` itself.
    """
    if shift < 0:
        raise ValueError(f"shift must be 0 or more, got {shift}")
    if shift == 0 and not flip:
        return x
    n, c, h, w = x.shape
    draw = {"generator": generator, "device": generator.device}
    offsets = torch.randint(-shift, shift + 1, (n, 2), **draw).to(x.device)        # (N, 2)
    flips = (torch.rand(n, **draw) < 0.5).to(x.device) if flip else torch.zeros(
        n, dtype=torch.bool, device=x.device)                                     # (N,)
    if fill is None:
        fill = x.amin(dim=(0, 2, 3))
    fill = torch.as_tensor(fill, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
    p = shift
    padded = fill.expand(c, h + 2 * p, w + 2 * p).repeat(n, 1, 1, 1)              # (N, C, H+2p, W+2p)
    padded[:, :, p:p + h, p:p + w] = x
    # Output pixel (i, j) comes from input pixel (i - dy, j - dx); mirrored, from column
    # w - 1 - (j - dx). Indices are shifted by p into the padded frame.
    rows = torch.arange(h, device=x.device) - offsets[:, :1] + p                  # (N, H)
    cols = torch.arange(w, device=x.device) - offsets[:, 1:]                      # (N, W)
    cols = torch.where(flips[:, None], w - 1 - cols, cols) + p
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]
