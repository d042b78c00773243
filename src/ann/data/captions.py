"""Paired image-caption datasets made without the network, for CLIP and the captioner.

Every caption is generated from the truth of its image, so a caption a model writes can be
checked word for word, and every image class has prompts for zero-shot classification.

* ``shapes-captions`` (embedded): 32x32 scenes of one or two coloured circles, squares and
  triangles (:func:`ann.data.scenes.shapes_scene`) captioned by :func:`ann.data.scenes.caption`,
  e.g. "a small red circle left of a large blue square". Zero-shot classes: the 36 one-object
  descriptions ("a large cyan triangle"), scored on the images that hold one object.
  ``shapes1-captions``: a smaller set with one shape per scene, for quick runs.
* ``digits-captions`` (embedded), ``mnist-captions``, ``fashion-captions``: the images of
  ``digits``, ``mnist`` and ``fashion-mnist`` (same splits), each captioned by one of several
  templates drawn at random ("a handwritten seven", "a picture of the number 7", ...). The
  zero-shot prompt template ("a photo of the digit seven", "a photo of a coat") is never a
  training caption: its words are, but not the sentence.

Text: word-level (:class:`~ann.data.tokenizers.WordTokenizer` trained on the train split's
captions and the prompts), ids 0-3 are ``<pad> <unk> <bos> <eos>``; a caption is the row
``<bos> words <eos> <pad>...``. The tokenizer is saved in the run directory (``tokenizer.json``).
Captions must fit the model's text context (``model.max_len``, start and end tokens included);
a longer one is an error that names the setting to raise.

A batch is ``(images, tokens, labels, prompts)``: images (B, C, H, W) standardised, tokens
(B, L) int64, labels (B,) int64 (the zero-shot class, -1 for none), prompts (K, L') int64 (the
class prompts, the same in every batch). Generated scenes are cached as uint8 pixels (as a PNG
would hold them) in ``$ANN_CACHE_DIR/captions``.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import fileio
from ..errors import AnnError
from ..registry import register_dataset
from ..split import Split
from .scenes import COLORS, SHAPES, SIZES, caption, make_scenes
from .sources import cache_dir
from .tokenizers import WordTokenizer
from .vision import DIGITS_INFO, FASHION_INFO, MNIST_INFO, _digits, idx_split_arrays, preprocess_images

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)
TEXT_CONTEXT = 16   # the default model.max_len of CLIP and the captioner


@dataclass
class ImageTextDataset(Split):
    """Images with one caption each, the zero-shot class of each image, and the class prompts.

    ``collated``: the engine asks :meth:`batch` for every micro-batch (the prompts are not
    per-example and must not be sliced with the rest).

    Shapes:
        x (N, C, H, W) float32; tokens (N, L) int64; labels (N,) int64; prompts (K, L') int64.
    """

    x: torch.Tensor
    tokens: torch.Tensor
    labels: torch.Tensor
    prompts: torch.Tensor
    captions: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    collated = True

    def __len__(self) -> int:
        return len(self.x)

    @property
    def y(self) -> torch.Tensor:
        return self.tokens

    def batch(self, index):
        return self.x[index], self.tokens[index], self.labels[index], self.prompts


def article(word: str) -> str:
    return "an" if word[0] in "aeiou8" else "a"


def caption_rows(tok: WordTokenizer, texts: list[str], max_len: int | None, bos: int = BOS,
                 eos: int = EOS, pad: int = PAD) -> torch.Tensor:
    """``<bos> ids <eos>`` rows padded to the longest, (N, L) int64; a row longer than
    ``max_len`` is an error. ``bos``, ``eos``, ``pad``: the model's ids (an imported CLIP's)."""
    rows = [[bos, *tok.encode(t), eos] for t in texts]
    width = max(len(r) for r in rows)
    if max_len is not None and width > max_len:
        longest = texts[max(range(len(rows)), key=lambda i: len(rows[i]))]
        raise AnnError(f"the caption {longest!r} is {width} tokens with start and end, longer "
                       f"than the text context model.max_len={max_len}; set model.max_len={width} "
                       "or more")
    out = torch.full((len(rows), width), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


def _tokenizer(train_captions: list[str], prompts: list[str]) -> WordTokenizer:
    return WordTokenizer.train("\n".join(train_captions + prompts), specials=SPECIALS)


def _build(images, captions, labels, prompts, tok, info, max_len) -> ImageTextDataset:
    info = copy.deepcopy(info)
    info.update(tokenizer=tok.to_dict(), vocab_size=tok.vocab_size, prompts=prompts)
    return ImageTextDataset(preprocess_images(images, info), caption_rows(tok, captions, max_len),
                            torch.as_tensor(labels, dtype=torch.long),
                            caption_rows(tok, prompts, max_len), list(captions), info)


# ------------------------------------------------------------------------------------ shapes

SHAPES_SIZE = 32
# variant -> objects per scene, split sizes, split seeds
SHAPES_VARIANTS = {
    "shapes-captions": ((1, 2), {"train": 12000, "val": 500, "test": 1000},
                        {"train": 4101, "val": 4102, "test": 4103}),
    "shapes1-captions": ((1, 1), {"train": 3000, "val": 300, "test": 500},
                         {"train": 4201, "val": 4202, "test": 4203}),
}
SHAPE_CLASSES = [f"a {size} {color} {shape}" for size in SIZES for color in COLORS
                 for shape in SHAPES]


def _shapes_info(name: str) -> dict:
    objects, counts, _ = SHAPES_VARIANTS[name]
    what = "1-2 coloured shapes" if objects == (1, 2) else "one coloured shape"
    return {
        "task": "image-text", "in_channels": 3, "image_size": SHAPES_SIZE, "scale": 255,
        "mean": [0.194, 0.196, 0.194], "std": [0.195, 0.178, 0.190], "max_len": TEXT_CONTEXT,
        "classes": SHAPE_CLASSES,
        "description": f"32x32 scenes of {what} with compositional captions: train "
                       f"{counts['train']:,} / val {counts['val']:,} / test {counts['test']:,} "
                       "(generated)",
        "source": "ann.data.scenes (generated; the generator knows every caption's truth)",
    }


@functools.lru_cache(maxsize=8)
def shapes_arrays(name: str, split: str):
    """Pixels (N, 3, 32, 32) uint8, captions and zero-shot labels of one split of a shapes
    caption dataset, generated once and cached on disk (and in memory, per process)."""
    objects, counts, seeds = SHAPES_VARIANTS[name]
    path = cache_dir() / "captions" / f"{name}-{split}-v1.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                return f["images"], [str(c) for c in f["captions"]], f["labels"]
        except (OSError, ValueError, KeyError):
            pass  # damaged: generate it again
    scenes = make_scenes("shapes", counts[split], seeds[split], size=SHAPES_SIZE, n_objects=objects)
    images = np.stack([np.round(s.image * 255) for s in scenes]).astype(np.uint8)
    captions = [caption(s) for s in scenes]
    labels = np.array([SHAPE_CLASSES.index(captions[i]) if len(s.objects) == 1 else -1
                       for i, s in enumerate(scenes)], dtype=np.int64)
    with fileio.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, images=images, captions=np.array(captions), labels=labels)
    return images, captions, labels


@functools.cache
def _shapes_tokenizer(name: str) -> WordTokenizer:
    return _tokenizer(shapes_arrays(name, "train")[1], SHAPE_CLASSES)


def _load_shapes(name: str, split: str, max_len: int | None) -> ImageTextDataset:
    images, captions, labels = shapes_arrays(name, split)
    return _build(images, captions, labels, SHAPE_CLASSES, _shapes_tokenizer(name),
                  _shapes_info(name), max_len)


@register_dataset("shapes-captions", info=_shapes_info("shapes-captions"), embedded=True)
def load_shapes_captions(split: str, max_len: int | None = None) -> ImageTextDataset:
    """Generated scenes of 1-2 shapes with their captions (see the module docstring)."""
    return _load_shapes("shapes-captions", split, max_len)


@register_dataset("shapes1-captions", info=_shapes_info("shapes1-captions"), embedded=True)
def load_shapes1_captions(split: str, max_len: int | None = None) -> ImageTextDataset:
    """Generated scenes of one shape each ("a large blue triangle"): a small, quick set."""
    return _load_shapes("shapes1-captions", split, max_len)


# ----------------------------------------------------------------- digits and MNIST-style

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# {w}: the digit as a word, {d}: as a numeral. The zero-shot prompt is none of these.
DIGIT_TEMPLATES = ["a handwritten {w}", "the digit {w}", "a picture of the number {d}",
                   "a photo of a handwritten {d}", "an image of the digit {d}",
                   "the number {w} written by hand", "a drawing of the digit {w}",
                   "a photo of the number {w}"]
DIGIT_PROMPT = "a photo of the digit {w}"
FASHION_WORDS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                 "bag", "ankle boot"]
FASHION_TEMPLATES = ["{a} {w}", "a picture of {a} {w}", "an image of the {w}", "the {w}",
                     "a grey photo of {a} {w}", "a small picture of the {w}"]
FASHION_PROMPT = "a photo of {a} {w}"


def _fill(template: str, k: int, words: list[str]) -> str:
    w = words[k]
    return template.format(w=w, d=k, a=article(w))


def templated(labels: np.ndarray, words: list[str], templates: list[str], seed: int) -> list[str]:
    """One caption per label, its template drawn from ``RandomState(seed)``."""
    pick = np.random.RandomState(seed).randint(len(templates), size=len(labels))
    return [_fill(templates[t], int(k), words) for t, k in zip(pick, labels)]


_SPLIT_SEEDS = {"train": 11, "val": 12, "test": 13}
_KINDS = {  # dataset -> (words, templates, prompt, image info)
    "digits-captions": (DIGIT_WORDS, DIGIT_TEMPLATES, DIGIT_PROMPT, DIGITS_INFO),
    "mnist-captions": (DIGIT_WORDS, DIGIT_TEMPLATES, DIGIT_PROMPT, MNIST_INFO),
    "fashion-captions": (FASHION_WORDS, FASHION_TEMPLATES, FASHION_PROMPT, FASHION_INFO),
}


def _class_arrays(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "digits-captions":
        images, labels, splits = _digits()
        return images[splits[split]], labels[splits[split]]
    return idx_split_arrays("mnist" if name == "mnist-captions" else "fashion-mnist", split)


def _class_info(name: str) -> dict:
    words, _, prompt, base = _KINDS[name]
    info = {k: v for k, v in base.items() if k not in ("num_classes", "classes")}
    prompts = [_fill(prompt, k, words) for k in range(len(words))]
    info.update(task="image-text", max_len=TEXT_CONTEXT, classes=prompts,
                description=f"{base['description']}, each with a templated caption "
                            f"(zero-shot prompts: '{prompts[7]}', ...)")
    return info


@functools.cache
def _class_tokenizer(name: str) -> WordTokenizer:
    words, templates, prompt, _ = _KINDS[name]
    labels = _class_arrays(name, "train")[1]
    prompts = [_fill(prompt, k, words) for k in range(len(words))]
    return _tokenizer(templated(labels, words, templates, _SPLIT_SEEDS["train"]), prompts)


def _load_class_captions(name: str, split: str, max_len: int | None) -> ImageTextDataset:
    words, templates, prompt, _ = _KINDS[name]
    images, labels = _class_arrays(name, split)
    captions = templated(labels, words, templates, _SPLIT_SEEDS[split])
    info = _class_info(name)
    return _build(images, captions, labels, info["classes"], _class_tokenizer(name), info, max_len)


@register_dataset("digits-captions", info=_class_info("digits-captions"), embedded=True)
def load_digits_captions(split: str, max_len: int | None = None) -> ImageTextDataset:
    """scikit-learn's digits (the ``digits`` splits) with templated captions."""
    return _load_class_captions("digits-captions", split, max_len)


@register_dataset("mnist-captions", info=_class_info("mnist-captions"), embedded=False)
def load_mnist_captions(split: str, max_len: int | None = None) -> ImageTextDataset:
    """MNIST (the ``mnist`` splits) with templated captions."""
    return _load_class_captions("mnist-captions", split, max_len)


@register_dataset("fashion-captions", info=_class_info("fashion-captions"), embedded=False)
def load_fashion_captions(split: str, max_len: int | None = None) -> ImageTextDataset:
    """Fashion-MNIST (the ``fashion-mnist`` splits) with templated captions."""
    return _load_class_captions("fashion-captions", split, max_len)
