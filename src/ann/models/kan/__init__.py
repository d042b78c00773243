"""Kolmogorov-Arnold networks: learned spline functions on edges, sums on nodes."""

from .kan import KAN, KANClassifier, KANClassifierConfig, KANConfig, KANLayer, fit_symbolic

__all__ = ["KAN", "KANClassifier", "KANClassifierConfig", "KANConfig", "KANLayer", "fit_symbolic"]
