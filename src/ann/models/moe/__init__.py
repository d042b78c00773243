"""Mixtures of experts: a routed feed-forward layer (Shazeer et al. 2017; Switch, Fedus et al.
2021) and the GPT built on it."""

from .gpt import MoEGPT, MoEGPTConfig
from .layer import MoEFeedForward, RouterStats, balance_loss, route

__all__ = ["MoEFeedForward", "MoEGPT", "MoEGPTConfig", "RouterStats", "balance_loss", "route"]
