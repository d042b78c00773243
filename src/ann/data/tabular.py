"""Small tables shipped with scikit-learn, for the families fitted in closed form (PNN, GRNN, GMDH).

Datasets (all embedded; features standardised with the training part's mean and std):

* ``iris`` (150 x 4, 3 classes), ``wine`` (178 x 13, 3 classes), ``breast-cancer`` (569 x 30,
  2 classes): the UCI tables as scikit-learn ships them.
* ``digits-table``: scikit-learn's 1,797 8x8 digits as 64 features (raw 0..16), 10 classes.
* ``diabetes``: 442 patients x 10 features, a disease-progression score (regression; Efron et al.
  2004, "Least angle regression").

Splits follow stratified K-fold cross-validation: ``data.folds=K`` cuts the table into K folds
(each class dealt round-robin after a seeded shuffle, so every fold holds every class in
proportion), ``data.fold=i`` is the test split, and the other folds give ``val`` (a stratified
tenth of them) and ``train`` (the rest). Running i = 0..K-1 is the usual stratified K-fold CV;
:func:`fold_indices` returns the same folds to compare other methods on (benchmarks/classical.py).
For regression the strata are the target's quantiles.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..errors import AnnError
from ..registry import register_dataset
from .base import ArrayDataset, FoldOptions

FOLD_SEED = 0
VAL_FRACTION = 0.1


@functools.cache
def _table(name: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(features float64 (N, D), targets, feature names, class names) of a scikit-learn table."""
    import sklearn.datasets as skd

    loaders = {"iris": skd.load_iris, "wine": skd.load_wine,
               "breast-cancer": skd.load_breast_cancer, "digits-table": skd.load_digits,
               "diabetes": skd.load_diabetes}
    bunch = loaders[name]() if name != "diabetes" else skd.load_diabetes(scaled=False)
    x = np.asarray(bunch.data, dtype=np.float64)
    names = [str(n) for n in getattr(bunch, "feature_names", [f"x{i}" for i in range(x.shape[1])])]
    if name == "digits-table":
        names = [f"px{i // 8}{i % 8}" for i in range(64)]
    classes = [str(c) for c in getattr(bunch, "target_names", [])] if name != "diabetes" else []
    return x, np.asarray(bunch.target), names, classes


def _strata(y: np.ndarray, regression: bool, folds: int) -> np.ndarray:
    if not regression:
        return y.astype(np.int64)
    edges = np.quantile(y, np.linspace(0, 1, folds + 1)[1:-1])   # K quantile bins
    return np.searchsorted(edges, y, side="right")


def stratified_folds(strata: np.ndarray, folds: int, seed: int = FOLD_SEED) -> np.ndarray:
    """The fold (0..folds-1) of every example: each stratum is shuffled and dealt round-robin,
    starting where the previous stratum stopped, so fold sizes differ by at most one."""
    rng = np.random.RandomState(seed)
    fold = np.empty(len(strata), dtype=np.int64)
    start = 0
    for s in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == s))
        fold[members] = (start + np.arange(len(members))) % folds
        start += len(members)
    return fold


def fold_indices(name: str, fold: int = 0, folds: int = 10) -> dict[str, np.ndarray]:
    """Sorted indices of ``train``/``val``/``test`` for fold ``fold`` of ``folds``."""
    x, y, _, classes = _table(name)
    regression = not classes
    if folds > len(y):
        raise AnnError(f"data.folds={folds} asks for more folds than {name!r} has examples "
                       f"({len(y)}); use at most {len(y)} folds")
    if not regression:
        smallest = int(np.bincount(y.astype(np.int64)).min())
        if folds > smallest:
            raise AnnError(f"data.folds={folds} is too many for {name!r}: its smallest class has "
                           f"{smallest} examples, so some folds would miss it; use at most "
                           f"{smallest} folds")
    if fold >= folds:
        raise AnnError(f"data.fold={fold} does not exist with data.folds={folds}; choose a fold "
                       f"from 0 to {folds - 1}")
    strata = _strata(y, regression, folds)
    which = stratified_folds(strata, folds)
    test = np.flatnonzero(which == fold)
    rest = np.flatnonzero(which != fold)
    # val: a stratified tenth of the remaining folds, chosen with a fold-dependent seed
    inner = stratified_folds(strata[rest], max(2, round(1 / VAL_FRACTION)), FOLD_SEED + 1 + fold)
    return {"train": np.sort(rest[inner != 0]), "val": np.sort(rest[inner == 0]),
            "test": np.sort(test)}


def _info(name: str, features: int, classes: list[str], description: str, source: str) -> dict:
    """Static facts (no data is read at import)."""
    info = {"in_features": features, "description": description, "source": source}
    if classes:
        info.update(task="classify", num_classes=len(classes), classes=classes)
    else:
        info.update(task="regression", out_features=1)
    return info


def _load(name: str, split: str, fold: int, folds: int) -> ArrayDataset:
    x, y, names, classes = _table(name)
    idx = fold_indices(name, fold, folds)
    train = x[idx["train"]]
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > 0, std, 1.0)                    # constant columns stay constant (0)
    part = idx[split]
    xs = torch.tensor((x[part] - mean) / std, dtype=torch.float32)   # (N, D)
    if classes:
        ys = torch.tensor(y[part], dtype=torch.int64)
    else:
        ys = torch.tensor(y[part], dtype=torch.float32)                # (N,)
    info = dict(INFOS[name], feature_names=names, mean=mean.tolist(), std=std.tolist(),
                fold=fold, folds=folds)
    return ArrayDataset(xs, ys, info)


INFOS = {
    "iris": _info("iris", 4, ["setosa", "versicolor", "virginica"],
                  "Fisher's iris: 150 flowers, 4 measurements, 3 species",
                  "https://archive.ics.uci.edu/dataset/53/iris"),
    "wine": _info("wine", 13, ["class_0", "class_1", "class_2"],
                  "178 Italian wines, 13 chemical measurements, 3 cultivars",
                  "https://archive.ics.uci.edu/dataset/109/wine"),
    "breast-cancer": _info("breast-cancer", 30, ["malignant", "benign"],
                           "Wisconsin diagnostic breast cancer: 569 tumours, 30 cell-nucleus "
                           "features, malignant or benign", "https://archive.ics.uci.edu/dataset/17"),
    "digits-table": _info("digits-table", 64, [str(i) for i in range(10)],
                          "scikit-learn's 1,797 8x8 digits as 64 features (folds for "
                          "cross-validation)", "https://archive.ics.uci.edu/dataset/80"),
    "diabetes": _info("diabetes", 10, [], "442 diabetes patients, 10 baseline variables, disease "
                      "progression a year later (regression)",
                      "https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html"),
}


def _register(name: str):
    @register_dataset(name, info=INFOS[name], embedded=True, options=FoldOptions)
    def loader(split: str, fold: int = 0, folds: int = 10) -> ArrayDataset:
        return _load(name, split, fold, folds)

    loader.__doc__ = f"{INFOS[name]['description']}; stratified fold ``fold`` of ``folds`` is test."
    return loader


for _name in INFOS:
    _register(_name)
