"""Config bases shared across families: the fields that describe a model's input.

The engine fills most of them from the dataset (``registry.fill_from_data``), so every family
that reads the same kind of input gets them here, with one name, one check and one help line.
A config that needs another default re-declares the field through its ``*_field`` function, which
keeps the field's place in the config (and in ``ann train NAME --show-config``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import field
from ..errors import AnnError


def in_channels_field(default: int = 1):
    """The ``in_channels`` field of :class:`ImageInput`, with another default."""
    return field(default, "channels of the input images (filled from the dataset)", positive=True)


def image_size_field(default: int = 8):
    """The ``image_size`` field of :class:`ImageInput`, with another default."""
    return field(default, "side of the square input images (filled from the dataset)",
                 positive=True)


@dataclass
class ImageInput:
    """Config fields of every model that reads square images (B, in_channels, image_size,
    image_size); the engine fills them from the dataset."""

    in_channels: int = in_channels_field()
    image_size: int = image_size_field()


@dataclass
class LabelledImageInput(ImageInput):
    """Config fields of the models whose images carry labels of ``num_classes`` classes (image
    classifiers, detectors, GANs); the engine fills them from the dataset."""

    num_classes: int = field(10, "number of classes (filled from the dataset)", positive=True)


def check_patches(model: str, image_size: int, patch_size: int):
    """A Vision Transformer's patches must tile the image."""
    if image_size % patch_size:
        raise AnnError(f"{model}: patch_size={patch_size} does not divide image_size="
                       f"{image_size}; choose a patch size that divides the image side")


@dataclass
class ImageTextInput(ImageInput):
    """Config fields of the image+text models (CLIP, the captioner): the image, cut into square
    patches, and the caption's tokens; the engine fills most of them from the dataset."""

    in_channels: int = in_channels_field(3)
    image_size: int = image_size_field(32)
    patch_size: int = field(4, "side of the image patches; must divide image_size", positive=True)
    vocab_size: int = field(32, "word ids (filled from the dataset's tokenizer)", positive=True)
    max_len: int = field(16, "text context: the most tokens of a caption, start and end included",
                         positive=True)
    pad_id: int = field(0, "padding id (filled from the dataset)", nonneg=True)
    bos_id: int = field(2, "id that starts every caption (filled from the dataset)", nonneg=True)
    eos_id: int = field(3, "id that ends every caption (filled from the dataset)", nonneg=True)

    def check_patches(self, model: str):
        check_patches(model, self.image_size, self.patch_size)


@dataclass
class Seq2SeqInput:
    """Config fields of the encoder-decoders from one token sequence to another (the
    Transformer, the recurrent encoder-decoder with attention): both vocabularies, the special
    ids and both length limits; the engine fills most of them from the dataset."""

    src_vocab_size: int = field(32, "source token ids (filled from the dataset)", positive=True)
    tgt_vocab_size: int = field(32, "target token ids (filled from the dataset)", positive=True)
    pad_id: int = field(0, "padding id on both sides (filled from the dataset)", nonneg=True)
    bos_id: int = field(1, "id that starts every target sequence (filled from the dataset)",
                        nonneg=True)
    eos_id: int = field(2, "id that ends every sequence (filled from the dataset)", nonneg=True)
    unk_id: int = field(-1, "id of unknown words, never a BLEU match (filled from the dataset; "
                        "-1: none)", range=(-1, 2**31 - 1))
    max_src_len: int = field(64, "longest source in tokens, end token included", positive=True)
    max_tgt_len: int = field(64, "longest target in tokens, start and end tokens included",
                             positive=True)

    def __post_check__(self):
        ids = {"pad_id": self.pad_id, "bos_id": self.bos_id, "eos_id": self.eos_id}
        if len(set(ids.values())) < 3 or max(ids.values()) >= min(self.src_vocab_size,
                                                                  self.tgt_vocab_size):
            raise AnnError(f"model ids {ids} must be distinct and below both vocabulary sizes")
        if self.max_tgt_len < 2:
            raise AnnError("model.max_tgt_len must be at least 2 (the start and end tokens)")
