"""ann: every family of artificial neural network, one library and one command.

The public API::

    import ann
    ann.list_recipes(); ann.list_models(); ann.list_datasets()
    model = ann.create_model("cnn", num_classes=10)
    data = ann.load_dataset("digits", "train")
    run = ann.train("cnn-digits", epochs=5)
    run = ann.load(run.path)
    print(ann.summary(model, data.x[:1]))

Your own data from Python: ``ann.train("pnn-iris", data=(x, y))`` with NumPy arrays or torch
tensors (``val=``, ``test=`` likewise; else held out of ``data``), or ``data=`` any
``torch.utils.data.Dataset`` of ``(input, target)`` pairs. The run keeps the arrays in its
folder, so ``ann eval RUN``, ``ann predict RUN``, ``ann info RUN`` and ``--resume`` need nothing
more (see :mod:`ann.data.arrays`).

A data source of your own: register its loader, which returns each split as an
``ann.data.ArrayDataset(x, y, info)`` (``info`` holds facts such as ``num_classes``,
``in_channels``, ``image_size``, ``classes``)::

    @ann.register_dataset("my-data", info={"task": "classify", "num_classes": 3},
                          embedded=True)
    def load_my_data(split):             # split: "train", "val" or "test"
        return ann.data.ArrayDataset(x[split], y[split], {"num_classes": 3})

    run = ann.train("pnn-iris", data__name="my-data")

Its options, if it has any, are a dataclass of ``ann.config.field(...)`` entries passed as
``options=`` (set as ``data.OPTION=value``). A run records the module that registered the
source (``registered_by`` in ``config.json`` and ``data.json``); a later command imports it
with ``ann --import MODULE eval RUN`` (the module must be importable: a ``MODULE.py`` in the
current folder, or installed), and says so in one line when it is not given.
"""

import importlib
import sys
import types

from ._version import __version__  # noqa: F401
from .errors import AnnError

# The public names, imported on first use (PEP 562), so that `import ann` and `ann -h` need not
# import torch: name -> the module of ann that defines it.
_LAZY = {"Run": "api", "build_config": "api", "load": "api", "train": "api", "use": "api",
         "verbs": "api", "get_recipe": "recipes", "list_recipes": "recipes",
         "create_model": "registry", "list_datasets": "registry", "list_models": "registry",
         "load_dataset": "registry", "register_dataset": "registry"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif not name.startswith("__"):
        try:                      # a subpackage used as an attribute: ann.data.ArrayDataset
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """``ann.train`` is the function; importing the subpackage ``ann.train`` (the engine) must
    not rebind the name to the package, which the import system would otherwise do."""

    def __setattr__(self, name, value):
        if name == "train" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def from_hf(hf_model):
    """The ann model with the weights of a Hugging Face ``transformers`` model object
    (GPT2LMHeadModel, BertForMaskedLM, BertForSequenceClassification, ...)."""
    from .models.transformer.hf import from_hf as _from_hf

    return _from_hf(hf_model)


def from_hf_pretrained(path_or_name: str):
    """:func:`from_hf` of a model saved with ``save_pretrained`` (or a hub name, online)."""
    from .models.transformer.hf import from_hf_pretrained as _from_hf_pretrained

    return _from_hf_pretrained(path_or_name)


def summary(model, example_input) -> str:
    """A layer table: output shapes and parameters split into weights and bias terms."""
    from .report.summary import summary as _summary

    return _summary(model, example_input)


__all__ = ["AnnError", "Run", "build_config", "create_model", "from_hf", "from_hf_pretrained", "get_recipe",
           "list_datasets", "list_models", "list_recipes", "load", "load_dataset", "register_dataset",
           "summary", "train", "use", "verbs"]
