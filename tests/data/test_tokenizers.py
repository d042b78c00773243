"""Character, word and byte-level BPE tokenizers: round trips, save/load, errors."""

import json

import pytest
import torch

from ann.data.tokenizers import (
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    load_tokenizer,
    tokenizer_from_dict,
)
from ann.errors import AnnError, CorruptFile

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
UNICODE = "naïve café — 東京 🎉 Ω≈ç√\n\ttabs  and   spaces\r\nend"


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train((TEXT + UNICODE) * 20, vocab_size=300)


def test_char_round_trip_and_vocab():
    tok = CharTokenizer.train(TEXT)
    assert tok.chars == sorted(set(TEXT)) and tok.vocab_size == len(set(TEXT))
    ids = tok.encode(TEXT)
    assert len(ids) == len(TEXT) and tok.decode(ids) == TEXT
    assert tok.decode(torch.tensor(ids)) == TEXT


def test_char_unknown_character_is_named():
    tok = CharTokenizer.train("abc")
    with pytest.raises(AnnError, match=r"'z'.*training text") as e:
        tok.encode("abz")
    assert "\n" not in str(e.value)
    with pytest.raises(AnnError, match="outside"):
        tok.decode([0, 3])


def test_word_round_trip_modulo_whitespace():
    tok = WordTokenizer.train(TEXT)
    assert tok.words[:2] == ["<unk>", "<eos>"]
    ids = tok.encode(TEXT)
    assert ids.count(tok.words.index("<eos>")) == TEXT.count("\n")
    back = tok.decode(ids)
    assert [line.split() for line in back.split("\n")] == [line.split() for line in TEXT.split("\n")]
    assert tok.encode("hear zebra\n") == [tok.words.index("hear"), 0, 1]


def test_word_min_freq_and_order():
    tok = WordTokenizer.train("b a b c b a", min_freq=2)
    assert tok.words == ["<unk>", "<eos>", "b", "a"]
    assert tok.decode(tok.encode("a c\nb")) == "a <unk>\nb"
    strict = WordTokenizer.train("a b", specials=())
    assert strict.encode("a\nb") == [0, 1]
    with pytest.raises(AnnError, match="'x'"):
        strict.encode("a x")


def test_bpe_round_trips_any_text(bpe):
    assert bpe.vocab_size == 300
    for text in (TEXT, UNICODE, "never seen: ¿qué? ß 😀 \x00\u200b", ""):
        ids = bpe.encode(text)
        assert all(0 <= i < bpe.vocab_size for i in ids)
        assert bpe.decode(ids) == text
    assert len(bpe.encode(TEXT)) < len(TEXT.encode())  # merges were learned
    with pytest.raises(AnnError, match="256"):
        BPETokenizer.train(TEXT, vocab_size=100)


@pytest.mark.parametrize("make", [lambda: CharTokenizer.train(UNICODE),
                                  lambda: WordTokenizer.train(TEXT, min_freq=2)])
def test_save_load_equal(tmp_path, make):
    tok = make()
    tok.save(tmp_path / "tok.json")
    back = load_tokenizer(tmp_path / "tok.json")
    assert type(back) is type(tok) and back == tok
    assert back.encode(TEXT[:5] if tok.kind == "word" else UNICODE) == \
        tok.encode(TEXT[:5] if tok.kind == "word" else UNICODE)
    assert tokenizer_from_dict(tok.to_dict()) == tok


def test_bpe_save_load_embeds_library_json(tmp_path, bpe):
    bpe.save(tmp_path / "bpe.json")
    saved = json.loads((tmp_path / "bpe.json").read_text())
    assert saved["kind"] == "bpe" and json.loads(saved["tokenizer"])["model"]["type"] == "BPE"
    back = load_tokenizer(tmp_path / "bpe.json")
    assert back == bpe and back.encode(UNICODE) == bpe.encode(UNICODE)


def test_missing_and_damaged_files(tmp_path):
    with pytest.raises(AnnError, match="no such tokenizer file"):
        load_tokenizer(tmp_path / "absent.json")
    path = tmp_path / "tok.json"
    CharTokenizer.train("abc").save(path)
    path.write_text(path.read_text()[:20])
    with pytest.raises(CorruptFile, match="tok.json: damaged") as e:
        load_tokenizer(path)
    assert "\n" not in str(e.value)
    for obj in ({"kind": "sentencepiece"}, {"kind": "word", "format": 1},
                {"kind": "bpe", "format": 1, "tokenizer": "{not json"}, [1, 2]):
        path.write_text(json.dumps(obj))
        with pytest.raises(CorruptFile, match="tok.json") as e:
            load_tokenizer(path)
        assert "\n" not in str(e.value)
