"""Every recipe still resolves to the configuration recorded in tests/data/recipe_configs.json.

The table was written by tests/data/make_recipe_configs.py before the refactor that split the
recipes; it is the behaviour to keep. Only configurations are built (no dataset is read: the
loaders are replaced by one that fails), so this takes seconds.

Then the data section held every dataset's options; now a recipe's holds only its own dataset's
(each dataset declares them as a dataclass). So the table's rows for the options of other
datasets are gone from a config -- and must be: each such row is checked to be one that the
recipe never set (it held the option's default), so nothing the recipe said is lost.

Keys renamed since the table was written are renamed in the recorded table before comparing
(RENAMED, below), and keys added since with the same default for every recipe are added to it
(ADDED), so the comparison still proves that nothing else changed: the table is never
regenerated for a rename.
"""

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from ann import api, registry
from ann.recipes import RECIPES

DATA = Path(__file__).resolve().parent / "data"
TABLE = json.loads((DATA / "recipe_configs.json").read_text())
REGENERATE = "PYTHONPATH=src python tests/data/make_recipe_configs.py"


def _generator():
    spec = importlib.util.spec_from_file_location("make_recipe_configs",
                                                  DATA / "make_recipe_configs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


flat_config = _generator().flat_config

# Renames since the table was written: old key -> (new key, {old value: new value}). Checkpoint
# selection moved from the graph models' config (model.selection, whose "accuracy" was the
# task's own metric) to the engine's (train.select=metric|loss|window|last). A recipe whose model
# still has the old key (GMDH's model.selection, a fraction) keeps it: only a key that the
# configuration no longer has is renamed.
RENAMED = {
    "model.selection": ("train.select", {"accuracy": "metric"}),
    "model.select_window": ("train.select_window", {}),
}
# Keys added since, with the value every recipe that did not have them before must get.
ADDED = {"train.select": "metric", "train.select_window": 10, "train.workers": 0,
         "train.log_to": "csv"}
# Keys added since to some models' configs only, with the value every recipe whose config has
# them must get (the recurrent classifier's model.n_features: audio frames, 0 for rows/tokens).
ADDED_TO_SOME = {"model.n_features": 0}


def recorded(name: str, got: dict) -> dict:
    """The table's configuration of ``name`` in today's keys (RENAMED, ADDED)."""
    want = dict(TABLE[name])
    for old, (new, values) in RENAMED.items():
        if old in want and old not in got:
            value = want.pop(old)
            want[new] = values.get(value, value) if isinstance(value, str) else value
    for key, value in ADDED.items():
        want.setdefault(key, value)
    for key, value in ADDED_TO_SOME.items():
        if key in got:
            want.setdefault(key, value)
    return want


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """Building a config must not load a dataset (nor find one under $ANN_DATA_DIR)."""
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path / "no-data"))

    def refuse(*args, **kwargs):
        raise AssertionError("building a recipe's configuration loaded a dataset")

    registry._load_builtins()
    for entry in registry.DATASETS.values():
        monkeypatch.setattr(entry, "loader", refuse)


def test_every_recorded_recipe_still_exists():
    """The table freezes the recipes that existed before the refactor into tasks/, verbs and
    recipes/<family>.py; none of them may disappear. Recipes added later (a new family's) are
    not in it: a new family touches nothing outside its own files, this table included."""
    gone = sorted(set(TABLE) - set(RECIPES))
    assert not gone, (f"recipes in tests/data/recipe_configs.json that are no longer recipes: {gone}; "
                      "one removed on purpose leaves the table by rerunning "
                      f"`{REGENERATE}` (check that the diff touches only that recipe)")


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _other_datasets_defaults(dataset: str) -> dict[str, list]:
    """``data.KEY``: the defaults of option KEY in the options classes of the datasets that take
    it, for every option that ``dataset`` does not take."""
    own = set(registry.dataset_entry(dataset).option_names)
    out: dict[str, list] = {}
    for entry in registry.DATASETS.values():
        for f in dataclasses.fields(entry.options) if entry.options else ():
            if f.name not in own:
                out.setdefault(f"data.{f.name}", []).append(f.default)
    return out


@pytest.mark.parametrize("name", sorted(TABLE))
def test_recipe_config_is_unchanged(name, no_data):
    if name not in RECIPES:
        pytest.fail(f"recipe {name!r} is in tests/data/recipe_configs.json but no longer exists")
    rc = api.build_config(name)
    got = flat_config(rc)
    want = recorded(name, got)
    others = _other_datasets_defaults(rc.data.name)
    # compared as JSON text: 1 and 1.0, or true and 1, differ
    changed = [f"  {k}: {_show(want[k])} -> {_show(got[k])}"
               for k in want if k in got and _show(want[k]) != _show(got[k])]
    # dropped as they should be: another dataset's option, recorded at its default
    dropped = {k for k in want if k not in got and k in others
               and all(_show(want[k]) == _show(d) for d in others[k])}
    lost = [f"  {k} (was {_show(want[k])})" for k in want if k not in got and k not in dropped]
    added = [f"  {k} = {_show(got[k])}" for k in got if k not in want]
    kept = [f"  {k} = {_show(got[k])} (an option of another dataset)" for k in got if k in others]
    parts = [(f"{len(changed)} changed (table -> now)", changed),
             (f"{len(lost)} no longer in the config", lost),
             (f"{len(added)} new in the config", added),
             (f"{len(kept)} options of other datasets still in the config", kept)]
    message = "\n".join(f"{head}:\n" + "\n".join(rows) for head, rows in parts if rows)
    assert not message, (
        f"recipe {name!r} resolves to another configuration than tests/data/recipe_configs.json "
        f"records:\n{message}\n(if intended, rerun `{REGENERATE}`)")
    # exactly the other datasets' options are gone (all the table recorded)
    assert set(want) - set(got) == {k for k in want if k in others}
