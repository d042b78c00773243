"""Named, runnable recipes: a model preset, a dataset, training settings and the target to reach.

``ann list`` prints this table; ``ann train NAME [key=value ...]`` runs a row. Targets are what the
recipe must reach on its test split; ``benchmarks/`` measures them and BENCHMARKS.md records the
results. The reference figures come from ../shared/REFERENCES.md.

The rows live one file per model family (``recipes/<family>.py``, the family of
``ann.registry.MODELS``); every module of this package is imported below, in the order of its name,
so a new family adds its file and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

from ..errors import unknown
from ..registry import model_entry


@dataclass(frozen=True)
class TourStop:
    """A recipe's stop in ``ann tour`` (ann.apps.tour): the family it shows and the budget it gets.

    ``train`` overrides the recipe's budget (``epochs`` or ``max_steps``) and evaluation cadence;
    other settings stay the recipe's. ``--budget`` scales ``epochs``/``max_steps`` in proportion.
    """

    name: str                      # the stop's name: `ann tour --only NAME`, tour/runs/NAME
    seconds: float                 # measured wall time on 2 cores at the default budget (weighs the bar)
    train: dict = field(default_factory=dict)   # train.* overrides of the stop


@dataclass(frozen=True)
class Recipe:
    name: str                      # family-dataset
    model: str                     # registered model name
    dataset: str                   # registered dataset name
    metric: str                    # reported on the test split
    target: float                  # the test metric a full run must reach
    description: str
    preset: str | None = None      # model preset
    model_overrides: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    reference: str = ""            # the published figure the target is measured against
    pretrain: str | None = None    # a recipe trained first, whose weights start this one
    tour: TourStop | None = None   # the recipe's stop in `ann tour`, if it is one

    @property
    def family(self) -> str:
        """The model's family in the registry (the file of ``recipes/`` that holds the row)."""
        return model_entry(self.model).family


RECIPES: dict[str, Recipe] = {}


def add(recipe: Recipe):
    if recipe.name in RECIPES:
        raise ValueError(f"recipe {recipe.name!r} defined twice")
    RECIPES[recipe.name] = recipe


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise unknown("recipe", name, RECIPES)
    return RECIPES[name]


def list_recipes() -> list[Recipe]:
    return [RECIPES[k] for k in sorted(RECIPES)]


FAMILY_MODULES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))
for _family in FAMILY_MODULES:
    importlib.import_module(f"{__name__}.{_family}")
