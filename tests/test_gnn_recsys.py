"""Recommendation: LightGCN on the generated taste groups beats popularity within a small budget;
the ranking metrics on a hand-checked case; MovieLens read from files written here."""

import pytest
import torch

import ann
from ann.data import recsys
from ann.errors import CorruptFile, DatasetMissing
from ann.registry import load_dataset
from ann.tasks.recommend import Recommendation


def test_lightgcn_beats_popularity(tmp_path, conv):
    run = ann.train("lightgcn-synthetic", {"train.epochs": 4, **conv.overrides},
                    out=tmp_path / "run", quiet=True)
    test = run.summary["test"]
    assert test["recall@20"] >= 0.4 and test["recall@20"] > test["pop_recall@20"] + 0.15, test


def test_rank_metrics_by_hand():
    task = Recommendation()
    task.k = 2
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.1]])
    truth = torch.tensor([[False, False, True, True]])
    seen = torch.tensor([[True, False, False, False]])        # item 0 was seen: skipped
    recall, ndcg = task.rank_metrics(scores, truth, seen)      # top 2: items 1, 2; one hit at rank 2
    assert recall == pytest.approx(0.5)
    assert ndcg == pytest.approx((1 / torch.log2(torch.tensor(3.0))).item() / (1 + 1 / 1.5849625))


def test_splits_hold_every_interaction_once():
    data = recsys.synthetic_interactions(num_users=50, num_items=80, per_user=10)
    parts = [data.split[s] for s in ("train", "val", "test")]
    all_pairs = torch.cat(parts)
    assert len(torch.unique(all_pairs, dim=0)) == len(all_pairs)
    train = load_dataset("recsys-synthetic", "train")
    edge_index, users, pos, neg = train.batch(torch.arange(64))
    assert not train.data.seen[users, neg].any()


def test_movielens_from_written_file(tmp_path, monkeypatch):
    folder = tmp_path / "movielens-100k"
    folder.mkdir()
    lines = [f"{u}\t{i}\t{4 + (u + i) % 2}\t881250949" for u in range(1, 11) for i in range(1, 9)]
    (folder / "u.data").write_text("\n".join(lines + ["3\t2\t1\t881250949"]) + "\n")
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    test = load_dataset("movielens-100k", "test")
    assert test.info["num_users"] == 10 and test.info["num_items"] == 8
    assert test.info["fills"] == ("num_users", "num_items")
    edge_index, users, truth, seen = test.batch(slice(0, 100))
    assert not (truth & seen).any()
    (folder / "u.data").write_text("1\t2\tfive\t0\n")
    recsys._MOVIELENS.clear()
    with pytest.raises(CorruptFile, match="line 1"):
        load_dataset("movielens-100k", "train")


def test_movielens_missing_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetMissing, match="ml-100k.zip"):
        load_dataset("movielens-100k", "train")
