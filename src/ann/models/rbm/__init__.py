"""Restricted Boltzmann machines and deep belief nets: generative models of binary pixels trained
by contrastive divergence, and classifiers pretrained greedily from a stack of them."""

from .dbn import DBNConfig, DeepBeliefNet
from .rbm import RBM, RBMConfig, RBMLayer

__all__ = ["DBNConfig", "DeepBeliefNet", "RBM", "RBMConfig", "RBMLayer"]
