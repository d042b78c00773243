"""Your own data from Python: ``ann.train(RECIPE, data=(x, y))`` with arrays, tensors or a Dataset
(the ``arrays`` source), the run then used from the command line with nothing passed, and
sources registered from Python (``ann.register_dataset``, ``ann --import MODULE``)."""

import csv
import json
import shutil
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.metrics import accuracy_score, r2_score

import ann
from ann import cli, registry
from ann.errors import AnnError
from helpers import ann as ann_cli
from helpers import fails_cleanly

SPECIES = np.array(["setosa", "versicolor", "virginica"])
TINY = {"train.threads": 1}
TINY_CNN = {**TINY, "model.widths": "8", "model.blocks": 1, "train.epochs": 0,
            "train.max_steps": 2, "train.eval_every": 2}


def main(capsys, *args) -> str:
    """``ann ARGS`` run in this process; its standard output (a non-zero exit fails)."""
    capsys.readouterr()
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    return x, SPECIES[y]


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return d.images.astype(np.uint8)[:200], d.target[:200]


def test_numpy_rows_with_string_labels_then_every_command(iris, tmp_path, capsys):
    x, y = iris
    out = tmp_path / "run"
    run = ann.train("pnn-iris", TINY, data=(x, y), out=out, quiet=True)
    # recorded so that later commands find the arrays: data.name and the file inside the run
    config = json.loads((out / "config.json").read_text())["data"]
    assert config["name"] == "arrays" and config["path"] == str((out / "data/arrays.npz").resolve())
    with np.load(out / "data/arrays.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["x_train", "y_train"]
        assert npz["x_train"].shape == (150, 4) and list(npz["y_train"][:1]) == ["setosa"]
    assert run.info["classes"] == list(SPECIES) and run.config.model.in_features == 4
    # the seeded split is stratified: 20% test, 10% val, the rest train, per class
    test = ann.load_dataset("arrays", "test", path=config["path"])
    assert len(test) == 30 and torch.bincount(test.y).tolist() == [10, 10, 10]
    # eval from the command line: the figure training reported
    again = json.loads(main(capsys, "eval", out, "--json"))
    assert again["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])
    # predict a CSV of rows: class names from the labels; the accuracy on its y column agrees
    # with scikit-learn's on the printed classes
    rows = tmp_path / "rows.csv"
    pick = np.arange(0, 150, 7)
    rows.write_text("x0,x1,x2,x3,y\n" + "".join(
        ",".join(map(str, x[i])) + f",{y[i]}\n" for i in pick))
    main(capsys, "predict", out, rows, "--out", tmp_path / "pred.csv")
    predicted = [r["class"] for r in read_csv(tmp_path / "pred.csv")]
    assert set(predicted) <= set(SPECIES) and len(predicted) == len(pick)
    lines = main(capsys, "predict", out, rows).splitlines()
    assert f"accuracy {accuracy_score(y[pick], predicted):.4f}" in lines[-1]
    assert "dataset arrays" in main(capsys, "info", out)
    # a run folder moved elsewhere finds its arrays inside itself
    moved = shutil.move(out, tmp_path / "moved")
    again = json.loads(main(capsys, "eval", moved, "--json"))
    assert again["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])
    assert ann.load(moved).config.data.path == str((tmp_path / "moved/data/arrays.npz").resolve())


def test_torch_tensors_for_an_image_recipe_eval_predict_resume(digits, tmp_path, capsys):
    x, y = digits
    out = tmp_path / "run"
    run = ann.train("cnn-digits", {**TINY_CNN, "train.checkpoint_every": 1}, out=out,
                    quiet=True, data=(torch.from_numpy(x), torch.from_numpy(y)))
    c = run.config.model
    assert (c.in_channels, c.image_size, c.num_classes) == (1, 8, 10)
    assert run.info["classes"] == [str(i) for i in range(10)]
    again = json.loads(main(capsys, "eval", out, "--json"))
    assert again["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])
    # an .npy image on the arrays' own scale, classified as the Python model does
    np.save(tmp_path / "one.npy", x[5])
    answer = json.loads(main(capsys, "predict", out, tmp_path / "one.npy", "--json"))
    # the training part is standardised: mean 0 and std 1 over its pixels
    train = ann.load_dataset("arrays", "train", path=run.config.data.path)
    assert train.x.shape == (140, 1, 8, 8)
    assert float(train.x.mean()) == pytest.approx(0, abs=1e-5)
    assert float(train.x.std(unbiased=False)) == pytest.approx(1, abs=1e-4)
    pixels = (x[5] / 255 - np.ravel(run.info["mean"])[0]) / np.ravel(run.info["std"])[0]
    expected = run.predict(torch.tensor(pixels, dtype=torch.float32)[None, None]).argmax()
    assert answer["class"] == str(int(expected))
    # resume from the command line: two more steps on the arrays the run kept
    main(capsys, "train", "--resume", out, "train.max_steps=4", "--quiet")
    assert json.loads((out / "summary.json").read_text())["steps"] == 4


def test_a_dataset_of_pairs_is_read_once(digits, tmp_path):
    x, y = digits
    reads = []

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 100

        def __getitem__(self, i):
            reads.append(i)
            return torch.tensor(x[i].ravel(), dtype=torch.float32), int(y[i] % 2)

    run = ann.train("mlp-digits", {**TINY, "train.epochs": 1}, data=Pairs(),
                    out=tmp_path / "run", quiet=True)
    assert sorted(reads) == list(range(100))                  # each item once, none again
    assert run.config.model.in_channels == 64 and run.config.model.num_classes == 2
    assert run.info["classes"] == ["0", "1"]
    sizes = [len(ann.load_dataset("arrays", s, path=run.config.data.path))
             for s in ("train", "val", "test")]
    assert sizes == [70, 10, 20]


def test_regression_with_val_and_test_matches_scikit_learn_r2(tmp_path, capsys):
    x, y = load_diabetes(return_X_y=True)
    out = tmp_path / "run"
    run = ann.train("grnn-diabetes", TINY, out=out, quiet=True, data=(x[:200], y[:200]),
                    val=(x[200:250], y[200:250]), test=(x[250:300], y[250:300]))
    assert run.info["task"] == "regression" and run.config.model.in_features == 10
    with np.load(out / "data/arrays.npz", allow_pickle=False) as npz:
        assert np.allclose(npz["x_test"], x[250:300]) and npz["y_val"].dtype == np.float32
    np.save(tmp_path / "test.npy", x[250:300])
    main(capsys, "predict", out, tmp_path / "test.npy", "--out", tmp_path / "pred.csv")
    pred = [float(r["prediction"]) for r in read_csv(tmp_path / "pred.csv")]
    assert run.summary["test"]["r2"] == pytest.approx(r2_score(y[250:300], pred), abs=1e-4)


def test_an_npz_of_your_own_from_the_command_line(iris, tmp_path, capsys):
    x, y = iris
    file = tmp_path / "mine.npz"
    np.savez(file, x_train=x[::2], y_train=y[::2], x_test=x[1::2], y_test=y[1::2])
    main(capsys, "train", "pnn-iris", "data.name=arrays", f"data.path={file}", "--out",
         tmp_path / "run", "--quiet")
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["dataset"] == "arrays" and "baselines" in summary and "target" not in summary
    assert len(ann.load_dataset("arrays", "test", path=str(file))) == 75


@pytest.mark.parametrize("recipe,x,y,words", [
    ("pnn-iris", np.zeros((40, 1, 8, 8)), np.arange(40) % 2, ["(N, F)", "(N, 1, 8, 8)"]),
    ("cnn-digits", np.zeros((40, 5)), np.arange(40) % 2, ["(N, 5)", "(N, C, H, W)"]),
    ("cnn-digits", np.zeros((40, 8, 8)), np.linspace(0, 1, 40), ["class labels"]),
    ("grnn-diabetes", np.zeros((40, 3)), np.array(["a", "b"] * 20), ["numbers"]),
    ("gpt-pydoc", np.zeros((40, 3)), np.arange(40) % 2, ["gpt-pydoc", "lm data", "arrays"]),
    ("cnn-digits", np.zeros((40, 1, 8, 6)), np.arange(40) % 2, ["square"]),
    ("cnn-digits", np.zeros((40, 8, 8, 3)), np.arange(40) % 2, ["(N, C, H, W)", "transpose"]),
    ("cnn-digits", np.zeros((40, 8, 8)), np.arange(41) % 2, ["40 inputs but 41 targets"]),
    ("pnn-iris", np.full((40, 2), np.nan), np.arange(40) % 2, ["NaN"]),
    ("clip-digits", np.zeros((40, 8, 8)), np.arange(40) % 2, ["clip-digits", "image-text", "arrays"]),
    ("unet-shapes", np.zeros((40, 8, 8)), np.arange(40) % 2, ["unet-shapes", "segment data", "arrays"]),
])
def test_what_the_model_cannot_take_is_one_line_and_writes_nothing(recipe, x, y, words,
                                                                   tmp_path):
    out = tmp_path / "run"
    with pytest.raises(AnnError) as err:
        ann.train(recipe, TINY, data=(x, y), out=out, quiet=True)
    message = str(err.value)
    assert "\n" not in message
    for w in words:
        assert w in message, (w, message)
    assert not out.exists()


def test_misuse_of_data_val_test(iris, tmp_path):
    x, y = iris
    with pytest.raises(AnnError, match="val= and test= go with data="):
        ann.train("pnn-iris", val=(x, y), out=tmp_path / "a")
    with pytest.raises(AnnError, match="names another dataset"):
        ann.train("pnn-iris", {"data.name": "iris"}, data=(x, y), out=tmp_path / "b")
    with pytest.raises(AnnError, match="not an \\(input, target\\) pair"):
        ann.train("pnn-iris", data=torch.utils.data.TensorDataset(*torch.zeros(3, 4, 2)),
                  out=tmp_path / "c")


# --- inputs alone: the recipes that learn without labels ----------------------------------------
AE_TINY = {**TINY, "train.epochs": 0, "train.max_steps": 60, "train.eval_every": 60,
           "train.seed": 0}


def test_inputs_alone_train_an_autoencoder_and_every_command_works(tmp_path, capsys):
    x = (load_digits().images[:300] / 16.0).astype(np.float32)        # (N, 8, 8) in [0, 1]
    untrained = ann.train("ae-digits", {**AE_TINY, "train.max_steps": 1}, data=x,
                          out=tmp_path / "untrained", quiet=True)
    run = ann.train("ae-digits", AE_TINY, data=torch.from_numpy(x), out=tmp_path / "ae",
                    quiet=True)
    first, trained = untrained.summary["test"], run.summary["test"]
    # the reconstruction error is measured in pixels (data space [0, 1], the arrays' own mean
    # and std undone), so training lowers it well below the untrained model's
    assert trained["mse"] < 0.6 * first["mse"], (first, trained)
    assert 0 < trained["mse"] < 0.2
    config = json.loads((tmp_path / "ae" / "config.json").read_text())
    assert config["data"]["name"] == "arrays"
    with np.load(tmp_path / "ae" / "data" / "arrays.npz") as npz:
        assert sorted(npz.files) == ["x_train"]                      # no targets were made up
    again = json.loads(main(capsys, "eval", tmp_path / "ae", "--json"))
    assert again["mse"] == pytest.approx(trained["mse"], rel=1e-5)
    files = [tmp_path / f"{i}.npy" for i in range(3)]
    for i, f in enumerate(files):
        np.save(f, x[i])
    assert main(capsys, "predict", tmp_path / "ae", *files).count("score") == 3


def test_a_dataset_of_inputs_alone_trains_an_unconditional_gan(tmp_path):
    x = torch.from_numpy(load_digits().images[:200] / 16.0).float()[:, None]   # (N, 1, 8, 8)
    run = ann.train("dcgan-digits", {**AE_TINY, "train.max_steps": 4},
                    data=torch.utils.data.TensorDataset(x), out=tmp_path / "gan", quiet=True)
    assert np.isfinite(run.summary["test"]["fd_pixels"])


@pytest.mark.parametrize("recipe,words", [
    ("cnn-digits", ["learns from labelled examples", "data=(x, y)"]),
    ("cgan-mnist", ["learns from labelled examples", "unconditional"]),
])
def test_inputs_alone_refused_where_labels_are_needed(recipe, words, tmp_path):
    with pytest.raises(AnnError) as err:
        ann.train(recipe, TINY, data=np.zeros((40, 8, 8), np.float32), out=tmp_path / "r",
                  quiet=True)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert not (tmp_path / "r").exists()


def test_targets_for_some_parts_only_are_refused(tmp_path):
    x = np.zeros((40, 8, 8), np.float32)
    with pytest.raises(AnnError, match="targets for every part or for none"):
        ann.train("ae-digits", TINY, data=x, val=(x[:4], np.arange(4) % 2), out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


MODULE = '''
import numpy as np
import torch

import ann
from ann.data import ArrayDataset

INFO = {"task": "classify", "num_classes": 2, "in_features": 2, "classes": ["no", "yes"]}


@ann.register_dataset("toy-points", info=INFO, embedded=True)
def load_toy(split):
    rng = np.random.RandomState({"train": 0, "val": 1, "test": 2}[split])
    y = np.arange(40) % 2
    x = rng.randn(40, 2) + 3 * y[:, None]
    return ArrayDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y), dict(INFO))
'''


def test_a_source_registered_from_python_and_the_import_flag(tmp_path, monkeypatch, capsys):
    (tmp_path / "toy_source.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "DATASETS", dict(registry.DATASETS))   # undone afterwards
    monkeypatch.delitem(sys.modules, "toy_source", raising=False)
    import toy_source  # noqa: F401

    out = tmp_path / "run"
    run = ann.train("pnn-iris", TINY, data__name="toy-points", out=out, quiet=True)
    assert json.loads((out / "config.json").read_text())["data"]["registered_by"] == "toy_source"
    assert json.loads((out / "data.json").read_text())["registered_by"] == "toy_source"
    # a new process without the module: one line saying what to pass
    fails_cleanly(ann_cli("eval", out, check=False, cwd=tmp_path),
                  "dataset 'toy-points' was registered by module 'toy_source'",
                  "--import toy_source")
    # with it (a new process: the module is imported from the current folder)
    again = json.loads(ann_cli("--import", "toy_source", "eval", out, "--json",
                               cwd=tmp_path).stdout)
    assert again["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])
    # the flag also after the command; a module that is not there is one line
    again = json.loads(main(capsys, "eval", out, "--json", "--import=toy_source"))
    assert again["accuracy"] == pytest.approx(run.summary["test"]["accuracy"])
    assert cli.main(["--import", "no_such_module", "eval", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        "ann: error: --import no_such_module: cannot import it (No module named "
        "'no_such_module'); give a module on the Python path (a file NAME.py in the current "
        "folder, or an installed package)")


def test_ann_exports_register_dataset():
    assert ann.register_dataset is registry.register_dataset
    assert "register_dataset" in ann.__all__ and "register_dataset" in ann.__doc__
