"""Named, runnable recipes: a model preset, a dataset, training settings and the target to reach.

``ann list`` prints this table; ``ann train NAME [key=value ...]`` runs a row. Targets are what the
recipe must reach on its test split; ``benchmarks/`` measures them and BENCHMARKS.md records the
results. The reference figures come from ../shared/REFERENCES.md.

The rows live one file per model family (``recipes/<family>.py``, the family of
``ann.registry.MODELS``), with the family's glossary entries (:func:`explain`); every module of
this package is imported below, in the order of its name, so a new family adds its file and
nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
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


@dataclass(frozen=True)
class Term:
    """A family's entry in the glossary (``ann explain TERM``; ``ann.apps.glossary`` lists it
    after the general entries), kept beside the family's recipes: two to five plain sentences,
    the dotted paths of the ann code that embodies it, the other names it goes by, and
    optionally ``figure``, a function computing a live one-line figure when the entry is shown."""

    term: str
    text: str
    code: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    figure: Callable[[], str] | None = None


RECIPES: dict[str, Recipe] = {}
TERMS: dict[str, Term] = {}


def explain(term: Term):
    """Add a family's glossary entry (see :class:`Term`)."""
    if term.term in TERMS:
        raise ValueError(f"glossary term {term.term!r} defined twice")
    TERMS[term.term] = term


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
