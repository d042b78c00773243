"""Sentence datasets (SST-2, masked-LM corpora) and the WordPiece tokenizer."""

import dataclasses
import hashlib
import subprocess
import sys

import pytest
import torch
from conftest import real_data
from sst2_files import write_extra_text, write_sst2

from ann.data import sentences
from ann.data.tokenizers import BERT_SPECIALS, WordPieceTokenizer, load_tokenizer, tokenizer_from_dict
from ann.errors import AnnError, CorruptFile, DatasetMissing
from ann.registry import DATASETS, load_dataset

TEXTS = ["a gorgeous , witty film", "the movie is dull and lifeless .", "it 's a charming story",
         "what a boring , tedious script", "unflinchingly bleak and desperate"] * 4


# --- WordPiece ------------------------------------------------------------------------------------

def test_wordpiece_specials_round_trip_and_save(tmp_path):
    tok = WordPieceTokenizer.train(TEXTS, vocab_size=200)
    assert tok.specials == list(BERT_SPECIALS)
    assert [tok.token_to_id(t) for t in BERT_SPECIALS] == [0, 1, 2, 3, 4]
    ids = tok.encode("A gorgeous film [MASK] the story")
    assert ids[3] == 4 and min(ids[:3] + ids[4:]) >= 5               # [MASK] keeps its id
    assert tok.decode(ids) == "a gorgeous film [MASK] the story"     # lowercased
    assert tok.decode(tok.encode("a witty , dull movie .")) == "a witty, dull movie."
    assert tok.encode("☃") == [1]                                    # unknown character: [UNK]
    assert [tok.id_to_token(i) for i in tok.encode("gorgeously")] == ["gorgeous", "##ly"]
    tok.save(tmp_path / "tok.json")
    for again in (load_tokenizer(tmp_path / "tok.json"), tokenizer_from_dict(tok.to_dict())):
        assert again == tok and again.specials == tok.specials
        assert again.encode("a bleak [SEP] film") == tok.encode("a bleak [SEP] film")


def test_wordpiece_bad_arguments():
    with pytest.raises(AnnError, match=r"\[UNK\]"):
        WordPieceTokenizer.train(TEXTS, specials=("[PAD]", "[MASK]"))
    with pytest.raises(AnnError, match="no room"):
        WordPieceTokenizer.train(TEXTS, vocab_size=5)
    with pytest.raises(AnnError, match="not in this WordPiece"):
        WordPieceTokenizer.train(TEXTS, vocab_size=100).token_to_id("[NOPE]")


def test_wordpiece_training_is_the_same_in_every_process():
    """Runs rebuild their tokenizer when they resume: another process must learn the same one
    (Hugging Face's own WordPiece trainer does not)."""
    code = ("from ann.data.tokenizers import WordPieceTokenizer; import hashlib, sys; "
            f"t = WordPieceTokenizer.train({TEXTS!r} * 3, vocab_size=120); "
            "print(hashlib.sha256(t.to_dict()['tokenizer'].encode()).hexdigest())")
    here = WordPieceTokenizer.train(TEXTS * 3, vocab_size=120)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(here.to_dict()["tokenizer"].encode()).hexdigest()


# --- SST-2 from small written files ---------------------------------------------------------------

@pytest.fixture
def small_sst2(tmp_path, monkeypatch):
    monkeypatch.setattr(sentences, "SST2_FILES", write_sst2(tmp_path))
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    return tmp_path / "sst2"


def test_sst2_splits_rows_and_info(small_sst2):
    train, val, test = (load_dataset("sst2", s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (147, 3, 30)           # 2% of 150 held out
    for ds in (train, val, test):
        x, y = ds.x, ds.y
        assert x.shape[1] == 66 and x.dtype == y.dtype == torch.int64 and set(y.tolist()) <= {0, 1}
        assert (x[:, 0] == 2).all()                                   # [CLS]
        lengths = (x != 0).sum(1)
        assert (x[torch.arange(len(x)), lengths - 1] == 3).all()      # [SEP], then only [PAD]
        assert ds.info["tokenizer"] == train.info["tokenizer"]
    info = train.info
    assert info["task"] == "classify" and info["classes"] == ["negative", "positive"]
    assert (info["pad_id"], info["cls_id"], info["sep_id"], info["mask_id"]) == (0, 2, 3, 4)
    assert info["vocab_size"] == train.tokenizer.vocab_size < 200     # a small corpus
    raw = (small_sst2 / "dev.tsv").read_text().splitlines()[1]
    assert test.tokenizer.decode(test.x[0][1:(test.x[0] != 0).sum() - 1]) == \
        raw.rsplit("\t", 1)[0].strip().replace(" .", ".")
    assert test.y[0].item() == int(raw[-1])


def test_sst2_batches_drop_the_common_padding(small_sst2):
    train = load_dataset("sst2", "train")
    x, y = train.batch(torch.arange(10))
    assert x.shape == (10, int((train.x[:10] != 0).sum(1).max())) and y.shape == (10,)
    torch.testing.assert_close(x, train.x[:10, :x.shape[1]])


def test_sst2_max_len_truncates_keeping_the_start(small_sst2):
    short = load_dataset("sst2", "test", max_len=4)
    full = load_dataset("sst2", "test")
    assert short.x.shape == (30, 4) and (short.x[:, 3] == 3).all()
    torch.testing.assert_close(short.x[:, :3], full.x[:, :3])
    with pytest.raises(AnnError, match="max_len"):
        load_dataset("sst2", "test", max_len=2)


def test_sst2_mlm_packs_every_sentence(small_sst2):
    mlm, labelled = load_dataset("sst2-mlm", "train"), load_dataset("sst2", "train")
    assert mlm.info["task"] == "mlm" and mlm.info["tokenizer"] == labelled.info["tokenizer"]
    assert torch.equal(mlm.x, mlm.y) and len(mlm) < len(labelled)
    assert (mlm.x[:, 0] == 2).all() and int((mlm.x == 3).sum()) == len(labelled)   # one [SEP] each
    pieces = lambda x: sorted(x[x >= 5].tolist())  # noqa: E731
    assert pieces(mlm.x) == pieces(labelled.x)


def test_sst2_mlm_extra_text_joins_the_training_split_only(small_sst2, monkeypatch):
    write_extra_text(small_sst2.parent, monkeypatch)
    plain = load_dataset("sst2-mlm", "train")
    more = load_dataset("sst2-mlm", "train", extra_text="ptb, multi30k")
    assert more.info["tokenizer"] == plain.info["tokenizer"]        # still SST-2's tokenizer
    n_sst2 = int((plain.x == 3).sum())
    assert int((more.x == 3).sum()) == n_sst2 + 2 + 2               # 2 PTB lines, 2 captions
    assert int((more.x == 1).sum()) == int((plain.x == 1).sum()) + 1   # <unk> read as [UNK]
    tok, pieces = more.tokenizer, lambda x: sorted(x[x >= 5].tolist())  # noqa: E731
    added = tok.encode("the film a dull film") + 2 * tok.encode("a witty dog runs.")
    assert pieces(more.x) == sorted(pieces(plain.x) + [i for i in added if i >= 5])
    for split in ("val", "test"):                                   # evaluation stays SST-2
        assert torch.equal(load_dataset("sst2-mlm", split, extra_text="ptb,multi30k").x,
                           load_dataset("sst2-mlm", split).x)
    with pytest.raises(AnnError, match="unknown corpus 'wiki'.*ptb, multi30k") as err:
        load_dataset("sst2-mlm", "train", extra_text="ptb,wiki")
    assert "\n" not in str(err.value)


def test_sst2_cache_follows_the_data_dir(small_sst2, tmp_path, monkeypatch):
    first = load_dataset("sst2", "train")
    other = tmp_path / "other"
    monkeypatch.setattr(sentences, "SST2_FILES", write_sst2(other, n_train=60, n_dev=10))
    monkeypatch.setenv("ANN_DATA_DIR", str(other))
    second = load_dataset("sst2", "train")
    assert len(first) == 147 and len(second) == 59


def test_sst2_missing_or_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetMissing, match="SST-2.zip.*train.tsv and SST-2/dev.tsv in") as err:
        load_dataset("sst2", "train")
    assert str(tmp_path / "sst2") in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.tsv").write_text("text\tlabel\nfine\t1\n")
    (tmp_path / "sst2" / "dev.tsv").write_text("sentence\tlabel\nfine\t1\n")
    with pytest.raises(CorruptFile, match="checksum"):
        load_dataset("sst2", "val")
    files = {k: dataclasses.replace(f, sha256=hashlib.sha256((tmp_path / "sst2" / f.name).read_bytes()
                                                             ).hexdigest())
             for k, f in sentences.SST2_FILES.items()}
    monkeypatch.setattr(sentences, "SST2_FILES", files)
    with pytest.raises(CorruptFile, match="not a GLUE SST-2 file"):
        load_dataset("sst2", "test")


def test_registered():
    assert DATASETS["sst2"].info["task"] == "classify" and not DATASETS["sst2"].embedded
    assert DATASETS["sst2-mlm"].info["task"] == "mlm" and DATASETS["pydoc-mlm"].embedded
    for name in ("sst2", "sst2-mlm", "pydoc-mlm"):
        assert DATASETS[name].info["mask_id"] == 4 and DATASETS[name].info["n_special"] == 5


# --- pydoc-mlm ------------------------------------------------------------------------------------

def test_pydoc_mlm_rows():
    train = load_dataset("pydoc-mlm", "train", max_len=32)
    x = train.x
    assert x.shape[1] == 32 and (x[:, 0] == 2).all() and torch.equal(train.y, x)
    assert (x[:-1, 31] == 3).all() and int((x == 0).sum()) == 31 - int((x[-1] != 0).sum()) + 1
    text = train.tokenizer.decode(x[:2, 1:31].flatten())
    assert not {"[CLS]", "[SEP]", "[PAD]"} & set(text.split()) and len(text.split()) > 20
    val, test = load_dataset("pydoc-mlm", "val", max_len=32), load_dataset("pydoc-mlm", "test", max_len=32)
    assert val.info["tokenizer"] == test.info["tokenizer"] == train.info["tokenizer"]
    assert len(train) > 10 * len(val)


# --- the real SST-2 -------------------------------------------------------------------------------

def test_real_sst2(monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(real_data("sst2").parent))
    train, val, test = (load_dataset("sst2", s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (66002, 1347, 872)    # GLUE: 67,349 and 872
    assert int(test.y.sum()) == 444 and int(train.y.sum() + val.y.sum()) == 37569
    assert train.info["vocab_size"] >= 8192
    assert ((test.x != 0).sum(1) < 66).all()          # no dev sentence is cut at max_len=66
    assert test.tokenizer.decode(test.x[0][1:(test.x[0] != 0).sum() - 1]) == \
        "it ' s a charming and often affecting journey."
