"""Backpropagation from scratch: NumPy layers with explicit forward and hand-written backward
passes, SGD with momentum, and a loop that trains an MLP and a CNN on digits with them.

    from ann.apps.scratch import Linear, ReLU, Sequential, SGD, SoftmaxCrossEntropy
    net = Sequential(Linear(64, 32), ReLU(), Linear(32, 10))
    loss = SoftmaxCrossEntropy()(net.forward(x), y); net.backward(loss_fn.backward()); opt.step()

No autograd anywhere here: ``tests/test_scratch.py`` checks every gradient against PyTorch's
autograd in float64. ``ann scratch digits --model cnn`` trains the CNN and prints each epoch;
``ann scratch words`` trains a tiny word model (:mod:`.words`) and shows its embeddings learn.
"""

from .digits import SETUPS, build_cnn, build_mlp, train_digits
from .layers import (
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
)
from .network import SGD, Sequential

__all__ = ["AvgPool2d", "BatchNorm", "Conv2d", "Dropout", "Embedding", "Flatten", "Layer",
           "Linear", "MaxPool2d", "ReLU", "SGD", "SETUPS", "Sequential", "Sigmoid",
           "SoftmaxCrossEntropy", "Tanh", "build_cnn", "build_mlp", "train_digits"]
