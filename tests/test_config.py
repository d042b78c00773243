"""The one configuration grammar: parsing, checks, unknown keys, JSON round trip."""

import dataclasses
import os
from pathlib import Path

import pytest
import torch

import ann
from ann import config as cfg
from ann.api import build_config
from ann.errors import AnnError
from ann.runner import _resolve_key
from ann.train import RunConfig


def test_short_dotted_and_double_underscore_keys_agree():
    a = build_config("cnn-digits", ["train.lr=0.01", "model.dropout=0.2"])
    b = build_config("cnn-digits", {"lr": 0.01, "model__dropout": 0.2})
    assert a.train.lr == b.train.lr == 0.01 and a.model.dropout == b.model.dropout == 0.2


def test_values_are_parsed_to_the_field_type():
    rc = build_config("cnn-digits", ["model.widths=8,16", "train.deterministic=yes",
                                     "train.max_steps=1_000"])
    assert rc.model.widths == (8, 16) and rc.train.deterministic is True
    assert rc.train.max_steps == 1000


def test_dataset_facts_fill_the_model_and_a_contrary_setting_is_refused():
    rc = build_config("cnn-mnist")
    assert rc.model.image_size == 28 and rc.model.num_classes == 10
    assert build_config("cnn-digits").model.image_size == 8
    with pytest.raises(AnnError, match="set against the data"):     # the data fixes classes
        build_config("cnn-digits", ["model.num_classes=12"])


def test_ambiguous_short_key_names_the_choices():
    @dataclasses.dataclass
    class WithSeed:
        seed: int = cfg.field(0, "a model field that shares its name with train.seed")

    rc = RunConfig(model=WithSeed())
    with pytest.raises(AnnError, match="ambiguous.*model.seed.*train.seed"):
        _resolve_key(rc, "seed")
    assert _resolve_key(rc, "lr") == "train.lr"


def test_unknown_key_lists_valid_keys_with_suggestion():
    with pytest.raises(AnnError) as e:
        build_config("cnn-digits", ["train.epoch=3"])
    msg = str(e.value)
    assert "did you mean 'train.epochs'" in msg and "train.lr" in msg and "\n" not in msg


@pytest.mark.parametrize("override,match", [
    ("train.lr=0", "greater than 0"), ("train.min_lr=1", "must not exceed"),
    ("train.momentum=2", "between"), ("train.device=tpu", "one of"),
    ("train.epochs=0", "epochs or train.max_steps"), ("data.augment_shift=-1", "between"),
    ("train.seed=1.5", "integer"), ("train.compile=maybe", "true or false"),
])
def test_bad_values_are_refused(override, match):
    with pytest.raises(AnnError, match=match):
        build_config("cnn-digits", [override])


def test_json_round_trip_rebuilds_the_same_config():
    rc = build_config("cnn-mnist", ["model.widths=8,16,32", "train.lr=0.002"])
    again = RunConfig.from_dict(rc.to_dict())
    assert again == rc


def test_from_dict_refuses_unknown_keys():
    d = build_config("cnn-digits").to_dict()
    d["train"]["bogus"] = 1
    with pytest.raises(AnnError, match="train.bogus"):
        RunConfig.from_dict(d)


def test_presets_and_unknown_names():
    assert ann.create_model("mlp", "mnist").config.hidden == (512, 256)
    with pytest.raises(AnnError, match="did you mean 'mlp'"):
        ann.create_model("mpl")
    with pytest.raises(AnnError, match="preset"):
        ann.create_model("mlp", "huge")
    with pytest.raises(AnnError, match="split"):
        ann.load_dataset("digits", "validation")


def test_dataset_defaults_never_override_the_model_context():
    # the text loaders' default window (256) must not replace the preset's block size (64)
    assert build_config("gpt-shakespeare").model.block_size == 64
    assert build_config("gpt-pydoc").model.block_size == 128


def test_dataset_specific_data_setting_on_a_dataset_that_ignores_it_fails():
    with pytest.raises(AnnError, match="does not take data.path"):
        build_config("cnn-digits", ["data.path=my.csv"])
    with pytest.raises(AnnError, match="does not take data.fold"):
        build_config("cnn-digits", ["data.fold=3"])


SHARED_DATA_KEYS = ["data.name", "data.augment_shift", "data.augment_flip", "data.train_subset",
                    "data.tokenizer"]


def test_a_run_has_the_shared_data_keys_and_its_datasets_own_only():
    assert [k for k in cfg.keys(build_config("cnn-digits")) if k.startswith("data.")] == SHARED_DATA_KEYS
    assert cfg.keys(build_config("rnn-sunspots").data, "data.") == [
        *SHARED_DATA_KEYS, "data.path", "data.column", "data.window", "data.horizon"]
    assert cfg.keys(build_config("gin-mutag").data, "data.") == [
        *SHARED_DATA_KEYS, "data.fold", "data.folds", "data.cv_protocol", "data.epoch_size"]
    rows = {k: h for k, _, h in cfg.describe(build_config("pnn-iris"))}
    assert rows["data.fold"].startswith("the cross-validation fold held out as test")


@pytest.mark.parametrize("recipe,override,match", [
    ("pnn-iris", "data.fold=x", "data.fold must be an integer"),
    ("pnn-iris", "data.folds=1", "data.folds must be between 2 and 1000"),
    ("gin-mutag", "data.cv_protocol=paper", "data.cv_protocol must be one of validate, xu2019"),
    ("rnn-sunspots", "data.window=-1", "data.window must be 0 or more"),
])
def test_data_options_are_parsed_and_checked_like_model_keys(recipe, override, match):
    with pytest.raises(AnnError, match=match):
        build_config(recipe, [override])


def test_another_datasets_option_is_an_unknown_key_that_says_who_takes_it():
    with pytest.raises(AnnError) as e:
        build_config("rnn-sunspots", ["data.fold=3"])
    msg = str(e.value)
    assert msg.startswith("unknown key 'data.fold': dataset 'sunspots' does not take data.fold "
                          "(it takes data.path, data.column, data.window, data.horizon; data.fold "
                          "is an option of ") and "iris" in msg and "mutag" in msg, msg
    assert msg.endswith("valid keys: " + ", ".join(
        [*SHARED_DATA_KEYS, "data.path", "data.column", "data.window", "data.horizon"])), msg
    assert "\n" not in msg
    with pytest.raises(AnnError, match="dataset 'digits' does not take data.fold"):
        build_config("cnn-digits", ["fold=3"])                      # the short key too
    with pytest.raises(AnnError, match="dataset 'pydoc-mlm' does not take data.extra_text"):
        build_config("bert-sst2-mlm", ["data.name=pydoc-mlm"])      # the recipe's own setting
    with pytest.raises(AnnError, match="unknown key 'data.bogus'.*valid keys: data.name"):
        build_config("cnn-digits", ["data.bogus=1"])


def test_data_name_given_on_the_command_line_brings_its_datasets_options():
    rc = build_config("detector-shapes", ["data.path=boxes", "data.name=detection-folder"])
    assert rc.data.name == "detection-folder" and rc.data.path == os.path.abspath("boxes")
    with pytest.raises(AnnError, match="does not take data.path"):
        build_config("detector-shapes", ["data.path=boxes"])


def test_json_round_trip_keeps_the_datasets_options():
    rc = build_config("gin-mutag", ["data.fold=3", "data.cv_protocol=xu2019"])
    again = RunConfig.from_dict(rc.to_dict())
    assert again == rc and again.data.fold == 3 and again.data.cv_protocol == "xu2019"
    assert "speaker" not in rc.to_dict()["data"]


def test_a_config_json_with_every_datasets_options_reads():
    """Before each dataset declared its options, a run's data section held all of them: the
    dataset's own are kept, the others dropped, whatever their value."""
    import json
    from pathlib import Path

    old = json.loads((Path(__file__).parent / "data/old_runs/pnn-iris/config.json").read_text())
    assert {"speaker", "edges", "window"} <= set(old["data"])      # the earlier shape
    old["data"].update(fold=2, speaker="jackson")
    rc = RunConfig.from_dict(old)
    assert rc.data == build_config("pnn-iris", ["data.fold=2"]).data
    old["data"]["bogus"] = 1
    with pytest.raises(AnnError, match="data.bogus"):
        RunConfig.from_dict(old)


def test_a_dataset_declares_its_options_as_a_dataclass_its_loader_takes():
    from ann.registry import register_dataset

    with pytest.raises(TypeError, match="must be a dataclass"):
        register_dataset("bad", info={}, embedded=True, options=("path",))

    @dataclasses.dataclass
    class PathOptions:
        path: str = cfg.field("", "a file")

    with pytest.raises(TypeError, match="takes no keyword path"):
        register_dataset("bad", info={}, embedded=True, options=PathOptions)(lambda split: None)


def test_a_loader_that_returns_no_split_fails_in_one_line(tmp_path):
    # what the engine asks of a split (len, batch, info, collated) is ann.split.Split: a loader
    # that hands back anything else is refused before a run directory is made
    from ann import api
    from ann.registry import DATASETS, register_dataset

    register_dataset("raw-arrays", info={"task": "classify", "num_classes": 10, "in_channels": 1,
                                           "image_size": 8},
                     embedded=True)(lambda split: (torch.zeros(6, 1, 8, 8), torch.zeros(6)))
    try:
        with pytest.raises(AnnError, match="returned a tuple for its train split; a loader "
                           "returns an ann.split.Split"):
            api.train("mlp-digits", ["data.name=raw-arrays"], out=tmp_path / "run", quiet=True)
        assert not (tmp_path / "run").exists()
    finally:
        del DATASETS["raw-arrays"]


def test_a_users_file_is_kept_as_an_absolute_path(tmp_path, monkeypatch):
    # config.json must find the file again from whatever folder `ann eval` is run in
    monkeypatch.chdir(tmp_path)
    rc = build_config("gcn-custom", ["data.edges=graph/edges.csv", "data.features=~/nodes.csv"])
    assert rc.data.edges == str(tmp_path / "graph" / "edges.csv")
    assert rc.data.features == str(Path("~/nodes.csv").expanduser())
    assert build_config("gcn-custom").data.edges == ""          # unset stays unset


def test_a_list_of_the_users_files_is_kept_absolute_file_by_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = build_config("gpt-shakespeare", ["data.name=text-file", "data.path=a.txt, notes/b.txt"])
    assert rc.data.path == f"{tmp_path / 'a.txt'},{tmp_path / 'notes' / 'b.txt'}"


@pytest.mark.parametrize("tp,value,words", [
    (float, "inf", "finite"), (float, "-inf", "finite"), (float, "nan", "finite"),
    (float, float("inf"), "finite"), (int, str(2 ** 64), "64 bits"), (int, 2 ** 63, "64 bits"),
    (int, -2 ** 63 - 1, "64 bits"),
])
def test_a_number_no_engine_can_take_is_refused_before_anything_runs(tp, value, words):
    """``train.lr=inf`` or ``train.seed=2**64`` end in one line when the configuration is read
    (issue 30), not in a NaN loss or an overflow inside torch after the run directory exists."""
    from ann.config import parse_value

    with pytest.raises(AnnError, match=words):
        parse_value(tp, value, "train.x")
    assert parse_value(int, str(2 ** 63 - 1), "train.x") == 2 ** 63 - 1


def test_an_infinite_learning_rate_writes_no_run_directory(tmp_path):
    with pytest.raises(AnnError, match="train.lr must be a finite number"):
        ann.train("cnn-digits", {"train.lr": "inf"}, out=tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()
