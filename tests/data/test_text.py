"""Language-model datasets: token windows, splits, and the pydoc / shakespeare / ptb corpora."""

import pytest
import torch
from conftest import real_data

from ann.data import text  # importing ann.data registers the datasets
from ann.data.text import TokenWindows
from ann.errors import AnnError
from ann.registry import DATASETS, load_dataset


def windows(n=23, block_size=4):
    return TokenWindows(torch.arange(n), block_size, {"vocab_size": n})


def test_windows_count_and_shift_by_one():
    ds = windows()
    assert len(ds) == (23 - 1) // 4 == 5
    x, y = ds.batch(torch.tensor([0, 2, 4]))
    assert x.shape == y.shape == (3, 4) and x.dtype == y.dtype == torch.int64
    assert x.tolist() == [[0, 1, 2, 3], [8, 9, 10, 11], [16, 17, 18, 19]]
    assert torch.equal(y, x + 1)
    assert ds.info["task"] == "lm" and ds.info["block_size"] == 4


def test_batch_with_slices_and_lists():
    ds = windows()
    x, y = ds.batch(slice(1, 3))
    assert x.tolist() == [[4, 5, 6, 7], [8, 9, 10, 11]] and torch.equal(y, x + 1)
    assert ds.batch(slice(None))[0].shape == (5, 4)
    assert ds.batch([4])[1].tolist() == [[17, 18, 19, 20]]
    assert ds[-1][0].tolist() == [16, 17, 18, 19]
    with pytest.raises(IndexError):
        ds.batch(torch.tensor([5]))


def test_windows_share_the_token_tensor():
    tokens = torch.arange(100)
    a, b = TokenWindows(tokens, 8, {}), TokenWindows(tokens, 16, {})
    assert a.tokens.data_ptr() == b.tokens.data_ptr() == tokens.data_ptr()


def test_too_short_or_bad_block_size():
    with pytest.raises(AnnError, match="smaller block_size"):
        TokenWindows(torch.arange(4), 4, {})
    with pytest.raises(AnnError, match="block_size"):
        TokenWindows(torch.arange(40), 0, {})


def test_registered():
    for name in ("pydoc", "shakespeare", "ptb", "wikitext2"):
        entry = DATASETS[name]
        assert entry.info["task"] == "lm" and entry.splits == ("train", "val", "test")
        assert entry.embedded == (name == "pydoc")
    with pytest.raises(AnnError, match="tokenizer"):
        load_dataset("pydoc", "train", tokenizer="sentencepiece")


def test_pydoc_offline_splits_in_order_and_round_trip():
    whole = text.pydoc_text()
    texts = text._texts("pydoc", tuple(text.data_dirs()))
    assert texts["train"] + texts["val"] + texts["test"] == whole
    assert len(texts["train"]) == int(0.9 * len(whole))
    splits = {s: load_dataset("pydoc", s, block_size=64) for s in ("train", "val", "test")}
    train = splits["train"]
    assert train.info["vocab_size"] == 2048 and train.info["tokenizer"]["kind"] == "bpe"
    assert all(s.info["tokenizer"] == train.info["tokenizer"] for s in splits.values())
    tok = train.tokenizer
    for split, ds in splits.items():
        assert ds.tokens.dtype == torch.int64 and int(ds.tokens.max()) < 2048
        assert tok.decode(ds.tokens) == texts[split]
    # loading again reuses the same tokens (never held twice), whatever the block size
    again = load_dataset("pydoc", "train", block_size=32)
    assert again.tokens.data_ptr() == train.tokens.data_ptr() and len(again) > len(train)
    x, y = train.batch(torch.tensor([0]))
    assert tok.decode(x[0]) == texts["train"][:len(tok.decode(x[0]))]


def test_shakespeare():
    raw = (real_data("tinyshakespeare") / "input.txt").read_text()
    train = load_dataset("shakespeare", "train", block_size=128)
    val, test = load_dataset("shakespeare", "val"), load_dataset("shakespeare", "test")
    assert train.info["vocab_size"] == 65 and train.info["tokenizer"]["kind"] == "char"
    n = int(len(raw) * 0.9)
    assert len(train.tokens) == n and len(val.tokens) == len(raw) - n
    assert test.tokens.data_ptr() == val.tokens.data_ptr()
    assert train.tokenizer.decode(train.tokens[:1000]) == raw[:1000]
    assert val.tokenizer.decode(val.tokens[:50]) == raw[n:n + 50]


def test_ptb():
    folder = real_data("ptb")
    raw = (folder / "ptb.train.txt").read_text()
    train = load_dataset("ptb", "train", block_size=35)
    tok = train.tokenizer
    assert train.info["vocab_size"] == tok.vocab_size == 10000
    lines, words = raw.count("\n"), len(raw.split())
    assert (lines, words) == (42068, 887521)
    assert len(train.tokens) == words + lines == 929589
    assert int((train.tokens == tok.words.index("<eos>")).sum()) == lines
    head = raw[:raw.rindex("\n", 0, 1000) + 1]  # whole lines of the first 1000 characters
    back = tok.decode(tok.encode(head))
    assert [ln.split() for ln in back.split("\n")] == [ln.split() for ln in head.split("\n")]
    for split in ("val", "test"):
        ds = load_dataset("ptb", split)
        assert ds.info["tokenizer"] == train.info["tokenizer"] and len(ds.tokens) > 70000


def _wikitext_zip(folder, members):
    """Write a small zip laid out like wikitext-2-v1.zip; return its RemoteFile (real name and
    addresses, the md5 of these bytes)."""
    import dataclasses
    import hashlib
    import zipfile

    folder.mkdir(parents=True)
    path = folder / "wikitext-2-v1.zip"
    with zipfile.ZipFile(path, "w") as z:
        for member, content in members.items():
            z.writestr(member, content)
    return dataclasses.replace(text.WIKITEXT2_FILE, md5=hashlib.md5(path.read_bytes()).hexdigest())


WIKI = {"train": " = Valkyria Chronicles = \n\n The game began development in 2010 . \n" * 30,
        "val": " = Tower Building = \n\n It was built in 1904 . \n" * 5,
        "test": " = Robert Boulter = \n\n He is an English actor . \n" * 5}


def test_wikitext2_from_a_written_zip(tmp_path, monkeypatch):
    members = {text.WIKITEXT2_MEMBERS[split]: content for split, content in WIKI.items()}
    monkeypatch.setattr(text, "WIKITEXT2_FILE", _wikitext_zip(tmp_path / "wikitext2", members))
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    word = {s: load_dataset("wikitext2", s, block_size=8, tokenizer="word") for s in WIKI}
    tok = word["train"].tokenizer
    assert tok.decode(tok.encode("The game began")) == "The game began"
    lines = [ln.split() for ln in tok.decode(word["train"].tokens).split("\n")]
    assert lines == [ln.split() for ln in WIKI["train"].split("\n")]
    for split, ds in word.items():
        assert ds.info["tokenizer"] == word["train"].info["tokenizer"]
        assert int((ds.tokens == tok.words.index("<eos>")).sum()) == WIKI[split].count("\n")
    bpe = load_dataset("wikitext2", "train", block_size=16, bpe_vocab_size=300)
    assert bpe.info["tokenizer"]["kind"] == "bpe" and bpe.tokenizer.decode(bpe.tokens) == WIKI["train"]


def test_wikitext2_missing_or_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    with pytest.raises(AnnError, match="wikitext-2-v1.zip.*place it in"):
        load_dataset("wikitext2", "train")
    (tmp_path / "wikitext2").mkdir()
    (tmp_path / "wikitext2" / "wikitext-2-v1.zip").write_bytes(b"not a zip")
    with pytest.raises(AnnError, match="md5 checksum does not match"):
        load_dataset("wikitext2", "val")
    file = _wikitext_zip(tmp_path / "other", {"wikitext-2/readme.txt": "no splits here"})
    monkeypatch.setattr(text, "WIKITEXT2_FILE", file)
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path / "x"))
    (tmp_path / "x").mkdir()
    (tmp_path / "other").rename(tmp_path / "x" / "wikitext2")
    with pytest.raises(AnnError, match="not the WikiText-2 zip"):
        load_dataset("wikitext2", "test")
