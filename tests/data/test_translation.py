"""Translation datasets (numbers, multi30k) and their tokenizers."""

import gzip
import hashlib

import pytest
import torch
from conftest import real_data

from ann.data import translation
from ann.data.sources import RemoteFile
from ann.data.tokenizers import RegexTokenizer, TokenizerPair, load_tokenizer, tokenizer_from_dict
from ann.errors import AnnError
from ann.registry import DATASETS, load_dataset

PAD, BOS, EOS, UNK = 0, 1, 2, 3


# --- tokenizers --------------------------------------------------------------------------------

def test_regex_tokenizer_words_and_punctuation(tmp_path):
    tok = RegexTokenizer.train(["Ein Mann fährt Fahrrad.", "Ein Hund, ein Mann."], min_freq=2)
    assert tok.words[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert tok.words[4:] == ["ein", ".", "mann"]  # by count, then alphabetically; "," seen once
    assert tok.tokens("Zwei Männer, 3 Hunde!") == ["zwei", "männer", ",", "3", "hunde", "!"]
    ids = tok.encode("EIN Mann fährt.")
    assert ids == [4, 6, UNK, 5]
    assert tok.decode([BOS, *ids, EOS, 6, PAD]) == "ein mann <unk> ."  # stops at the end token
    tok.save(tmp_path / "t.json")
    assert load_tokenizer(tmp_path / "t.json") == tok
    chars = RegexTokenizer.train(["4721", "90"], pattern=RegexTokenizer.CHARS)
    assert chars.decode(chars.encode("1 2 7")) == "127" and chars.vocab_size == 4 + 6
    with pytest.raises(AnnError, match="min_freq"):
        RegexTokenizer.train(["a"], min_freq=0)
    with pytest.raises(ValueError, match="start with"):
        RegexTokenizer(["a", "b"])


def test_tokenizer_pair_round_trip(tmp_path):
    pair = TokenizerPair(RegexTokenizer.train(["12", "3"], pattern=RegexTokenizer.CHARS),
                         RegexTokenizer.train(["twelve", "three"]))
    assert pair.encode("312") == pair.source.encode("312")
    assert pair.decode([BOS, 4, 5, EOS]) == pair.target.decode([4, 5]) == "three twelve"
    assert pair.vocab_size == pair.target.vocab_size
    pair.save(tmp_path / "tokenizer.json")
    back = load_tokenizer(tmp_path / "tokenizer.json")
    assert isinstance(back, TokenizerPair) and back == pair and back.source == pair.source
    with pytest.raises(AnnError, match="source tokenizer"):
        tokenizer_from_dict({**pair.to_dict(), "source": {"kind": "nope"}})


# --- numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n,words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (42, "forty two"),
    (100, "one hundred"), (115, "one hundred fifteen"), (1000, "one thousand"),
    (4721, "four thousand seven hundred twenty one"), (70_005, "seventy thousand five"),
    (999_999, "nine hundred ninety nine thousand nine hundred ninety nine"),
])
def test_number_to_words(n, words):
    assert translation.number_to_words(n) == words


def test_numbers_splits_are_fixed_disjoint_and_sized():
    splits = translation.number_splits()
    assert {k: len(v) for k, v in splits.items()} == {"train": 20000, "val": 1000, "test": 1000}
    train, val, test = (set(splits[k]) for k in ("train", "val", "test"))
    assert len(train) == 20000 and not train & test and not train & val and not val & test
    assert 0 in train and all(0 <= n < 1_000_000 for n in train | val | test)
    translation.number_splits.cache_clear()
    again = translation.number_splits()
    assert again == splits and again is not splits  # regenerated, equal: fixed by the seed
    assert splits["test"][:3] == again["test"][:3]


def test_numbers_dataset():
    entry = DATASETS["numbers"]
    assert entry.embedded and entry.info["task"] == "seq2seq"
    data = {s: load_dataset("numbers", s) for s in ("train", "val", "test")}
    train = data["train"]
    tok = tokenizer_from_dict(train.info["tokenizer"])
    for key in ("src_vocab_size", "tgt_vocab_size", "max_src_len", "max_tgt_len", "pad_id"):
        assert train.info[key] == entry.info[key], key   # the static facts are the real ones
    for split, ds in data.items():
        numbers = translation.number_splits()[split]
        assert len(ds) == len(numbers) and ds.x.dtype == ds.y.dtype == torch.int64
        assert ds.x.size(1) <= entry.info["max_src_len"] and ds.y.size(1) <= entry.info["max_tgt_len"]
        assert (ds.y[:, 0] == BOS).all() and ((ds.x == EOS).sum(1) == 1).all()
        assert ((ds.y == EOS).sum(1) == 1).all() and ds.info["tokenizer"] == train.info["tokenizer"]
        for i in (0, 1, len(ds) - 1):
            assert tok.source.decode(ds.x[i]) == str(numbers[i])
            assert tok.decode(ds.y[i]) == translation.number_to_words(numbers[i])
    # the longest numbers were not cut: every target ends with its end token before padding
    lengths = (data["train"].y != PAD).sum(1)
    assert int(lengths.max()) == entry.info["max_tgt_len"]


# --- multi30k ---------------------------------------------------------------------------------

PAIRS = {
    "train": [("Ein Mann fährt Fahrrad.", "A man rides a bike."),
              ("Ein Hund läuft.", "A dog runs."),
              ("Zwei Männer fahren Fahrrad.", "Two men ride bikes.")],
    "val": [("Ein Hund.", "A dog.")],
    "test_2016_flickr": [("Ein Mann läuft schnell.", "A man runs fast.")],
}


def _write_multi30k(folder):
    """Small gz files laid out like Multi30k; returns RemoteFiles with their checksums."""
    folder.mkdir(parents=True)
    files = []
    for stem, pairs in PAIRS.items():
        for lang, col in (("de", 0), ("en", 1)):
            path = folder / f"{stem}.{lang}.gz"
            with gzip.open(path, "wt", encoding="utf-8") as f:
                f.write("".join(p[col] + "\n" for p in pairs))
            files.append(RemoteFile(path.name, hashlib.sha256(path.read_bytes()).hexdigest(),
                                    ("https://example.invalid/" + path.name,)))
    return files


def test_multi30k_from_written_files(tmp_path, monkeypatch):
    monkeypatch.setattr(translation, "MULTI30K_FILES", _write_multi30k(tmp_path / "multi30k"))
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))  # a new folder: the caches key on it
    train, val, test = (load_dataset("multi30k", s) for s in ("train", "val", "test"))
    tok = tokenizer_from_dict(train.info["tokenizer"])
    assert tok.source.words[4:] == [".", "ein", "fahrrad"]       # German tokens seen twice
    assert tok.target.words[4:] == [".", "a"]
    assert train.info["src_vocab_size"] == 7 and train.info["tgt_vocab_size"] == 6
    assert len(train) == 3 and len(val) == 1 and len(test) == 1
    assert tok.source.decode(train.x[0]) == "ein <unk> <unk> fahrrad ."
    assert train.x[0].tolist() == [5, UNK, UNK, 6, 4, EOS]
    assert train.y[1].tolist() == [BOS, 5, UNK, UNK, 4, EOS, PAD, PAD]  # padded to the longest
    assert tok.decode(test.y[0]) == "a <unk> <unk> <unk> ."


def test_multi30k_missing_and_wrong_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    with pytest.raises(AnnError, match=r"train\.de\.gz.*multi30k"):
        load_dataset("multi30k", "train")
    files = _write_multi30k(tmp_path / "x" / "multi30k")
    (tmp_path / "x" / "multi30k" / "val.en.gz").write_bytes(b"changed")
    monkeypatch.setattr(translation, "MULTI30K_FILES", files)
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path / "x"))
    with pytest.raises(AnnError, match="sha256"):
        load_dataset("multi30k", "val")


def test_multi30k_real():
    real_data("multi30k")
    entry = DATASETS["multi30k"]
    data = {s: load_dataset("multi30k", s) for s in ("train", "val", "test")}
    assert [len(d) for d in data.values()] == [29000, 1014, 1000]
    train = data["train"]
    for key in ("src_vocab_size", "tgt_vocab_size"):
        assert train.info[key] == entry.info[key]            # 7,882 German, 5,898 English
    tok = tokenizer_from_dict(train.info["tokenizer"])
    assert tok.decode(data["test"].y[0]) == "a man in an orange hat starring at something ."
    for d in data.values():  # nothing was cut
        assert d.x.size(1) < entry.info["max_src_len"] and d.y.size(1) < entry.info["max_tgt_len"]
