"""Shared, settled building blocks that every family builds on.

Thin subclasses where PyTorch already has the kernel (each gets a documented place and name in
ann); ann's own code where it adds something (``RMSNorm``, the global pools, "same" padding for
any stride, ``ConvBNAct``, ``MLP``), checked against ``torch.nn`` in ``tests/test_layers.py``.
"""

from .activation import (
    ACTIVATIONS,
    GELU,
    Identity,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    get_activation,
)
from .attention import KVCache, MultiHeadAttention, attention_mask, attention_math
from .conv import Conv2d, ConvBNAct, same_padding
from .dropout import Dropout, Dropout2d
from .embedding import Embedding
from .init import gpt2_init
from .linear import MLP, Linear
from .message_passing import GATConv, GCNConv, GINConv, SAGEConv, global_pool
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm, RMSNorm
from .pooling import AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool2d
from .positional import LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEncoding
from .recurrent import Recurrent, detach_state, gru_cell, lstm_cell, rnn_cell

__all__ = [
    "ACTIVATIONS",
    "GELU",
    "GATConv",
    "GCNConv",
    "GINConv",
    "KVCache",
    "MLP",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "ConvBNAct",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "GlobalAvgPool2d",
    "GlobalMaxPool2d",
    "Identity",
    "LayerNorm",
    "LearnedPositionalEmbedding",
    "Linear",
    "MaxPool2d",
    "MultiHeadAttention",
    "RMSNorm",
    "SAGEConv",
    "RotaryEmbedding",
    "ReLU",
    "SiLU",
    "SinusoidalPositionalEncoding",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "attention_mask",
    "attention_math",
    "get_activation",
    "gpt2_init",
    "global_pool",
    "same_padding",
    "Recurrent",
    "detach_state",
    "gru_cell",
    "lstm_cell",
    "rnn_cell",
]
