"""Model families, one folder each; importing a family registers its models (see ann.registry)."""

from . import cnn, transformer

__all__ = ["cnn", "transformer"]
