"""Kohonen's self-organizing map and learning vector quantization, trained by their own rules."""

from .lvq import LVQ, LVQConfig
from .som import SOM, SOMConfig

__all__ = ["LVQ", "LVQConfig", "SOM", "SOMConfig"]
