"""Sentence pairs of your own (text-pairs): the Transformer, the recurrent seq2seq-attn and T5
learn a tiny synthetic translation written by the test, `ann translate` / `ann eval` /
`ann generate` on their runs, and each bad input in one line."""

import collections
import json
import random
from types import SimpleNamespace

import pytest
import torch
from conftest import real_data

import ann
from ann import registry
from ann.cli import main
from ann.data import textpairs
from ann.errors import AnnError
from helpers import ann as run_ann
from helpers import benchmark_module, fails_cleanly

# a word-for-word dictionary: "el gato come pan" -> "the cat eats bread"
WORDS = {"el": "the", "gato": "cat", "perro": "dog", "come": "eats", "ve": "sees", "pan": "bread",
         "agua": "water", "rojo": "red", "grande": "big", "pequeno": "small", "y": "and",
         "un": "a"}
TINY_TRANSFORMER = ["model.n_encoder_layers=1", "model.n_decoder_layers=1", "model.d_model=32",
                    "model.n_heads=2", "model.d_ff=64", "model.dropout=0"]
TINY_RNN = ["model.n_layer=1", "model.n_embd=32", "model.hidden=32", "model.dropout=0"]
TINY_T5 = ["model.n_encoder_layers=1", "model.n_decoder_layers=1", "model.d_model=64",
           "model.d_ff=128", "model.n_heads=2", "model.dropout=0"]
FAST = ["train.batch_size=32", "train.lr=3e-3", "train.threads=1"]


def sentences(n: int, seed: int, lengths=(3, 6)) -> list[tuple[str, ...]]:
    """``n`` distinct sentences of dictionary words."""
    rng, seen = random.Random(seed), {}
    while len(seen) < n:
        seen.setdefault(tuple(rng.choice(list(WORDS)) for _ in range(rng.randint(*lengths))))
    return list(seen)


def translation(words) -> str:
    return " ".join(WORDS[w] for w in words)


def bag(words) -> str:
    """The distinct English words, sorted (an output whose order needs no word positions)."""
    return " ".join(sorted({WORDS[w] for w in words}))


def overrides(args) -> dict:
    return dict(a.split("=", 1) for a in args)


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


def sacrebleu(hyps: list[str], refs: list[str]) -> float:
    """Corpus BLEU by sacrebleu (the reference implementation) on whitespace-joined words."""
    sb = pytest.importorskip("sacrebleu", reason="sacrebleu is not installed")
    bleu = sb.metrics.BLEU(tokenize="none", smooth_method="none", effective_order=False)
    return bleu.corpus_score(hyps, [refs]).score


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    rows = sentences(500, 0)
    # a header, a split column (every tenth pair test, the next val) and the columns in another
    # order than source, target
    places = ["test" if i % 10 == 0 else "val" if i % 10 == 1 else "train" for i in range(len(rows))]
    (folder / "pairs.tsv").write_text("split\ten\tes\n" + "".join(
        f"{p}\t{translation(r)}\t{' '.join(r)}\n" for r, p in zip(rows, places)), encoding="utf-8")
    # no header, comma separated, split 80/10/10 by the loader
    (folder / "pairs.csv").write_text("".join(f"{' '.join(r)},{translation(r)}\n" for r in rows))
    (folder / "bag.tsv").write_text("".join(f"{' '.join(r)}\t{bag(r)}\n"
                                            for r in sentences(500, 1, (2, 5))))
    return folder, rows, places


@pytest.fixture(scope="module")
def transformer_run(files, conv):
    folder, _, _ = files
    out = folder / "transformer"
    run_ann("train", "transformer-multi30k", "data.name=text-pairs",
            f"data.path={folder / 'pairs.tsv'}", "data.source=es", "data.target=en",
            *TINY_TRANSFORMER, *FAST, "train.max_steps=250", "train.eval_every=250", *conv.args,
            "--quiet",
            "--out", out)
    return out


@pytest.mark.convergence
def test_transformer_learns_the_pairs(files, transformer_run):
    _, rows, places = files
    summary = json.loads((transformer_run / "summary.json").read_text())
    assert summary["dataset"] == "text-pairs" and summary["metric"] == "bleu"
    # the test pairs are the file's split column's: translate them one by one and score them
    # with sacrebleu; the trivial baseline (the source copied) shares no word with the target
    test = [r for r, p in zip(rows, places) if p == "test"]
    run = ann.load(transformer_run)
    hyps = [ann.api.translate(run, " ".join(r)) for r in test]
    refs = [translation(r) for r in test]
    assert sacrebleu([" ".join(r) for r in test], refs) == 0.0
    bleu = sacrebleu(hyps, refs)
    assert bleu >= 80, list(zip(hyps, refs))[:5]
    assert abs(bleu - summary["test"]["bleu"]) < 2.0     # ann's batched decoding, the same test
    assert summary["test"]["exact_match"] >= 0.5
    # judged against a model that ignores its input: the commonest training target (the first
    # among equals) for every source, scored by sacrebleu here
    train = [translation(r) for r, p in zip(rows, places) if p == "train"]
    counts = collections.Counter(train)
    commonest = max(counts, key=counts.__getitem__)
    assert summary["baselines"]["commonest"] == pytest.approx(sacrebleu([commonest] * len(refs), refs))
    assert summary["beats_baselines"] is True and "target" not in summary
    tok = json.loads((transformer_run / "tokenizer.json").read_text())
    # each side's vocabulary: the specials and the twelve words, learned from the train pairs
    assert tok["kind"] == "pair" and sorted(tok["source"]["words"][4:]) == sorted(WORDS)
    assert sorted(tok["target"]["words"][4:]) == sorted(WORDS.values())
    config = json.loads((transformer_run / "config.json").read_text())
    assert config["data"]["name"] == "text-pairs" and config["data"]["source"] == "es"


def test_translate_and_eval(transformer_run, capsys):
    assert cli(capsys, "translate", transformer_run, "El gato come pan").stdout == "the cat eats bread\n"
    # a full stop was in no training pair: it reads as <unk>, and still gives a translation
    assert cli(capsys, "translate", transformer_run, "el gato.").returncode == 0
    beam = cli(capsys, "translate", transformer_run, "un perro rojo", "--beam", "3")
    assert beam.returncode == 0 and beam.stdout.strip() == "a dog red"
    test = json.loads(cli(capsys, "eval", transformer_run, "--json").stdout)
    summary = json.loads((transformer_run / "summary.json").read_text())
    assert test["bleu"] == pytest.approx(summary["test"]["bleu"])   # the same test split again
    val = json.loads(cli(capsys, "eval", transformer_run, "--split", "val", "--json").stdout)
    assert val["split"] == "val" and val["bleu"] > 50
    fails_cleanly(cli(capsys, "translate", transformer_run, "   "), "empty")


def test_seq2seq_attention_on_a_csv_without_header(files, conv):
    folder, rows, _ = files
    run = ann.train("seq2seq-attn-multi30k", overrides(
        ["data.name=text-pairs", f"data.path={folder / 'pairs.csv'}", *TINY_RNN, *FAST,
         "train.max_steps=250", "train.eval_every=250", *conv.args]), out=folder / "rnn",
        quiet=True)
    # 80/10/10 of 500 pairs, seeded: 400 / 50 / 50
    sizes = {s: len(ann.api.load_split(run.config, s)) for s in ("train", "val", "test")}
    assert sizes == {"train": 400, "val": 50, "test": 50}
    assert run.summary["test"]["bleu"] >= 60, run.summary["test"]
    out = ann.api.translate(run, "el perro ve agua").split()
    assert out and set(out) <= set(WORDS.values())     # English words, from the target side


def test_t5_with_a_prefix(files, conv, capsys):
    folder, _, _ = files
    run = ann.train("t5-tasks-tiny", overrides(
        ["data.name=text-pairs", f"data.path={folder / 'bag.tsv'}", "data.prefix=words:",
         *TINY_T5, *FAST, "train.max_steps=200", "train.eval_every=200", *conv.args]),
        out=folder / "t5", quiet=True)
    # one WordPiece vocabulary with T5's ids; the prefix names the one task
    tok = json.loads((run.path / "tokenizer.json").read_text())
    assert tok["kind"] == "wordpiece" and run.info["tokenizer_kind"] == "wordpiece"
    c = run.model.config
    assert (c.pad_id, c.eos_id, c.bos_id, c.unk_id) == (0, 1, 0, 2)
    assert list(c.task_ids().values()) == ["words"]
    test = run.summary["test"]
    # outputs that ignore the input (the commonest training output) get almost none right
    assert test["exact_match"] >= 0.6 and test["words_exact_match"] == test["exact_match"], test
    out = cli(capsys, "generate", run.path, "--prompt", "words: el gato ve el gato")
    assert out.returncode == 0 and out.stdout.strip() == "cat sees the"
    fails_cleanly(cli(capsys, "generate", run.path, "--prompt", "el gato"), "prefix", "words:")
    again = json.loads(cli(capsys, "eval", run.path, "--json").stdout)  # the file found again
    assert again["exact_match"] == pytest.approx(test["exact_match"])


# ------------------------------------------------------------------------------- reading files

def load(path, split="train", **options):
    return registry.load_dataset("text-pairs", split, path=str(path), **options)


def test_columns_header_and_splits(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text('Source,Target,Split\n"hello, world",bonjour,train\nyes,oui,test\n'
                 "no,non,train\nthanks,merci,train\n", encoding="utf-8")
    train, val, test = (load(f, s, min_freq=1) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (2, 1, 1)  # val carved from the three train pairs
    # the quoted comma is part of the sentence, not a separator
    stamp = (str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns)
    pairs, places = textpairs.read_pairs(stamp, "source", "target")
    assert pairs[0] == ("hello, world", "bonjour") and places == ["train", "test", "train", "train"]
    assert test.info["tokenizer"]["source"]["words"][4:] == sorted(
        {"hello", ",", "world", "no", "thanks"} - set(_val_words(stamp)))


def _val_words(stamp) -> list[str]:
    (source, _), = textpairs.pair_splits(stamp, "source", "target", 0)["val"]
    return source.replace(",", " , ").split()


def test_seeded_split_and_lengths(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("".join(f"w{i} x y z\tv{i}\n" for i in range(20)))
    a = [load(f, s, min_freq=1) for s in ("train", "val", "test")]
    assert [len(d) for d in a] == [16, 2, 2]
    stamp = (str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns)
    seeds = [textpairs.pair_splits(stamp, "source", "target", seed) for seed in (0, 0, 1)]
    assert seeds[0] == seeds[1] and seeds[0]["test"] != seeds[2]["test"]
    assert sorted(p for s in seeds[2].values() for p in s) == sorted(p for s in seeds[0].values()
                                                                     for p in s)
    # cut to the model's limits: 4 words and <eos> in 3 tokens
    short = load(f, "test", min_freq=1, max_src_len=3)
    assert short.x.shape[1] == 3 and short.info["cut"] == 2 and a[2].info["cut"] == 0
    assert short.x[0, -1].item() == short.info["eos_id"]
    chars = load(f, "train", min_freq=1, tokenizer="char")
    assert chars.info["tokenizer"]["source"]["pattern"] == r"\S"


def test_vocabulary_from_the_training_pairs_only(tmp_path):
    f = tmp_path / "p.tsv"
    f.write_text("source\ttarget\tsplit\n" + "a b\tA B\ttrain\n" * 3 + "c\tC\ttrain\n"
                 "secret\tSECRET\ttest\nb\tB\tval\n")
    tok = load(f, min_freq=2).info["tokenizer"]
    assert tok["source"]["words"][4:] == ["a", "b"] and tok["target"]["words"][4:] == ["a", "b"]
    test = load(f, "test", min_freq=2)
    assert test.x[0].tolist() == [3, 2]            # <unk> <eos>: test words never join
    cased = load(f, min_freq=1, lowercase=False).info["tokenizer"]["target"]["words"][4:]
    assert cased == ["A", "B", "C"]      # by count in train: the val pair's B would put B first


BAD = [
    (b"a\tb\nno tab here\n", ["line 2", "no tab"]),
    (b"a\tb\n\tb\n", ["line 2", "empty source"]),
    (b"a\tb\nc\t  \n", ["line 2", "empty target"]),
    (b"a\tb\nc\xe9\td\n", ["line 2", "byte 5", "0xe9", "utf-8"]),
    (b"", ["empty"]),
    (b"\n \n", ["empty"]),
    (b"source\ttarget\n", ["header", "no pairs"]),
    (b"a\tb\tc\n", ["line 1", "3 columns", "header"]),
    (b"source\ttarget\tsplit\na\tb\ttrain\nc\td\tlater\n", ["line 3", "'later'"]),
    (b"source\ttarget\tsplit\na\tb\ttrain\nc\td\n", ["line 3", "2 columns"]),
    (b"a\tb\nc\td\n", ["2 pairs", "too few"]),
]


@pytest.mark.parametrize("content,words", BAD)
def test_bad_files(tmp_path, content, words):
    f = tmp_path / "bad.tsv"
    f.write_bytes(content)
    with pytest.raises(AnnError) as e:
        load(f)
    message = str(e.value)
    assert "\n" not in message and str(f) in message
    for w in words:
        assert w.lower() in message.lower(), (w, message)


@pytest.mark.parametrize("args,words", [
    ([], ["data.path"]),
    (["data.path=NOFILE"], ["no such file"]),
    (["data.path=FILE", "data.source=de"], ["no column 'de'", "data.source"]),
    (["data.path=FILE", "data.prefix=translate:"], ["data.prefix", "t5"]),
    (["data.path=FILE", "data.tokenizer=bpe"], ["data.tokenizer", "word", "char"]),
    (["data.path=FILE", "data.text=x"], ["data.text", "text-pairs", "data.source"]),
    (["data.path=FILE", "data.min_freq=0"], ["data.min_freq"]),
])
def test_bad_settings_in_one_line_and_nothing_written(tmp_path, capsys, args, words):
    f = tmp_path / "ok.tsv"
    f.write_text("".join(f"{' '.join(r)}\t{translation(r)}\n" for r in sentences(30, 2)))
    args = [a.replace("NOFILE", str(tmp_path / "none.tsv")).replace("FILE", str(f)) for a in args]
    out = tmp_path / "run"
    fails_cleanly(cli(capsys, "train", "transformer-numbers", "data.name=text-pairs", *args,
                      "--out", out), *words)
    assert not out.exists()


def test_other_sources_refuse_its_options(capsys):
    fails_cleanly(cli(capsys, "train", "transformer-numbers", "data.prefix=translate:"),
                  "numbers", "data.prefix", "text-pairs")


def test_a_bad_file_from_the_command_line(tmp_path):
    f = tmp_path / "bad.tsv"
    f.write_bytes(b"ein hund\ta dog\nkein tab\n")
    fails_cleanly(run_ann("train", "transformer-numbers", "data.name=text-pairs",
                          f"data.path={f}", "--out", tmp_path / "run", check=False),
                  str(f), "line 2", "no tab")
    assert not (tmp_path / "run").exists()


def test_multi30k_as_a_tsv_reads_as_the_builtin_loader(tmp_path):
    # the own-data proof's file (benchmarks/own_data.py multi30k-tsv): through text-pairs, the
    # same token arrays and vocabularies as the multi30k loader, so the same training run
    real_data("multi30k")
    recipe, data = benchmark_module("own_data").multi30k_tsv(tmp_path)
    ours = ann.api.build_config(recipe, data)
    builtin = ann.api.build_config(recipe, {})
    for split in ("train", "val", "test"):
        a, b = ann.api.load_split(ours, split), ann.api.load_split(builtin, split)
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y), split
    assert (a.info["src_vocab_size"], a.info["tgt_vocab_size"]) == (7882, 5898)


def test_the_run_hands_the_model_limits_and_data_tokenizer_to_the_loader(tmp_path):
    f = tmp_path / "p.tsv"
    f.write_text("".join(f"{' '.join(r)}\t{translation(r)}\n" for r in sentences(30, 3)))
    rc = ann.api.build_config("transformer-numbers", {
        "data.name": "text-pairs", "data.path": str(f), "model.max_src_len": 4,
        "model.max_tgt_len": 5, "data.tokenizer": "char"})
    data = ann.api.load_split(rc, "train")
    assert data.x.shape[1] == 4 and data.y.shape[1] == 5 and data.info["cut"] == len(data)
    assert data.info["tokenizer"]["source"]["pattern"] == r"\S"
    # T5 has one vocabulary for both sides (model.vocab_size): one WordPiece vocabulary
    rc = ann.api.build_config("t5-tasks-tiny", {"data.name": "text-pairs", "data.path": str(f)})
    assert ann.api.load_split(rc, "val").info["tokenizer"]["kind"] == "wordpiece"


def test_baseline_the_commonest_training_target(tmp_path):
    f = tmp_path / "p.tsv"
    train = ["the dog runs"] * 3 + ["a cat sits on the mat"] * 4 + ["one bird sings"]
    test = ["a cat sits on the mat", "a cat sits on a mat", "the dog runs", "a big cat sits on the mat"]
    f.write_text("source\ttarget\tsplit\n" + "".join(f"s{i}\t{t}\ttrain\n" for i, t in enumerate(train))
                 + "".join(f"s\t{t}\ttest\ns\t{t}\tval\n" for t in test))
    task = registry.get_task("seq2seq")
    tr, te = load(f, "train", min_freq=1), load(f, "test", min_freq=1)
    # "big" is in no training target: <unk> in the reference, which nothing matches
    refs = [t.replace("big", "<unk>") for t in test]
    assert task.baselines(tr, te)["commonest"] == pytest.approx(
        sacrebleu(["a cat sits on the mat"] * 4, refs))
    assert task.baselines(tr, te, "exact_match") == {"commonest": 0.25}
    assert task.baselines(tr, te, "loss") == {}
