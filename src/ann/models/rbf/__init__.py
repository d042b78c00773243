"""Radial basis function networks: Gaussian units around k-means centres, a linear output."""

from .rbf import RBFConfig, RBFNetwork, kmeans

__all__ = ["RBFConfig", "RBFNetwork", "kmeans"]
