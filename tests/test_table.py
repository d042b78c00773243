"""A table of your own (``data.name=table``): reading, encoding, splitting, training the tabular
models on it, and a one-line error for every bad file."""

import json

import numpy as np
import pytest

import ann
from ann.errors import AnnError
from ann.registry import load_dataset
from helpers import ann as ann_cli
from helpers import fails_cleanly

SPECIES = ("rose", "tulip", "iris")


def write_plants(path, rows=90, seed=0):
    """Three species told apart by two measurements and (loosely) by a soil word."""
    rng = np.random.RandomState(seed)
    lines = ["height,width,soil,species"]
    for i in range(rows):
        c = i % 3
        soil = ("clay", "sand", "loam")[(c + (rng.rand() < 0.2)) % 3]
        lines.append(f"{rng.randn() + 2 * c:.3f},{0.5 * rng.randn() + c:.3f},{soil},{SPECIES[c]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_prices(path, rows=80, seed=0):
    """A numeric target, linear in two numbers and a colour, tab-separated."""
    rng = np.random.RandomState(seed)
    lines = ["a\tb\tcolour\tprice"]
    for i in range(rows):
        a, b = rng.randn(2)
        colour = ("red", "blue")[i % 2]
        lines.append(f"{a:.3f}\t{b:.3f}\t{colour}\t"
                     f"{3 * a - 2 * b + 1.5 * (colour == 'red') + 0.1 * rng.randn():.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def plants(tmp_path):
    return write_plants(tmp_path / "plants.csv")


@pytest.fixture
def prices(tmp_path):
    return write_prices(tmp_path / "prices.tsv")


def table(path, split="train", **options):
    return load_dataset("table", split, path=str(path), **options)


def test_classes_categories_and_standardised_features(plants):
    splits = {s: table(plants, s, target="species") for s in ("train", "val", "test")}
    train, info = splits["train"], splits["train"].info
    assert info["task"] == "classify" and info["classes"] == ["iris", "rose", "tulip"]
    assert info["num_classes"] == 3 and info["target_kind"] == "class"
    assert info["feature_names"] == ["height", "width", "soil=clay", "soil=loam", "soil=sand"]
    assert info["in_features"] == train.x.shape[1] == 5 and info["categories"]["soil"]
    assert {"in_features", "num_classes"} <= set(info["fills"])
    assert train.y.dtype.is_floating_point is False and train.x.dtype.is_floating_point
    # standardised with the training part's statistics
    assert np.allclose(train.x.mean(0).numpy(), 0, atol=1e-5)
    assert np.allclose(train.x.std(0, unbiased=False).numpy(), 1, atol=1e-4)
    # 90 rows: 18 test, 9 val, 63 train, every class in every split in proportion
    assert [len(splits[s]) for s in ("test", "val", "train")] == [18, 9, 63]
    for s in splits.values():
        assert np.bincount(s.y.numpy(), minlength=3).min() >= len(s) // 3 - 1
    other = table(plants, "test", target="species", split_seed=1)
    assert not np.array_equal(other.x.numpy(), splits["test"].x.numpy())


def test_numeric_target_columns_and_target_kind(prices, tmp_path):
    reg = table(prices, "test", target="price")             # .tsv: tabs
    assert reg.info["task"] == "regression" and reg.y.dtype.is_floating_point
    assert reg.info["feature_names"] == ["a", "b", "colour=blue", "colour=red"]
    assert reg.info["out_features"] == 1
    assert table(prices, target="price", columns=("a",)).info["feature_names"] == ["a"]
    coded = table(prices, target="price", categorical=("a",), columns=("a",))
    assert coded.info["feature_names"][0].startswith("a=")
    # a few distinct integers are classes (sorted as numbers), unless told they are a number
    grades = tmp_path / "grades.csv"
    grades.write_text("x,grade\n" + "".join(f"{i},{(2, 10, 3)[i % 3]}\n" for i in range(30)))
    assert table(grades, target="grade").info["classes"] == ["2", "3", "10"]
    number = table(grades, target="grade", target_kind="number")
    assert number.info["task"] == "regression" and set(number.y.tolist()) <= {2.0, 3.0, 10.0}
    with pytest.raises(AnnError, match="not a number, but data.target_kind=number"):
        table(prices, target="colour", target_kind="number")


def test_missing_values_refused_or_imputed(tmp_path):
    file = tmp_path / "gaps.csv"
    rows = [f"{i % 3 + 0.1 * i},{('a', 'b')[i % 2]},{i % 2}" for i in range(30)]
    rows[4] = "NA,a,0"               # line 6 of the file
    rows[7] = "1.5,,1"               # line 9
    file.write_text("num,word,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(AnnError, match=r"line 6, column 'num': the value is missing.*impute"):
        table(file, target="label")
    parts = [table(file, s, target="label", missing="impute") for s in ("train", "val", "test")]
    assert all(np.isfinite(p.x.numpy()).all() for p in parts)
    bad_target = tmp_path / "no_label.csv"
    bad_target.write_text("x,label\n1,a\n2,\n3,b\n")
    with pytest.raises(AnnError, match="line 3, column 'label': the value is missing"):
        table(bad_target, target="label", missing="impute")


def _bad(tmp_path, name, text):
    file = tmp_path / name
    file.write_text(text)
    return file


GOOD_ROWS = "".join(f"{i},{i % 2}\n" for i in range(20))


@pytest.mark.parametrize("name,text,options,words", [
    ("empty.csv", "", {}, ["is empty"]),
    ("blank.csv", "\n\n", {}, ["is empty"]),
    ("nohead.csv", "1,2\n3,4\n5,6\n", {}, ["no header row"]),
    ("onlyhead.csv", "x,y\n", {}, ["no rows"]),
    ("twice.csv", "x,x\n" + GOOD_ROWS, {}, ["'x' twice"]),
    ("notarget.csv", "x,y\n" + GOOD_ROWS, {"target": ""}, ["data.target=COLUMN", "x, y"]),
    ("wrongtarget.csv", "x,y\n" + GOOD_ROWS, {"target": "z"}, ["no column 'z'", "x, y"]),
    ("wrongcolumn.csv", "x,y\n" + GOOD_ROWS, {"columns": ("w",)}, ["no column 'w'", "data.columns"]),
    ("ragged.csv", "x,y\n1,0\n2,1\n3\n4,0\n", {}, ["line 4", "1 cells", "2 columns"]),
    ("word.csv", "x,y\n" + GOOD_ROWS + "abc,1\n", {}, ["line 22", "column 'x'", "'abc'"]),
    ("inf.csv", "x,y\n" + GOOD_ROWS + "inf,1\n", {}, ["line 22", "column 'x'", "finite"]),
    ("nan.csv", "x,y\n" + GOOD_ROWS + "nan,1\n", {}, ["line 22", "column 'x'", "missing"]),
    ("rare.csv", "x,y\n" + "".join(f"{i},a\n" for i in range(20)) + "99,b\n",
     {"test_fraction": 0.3, "val_fraction": 0.3}, ["class 'b'", "never in training", "1 row"]),
    ("tiny.csv", "x,y\n1,a\n2,a\n", {}, ["2 rows", "too few"]),
])
def test_bad_files_fail_in_one_line(tmp_path, name, text, options, words):
    file = _bad(tmp_path, name, text)
    with pytest.raises(AnnError) as err:
        table(file, **{"target": "y", **options})
    message = str(err.value)
    assert "\n" not in message
    for w in words:
        assert w in message, (w, message)


def test_no_path_and_no_file(tmp_path):
    with pytest.raises(AnnError, match="needs your file: data.path"):
        load_dataset("table", "train", target="y")
    with pytest.raises(AnnError, match="is not a file"):
        table(tmp_path / "absent.csv", target="y")


@pytest.mark.convergence
def test_pnn_and_mlp_learn_the_species(plants, tmp_path, conv):
    """Seeds 0-4 at one thread: PNN 0.944 on all, the MLP 0.889-0.944 (18 test rows)."""
    data = {"data.name": "table", "data.path": str(plants), "data.target": "species"}
    pnn = ann.train("pnn-iris", {**data, **conv.overrides}, out=tmp_path / "pnn", quiet=True)
    assert pnn.config.model.in_features == 5 and pnn.config.model.num_classes == 3
    assert pnn.summary["test"]["accuracy"] >= 0.8, pnn.summary["test"]
    mlp = ann.train("mlp-digits", {**data, **conv.overrides, "train.epochs": 0,
                                   "train.max_steps": 100, "train.eval_every": 50},
                    out=tmp_path / "mlp", quiet=True)
    assert mlp.summary["test"]["accuracy"] >= 0.7, mlp.summary["test"]


@pytest.mark.convergence
def test_grnn_and_gmdh_fit_a_numeric_target(prices, tmp_path, conv):
    """Seeds 0-4 at one thread: R^2 0.918 (GRNN) and 0.994 (GMDH) on all."""
    data = {"data.name": "table", "data.path": str(prices), "data.target": "price"}
    for recipe, bar in (("grnn-diabetes", 0.8), ("gmdh-diabetes", 0.9)):
        run = ann.train(recipe, {**data, **conv.overrides}, out=tmp_path / recipe, quiet=True)
        assert run.config.model.in_features == 4
        assert run.summary["test"]["r2"] >= bar, (recipe, run.summary["test"])


def test_gmdh_classifier_and_dsn_on_two_classes(tmp_path):
    file = tmp_path / "two.csv"
    rng = np.random.RandomState(0)
    file.write_text("u,v,label\n" + "".join(
        f"{rng.randn() + 2 * (i % 2):.3f},{rng.randn():.3f},{('no', 'yes')[i % 2]}\n"
        for i in range(60)))
    data = {"data.name": "table", "data.path": str(file), "data.target": "label"}
    gmdh = ann.train("gmdh-breast-cancer", data, out=tmp_path / "gmdh", quiet=True)
    dsn = ann.train("dsn-digits", {**data, "model.hidden": 16, "model.refine_epochs": 0},
                    out=tmp_path / "dsn", quiet=True)
    for run in (gmdh, dsn):
        assert run.config.model.num_classes == 2 and "accuracy" in run.summary["test"]


def test_cli_trains_records_and_evaluates(plants, tmp_path):
    out = tmp_path / "run"
    ann_cli("train", "pnn-iris", "data.name=table", f"data.path={plants}", "data.target=species",
            "--out", out)
    config = json.loads((out / "config.json").read_text())["data"]
    assert (config["name"], config["path"], config["target"]) == ("table", str(plants), "species")
    facts = json.loads((out / "data.json").read_text())
    assert facts["classes"] == ["iris", "rose", "tulip"] and facts["in_features"] == 5
    summary = json.loads((out / "summary.json").read_text())
    again = json.loads(ann_cli("eval", out, "--json").stdout)
    assert again["accuracy"] == pytest.approx(summary["test"]["accuracy"])
    assert ann.load(out).info["feature_names"][2] == "soil=clay"


def test_cli_bad_input_is_one_line(plants, tmp_path):
    fails_cleanly(ann_cli("train", "pnn-iris", "data.name=table", "data.target=species",
                          "--out", tmp_path / "a", check=False), "data.path")
    fails_cleanly(ann_cli("train", "pnn-iris", "data.name=table", f"data.path={plants}",
                          "data.target=kind", "--out", tmp_path / "b", check=False),
                  "no column 'kind'", "height, width, soil, species")
