"""Extractive question answering: SQuAD's exact match and F1 on hand-worked cases, the SQuAD
loader on small files, the embedded pydoc-qa set's construction, a tiny bert-qa learning a
synthetic set far above the sentence baseline, and `ann ask`."""

import json
import random

import pytest
import torch

from ann.data.qa import QAExample, load_squad, module_split, pydoc_questions, read_squad
from ann.errors import AnnError
from ann.tasks.qa import (
    baseline_answer,
    best_spans,
    exact_match,
    f1_score,
    normalize_answer,
    span_text,
    squad_scores,
)
from helpers import ann, fails_cleanly

# ------------------------------------------------------------------ EM / F1 by the definition


def test_normalisation_as_squad_defines_it():
    assert normalize_answer("The Cat, sat!") == "cat sat"
    assert normalize_answer("  an   Apple\ta day ") == "apple day"
    assert normalize_answer("theatre") == "theatre"          # an article only as a whole word
    assert normalize_answer("U.S.A.") == "usa"               # punctuation goes before words split


def test_exact_match_and_f1_hand_cases():
    assert exact_match("the Eiffel Tower", "Eiffel tower.") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0
    # "red car" vs "red bus": 1 shared word, precision 1/2, recall 1/2 -> F1 1/2
    assert f1_score("a red car", "the red bus") == pytest.approx(0.5)
    # "red red car" vs "red car": shared counted with multiplicity = min(2,1) + 1 = 2,
    # precision 2/3, recall 2/2 -> 2 * (2/3) / (5/3) = 0.8
    assert f1_score("red red car", "red car") == pytest.approx(0.8)
    # 1 shared of 4 predicted and 2 gold: P 1/4, R 1/2 -> 2 * (1/8) / (3/4) = 1/3
    assert f1_score("one two three four", "four five") == pytest.approx(1 / 3)
    assert f1_score("cat", "dog") == 0.0
    assert f1_score("", "") == 1.0 and f1_score("the", "") == 1.0   # both empty after normalising
    assert f1_score("x", "") == 0.0 and f1_score("", "x") == 0.0


def test_scores_take_the_best_gold_and_average_in_percent():
    # q1: "blue sky" equals the second gold exactly -> EM 1, F1 1
    # q2: "sky over sea" vs "sky": P 1/3 R 1 -> 0.5; vs "blue sea": P 1/3 R 1/2 -> 0.4; best 0.5
    scores = squad_scores(["blue sky", "sky over sea"], [["sky", "the blue sky"], ["sky", "blue sea"]])
    assert scores["exact_match"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(75.0)
    # no gold answer (SQuAD 2.0): the gold is "", and so is a gold that normalises to nothing
    assert squad_scores(["", "x", ""], [[], [], ["a"]]) == {"exact_match": pytest.approx(200 / 3),
                                                           "f1": pytest.approx(200 / 3)}


def test_best_span_respects_order_length_and_no_answer():
    logits = torch.full((2, 6, 2), -10.0)
    logits[0, 4, 0], logits[0, 2, 1] = 9.0, 9.0      # (4, 2) scores 18 but ends before it starts
    logits[0, 1, 0], logits[0, 3, 1] = 3.0, 3.0      # the best valid span: (1, 2), 3 + 9 = 12
    logits[1, 2, 0], logits[1, 5, 1] = 8.0, 8.0      # (2, 5) is 4 tokens: too long for max 3
    logits[1, 0, :] = 1.0                            # no answer: 2 beats every allowed span (-2)
    allowed = torch.tensor([[False, True, True, True, True, True]] * 2)
    start, end, score, null = best_spans(logits, allowed, max_answer_len=3)
    assert (start.tolist(), end.tolist()) == ([1, 0], [2, 0])
    assert score.tolist() == [12.0, -2.0] and null.tolist() == [-20.0, 2.0]
    assert span_text("abc def", torch.tensor([[0, 0], [0, 3], [4, 7]]), 1, 2) == ("abc def", 0, 7)


def test_baseline_picks_the_sentence_with_most_question_words():
    context = "The key of alpha is red. The key of beta is blue. Nothing else."
    assert baseline_answer("What is the key of beta?", context) == "The key of beta is blue."
    assert baseline_answer("Why?", context) == "The key of alpha is red."     # ties: the first


# ------------------------------------------------------------------ a synthetic SQuAD file

VALUES = {"colour": ["red", "blue", "green", "black", "white", "pink", "grey", "gold"],
          "size": ["big", "small", "huge", "tiny", "large", "short"],
          "shape": ["round", "square", "flat", "long", "oval", "bent"]}


def synthetic_squad(n_articles: int, seed: int) -> dict:
    """Articles of four passages such as "The size is big. The colour is red. The shape is
    flat." (the three facts in a random order); a question on one of the facts (its value is
    the answer) and, in each article's first passage, which lacks one fact, a question on the
    missing fact (SQuAD 2.0's is_impossible)."""
    rng = random.Random(seed)
    data = []
    for a in range(n_articles):
        paragraphs = []
        for p in range(4):
            keys = rng.sample(list(VALUES), 3)
            facts = {k: rng.choice(VALUES[k]) for k in keys[:2 if p == 0 else 3]}
            context = " ".join(f"The {k} is {v}." for k, v in facts.items())
            k = rng.choice(list(facts))
            start = context.index(f"The {k} is ") + len(f"The {k} is ")
            qas = [{"id": f"{a}-{p}", "question": f"What is the {k}?",
                    "answers": [{"text": facts[k], "answer_start": start}]}]
            if p == 0:
                qas.append({"id": f"{a}-{p}-none", "question": f"What is the {keys[2]}?",
                            "answers": [], "is_impossible": True})
            paragraphs.append({"context": context, "qas": qas})
        data.append({"title": f"article {a}", "paragraphs": paragraphs})
    return {"version": "v2.0", "data": data}


@pytest.fixture(scope="module")
def squad_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("squad") / "train.json"
    path.write_text(json.dumps(synthetic_squad(300, 0)), encoding="utf-8")
    return path


def test_squad_loader_reads_the_official_format(tmp_path, squad_file):
    examples = read_squad(squad_file)
    assert len(examples) == 300 * 5
    impossible = [e for e in examples if e.id.endswith("none")]
    assert len(impossible) == 300 and all(e.answers == () for e in impossible)
    splits = {s: load_squad(s, max_len=32, path=str(squad_file)) for s in ("train", "val", "test")}
    assert [len(splits[s]) for s in ("train", "val", "test")] == [240 * 5, 30 * 5, 30 * 5]
    titles = {s: {e.group for e in d.examples} for s, d in splits.items()}
    assert not (titles["train"] & titles["val"] or titles["train"] & titles["test"]
                or titles["val"] & titles["test"])
    # every target points at the answer's tokens, and those map back to the answer's text
    x, y, offsets, _, _ = splits["train"].batch(slice(0, len(splits["train"])))
    for i, ex in enumerate(splits["train"].examples):
        text, _, _ = span_text(ex.context, offsets[i], int(y[i, 0]), int(y[i, 1]))
        assert text == (ex.answers[0] if ex.answers else "")
    # a second file becomes the test split
    dev = tmp_path / "dev.json"
    dev.write_text(json.dumps(synthetic_squad(3, 1)))
    test = load_squad("test", max_len=32, path=str(squad_file), eval_path=str(dev))
    assert len(test) == 15 and {e.group for e in test.examples} == {"article 0", "article 1",
                                                                    "article 2"}


def test_squad_loader_refuses_bad_files_in_one_line(tmp_path):
    with pytest.raises(AnnError, match="data.path"):
        load_squad("train", path="")
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"paragraphs": [{"context": "x"}]}]}')
    with pytest.raises(AnnError, match="SQuAD's format"):
        read_squad(bad)
    bad.write_text("not json")
    with pytest.raises(AnnError, match="not JSON"):
        read_squad(bad)


def test_a_passage_too_long_is_cut_and_an_answer_cut_away_leaves_training():
    from ann.data.qa import encode
    from ann.data.tokenizers import WordPieceTokenizer

    tok = WordPieceTokenizer.train(["the key of alpha is red and more words here?"] * 5, 200)
    near = QAExample("a", "key?", "the key is red and more words here", ("red",), (11,))
    far = QAExample("b", "key?", "more words here and more words here the key is red", ("red",), (47,))
    _, kept, cut, dropped = encode([near, far], tok, max_len=10, train=True)
    assert (cut, dropped, [e.id for e in kept]) == (2, 1, ["a"])
    assert kept[0].context == "the key is red and"             # what the model reads
    _, kept, _, dropped = encode([near, far], tok, max_len=10, train=False)
    assert dropped == 0 and kept[1].answers == ("red",)        # still scored against its gold


# ------------------------------------------------------------------ the embedded set


# modules in all three splits (train: bisect, difflib, ntpath, posixpath; val: random; test:
# fnmatch, shutil); ntpath's and posixpath's functions share docstrings
SOME_MODULES = ("bisect", "difflib", "ntpath", "posixpath", "random", "fnmatch", "shutil")


def test_pydoc_qa_construction():
    splits = pydoc_questions(SOME_MODULES)
    groups = {s: {e.group for e in v} for s, v in splits.items()}
    assert all(len(v) > 0 for v in splits.values())
    assert not (groups["train"] & groups["val"] or groups["train"] & groups["test"]
                or groups["val"] & groups["test"])
    seen = set()
    for split, examples in splits.items():
        for ex in examples:
            assert module_split(ex.question.split("`")[1].split(".")[0]) == split
            for text, start in zip(ex.answers, ex.starts):      # a span of its own context
                assert ex.context[start:start + len(text)] == text and text.strip()
            key = (ex.id.rsplit(":", 1)[1], ex.context)
            assert key not in seen                              # deduplicated
            seen.add(key)
    answered = [e for v in splits.values() for e in v if e.answers]
    assert 0 < sum(not e.answers for v in splits.values() for e in v) < len(answered)
    names = {e.question.split("`")[1] for v in splits.values() for e in v}
    assert "ntpath.basename" in names and "posixpath.basename" not in names   # one docstring


# ------------------------------------------------------------------ learning, and `ann ask`

TINY = ("model.n_layer=2", "model.n_head=2", "model.n_embd=64", "model.dropout=0.0",
        "model.max_len=48", "train.init_from=scratch", "train.threads=1", "train.batch_size=32",
        "train.lr=1e-3", "train.warmup_steps=20", "train.eval_every=200", "train.log_every=100")


@pytest.fixture(scope="module")
def qa_run(squad_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "qa"
    ann("train", "bert-qa-pydoc", "data.name=squad", f"data.path={squad_file}", *TINY,
        "train.max_steps=400", "--quiet", "--out", out)
    return out


def test_tiny_bert_qa_learns_far_above_the_sentence_baseline(qa_run):
    summary = json.loads((qa_run / "summary.json").read_text())
    # the baseline's sentence "The colour is red." normalises to "colour is red": F1 against
    # "red" is 2 * (1/3) * 1 / (1/3 + 1) = 1/2 on each answerable question, and 0 on the
    # impossible ones (one in five): 4/5 * 50 = 40
    assert summary["baselines"]["question-word sentence"] == pytest.approx(40.0)
    assert summary["test"]["f1"] >= 80 and summary["test"]["exact_match"] >= 75
    assert summary["beats_baselines"] is True
    baseline = json.loads((qa_run / "baseline.json").read_text())
    assert baseline["f1"] == pytest.approx(40.0) and baseline["exact_match"] == 0.0
    assert (qa_run / "samples.txt").read_text().count("predicted: ") == 20


def test_ann_ask_answers_from_a_file(qa_run, tmp_path):
    context = tmp_path / "passage.txt"
    context.write_text("The size is huge. The colour is pink. The shape is flat.")
    assert ann("ask", qa_run, "--context", context, "What is the colour?").stdout == "pink\n"
    data = json.loads(ann("ask", qa_run, "--context", context, "What is the colour?",
                          "--json").stdout)
    assert data["answer"] == "pink" and context.read_text()[data["start"]:data["end"]] == "pink"
    assert isinstance(data["score"], float)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    fails_cleanly(ann("ask", qa_run, "--context", empty, "What?", check=False), "empty")
    fails_cleanly(ann("ask", qa_run, "--context", context, "word " * 60, check=False),
                  "question", "shorten")
