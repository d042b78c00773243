"""`ann train --config FILE`: the same dotted keys and checks as the command line, from JSON or
YAML; a run's own config.json is a valid --config."""

import json

import pytest

import ann
from ann.api import build_config, read_config_file
from ann.errors import AnnError
from helpers import ann as ann_cli
from helpers import fails_cleanly


def test_sections_and_dotted_keys_read_as_the_command_line_would(tmp_path):
    f = tmp_path / "exp.json"
    f.write_text(json.dumps({"recipe": "mlp-digits", "train": {"epochs": 2, "lr": 0.005},
                             "model.dropout": 0.3}))
    recipe, settings = read_config_file(f)
    assert recipe == "mlp-digits"
    assert settings == {"train.epochs": 2, "train.lr": 0.005, "model.dropout": 0.3}
    rc = build_config(recipe, settings)
    assert (rc.train.epochs, rc.train.lr, rc.model.dropout) == (2, 0.005, 0.3)


def test_yaml_too(tmp_path):
    pytest.importorskip("yaml")
    f = tmp_path / "exp.yaml"
    f.write_text("recipe: cnn-digits\ntrain:\n  epochs: 1\n  batch_size: 32\n")
    assert read_config_file(f) == ("cnn-digits", {"train.epochs": 1, "train.batch_size": 32})


def test_a_runs_config_json_rebuilds_the_same_configuration(tmp_path):
    rc = build_config("gcn-karate", ["train.epochs=7", "model.dropout=0.1"])
    f = tmp_path / "config.json"
    f.write_text(json.dumps(rc.to_dict()))
    recipe, settings = read_config_file(f)
    assert build_config(recipe, settings).to_dict() == rc.to_dict()


def test_the_command_line_wins_and_trains(tmp_path):
    f = tmp_path / "exp.json"
    f.write_text(json.dumps({"recipe": "mlp-digits", "train": {"epochs": 5, "max_steps": 5}}))
    shown = ann_cli("train", "--config", f, "train.epochs=3", "--show-config").stdout
    assert any(line.split()[:2] == ["train.epochs", "3"] for line in shown.splitlines())
    run = ann.train(config=f, out=tmp_path / "run", quiet=True, **{"train.epochs": 0})
    assert run.summary["steps"] == 5 and run.config.recipe == "mlp-digits"


@pytest.mark.parametrize("text,words", [
    ("[1, 2]", ["must hold an object"]),
    ('{"recipe": "mlp-digits", "optimizer": {}}', ["unknown entry 'optimizer'", "model, data, train"]),
    ('{"recipe": "mlp-digits", "train": 3}', ["'train' must be a section"]),
    ('{"recipe": "mlp-digits", "train": {"lr": "fast"}}', ["train.lr must be a number"]),
    ('{"recipe": "mlp-digits", "model_name": "gpt"}', ["cannot change the model class"]),
    ('{"recipe": "mlp-digits", "train": {', ["not valid JSON"]),
])
def test_bad_files_fail_in_one_line(tmp_path, text, words):
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(AnnError) as err:
        recipe, settings = read_config_file(f)
        build_config(recipe, settings)
    assert "\n" not in str(err.value) and all(w in str(err.value) for w in words), str(err.value)
    fails_cleanly(ann_cli("train", "--config", f, "--show-config", check=False), *words)
    fails_cleanly(ann_cli("train", "--config", tmp_path / "none.json", check=False), "no such file")
