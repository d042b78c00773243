"""Dropout: randomly zero units during training so that none can rely on another (Srivastava et
al. 2014, "Dropout: a simple way to prevent neural networks from overfitting", JMLR 15).
"""

from __future__ import annotations

from torch import nn


class Dropout(nn.Dropout):
    """Zero each element with probability ``p`` in training and scale the rest by 1 / (1 - p);
    the identity in eval mode (and for p = 0).

    Shapes:
        input (*) -> output (*), same shape.
    """


class Dropout2d(nn.Dropout2d):
    """Zero whole channels with probability ``p`` in training (Tompson et al. 2015), for
    feature maps whose neighbouring pixels are strongly correlated.

    Shapes:
        input (B, C, H, W) -> output (B, C, H, W).
    """
