"""Text of your own: language models on plain-text files (text-file) and classifiers on a CSV of
texts and labels (text-classes), end to end, and each bad input in one line."""

import json
import math
import random

import pytest

import ann
from ann import registry
from ann.data import textfiles
from ann.errors import AnnError
from helpers import ann as cli
from helpers import fails_cleanly

SUBJECTS = ("the cat", "a dog", "my bird", "one fish")
ACTIONS = ("sat on the mat", "ran to the park", "ate the food", "sang a song")
GOOD = ("a great film", "truly wonderful acting", "i loved it", "a joy to watch",
        "brilliant and moving", "a superb story", "fun and charming", "a delight")
BAD = ("a dull mess", "truly awful acting", "i hated it", "a bore to watch",
       "boring and flat", "a terrible story", "slow and tedious", "a disaster")
TAILS = ("indeed", "really", "overall", "to me", "")

GPT = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.block_size=32",
       "train.batch_size=16", "train.warmup_steps=10", "train.lr=3e-3", "train.eval_every=50"]
CLASSIFY = ["train.batch_size=16", "train.eval_every=40", "train.warmup_steps=0"]


def pattern_text(lines: int = 600, seed: int = 0) -> str:
    """Short sentences from a tiny grammar: most characters follow from the ones before."""
    rng = random.Random(seed)
    return "".join(f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)}.\n" for _ in range(lines))


def reviews_csv(per_class: int = 60, seed: int = 0, sep: str = ",", header=("text", "label")) -> str:
    rng = random.Random(seed)
    rows = []
    for _ in range(per_class):
        rows.append((f"{rng.choice(GOOD)} {rng.choice(TAILS)}".strip(), "positive"))
        rows.append((f"{rng.choice(BAD)} {rng.choice(TAILS)}".strip(), "negative"))
    return "\n".join([sep.join(header), *(sep.join(r) for r in rows)]) + "\n"


def overrides(args) -> dict:
    return dict(a.split("=", 1) for a in args)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own-text")
    (folder / "notes.txt").write_text(pattern_text())
    (folder / "reviews.csv").write_text(reviews_csv())
    return folder


@pytest.fixture(scope="module")
def lm_run(files):
    out = files / "gpt"
    cli("train", "gpt-shakespeare", "data.name=text-file", f"data.path={files / 'notes.txt'}",
        *GPT, "train.max_steps=100", "train.threads=1", "--quiet", "--out", out)
    return out


@pytest.fixture(scope="module")
def clf_run(files):
    out = files / "gru"
    cli("train", "gru-sst2", "data.name=text-classes", f"data.path={files / 'reviews.csv'}",
        *CLASSIFY, "train.max_steps=60", "train.threads=1", "--quiet", "--out", out)
    return out


# ---------------------------------------------------------------------------- text-file (LM)

def test_text_file_run_records_its_data_and_generates(lm_run, files):
    config = json.loads((lm_run / "config.json").read_text())
    assert config["data"]["name"] == "text-file"
    assert config["data"]["path"] == str(files / "notes.txt")
    facts = json.loads((lm_run / "data.json").read_text())
    tok = json.loads((lm_run / "tokenizer.json").read_text())
    assert tok["kind"] == "char" and facts["vocab_size"] == len(tok["chars"])
    assert set(tok["chars"]) == set(pattern_text())
    assert "test loss" in cli("eval", lm_run).stdout
    out = cli("generate", lm_run, "--prompt", "the ", "--max-new-tokens", "20").stdout
    assert out.startswith("the ") and len(out.rstrip("\n")) >= 20


def test_text_file_splits_by_position_and_trains_the_tokenizer_on_train(tmp_path):
    text = pattern_text(200) + "zz\u00e9\u00e9"          # characters only the test part has
    (tmp_path / "t.txt").write_text(text)
    parts = [registry.load_dataset("text-file", s, path=str(tmp_path / "t.txt"), block_size=8)
             for s in ("train", "val", "test")]
    tok = parts[0].tokenizer
    assert "z" not in tok.chars and "\u00e9" not in tok.chars
    a, b = int(len(text) * 0.9), int(len(text) * 0.95)
    assert tok.decode(parts[0].tokens.tolist()) == text[:a]
    assert tok.decode(parts[1].tokens.tolist()) == text[a:b]
    assert tok.decode(parts[2].tokens.tolist()) == text[b:].replace("z", "").replace("\u00e9", "")
    x, y = parts[0].batch(slice(0, 2))
    assert x.shape == (2, 8) and (x[0, 1:] == y[0, :-1]).all()
    assert parts[0].info["task"] == "lm" and parts[0].info["vocab_size"] == tok.vocab_size


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_text_file_takes_the_runs_tokenizer(tmp_path, kind):
    (tmp_path / "t.txt").write_text(pattern_text(300))
    train = registry.load_dataset("text-file", "train", path=str(tmp_path / "t.txt"),
                                  block_size=8, tokenizer=kind, bpe_vocab_size=300)
    assert train.info["tokenizer_kind"] == kind and train.info["tokenizer"]["kind"] == kind
    if kind == "word":       # the grammar's words, <unk> and <eos>
        words = {w for s in SUBJECTS + ACTIONS for w in s.split()} | {"mat.", "park.", "food.", "song."}
        assert train.tokenizer.vocab_size <= len(words) + 2


def test_several_files_and_a_folder(tmp_path):
    (tmp_path / "a.txt").write_text("first file")             # no final newline: one is put in
    (tmp_path / "b.txt").write_text(pattern_text(100))
    one = registry.load_dataset("text-file", "train", path=f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}",
                                block_size=8)
    folder = registry.load_dataset("text-file", "train", path=str(tmp_path), block_size=8)
    assert one.tokenizer.decode(one.tokens[:11].tolist()) == "first file\n"
    assert (one.tokens == folder.tokens).all()


@pytest.mark.parametrize("recipe", ["lstm-shakespeare", "gru-ptb"])
def test_recurrent_language_models_read_text_files(files, tmp_path, recipe):
    run = ann.train(recipe, {"data.name": "text-file", "data.path": str(files / "notes.txt"),
                             "data.tokenizer": "char", "model.n_embd": 16, "model.hidden": 32,
                             "model.n_layer": 1, "model.block_size": 32, "train.max_steps": 5,
                             "train.batch_size": 8, "train.eval_every": 5},
                    out=tmp_path / recipe, quiet=True)
    assert math.isfinite(run.summary["test"]["loss"])
    assert run.config.data.name == "text-file"


def test_a_language_model_learns_the_files_pattern(files, tmp_path, conv):
    run = ann.train("gpt-shakespeare", {"data.name": "text-file",
                                        "data.path": str(files / "notes.txt"),
                                        **overrides(GPT), "train.max_steps": 150, **conv.overrides},
                    out=tmp_path / "gpt", quiet=True)
    uniform = math.log(run.config.model.vocab_size)           # 3.0 nats: knowing nothing
    assert run.summary["test"]["loss"] < 1.3, (run.summary["test"], uniform)


def _bad_lm(path, *extra):
    return cli("train", "gpt-shakespeare", "data.name=text-file", f"data.path={path}", *GPT,
               "train.max_steps=2", *extra, "--quiet", "--out", path.parent / "run", check=False)


def test_text_file_bad_inputs(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\u00e9 au lait\n".encode("utf-8") + "na\u00efve".encode("latin-1"))
    line = fails_cleanly(_bad_lm(bad), "latin1.txt", "utf-8", "byte 16")
    assert "0xef" in line
    (tmp_path / "empty.txt").write_text("\n \n")
    fails_cleanly(_bad_lm(tmp_path / "empty.txt"), "empty.txt", "empty")
    fails_cleanly(_bad_lm(tmp_path / "missing.txt"), "missing.txt", "no such file")
    (tmp_path / "short.txt").write_text(pattern_text(20))
    fails_cleanly(_bad_lm(tmp_path / "short.txt"), "short.txt", "block_size=32", "too few")
    fails_cleanly(cli("train", "gpt-shakespeare", "data.name=text-file", "train.max_steps=2",
                      "--out", tmp_path / "r", check=False), "data.path")
    assert not (tmp_path / "run").exists() and not (tmp_path / "r").exists()


# ------------------------------------------------------------------ text-classes (classifiers)

def test_classifier_run_records_its_data_and_predicts_class_names(clf_run, files):
    config = json.loads((clf_run / "config.json").read_text())
    assert config["data"]["name"] == "text-classes"
    assert config["data"]["path"] == str(files / "reviews.csv")
    assert config["data"]["text"] == "text" and config["data"]["label"] == "label"
    facts = json.loads((clf_run / "data.json").read_text())
    assert facts["classes"] == ["negative", "positive"] and config["model"]["num_classes"] == 2
    assert "test accuracy" in cli("eval", clf_run).stdout
    out = cli("predict", clf_run, "--text", "a great film", "--text", "a dull mess").stdout
    lines = out.splitlines()
    assert lines[0].startswith('"a great film": ') and lines[1].startswith('"a dull mess": ')
    assert all(("positive" in x and "negative" in x) for x in lines)
    # --text - reads one sentence per line from standard input, the same predictions
    import subprocess
    import sys

    from helpers import env

    piped = subprocess.run([sys.executable, "-m", "ann", "predict", str(clf_run), "--text", "-"],
                           input="a great film\n\na dull mess\n", capture_output=True, text=True,
                           env=env(), timeout=300)
    assert piped.returncode == 0 and piped.stdout.splitlines() == lines, piped.stderr
    empty = subprocess.run([sys.executable, "-m", "ann", "predict", str(clf_run), "--text", "-"],
                           input="\n", capture_output=True, text=True, env=env(), timeout=300)
    assert empty.returncode != 0 and "read no sentence from standard input" in empty.stderr


def test_stratified_split_is_seeded_and_keeps_the_proportions(files):
    path = str(files / "reviews.csv")
    parts = {s: registry.load_dataset("text-classes", s, path=path) for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [96, 12, 12]
    for s in ("val", "test"):
        assert int(parts[s].y.sum()) == 6                      # half of each split positive
    textfiles._class_rows.cache_clear()                        # read afresh: the same rows
    assert (registry.load_dataset("text-classes", "test", path=path).x == parts["test"].x).all()
    info = parts["train"].info
    assert info["classes"] == ("negative", "positive") and info["num_classes"] == 2
    assert info["vocab_size"] == parts["train"].tokenizer.vocab_size


def test_a_split_column_and_columns_by_name(tmp_path):
    rows = ["review\tstars\tsplit", "so good\t5\ttrain", "so bad\t1\ttrain", "good again\t5\tval",
            "bad again\t1\tdev", "good once more\t5\ttest", "\t\t", "bad once more\t1\ttest"]
    (tmp_path / "r.tsv").write_text("\n".join(rows) + "\n")
    load = lambda s: registry.load_dataset("text-classes", s, path=str(tmp_path / "r.tsv"),  # noqa: E731
                                           text="review", label="stars", max_len=16)
    train, val, test = load("train"), load("val"), load("test")
    assert (len(train), len(val), len(test)) == (2, 2, 2)
    assert train.info["classes"] == ("1", "5") and test.y.tolist() == [1, 0]
    assert train.x.shape[1] == 16


def test_a_split_column_without_val_rows_has_them_carved_from_train(tmp_path):
    rows = ["text,label,split"] + [f"text {i},{'ab'[i % 2]},train" for i in range(40)] + [
        "held a,a,test", "held b,b,test"]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    load = lambda s: registry.load_dataset("text-classes", s, path=str(tmp_path / "r.csv"),  # noqa: E731
                                           max_len=8)
    train, val, test = load("train"), load("val"), load("test")
    assert (len(train), len(val), len(test)) == (36, 4, 2)
    assert sorted(val.y.tolist()) == [0, 0, 1, 1]          # two of each class's 20 train rows


def test_bert_fine_tunes_on_a_table_without_the_recipes_pretraining(files, tmp_path):
    proc = cli("train", "bert-sst2", "data.name=text-classes", f"data.path={files / 'reviews.csv'}",
               *CLASSIFY, "train.max_steps=10", "train.threads=1", "--out", tmp_path / "b")
    assert "starting from scratch" in proc.stdout and not (tmp_path / "b" / "pretrain").exists()
    out = cli("predict", tmp_path / "b", "--text", "a joy").stdout
    assert out.startswith('"a joy": ') and ("positive" in out and "negative" in out)


def test_a_classifier_learns_the_tables_labels(tmp_path, conv):
    (tmp_path / "r.csv").write_text(reviews_csv(per_class=100))
    run = ann.train("gru-sst2", {"data.name": "text-classes", "data.path": str(tmp_path / "r.csv"),
                                 **overrides(CLASSIFY), "train.max_steps": 80, **conv.overrides},
                    out=tmp_path / "gru", quiet=True)
    assert run.summary["test"]["accuracy"] >= 0.9, run.summary["test"]


def _bad_table(path, *extra):
    return cli("train", "gru-sst2", "data.name=text-classes", f"data.path={path}",
               "train.max_steps=2", *extra, "--quiet", "--out", path.parent / "run", check=False)


def test_text_classes_bad_inputs(tmp_path):
    (tmp_path / "cols.csv").write_text("sentence,label\nfine,1\n")
    fails_cleanly(_bad_table(tmp_path / "cols.csv"), "no column 'text'", "'sentence'", "'label'")
    fails_cleanly(_bad_table(tmp_path / "cols.csv", "data.text=sentence", "data.label=stars"),
                  "no column 'stars'", "data.label", "'sentence'")
    (tmp_path / "blank.csv").write_text("text,label\ngood,pos\n,neg\n")
    fails_cleanly(_bad_table(tmp_path / "blank.csv"), "blank.csv", "row 3", "no text")
    (tmp_path / "unseen.csv").write_text("text,label,split\na,x,train\nb,y,train\nc,x,val\n"
                                         "d,z,test\n")
    fails_cleanly(_bad_table(tmp_path / "unseen.csv"), "'z'", "test", "never in train")
    (tmp_path / "latin1.csv").write_bytes(b"text,label\ncaf\xe9,pos\n")
    fails_cleanly(_bad_table(tmp_path / "latin1.csv"), "latin1.csv", "utf-8", "byte 14")
    (tmp_path / "few.csv").write_text("text,label\na,x\nb,y\n")
    fails_cleanly(_bad_table(tmp_path / "few.csv"), "too few")
    fails_cleanly(_bad_table(tmp_path / "none.csv"), "none.csv", "no such file")
    assert not (tmp_path / "run").exists()


def test_bad_table_errors_in_process(tmp_path):
    (tmp_path / "one.csv").write_text("text,label\n" + "".join(f"t{i},same\n" for i in range(12)))
    with pytest.raises(AnnError, match="one label"):
        registry.load_dataset("text-classes", "train", path=str(tmp_path / "one.csv"))
