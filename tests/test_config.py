"""The one configuration grammar: parsing, checks, unknown keys, JSON round trip."""

import dataclasses

import pytest

import ann
from ann import config as cfg
from ann.api import _resolve_key, build_config
from ann.errors import AnnError
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


def test_dataset_facts_fill_the_model_unless_set():
    rc = build_config("cnn-mnist")
    assert rc.model.image_size == 28 and rc.model.num_classes == 10
    assert build_config("cnn-digits").model.image_size == 8
    assert build_config("cnn-digits", ["model.num_classes=12"]).model.num_classes == 12


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
