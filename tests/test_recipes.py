"""The recipe table: one file per model family under ann/recipes/, each holding exactly the rows
of its family, collected without a list to keep in step."""

import ast
import pkgutil
from pathlib import Path

import pytest

from ann import recipes, registry
from ann.errors import AnnError
from ann.recipes import RECIPES, get_recipe


def _rows_of(module: str) -> list[str]:
    """The names of the recipes a family file defines (the first argument of each ``Recipe(...)``)."""
    tree = ast.parse((Path(recipes.__file__).parent / f"{module}.py").read_text())
    return [node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Recipe"]


def test_every_family_file_holds_its_family_and_every_row_is_collected():
    modules = [m.name for m in pkgutil.iter_modules(recipes.__path__) if not m.name.startswith("_")]
    assert list(recipes.FAMILY_MODULES) == sorted(modules)
    families = {registry.model_entry(m).family for m in registry.list_models()}
    seen = []
    for module in modules:
        assert module in families, f"recipes/{module}.py is not named after a model family"
        rows = _rows_of(module)
        assert rows, f"recipes/{module}.py has no recipe"
        for name in rows:
            assert RECIPES[name].family == module, f"{name} belongs in recipes/{RECIPES[name].family}.py"
        seen += rows
    assert sorted(seen) == sorted(RECIPES)          # each row in one file, every file collected


def test_family_comes_from_the_model_registry():
    for r in RECIPES.values():
        assert r.family == registry.model_entry(r.model).family
    assert get_recipe("cnn-mnist").family == "cnn" and get_recipe("gcn-cora").family == "gnn"


def test_an_unknown_recipe_lists_the_choices():
    with pytest.raises(AnnError, match="cnn-mnist"):
        get_recipe("cnn-mnsit")
