"""The CNN family: image classifiers from the multilayer perceptron to residual networks.

Importing this package registers ``mlp``, ``lenet`` and ``cnn``.
"""

from .cnn import CNN, CNNConfig, ResidualBlock
from .common import ImageClassifier
from .detector import CenterNet, DetectorConfig
from .fcn import FCN, FCNConfig
from .lenet import LeNet5, LeNetConfig
from .mlp import MLPClassifier, MLPConfig
from .unet import Segmenter, SegmenterConfig, UNet, UNetConfig

__all__ = [
           "CNN",
           "CNNConfig",
           "ImageClassifier",
           "LeNet5",
           "LeNetConfig",
           "MLPClassifier",
           "MLPConfig",
           "ResidualBlock",
           "FCN", "FCNConfig", "Segmenter", "SegmenterConfig", "UNet", "UNetConfig",
           "CenterNet", "DetectorConfig",
]
