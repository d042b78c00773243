"""Image-caption datasets: captions are the generator's truth, tokens round-trip, prompts are held
out of training, splits are fixed, and a caption longer than the text context is refused."""

import pytest
import torch

from ann.data.captions import (
    DIGIT_PROMPT,
    DIGIT_TEMPLATES,
    SHAPE_CLASSES,
    caption_rows,
    shapes_arrays,
)
from ann.data.scenes import caption, make_scenes
from ann.data.tokenizers import WordTokenizer
from ann.errors import AnnError
from ann.registry import load_dataset


def test_shape_captions_are_the_scenes_truth():
    images, captions, labels = shapes_arrays("shapes1-captions", "val")
    scenes = make_scenes("shapes", 300, 4202, size=32, n_objects=(1, 1))
    assert captions == [caption(s) for s in scenes]
    assert images.shape == (300, 3, 32, 32) and images.dtype.name == "uint8"
    assert all(SHAPE_CLASSES[k] == c for k, c in zip(labels, captions))


def test_tokens_round_trip_and_batches_carry_prompts():
    data = load_dataset("shapes1-captions", "test")
    from ann.data.tokenizers import load_tokenizer  # noqa: F401  (the saved form is a dict)

    tok = WordTokenizer._from_dict(data.info["tokenizer"])
    for row, text in zip(data.tokens[:20].tolist(), data.captions[:20]):
        assert row[0] == 2 and 3 in row
        assert tok.decode(row[1:row.index(3)]) == text
    x, tokens, labels, prompts = data.batch(torch.tensor([0, 5]))
    assert x.shape == (2, 3, 32, 32) and tokens.shape[0] == 2 and labels.tolist() == [
        SHAPE_CLASSES.index(data.captions[0]), SHAPE_CLASSES.index(data.captions[5])]
    assert prompts.shape[0] == 36 and data.collated


def test_digit_prompt_is_held_out_of_training_captions():
    train = load_dataset("digits-captions", "train")
    prompts = [DIGIT_PROMPT.format(w=w) for w in ("zero", "seven")]
    assert not set(prompts) & set(train.captions)
    assert len(set(train.captions)) > 40            # varied templates, not one per class
    assert len(DIGIT_TEMPLATES) >= 6
    tok = WordTokenizer._from_dict(train.info["tokenizer"])
    assert 1 not in train.prompts.flatten().tolist()     # every prompt word is known (no <unk>)
    assert tok.vocab_size == train.info["vocab_size"]
    again = load_dataset("digits-captions", "train")
    assert again.captions == train.captions           # the templates are drawn once, fixed


def test_caption_longer_than_context_is_refused():
    tok = WordTokenizer.train("a small red circle", specials=("<pad>", "<unk>", "<bos>", "<eos>"))
    assert caption_rows(tok, ["a small red circle"], 6).shape == (1, 6)
    with pytest.raises(AnnError, match="model.max_len=6 or more"):
        caption_rows(tok, ["a small red circle"], 5)
    with pytest.raises(AnnError, match="max_len"):
        load_dataset("digits-captions", "val", max_len=4)
