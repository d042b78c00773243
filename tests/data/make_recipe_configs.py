"""Write tests/data/recipe_configs.json: every recipe's resolved configuration, key by key.

Run once before a refactor; the table is the behaviour to keep:

    PYTHONPATH=src python tests/data/make_recipe_configs.py

For each recipe of `ann list`, ``ann.api.build_config(recipe)`` gives the full RunConfig (the
model's defaults, its preset, the recipe's overrides, the facts filled from the dataset's static
info); the table holds it flat, ``{dotted key: value}``, with the keys `ann train R --show-config`
prints (``ann.config.describe``) plus ``recipe`` and ``model_name``, values as JSON (tuples
become lists). tests/test_recipe_configs.py rebuilds every config and compares with the table.
Building a config reads no dataset, so the table needs no data.

Rerun it (and commit the table) only when a change of a recipe's configuration is intended, or
to add a new recipe: after a refactor that should change nothing, the test is the check, not
this script.
"""

from __future__ import annotations

import json
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "recipe_configs.json"


def flat_config(rc) -> dict:
    """``{dotted key: JSON value}`` of every key of a RunConfig, in the config's own order."""
    from ann import config

    return {key: json.loads(json.dumps(value)) for key, value, _ in config.describe(rc)}


def build_table() -> dict:
    from ann import api
    from ann.recipes import list_recipes

    return {r.name: flat_config(api.build_config(r.name))
            for r in sorted(list_recipes(), key=lambda r: r.name)}


def dumps(table: dict) -> str:
    """JSON with one key per line and each value on its line (reviewable diffs)."""
    def line(k, v):
        return f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, allow_nan=False)}"

    recipes = [f" {json.dumps(name)}: {{\n" + ",\n".join(line(k, v) for k, v in flat.items()) + "\n }"
               for name, flat in table.items()]
    return "{\n" + ",\n".join(recipes) + "\n}\n"


def main():
    table = build_table()
    text = dumps(table)
    assert json.loads(text) == table
    TABLE.write_text(text)
    keys = sum(len(v) for v in table.values())
    print(f"wrote {TABLE}: {len(table)} recipes, {keys} keys")


if __name__ == "__main__":
    main()
