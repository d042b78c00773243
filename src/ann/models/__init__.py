"""Model families, one folder each; importing a family registers its models (see ann.registry)."""

from . import autoencoder, cnn, gan, gnn, other, recurrent, transformer

__all__ = ["autoencoder", "cnn", "gan", "gnn", "other", "recurrent", "transformer"]
