"""The CNN family: image classifiers from the multilayer perceptron to residual networks.

Importing this package registers ``mlp``, ``lenet`` and ``cnn``.
"""

from .cnn import CNN, CNNConfig, ResidualBlock
from .common import ImageClassifier
from .lenet import LeNet5, LeNetConfig
from .mlp import MLPClassifier, MLPConfig

__all__ = [
           "CNN",
           "CNNConfig",
           "ImageClassifier",
           "LeNet5",
           "LeNetConfig",
           "MLPClassifier",
           "MLPConfig",
           "ResidualBlock",
]
