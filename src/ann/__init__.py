"""ann: every family of artificial neural network, one library and one command.

The public API::

    import ann
    ann.list_recipes(); ann.list_models(); ann.list_datasets()
    model = ann.create_model("cnn", num_classes=10)
    data = ann.load_dataset("digits", "train")
    run = ann.train("cnn-digits", epochs=5)
    run = ann.load(run.path)
    print(ann.summary(model, data.x[:1]))
"""

__version__ = "0.1.0"

from .api import Run, build_config, load, train  # noqa: E402
from .errors import AnnError  # noqa: E402
from .recipes import get_recipe, list_recipes  # noqa: E402
from .registry import create_model, list_datasets, list_models, load_dataset  # noqa: E402


def summary(model, example_input) -> str:
    """A layer table: output shapes and parameters split into weights and bias terms."""
    from .report.summary import summary as _summary

    return _summary(model, example_input)


__all__ = ["AnnError", "Run", "build_config", "create_model", "get_recipe", "list_datasets",
           "list_models", "list_recipes", "load", "load_dataset", "summary", "train"]
