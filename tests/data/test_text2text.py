"""Text-to-text datasets for T5: the generated tasks (fixed, disjoint, correct), the T5 special
ids, the task-prefix ids the evaluation groups by, and the real Multi30k + SST-2 mix."""

import datetime

import pytest
from conftest import real_data

from ann.data import text2text as t2t
from ann.data.tokenizers import tokenizer_from_dict
from ann.registry import load_dataset


def test_generated_tasks_are_fixed_disjoint_and_correct():
    splits = t2t.task_examples()
    assert splits == t2t.task_examples.__wrapped__()  # the same examples from the same seed
    for split, n in t2t.PER_TASK.items():
        counts = {task: sum(1 for t, _, _ in splits[split] if t == task) for task in t2t.GENERATORS}
        assert counts == {task: n for task in t2t.GENERATORS}, split
    inputs = {s: {x for _, x, _ in splits[s]} for s in splits}
    assert not inputs["train"] & inputs["test"] and not inputs["val"] & inputs["test"]
    assert not inputs["train"] & inputs["val"]
    for task, source, target in splits["test"]:
        body = source.split(": ", 1)[1]
        if task == "reverse":
            assert target.split() == body.split()[::-1]
        elif task == "sort":
            assert target.split() == sorted(body.split())
        elif task == "add":
            a, b = body.split(" + ")
            assert int(target) == int(a) + int(b)
        else:
            day = datetime.date.fromisoformat(body)
            assert target == f"{day.day} {day.strftime('%B').lower()} {day.year}"


def test_t5_tasks_arrays_and_ids():
    data = load_dataset("t5-tasks", "test")
    info = data.info
    tok = tokenizer_from_dict(info["tokenizer"])
    assert [tok.id_to_token(i) for i in (info["pad_id"], info["eos_id"], info["unk_id"])] == \
        ["<pad>", "</s>", "[UNK]"]
    assert info["bos_id"] == info["pad_id"] == 0  # T5's decoder starts from <pad>
    assert data.x.size(1) <= info["max_src_len"] and data.y.size(1) <= info["max_tgt_len"]
    assert (data.y[:, 0] == 0).all()
    firsts = dict(item.split("=") for item in info["tasks"].split(","))
    assert set(firsts) == set(t2t.GENERATORS) and len(set(firsts.values())) == 4
    row = data.x[0].tolist()
    assert row[0] == int(firsts["reverse"]) and 1 in row  # inputs start with their prefix
    assert tok.decode(row[:row.index(1)]).replace(" ", "") == \
        t2t.task_examples()["test"][0][1].replace(" ", "")


def test_sentinel_ids_follow_t5():
    specials = t2t.t5_specials(4)
    assert specials[:3] == ("<pad>", "</s>", "[UNK]")
    sentinel_id = t2t._ids(4)["sentinel_id"]
    for i in range(4):
        assert specials[sentinel_id - i] == f"<extra_id_{i}>"


def test_multi30k_sst2():
    real_data("multi30k")
    real_data("sst2")
    test = load_dataset("multi30k-sst2", "test")
    firsts = dict(item.split("=") for item in test.info["tasks"].split(","))
    counts = {name: int((test.x[:, 0] == int(i)).sum()) for name, i in firsts.items()}
    assert counts == {"translate": 1000, "sst2": 872}
    tok = tokenizer_from_dict(test.info["tokenizer"])
    answers = {tok.decode(row[1:row.index(1)]) for row in
               test.y[test.x[:, 0] == int(firsts["sst2"])].tolist()}
    assert answers == {"positive", "negative"}


def test_unknown_split_fails():
    with pytest.raises(Exception, match="split"):
        load_dataset("t5-tasks", "dev")
