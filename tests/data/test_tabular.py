"""The scikit-learn tables and their stratified cross-validation folds (ann.data.tabular)."""

import numpy as np
import pytest

from ann.data.tabular import INFOS, fold_indices, stratified_folds
from ann.errors import AnnError
from ann.registry import load_dataset
from helpers import ann, fails_cleanly


@pytest.mark.parametrize("name", sorted(INFOS))
def test_folds_partition_the_table(name):
    seen = []
    for fold in range(10):
        idx = fold_indices(name, fold, 10)
        parts = [set(idx[s].tolist()) for s in ("train", "val", "test")]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        seen += idx["test"].tolist()
        total = sum(len(p) for p in parts)
    assert sorted(seen) == list(range(total))          # every row is test exactly once


def test_folds_are_stratified():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    folds = stratified_folds(y, 10)
    for f in range(10):
        counts = np.bincount(y[folds == f], minlength=3)
        assert counts.tolist() == [5, 3, 2]


def test_loader_standardises_with_the_training_part():
    train = load_dataset("wine", "train", fold=3, folds=10)
    test = load_dataset("wine", "test", fold=3, folds=10)
    assert train.x.mean(0).abs().max() < 1e-4
    assert (train.x.std(0, unbiased=False) - 1).abs().max() < 1e-3
    assert test.x.shape[1] == INFOS["wine"]["in_features"] == 13
    assert len(train.info["feature_names"]) == 13
    reg = load_dataset("diabetes", "train")
    assert reg.y.dtype.is_floating_point and reg.info["task"] == "regression"


def test_too_many_folds_is_a_clear_error():
    with pytest.raises(AnnError, match="smallest class"):
        fold_indices("iris", 0, 60)
    with pytest.raises(AnnError, match="does not exist"):
        fold_indices("iris", 10, 10)


def test_too_many_folds_through_the_cli(tmp_path):
    fails_cleanly(ann("train", "pnn-iris", "data.folds=100", "--out", tmp_path / "r", check=False),
                  "data.folds=100", "smallest class")
