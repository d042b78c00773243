"""Hopfield networks: associative memories that store patterns and recall them from noisy copies."""

from .hopfield import HopfieldConfig, HopfieldNetwork

__all__ = ["HopfieldConfig", "HopfieldNetwork"]
