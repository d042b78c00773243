"""The command line end to end, through subprocesses, and every bad input named in issue 2."""

import json

import numpy as np
import pytest

from ann.recipes import RECIPES
from helpers import ann, fails_cleanly

QUICK = ["train.epochs=0", "train.max_steps=60", "train.eval_every=30", "train.batch_size=32"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, conv):
    out = tmp_path_factory.mktemp("runs") / "cnn"
    ann("train", "cnn-digits", *QUICK, *conv.args, "--out", out)
    return out


def test_list_shows_every_recipe_with_its_target():
    out = ann("list").stdout
    for name in ("mlp-digits", "cnn-digits", "mlp-mnist", "lenet-mnist", "cnn-mnist", "cnn-fashion"):
        assert name in out
    row = next(line for line in out.splitlines() if line.startswith("cnn-mnist "))
    assert "0.994" in row and "real" in row and "accuracy" in row
    assert "embedded" in next(line for line in out.splitlines() if line.startswith("cnn-digits "))
    # grouped by family: one block of rows per family, blocks apart by a blank line
    blocks = out.strip().split("\n\n")
    families = [{line.split()[1] for line in b.splitlines() if line.split()[0] in RECIPES} for b in blocks]
    assert all(len(f) == 1 for f in families) and len(families) == len({r.family for r in RECIPES.values()})
    assert "mlp" in ann("list", "--models").stdout
    assert "digits" in ann("list", "--datasets").stdout


def test_help_has_examples():
    for cmd in ("train", "eval", "predict", "info", "list"):
        out = ann(cmd, "-h").stdout
        assert "examples:" in out and f"ann {cmd}" in out


@pytest.mark.convergence
def test_train_writes_a_complete_run_directory(run_dir):
    for name in ("config.json", "metrics.jsonl", "summary.json", "model.safetensors",
                 "curves.png", "confusion.png", "checkpoints/latest.json"):
        assert (run_dir / name).exists(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 60 and summary["recipe"] == "cnn-digits"
    assert summary["test"]["accuracy"] > 0.5
    assert summary["parameters"]["weights"] + summary["parameters"]["biases"] == \
        summary["parameters"]["total"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["max_steps"] == 60 and config["model"]["image_size"] == 8
    splits = {json.loads(line)["split"] for line in (run_dir / "metrics.jsonl").open()}
    assert splits == {"train", "val", "test"}


def test_eval_reproduces_the_summary(run_dir):
    out = json.loads(ann("eval", run_dir, "--json").stdout)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert out["accuracy"] == pytest.approx(summary["test"]["accuracy"])
    assert "val accuracy" in ann("eval", run_dir, "--split", "val").stdout


def test_info_prints_layer_table(run_dir):
    out = ann("info", run_dir).stdout
    assert "cnn-digits" in out and "weights" in out.lower() and "bias" in out.lower()


def test_predict_npy_and_png(run_dir, tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.save(tmp_path / "d.npy", digits.images[0])
    out = ann("predict", run_dir, tmp_path / "d.npy", "--json").stdout
    result = json.loads(out)
    assert result["class"] in [str(i) for i in range(10)] and len(result["top"]) == 3
    probs = [p for _, p in result["top"]]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1


def test_predict_png_and_wrong_channels(run_dir, tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits

    img = (load_digits().images[3] * 255 / 16).astype(np.uint8)          # a "3", 8x8
    Image.fromarray(img, mode="L").save(tmp_path / "three.png")
    out = ann("predict", run_dir, tmp_path / "three.png").stdout
    assert out.startswith(str(tmp_path / "three.png") + ": ")
    Image.fromarray(np.stack([img] * 3, -1), mode="RGB").save(tmp_path / "rgb.png")
    fails_cleanly(ann("predict", run_dir, tmp_path / "rgb.png", check=False), "rgb.png", "channel")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    fails_cleanly(ann("predict", run_dir, tmp_path / "broken.png", check=False), "broken.png")


def test_python_api_round_trip(run_dir):
    import ann as ann_api

    run = ann_api.load(run_dir)
    assert run.config.recipe == "cnn-digits"
    acc = run.evaluate("test")["accuracy"]
    assert acc == pytest.approx(run.summary["test"]["accuracy"])


# -- bad input: one line, non-zero exit, nothing overwritten --------------------------------------
def test_unknown_recipe_suggests():
    fails_cleanly(ann("train", "cnn-digts", check=False), "unknown recipe", "cnn-digits")


def test_unknown_key_lists_valid_keys():
    line = fails_cleanly(ann("train", "cnn-digits", "train.lrr=0.1", check=False), "train.lrr")
    assert "train.lr" in line and "valid keys" in line


@pytest.mark.parametrize("override,words", [
    ("train.lr=-1", ("train.lr", "greater than 0")),
    ("train.batch_size=0", ("train.batch_size", "greater than 0")),
    ("train.lr=fast", ("train.lr", "number")),
    ("model.widths=a,b", ("model.widths", "integer")),
    ("train.optimizer=adam", ("train.optimizer", "adamw")),
])
def test_bad_values(override, words):
    fails_cleanly(ann("train", "cnn-digits", override, check=False), *words)


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    fails_cleanly(ann("train", "--resume", tmp_path, check=False), "not an ann run directory")
    fails_cleanly(ann("train", "--resume", tmp_path / "nope", check=False), "not a folder")


def test_out_pointing_at_another_run_changes_nothing(run_dir, tmp_path):
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    fails_cleanly(ann("train", "mlp-digits", "--out", run_dir, check=False), "already holds a run")
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert before == after


def test_corrupt_checkpoint_on_resume(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    pointer = json.loads((copy / "checkpoints/latest.json").read_text())
    state = copy / "checkpoints" / pointer["last"] / "state.pt"
    state.write_bytes(state.read_bytes()[:100])
    fails_cleanly(ann("train", "--resume", copy, "train.max_steps=90", check=False),
                  "state.pt", "damaged")
    weights = copy / "checkpoints" / pointer["last"] / "model.safetensors"
    weights.write_bytes(b"not safetensors at all")
    fails_cleanly(ann("train", "--resume", copy, check=False), "model.safetensors")


def test_predict_bad_inputs(run_dir, tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((28, 28)))
    fails_cleanly(ann("predict", run_dir, tmp_path / "big.npy", check=False), "28", "8")
    np.save(tmp_path / "rgb.npy", np.zeros((3, 8, 8)))
    fails_cleanly(ann("predict", run_dir, tmp_path / "rgb.npy", check=False), "(3, 8, 8)", "(1, 8, 8)")
    (tmp_path / "x.txt").write_text("hello")
    fails_cleanly(ann("predict", run_dir, tmp_path / "x.txt", check=False), "x.txt")
    fails_cleanly(ann("predict", run_dir, tmp_path / "missing.png", check=False), "missing.png")


def test_missing_dataset_offline_names_the_files(tmp_path):
    line = fails_cleanly(ann("train", "cnn-mnist", check=False, ANN_DATA_DIR=tmp_path,
                             ANN_OFFLINE=1), "mnist")
    assert "idx" in line and "http" in line


def test_debug_shows_the_traceback():
    proc = ann("--debug", "train", "cnn-digts", check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_augmentation_is_refused_where_targets_would_not_move_with_the_pixels(tmp_path):
    proc = ann("train", "detector-shapes-quick", "data.augment_flip=true", "train.max_steps=1",
               "--out", tmp_path / "d", check=False)
    fails_cleanly(proc, "augment", "classification only")


def test_output_cut_short_by_its_reader_is_not_an_error():
    # `ann list --datasets | head -1`: the reader closes the pipe early (here before `ann` has
    # written anything: importing torch alone takes longer than that)
    import subprocess
    import sys

    from helpers import env

    proc = subprocess.Popen([sys.executable, "-m", "ann", "list", "--datasets"], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err == b"", err
