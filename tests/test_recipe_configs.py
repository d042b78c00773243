"""Every recipe still resolves to the configuration recorded in tests/data/recipe_configs.json.

The table was written by tests/data/make_recipe_configs.py before the refactor that split the
recipes; it is the behaviour to keep. Only configurations are built (no dataset is read: the
loaders are replaced by one that fails), so this takes seconds.
"""

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


@pytest.mark.parametrize("name", sorted(TABLE))
def test_recipe_config_is_unchanged(name, no_data):
    if name not in RECIPES:
        pytest.fail(f"recipe {name!r} is in tests/data/recipe_configs.json but no longer exists")
    want, got = TABLE[name], flat_config(api.build_config(name))
    # compared as JSON text: 1 and 1.0, or true and 1, differ
    changed = [f"  {k}: {_show(want[k])} -> {_show(got[k])}"
               for k in want if k in got and _show(want[k]) != _show(got[k])]
    lost = [f"  {k} (was {_show(want[k])})" for k in want if k not in got]
    added = [f"  {k} = {_show(got[k])}" for k in got if k not in want]
    parts = [(f"{len(changed)} changed (table -> now)", changed),
             (f"{len(lost)} no longer in the config", lost),
             (f"{len(added)} new in the config", added)]
    message = "\n".join(f"{head}:\n" + "\n".join(rows) for head, rows in parts if rows)
    assert not message, (
        f"recipe {name!r} resolves to another configuration than tests/data/recipe_configs.json "
        f"records:\n{message}\n(if intended, rerun `{REGENERATE}`)")
